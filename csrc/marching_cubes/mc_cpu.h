// Marching cubes on the CPU, in two calls so that the caller allocates the outputs in its own
// array library: the constructor classifies the volume and sizes the mesh, emit() fills the arrays.
#pragma once
#include <cstdint>
#include <vector>

#include "mc_cpu_kernels.h"

namespace vrn {
namespace cpu {

class McPlan {
 public:
  // data: element (0, 0, 0); shape and element strides along (z, y, x).
  McPlan(const void* data, int dtype, const int64_t shape[3], const int64_t strides[3], double level,
         int num_threads);
  int64_t num_verts() const { return num_verts_; }
  int64_t num_tris() const { return num_tris_; }
  // verts: (V, 3) float32; faces: (F, 3) int32 or int64; normals: (V, 3) float32 or null.
  void emit(const double spacing[3], float* verts, void* faces, bool faces_int64, float* normals,
            int num_threads) const;

 private:
  McArgs args_;  // the volume and the per-row arrays below
  std::vector<uint32_t> bits_;
  std::vector<int64_t> nx_, ny_, nverts_, ntris_, vfirst_, tfirst_;
  int64_t num_verts_ = 0, num_tris_ = 0;
};

}  // namespace cpu
}  // namespace vrn
