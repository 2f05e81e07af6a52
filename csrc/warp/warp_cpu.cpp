#include "warp_cpu.h"

#include <cmath>
#include <type_traits>

#include "../common/dispatch.h"
#include "../common/parallel.h"
#include "warp_map.h"

namespace vrn {
namespace cpu {
namespace {

using warp::Affine2;
using warp::Affine3;

// ---- the row fast path ------------------------------------------------------------------------
// Along an output row the source coordinate is linear in w. Stepping it in 32.32 fixed point
// makes every step an exact integer add, the bounds of the row's in-range interval exact (binary
// search on monotone conditions), and the index a shift. Rounding the start and the step to 2^-32
// moves a coordinate by at most w * 2^-32 (< 1e-7 here), so nearest differs from the double map
// only at exact rounding ties. Rows whose coordinates could overflow take the double path.
constexpr double kOne = 4294967296.0;  // 2^32
constexpr double kFixedLimit = 1073741824.0;  // |coordinate| < 2^30 keeps u + steps in int64

struct FixedAxis {
  int64_t u0, du;
};

FixedAxis fixed_axis(double start, double step) {
  return FixedAxis{static_cast<int64_t>(std::llround(start * kOne)), static_cast<int64_t>(std::llround(step * kOne))};
}

// [first, last) of w in [0, n) with lo < u0 + w du < hi (lo_strict) or lo <= ... < hi.
void fixed_interval(const FixedAxis& f, int64_t lo, bool lo_strict, int64_t hi, int64_t n, int64_t& first,
                    int64_t& last) {
  auto ok_lo = [&](int64_t w) { const int64_t u = f.u0 + w * f.du; return lo_strict ? u > lo : u >= lo; };
  auto ok_hi = [&](int64_t w) { return f.u0 + w * f.du < hi; };
  // first w in [0, n] where pred turns true (pred monotone: false...true), n if never
  auto search = [&](auto pred) {
    int64_t a = 0, b = n;
    while (a < b) {
      const int64_t m = a + (b - a) / 2;
      if (pred(m)) b = m; else a = m + 1;
    }
    return a;
  };
  if (f.du >= 0) {
    first = search(ok_lo);
    last = search([&](int64_t w) { return !ok_hi(w); });
  } else {
    first = search(ok_hi);
    last = search([&](int64_t w) { return !ok_lo(w); });
  }
  if (last < first) last = first;
}

bool fixed_ok(double c0, double step, int64_t n) {
  return std::fabs(c0) < kFixedLimit && std::fabs(c0 + step * static_cast<double>(n)) < kFixedLimit;
}

// One output row (b, d, h): the map's constant part is evaluated once, then one gather per voxel.
template <class T, bool Trilinear>
void volume_row(const VolumeWarpArgs& a, const T* src, int64_t row) {
  const int64_t h = row % a.oH, d = (row / a.oH) % a.oD, b = row / (a.oH * a.oD);
  Affine3 m;
  for (int k = 0; k < 12; ++k) m.m[k] = a.matrices[b * 12 + k];
  const T* vol = src + b * a.src_strides[0];
  const int64_t sd = a.src_strides[1], sh = a.src_strides[2], sw = a.src_strides[3];
  double x0, y0, z0;
  m.apply(0.0, static_cast<double>(h), static_cast<double>(d), x0, y0, z0);
  using Out = typename std::conditional<Trilinear, float, T>::type;
  Out* out = static_cast<Out*>(a.dst) + row * a.oW;

  // the shared per-voxel logic (warp_map.h), used for whole rows or around the fast interval
  auto generic = [&](int64_t w) {
    const double fw = static_cast<double>(w);
    const double xs = x0 + m.m[0] * fw, ys = y0 + m.m[4] * fw, zs = z0 + m.m[8] * fw;
    if constexpr (Trilinear) {
      out[w] = static_cast<float>(warp::trilinear(vol, a.D, a.H, a.W, sd, sh, sw, xs, ys, zs));
    } else {
      int64_t ix, iy, iz;
      out[w] = (warp::nearest_index(xs, a.W, ix) && warp::nearest_index(ys, a.H, iy) &&
                warp::nearest_index(zs, a.D, iz))
                   ? vol[iz * sd + iy * sh + ix * sw]
                   : T{};
    }
  };
  if (!(fixed_ok(x0, m.m[0], a.oW) && fixed_ok(y0, m.m[4], a.oW) && fixed_ok(z0, m.m[8], a.oW))) {
    for (int64_t w = 0; w < a.oW; ++w) generic(w);
    return;
  }
  // nearest: u = (c + 0.5) 2^32, in range when 0 < u < n 2^32, index u >> 32;
  // trilinear interior: u = c 2^32 with both corners in range, 0 <= u < (n - 1) 2^32
  const double bias = Trilinear ? 0.0 : 0.5;
  const FixedAxis fx = fixed_axis(x0 + bias, m.m[0]), fy = fixed_axis(y0 + bias, m.m[4]),
                  fz = fixed_axis(z0 + bias, m.m[8]);
  const int64_t sizes[3] = {a.W, a.H, a.D};
  const FixedAxis* axes[3] = {&fx, &fy, &fz};
  int64_t first = 0, last = a.oW;
  for (int k = 0; k < 3; ++k) {
    int64_t f, l;
    const int64_t hi = (Trilinear ? sizes[k] - 1 : sizes[k]) * static_cast<int64_t>(kOne);
    fixed_interval(*axes[k], 0, !Trilinear, hi, a.oW, f, l);
    first = f > first ? f : first;
    last = l < last ? l : last;
  }
  if (last < first) last = first;
  for (int64_t w = 0; w < first; ++w) generic(w);
  int64_t ux = fx.u0 + first * fx.du, uy = fy.u0 + first * fy.du, uz = fz.u0 + first * fz.du;
  if constexpr (Trilinear) {
    constexpr float kFrac = 1.0f / 4294967296.0f;
    for (int64_t w = first; w < last; ++w, ux += fx.du, uy += fy.du, uz += fz.du) {
      const float tx = static_cast<float>(ux & 0xffffffff) * kFrac, ty = static_cast<float>(uy & 0xffffffff) * kFrac,
                  tz = static_cast<float>(uz & 0xffffffff) * kFrac;
      const T* p = vol + (uz >> 32) * sd + (uy >> 32) * sh + (ux >> 32) * sw;
      auto at = [&](int64_t off) { return to_float(p[off]); };
      const float c00 = at(0) + tx * (at(sw) - at(0)), c01 = at(sh) + tx * (at(sh + sw) - at(sh));
      const float c10 = at(sd) + tx * (at(sd + sw) - at(sd)), c11 = at(sd + sh) + tx * (at(sd + sh + sw) - at(sd + sh));
      const float c0 = c00 + ty * (c01 - c00), c1 = c10 + ty * (c11 - c10);
      out[w] = c0 + tz * (c1 - c0);
    }
  } else if (fz.du == 0) {
    // depth constant along the row (in-plane rotations, as the paper's augmentation): hoisted
    const T* slice = vol + (uz >> 32) * sd;
    for (int64_t w = first; w < last; ++w, ux += fx.du, uy += fy.du) out[w] = slice[(uy >> 32) * sh + (ux >> 32) * sw];
  } else {
    for (int64_t w = first; w < last; ++w, ux += fx.du, uy += fy.du, uz += fz.du)
      out[w] = vol[(uz >> 32) * sd + (uy >> 32) * sh + (ux >> 32) * sw];
  }
  for (int64_t w = last; w < a.oW; ++w) generic(w);
}

template <class T>
T from_double(double v) {
  if constexpr (std::is_same<T, uint8_t>::value) {
    const double r = std::nearbyint(v);  // round half to even, as torch's float -> uint8 after round()
    return static_cast<uint8_t>(r < 0.0 ? 0.0 : (r > 255.0 ? 255.0 : r));
  } else if constexpr (std::is_same<T, half_bits>::value) {
    return half_bits{float_to_half(static_cast<float>(v))};
  } else if constexpr (std::is_same<T, bf16_bits>::value) {
    return bf16_bits{float_to_bf16(static_cast<float>(v))};
  } else {
    return static_cast<T>(v);
  }
}

// One output row (b, c, h) of the image warp, with the channel's colour scale.
template <class T>
void image_row(const ImageWarpArgs& a, const T* src, int64_t row) {
  const int64_t h = row % a.H, c = (row / a.H) % a.C, b = row / (a.H * a.C);
  Affine2 m;
  for (int k = 0; k < 6; ++k) m.m[k] = a.matrices[b * 6 + k];
  const double scale = a.colour_scale ? a.colour_scale[b * a.C + c] : 1.0;
  const T* img = src + b * a.src_strides[0] + c * a.src_strides[1];
  double x0, y0;
  m.apply(0.0, static_cast<double>(h), x0, y0);
  T* out = static_cast<T*>(a.dst) + row * a.W;
  for (int64_t w = 0; w < a.W; ++w) {
    const double fw = static_cast<double>(w);
    const double v = warp::bilinear(img, a.H, a.W, a.src_strides[2], a.src_strides[3], x0 + m.m[0] * fw,
                                    y0 + m.m[3] * fw);
    out[w] = from_double<T>(v * scale);
  }
}

constexpr int64_t kRowGrain = 8;

}  // namespace

void warp_volume(const VolumeWarpArgs& a, int num_threads) {
  const int64_t rows = a.B * a.oD * a.oH;
  VRN_DISPATCH_DTYPE(static_cast<DType>(a.dtype), {
    const scalar_t* src = static_cast<const scalar_t*>(a.src);
    if (a.trilinear)
      parallel_for(rows, kRowGrain, num_threads, [&](int64_t r) { volume_row<scalar_t, true>(a, src, r); });
    else
      parallel_for(rows, kRowGrain, num_threads, [&](int64_t r) { volume_row<scalar_t, false>(a, src, r); });
  });
}

void warp_image(const ImageWarpArgs& a, int num_threads) {
  const int64_t rows = a.B * a.C * a.H;
  VRN_DISPATCH_DTYPE(static_cast<DType>(a.dtype), {
    const scalar_t* src = static_cast<const scalar_t*>(a.src);
    parallel_for(rows, kRowGrain, num_threads, [&](int64_t r) { image_row<scalar_t>(a, src, r); });
  });
}

}  // namespace cpu
}  // namespace vrn
