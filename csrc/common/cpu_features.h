// Run-time CPU feature checks for choosing between the generic and x86-64-v3 kernel builds.
#pragma once

namespace vrn {

inline bool has_x86v3() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") && __builtin_cpu_supports("bmi") &&
         __builtin_cpu_supports("bmi2");
#else
  return false;
#endif
}

inline bool has_x86v4() {
#if defined(__x86_64__) && defined(__GNUC__)
  return has_x86v3() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

}  // namespace vrn
