// CPU row kernels for x86-64-v3 CPUs (AVX2, POPCNT, BMI1/2, LZCNT; FMA deliberately left out so
// results stay bit-identical to the generic build). Selected at run time by mc_cpu.cpp.
#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("popcnt,avx,avx2,bmi,bmi2,lzcnt")
#define VRN_ISA x86v3
#define VRN_CPU_AVX2 1
#include "mc_cpu_isa.inc"
#else
#include "mc_cpu_kernels.h"
vrn::cpu::McKernels vrn::cpu::mc_kernels_x86v3() { return mc_kernels_generic(); }
#endif
