// Volumetric and image warps on the CPU: one gather per output voxel, no grid tensor.
#pragma once
#include <cstdint>

namespace vrn {
namespace cpu {

struct VolumeWarpArgs {
  const void* src;  // (B, D, H, W) with element strides src_strides
  int dtype;        // vrn::DType code
  int64_t B, D, H, W;
  int64_t src_strides[4];
  const double* matrices;  // (B, 3, 4) row-major: output (x, y, z, 1) -> input (x, y, z)
  int64_t oD, oH, oW;      // output (B, oD, oH, oW), contiguous
  bool trilinear;          // else nearest
  void* dst;               // nearest: the input's dtype; trilinear: float32
};

struct ImageWarpArgs {
  const void* src;  // (B, C, H, W) with element strides src_strides
  int dtype;
  int64_t B, C, H, W;
  int64_t src_strides[4];
  const double* matrices;      // (B, 2, 3): output (x, y, 1) -> input (x, y)
  const float* colour_scale;   // (B, C) or null
  void* dst;                   // (B, C, H, W) contiguous, the input's dtype (uint8: rounded, clamped)
};

void warp_volume(const VolumeWarpArgs& args, int num_threads);
void warp_image(const ImageWarpArgs& args, int num_threads);

}  // namespace cpu
}  // namespace vrn
