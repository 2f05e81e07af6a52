// Marching cubes on the CPU, in two calls so that the caller allocates the outputs in its own
// array library: the constructor classifies the volume and sizes the mesh, emit() fills the arrays.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

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
  // data: element (0, 0, 0) of the first of `batch` volumes, `batch_stride` elements apart; shape
  // and element strides along (z, y, x). One volume is a batch of one.
  McPlan(const void* data, int dtype, const int64_t shape[3], const int64_t strides[3], int64_t batch,
         int64_t batch_stride, double level, int num_threads);
  int64_t num_verts() const { return num_verts_; }
  int64_t num_tris() const { return num_tris_; }
  // Per volume, in batch order. The outputs hold the volumes' meshes one after another, each
  // volume's face indices counting from its own first vertex.
  const std::vector<int64_t>& volume_verts() const { return volume_verts_; }
  const std::vector<int64_t>& volume_tris() const { return volume_tris_; }
  ~McPlan();
  McPlan(const McPlan&) = delete;
  McPlan& operator=(const McPlan&) = delete;
  // verts: (V, 3) float32; faces: (F, 3) int32 or int64; normals: (V, 3) float32 or null; values:
  // (V,) float32 or null, each vertex's cells' largest sample (mc_cell.h's cells_max).
  void emit(const double spacing[3], float* verts, void* faces, bool faces_int64, float* normals, float* values,
            int num_threads) const;

 private:
  McArgs args_;  // the volume and the workspace's arrays
  std::unique_ptr<McWorkspace> ws_;
  int64_t num_verts_ = 0, num_tris_ = 0;
  std::vector<int64_t> volume_verts_, volume_tris_;
};

}  // namespace cpu
}  // namespace vrn
