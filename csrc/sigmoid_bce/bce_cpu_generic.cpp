// sigmoid_bce CPU kernel for any host (scalar lanes).
#define VRN_ISA generic
#include "bce_cpu_isa.inc"
