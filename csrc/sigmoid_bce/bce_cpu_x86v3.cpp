// sigmoid_bce CPU kernel for x86-64-v3 (8-wide AVX2 lanes; no FMA, so the results equal the
// generic build's element for element). Selected at run time by bce_cpu.cpp.
#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("popcnt,avx,avx2,bmi,bmi2,lzcnt,prfchw")
#define VRN_ISA x86v3
#define VRN_CPU_AVX2 1
#include "bce_cpu_isa.inc"
#else
#include "bce_cpu_kernels.h"
vrn::cpu::BceKernels vrn::cpu::bce_kernels_x86v3() { return bce_kernels_generic(); }
#endif
