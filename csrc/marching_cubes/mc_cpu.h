// Marching cubes on the CPU, in two calls so that the caller allocates the outputs in its own
// array library: the constructor classifies the volume and sizes the mesh, emit() fills the arrays.
#pragma once
#include <cstdint>
#include <memory>

#include "mc_cpu_kernels.h"

namespace vrn {
namespace cpu {

// Scratch of one plan: the bit rows and six per-row arrays. Reused across calls (see mc_cpu.cpp):
// fresh pages cost more to fault in than the whole classification pass.
struct McWorkspace {
  std::unique_ptr<uint32_t[]> bits;
  std::unique_ptr<int64_t[]> per_row;
  size_t bits_capacity = 0, rows_capacity = 0;
  size_t bytes() const { return bits_capacity * sizeof(uint32_t) + rows_capacity * 6 * sizeof(int64_t); }
};

class McPlan {
 public:
  // data: element (0, 0, 0); shape and element strides along (z, y, x).
  McPlan(const void* data, int dtype, const int64_t shape[3], const int64_t strides[3], double level,
         int num_threads);
  int64_t num_verts() const { return num_verts_; }
  int64_t num_tris() const { return num_tris_; }
  ~McPlan();
  McPlan(const McPlan&) = delete;
  McPlan& operator=(const McPlan&) = delete;
  // verts: (V, 3) float32; faces: (F, 3) int32 or int64; normals: (V, 3) float32 or null.
  void emit(const double spacing[3], float* verts, void* faces, bool faces_int64, float* normals,
            int num_threads) const;

 private:
  McArgs args_;  // the volume and the workspace's arrays
  std::unique_ptr<McWorkspace> ws_;
  int64_t num_verts_ = 0, num_tris_ = 0;
};

}  // namespace cpu
}  // namespace vrn
