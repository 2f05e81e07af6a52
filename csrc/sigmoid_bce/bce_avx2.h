// The 8-wide AVX2 lane for bce_math.h. Include only where AVX2 code may be generated
// (bce_cpu_x86v3.cpp); every operation is exact or IEEE-rounded like its scalar twin.
#pragma once
#include <immintrin.h>

#include "bce_math.h"

VRN_ISA_BEGIN
namespace bce {

struct Avx2Ops {
  using V = __m256;
  static V set1(float a) { return _mm256_set1_ps(a); }
  static V abs(V a) { return _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff))); }
  // max(a, 0) with NaN -> 0: maxps returns its second operand when either is NaN
  static V max0(V a) { return _mm256_max_ps(a, _mm256_setzero_ps()); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }  // b if either is NaN
  static V select(V m, V a, V b) { return _mm256_blendv_ps(b, a, m); }
  static V ge0(V a) { return _mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_GE_OQ); }
  static V gt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static V round(V a) {
    const V magic = _mm256_set1_ps(12582912.0f);
    return _mm256_sub_ps(_mm256_add_ps(a, magic), magic);
  }
  static V pow2(V n) {
    const __m256i i = _mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(i, 23));
  }
};
#if defined(VRN_CPU_AVX512)
// The 16-wide AVX-512 lane; comparisons give mask registers.
struct Avx512Ops {
  using V = __m512;
  static V set1(float a) { return _mm512_set1_ps(a); }
  static V abs(V a) { return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32(0x7fffffff))); }
  static V max0(V a) { return _mm512_max_ps(a, _mm512_setzero_ps()); }  // NaN -> 0 (second operand)
  static V max(V a, V b) { return _mm512_max_ps(a, b); }  // b if either is NaN
  static V select(__mmask16 m, V a, V b) { return _mm512_mask_blend_ps(m, b, a); }
  static __mmask16 ge0(V a) { return _mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_GE_OQ); }
  static __mmask16 gt(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static V round(V a) {
    const V magic = _mm512_set1_ps(12582912.0f);
    return _mm512_sub_ps(_mm512_add_ps(a, magic), magic);
  }
  static V pow2(V n) {
    const __m512i i = _mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(i, 23));
  }
};
#endif

// +, -, *, / on __m256 and __m512 are GCC/Clang vector extensions: one instruction each.

}  // namespace bce
VRN_ISA_END
