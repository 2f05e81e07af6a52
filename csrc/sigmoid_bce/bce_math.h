// Sigmoid binary cross entropy, per element: the one formula every C++ path of vrnfast.sigmoid_bce
// runs, written once over a "lane" type V: plain float (scalar loops, any host or device) or an
// 8-wide AVX2 vector (bce_avx2.h). exp and log1p are our own polynomials built only from +, -, *,
// / and exact bit operations, so the scalar and vector paths give bitwise-identical results on
// every CPU, and NaN propagates as in PyTorch (fast-math and vector libm would not promise both).
//
//   lw   = 1 + (pos_weight - 1) * y
//   loss = (1 - y) * x + lw * softplus(-x),   softplus(-x) = log1p(exp(-|x|)) + max(-x, 0)
//   grad = ((1 - y) * sigmoid(x) - pos_weight * y * sigmoid(-x)) * scale
// with one exp per element: sigmoid(+-x) from e = exp(-|x|) and 1 / (1 + e).
#pragma once
#include <cstdint>

#include "../common/hd.h"

VRN_ISA_BEGIN
namespace bce {

// ---- the scalar lane: float ---------------------------------------------------------------------
struct ScalarOps {
  using V = float;
  using I = int32_t;
  static VRN_HD V set1(float a) { return a; }
  static VRN_HD V abs(V a) { return bits_to_float(vrn::float_to_bits(a) & 0x7fffffffu); }
  static VRN_HD V max0(V a) { return a > 0.0f ? a : 0.0f; }  // NaN -> 0, as the formula needs
  static VRN_HD V max(V a, V b) { return a > b ? a : b; }     // NaN in b -> b, like maxps(a, b)
  static VRN_HD V select(bool m, V a, V b) { return m ? a : b; }
  static VRN_HD bool ge0(V a) { return a >= 0.0f; }
  static VRN_HD bool gt(V a, V b) { return a > b; }
  // round to nearest integer (|a| < 2^22), as float
  static VRN_HD V round(V a) {
    const float magic = 12582912.0f;  // 1.5 * 2^23
    return (a + magic) - magic;
  }
  // 2^n for integer-valued float n in [-126, 127]; NaN gives a value the caller discards
  static VRN_HD V pow2(V n) {
    return n == n ? bits_to_float(static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23) : 0.0f;
  }
};

// exp(-a) for a >= 0 (or NaN). -a is clamped at -87 (below that the result would be < 1.7e-38,
// and using exp(-87) there changes no loss or gradient by more than that); max keeps NaN because
// NaN is its second operand, and NaN then flows through the arithmetic. Range reduction by ln 2
// (Cody-Waite), e^r = 1 + r + r^2 q(r) on [-ln2/2, ln2/2] with q fitted for relative error
// (3e-9; 1.1 ulp in float arithmetic), exact scaling by 2^n.
template <class O>
VRN_HD typename O::V exp_neg(typename O::V a) {
  using V = typename O::V;
  const V x = O::max(O::set1(-87.0f), O::set1(0.0f) - a);
  const V n = O::round(x * O::set1(1.44269504088896341f));
  const V r = (x - n * O::set1(0.693359375f)) - n * O::set1(-2.12194440e-4f);
  V q = O::set1(0.0013814592f);
  q = q * r + O::set1(0.0083687119f);
  q = q * r + O::set1(0.041668389f);
  q = q * r + O::set1(0.16666521f);
  q = q * r + O::set1(0.49999994f);
  return ((r * r) * q + r + O::set1(1.0f)) * O::pow2(n);
}

// log1p(e) for e in [0, 1] (or NaN) as k ln2 + 2 atanh(s): for e <= sqrt(2) - 1, k = 0 and
// s = e / (2 + e); above, log1p(e) = ln2 + log((1 + e) / 2), so s = (e - 1) / (e + 3). Either way
// |s| <= 0.172 and the odd series to s^9 is good to 2.3e-9 relative; no cancellation for tiny e.
template <class O>
VRN_HD typename O::V log1p_unit(typename O::V e) {
  using V = typename O::V;
  const auto big = O::gt(e, O::set1(0.41421356f));
  const V s = O::select(big, e - O::set1(1.0f), e) / O::select(big, e + O::set1(3.0f), e + O::set1(2.0f));
  const V s2 = s * s;
  V p = O::set1(1.0f / 9.0f);
  p = p * s2 + O::set1(1.0f / 7.0f);
  p = p * s2 + O::set1(1.0f / 5.0f);
  p = p * s2 + O::set1(1.0f / 3.0f);
  p = p * s2 + O::set1(1.0f);
  return O::select(big, O::set1(0.693147180559945f), O::set1(0.0f)) + (s + s) * p;
}

// Loss and gradient of one lane of elements. pw is the positive-class weight (1 when none);
// scale multiplies the gradient (1/N for a mean).
template <class O>
VRN_HD void bce_elem(typename O::V x, typename O::V y, typename O::V pw, typename O::V scale, typename O::V& loss,
                     typename O::V& grad) {
  using V = typename O::V;
  const V one = O::set1(1.0f);
  const V e = exp_neg<O>(O::abs(x));
  const V softplus_neg = log1p_unit<O>(e) + O::max0(O::set1(0.0f) - x);
  const V lw = one + (pw - one) * y;
  const V not_y = one - y;
  loss = not_y * x + lw * softplus_neg;
  // d loss / dx = (1 - y) sigmoid(x) - pw y sigmoid(-x): both sigmoids from one reciprocal, and
  // no 1 - sigmoid(-x) that would cancel to 0 for confident negatives (x < -17)
  const V r = one / (one + e);
  const auto pos = O::ge0(x);
  const V sig_pos = O::select(pos, one, e) * r, sig_neg = O::select(pos, e, one) * r;
  grad = (not_y * sig_pos - pw * y * sig_neg) * scale;
}

}  // namespace bce
VRN_ISA_END
