// sigmoid_bce CPU kernel for x86-64-v4 (16-wide AVX-512 lanes; no FMA, so the results equal the
// generic build's element for element). Selected at run time by bce_cpu.cpp.
#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("popcnt,avx,avx2,bmi,bmi2,lzcnt,avx512f,avx512bw,avx512dq,avx512vl,prfchw")
#define VRN_ISA x86v4
#define VRN_CPU_AVX512 1
#include "bce_cpu_isa.inc"
#else
#include "bce_cpu_kernels.h"
vrn::cpu::BceKernels vrn::cpu::bce_kernels_x86v4() { return bce_kernels_generic(); }
#endif
