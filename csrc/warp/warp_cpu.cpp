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
// Along an output row the source coordinate c(w) = c0 + step * w (evaluated as the shared map
// evaluates it, warp_map.h) is monotone in w, IEEE rounding being monotone, and so is each bound on
// it: a binary search finds the row's in-range interval exactly, and the loop inside it needs no
// bounds checks.

template <class Pred>
int64_t first_true(int64_t n, const Pred& pred) {  // first w in [0, n] where pred turns true
  int64_t a = 0, b = n;
  while (a < b) {
    const int64_t m = a + (b - a) / 2;
    if (pred(m)) b = m; else a = m + 1;
  }
  return a;
}

// [first, last) of w in [0, n) with lower(c(w)) && upper(c(w)); lower holds from some c upward,
// upper up to some c (NaN satisfies neither).
template <class Lower, class Upper>
void interval(double c0, double step, int64_t n, const Lower& lower, const Upper& upper, int64_t& first,
              int64_t& last) {
  auto c = [&](int64_t w) { return c0 + step * static_cast<double>(w); };
  if (step > 0.0) {
    first = first_true(n, [&](int64_t w) { return lower(c(w)); });
    last = first_true(n, [&](int64_t w) { return !upper(c(w)); });
  } else if (step < 0.0) {
    first = first_true(n, [&](int64_t w) { return upper(c(w)); });
    last = first_true(n, [&](int64_t w) { return !lower(c(w)); });
  } else {
    first = 0;
    last = lower(c0) && upper(c0) ? n : 0;
  }
  if (last < first) last = first;
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
  const double sx = m.m[0], sy = m.m[4], sz = m.m[8];
  using Out = typename std::conditional<Trilinear, float, T>::type;
  Out* out = static_cast<Out*>(a.dst) + row * a.oW;

  // the shared per-voxel logic (warp_map.h), for the voxels around the in-range interval
  auto generic = [&](int64_t w) {
    const double fw = static_cast<double>(w);
    const double xs = x0 + sx * fw, ys = y0 + sy * fw, zs = z0 + sz * fw;
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
  // in range: nearest, the rounded index (warp::nearest_index); trilinear, both corners
  const double starts[3] = {x0, y0, z0}, steps[3] = {sx, sy, sz};
  const int64_t sizes[3] = {a.W, a.H, a.D};
  int64_t first = 0, last = a.oW;
  for (int k = 0; k < 3; ++k) {
    const double n = static_cast<double>(sizes[k]);
    int64_t f, l;
    if constexpr (Trilinear)
      interval(starts[k], steps[k], a.oW, [](double c) { return c >= 0.0; }, [&](double c) { return c < n - 1.0; }, f, l);
    else
      interval(starts[k], steps[k], a.oW, [](double c) { return c + 0.5 > 0.0; }, [&](double c) { return c + 0.5 < n; },
               f, l);
    first = f > first ? f : first;
    last = l < last ? l : last;
  }
  if (last < first) last = first;
  for (int64_t w = 0; w < first; ++w) generic(w);
  // Inside [first, last) the coordinates step in 32.32 fixed point, an exact integer add each. They
  // differ from the double map by less than kGuard; only where a coordinate lies that close to a
  // rounding (nearest) or flooring (trilinear) boundary could its index differ, and those voxels
  // (~0.2%) take the double map. So every index equals the shared path's, ties included.
  const double bias = Trilinear ? 0.0 : 0.5;
  const bool fixed = a.oW < (int64_t{1} << 16) && std::fabs(x0) + std::fabs(sx) * a.oW < 1e9 &&
                     std::fabs(y0) + std::fabs(sy) * a.oW < 1e9 && std::fabs(z0) + std::fabs(sz) * a.oW < 1e9;
  constexpr double kOne = 4294967296.0;
  constexpr int64_t kGuard = int64_t{1} << 20;  // 2^-12 voxel: > drift 2^-33 * (1 + 2^16) plus rounding
  auto near = [](int64_t u) { return ((u + kGuard) & 0xffffffff) < 2 * kGuard; };
  int64_t ux = 0, uy = 0, uz = 0, dx = 0, dy = 0, dz = 0;
  if (fixed) {
    auto fix = [&](double v) { return static_cast<int64_t>(std::llround(v * kOne)); };
    dx = fix(sx), dy = fix(sy), dz = fix(sz);
    ux = fix(x0 + bias) + first * dx, uy = fix(y0 + bias) + first * dy, uz = fix(z0 + bias) + first * dz;
  }
  if constexpr (!Trilinear) {
    if (fixed && dz == 0 && !near(uz) && first < last) {
      // depth constant along the row (in-plane rotations, as the paper's augmentation): hoisted
      const T* slice = vol + (uz >> 32) * sd;
      for (int64_t w = first; w < last; ++w, ux += dx, uy += dy) {
        if (near(ux) || near(uy))
          generic(w);
        else
          out[w] = slice[(uy >> 32) * sh + (ux >> 32) * sw];
      }
      first = last;
    }
  }
  for (int64_t w = first; w < last; ++w, ux += dx, uy += dy, uz += dz) {
    if (!fixed || near(ux) || near(uy) || near(uz)) {
      generic(w);
      continue;
    }
    const T* p = vol + (uz >> 32) * sd + (uy >> 32) * sh + (ux >> 32) * sw;
    if constexpr (Trilinear) {
      constexpr float kFrac = 1.0f / 4294967296.0f;
      const float tx = static_cast<float>(ux & 0xffffffff) * kFrac, ty = static_cast<float>(uy & 0xffffffff) * kFrac,
                  tz = static_cast<float>(uz & 0xffffffff) * kFrac;
      auto at = [&](int64_t off) { return to_float(p[off]); };
      const float c00 = at(0) + tx * (at(sw) - at(0)), c01 = at(sh) + tx * (at(sh + sw) - at(sh));
      const float c10 = at(sd) + tx * (at(sd + sw) - at(sd)), c11 = at(sd + sh) + tx * (at(sd + sh + sw) - at(sd + sh));
      const float c0 = c00 + ty * (c01 - c00), c1 = c10 + ty * (c11 - c10);
      out[w] = c0 + tz * (c1 - c0);
    } else {
      out[w] = *p;
    }
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
