// The CPU row kernels of marching cubes, compiled once per instruction set (mc_cpu_isa.inc) and
// chosen at run time. Only plain types cross this boundary, never a type of an ISA namespace.
#pragma once
#include <cstdint>

namespace vrn {
namespace cpu {

struct McArgs {
  const void* data;  // element (0, 0, 0) of volume 0
  int dtype;         // vrn::DType code
  int64_t shape[3], strides[3];
  int64_t batch, batch_stride;  // volumes, and the element stride from one to the next
  double level;
  double spacing[3];
  uint32_t* bits;                                      // batch rows * words
  int64_t *nx, *ny, *nverts, *ntris, *vfirst, *tfirst;  // per batch row
  float* verts;
  void* faces;
  bool faces_int64;
  float* normals;  // may be null
  float* values;   // may be null
};

// Each runs batch rows [r0, r1) (see batch_row in mc_cell.h): classify (volume -> bits), count (bits -> per-row counts),
// emit (bits + scanned offsets -> vertices and faces).
struct McKernels {
  const char* isa;
  void (*classify)(const McArgs&, int64_t r0, int64_t r1);
  void (*count)(const McArgs&, int64_t r0, int64_t r1);
  void (*emit)(const McArgs&, int64_t r0, int64_t r1);
};

McKernels mc_kernels_generic();
McKernels mc_kernels_x86v3();  // AVX2 + POPCNT + BMI; only call where the CPU has them
const McKernels& mc_kernels();  // the best for this CPU

}  // namespace cpu
}  // namespace vrn
