// CPU row kernels for any x86-64 (SSE2) or other host.
#define VRN_ISA generic
#include "mc_cpu_isa.inc"
