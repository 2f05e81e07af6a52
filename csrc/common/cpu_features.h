// Run-time CPU feature checks for choosing between the generic, x86-64-v3 and x86-64-v4 kernel
// builds. VRNFAST_CPU_ISA=generic|x86v3|x86v4 sets the widest build used (default: the widest the
// CPU has). Every build gives bitwise-identical per-element results; sums may differ in their last
// bits (lanes add up in another order); speed differs.
#pragma once
#include <cstdlib>
#include <cstring>

namespace vrn {

// 0: generic, 3: x86-64-v3, 4: x86-64-v4 at most, as VRNFAST_CPU_ISA asks.
inline int isa_cap() {
  const char* env = std::getenv("VRNFAST_CPU_ISA");
  if (env && std::strcmp(env, "generic") == 0) return 0;
  if (env && std::strcmp(env, "x86v3") == 0) return 3;
  return 4;
}

inline bool has_x86v3() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return isa_cap() >= 3 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") &&
         __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
#else
  return false;
#endif
}

inline bool has_x86v4() {
#if defined(__x86_64__) && defined(__GNUC__)
  return isa_cap() >= 4 && has_x86v3() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

}  // namespace vrn
