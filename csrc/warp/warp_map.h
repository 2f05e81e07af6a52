// Volumetric and image warps: the per-voxel logic shared by the CPU kernels (warp_cpu.cpp) and
// mirrored by the Triton kernels (kernels/warp.py). An affine map takes an output voxel's
// (x, y, z) = (w, h, d) index coordinates to input index coordinates; samples outside the input
// are 0 (grid_sample's padding_mode="zeros" with align_corners=True).
#pragma once
#include <cmath>
#include <cstdint>

#include "../common/hd.h"

VRN_ISA_BEGIN
namespace warp {

// Row-major 3x4 (volumes) or 2x3 (images) matrix. The map is evaluated in double, in one order
// that every backend follows (it decides which side of an exact .5 tie a coordinate falls on):
// first the output row's constant part, c0 = m1 * y + m2 * z + m3 (= apply(0, y, z)), then
// c = c0 + m0 * x.
struct Affine3 {
  double m[12];
  VRN_HD void apply(double x, double y, double z, double& xs, double& ys, double& zs) const {
    xs = m[0] * x + m[1] * y + m[2] * z + m[3];
    ys = m[4] * x + m[5] * y + m[6] * z + m[7];
    zs = m[8] * x + m[9] * y + m[10] * z + m[11];
  }
};

struct Affine2 {
  double m[6];
  VRN_HD void apply(double x, double y, double& xs, double& ys) const {
    xs = m[0] * x + m[1] * y + m[2];
    ys = m[3] * x + m[4] * y + m[5];
  }
};

// Nearest index, rounding half away from zero; false outside [0, n - 1] (NaN included). Every
// coordinate that rounds into range has c > -0.5, where rounding half away is floor(c + 0.5); and
// c = -0.5 rounds away to -1, so u = c + 0.5 must be > 0, not >= 0.
VRN_HD bool nearest_index(double c, int64_t n, int64_t& i) {
  const double u = c + 0.5;
  if (!(u > 0.0 && u < static_cast<double>(n))) return false;
  i = static_cast<int64_t>(u);
  return true;
}

// Linear interpolation weights along one axis: corners i0 and i0 + 1 with weights w0 and w1, a
// corner outside [0, n - 1] getting weight 0 (its sample counts as zero).
struct Lerp {
  int64_t i0;
  double w0, w1;
  bool in0, in1;
};

VRN_HD Lerp lerp_axis(double c, int64_t n) {
  Lerp l;
  const double f = floor(c);
  const double t = c - f;
  // coordinates far outside (or NaN) give no weight at all
  if (!(f >= -1.0 && f <= static_cast<double>(n - 1))) {
    l.i0 = 0;
    l.w0 = l.w1 = 0.0;
    l.in0 = l.in1 = false;
    return l;
  }
  l.i0 = static_cast<int64_t>(f);
  l.w0 = 1.0 - t;
  l.w1 = t;
  l.in0 = l.i0 >= 0;
  l.in1 = l.i0 + 1 <= n - 1;
  return l;
}

// Trilinear sample of a (D, H, W) volume with element strides (sd, sh, sw) at (xs, ys, zs).
template <class T>
VRN_HD double trilinear(const T* v, int64_t D, int64_t H, int64_t W, int64_t sd, int64_t sh, int64_t sw, double xs,
                        double ys, double zs) {
  const Lerp lx = lerp_axis(xs, W), ly = lerp_axis(ys, H), lz = lerp_axis(zs, D);
  double acc = 0.0;
  for (int cz = 0; cz < 2; ++cz) {
    if (!(cz ? lz.in1 : lz.in0)) continue;
    const double wz = cz ? lz.w1 : lz.w0;
    for (int cy = 0; cy < 2; ++cy) {
      if (!(cy ? ly.in1 : ly.in0)) continue;
      const double wzy = wz * (cy ? ly.w1 : ly.w0);
      const T* row = v + (lz.i0 + cz) * sd + (ly.i0 + cy) * sh;
      if (lx.in0) acc += wzy * lx.w0 * to_double(row[lx.i0 * sw]);
      if (lx.in1) acc += wzy * lx.w1 * to_double(row[(lx.i0 + 1) * sw]);
    }
  }
  return acc;
}

// Bilinear sample of one (H, W) image channel with element strides (sh, sw) at (xs, ys).
template <class T>
VRN_HD double bilinear(const T* v, int64_t H, int64_t W, int64_t sh, int64_t sw, double xs, double ys) {
  const Lerp lx = lerp_axis(xs, W), ly = lerp_axis(ys, H);
  double acc = 0.0;
  for (int cy = 0; cy < 2; ++cy) {
    if (!(cy ? ly.in1 : ly.in0)) continue;
    const double wy = cy ? ly.w1 : ly.w0;
    const T* row = v + (ly.i0 + cy) * sh;
    if (lx.in0) acc += wy * lx.w0 * to_double(row[lx.i0 * sw]);
    if (lx.in1) acc += wy * lx.w1 * to_double(row[(lx.i0 + 1) * sw]);
  }
  return acc;
}

}  // namespace warp
VRN_ISA_END
