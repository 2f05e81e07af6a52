// Marching cubes on a CUDA device. The caller (vrnfast/_backend.py through vrnfast._cuda) owns all
// memory: it allocates the workspace and, once count() has sized the mesh, the outputs, in its own
// array library (torch's caching allocator, CuPy's pool). Work is queued on the caller's stream.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "mc_host.h"

namespace vrn {
namespace mc {
namespace cuda {

// Why the CUDA runtime linked into the extension cannot run here ("" when it can): no device, or
// a driver older than the runtime (this toolkit's cudart needs a driver of the same major release).
const char* runtime_error();

size_t workspace_bytes(const VolumeDesc& vol, int device);  // vol.data is not read

struct Totals {
  int64_t verts, tris;
};

// Classifies, counts and scans the whole batch; one device-to-host copy of each volume's totals,
// then waits for it.
std::vector<Totals> count(const VolumeDesc& vol, double level, void* workspace, size_t workspace_size,
                          uintptr_t stream, int device);

// Fills verts (V, 3) float32, faces (F, 3) int32/int64 and, when not null, normals (V, 3) float32
// and values (V,) float32 (mc_cell.h's cells_max), from the workspace of a count() on the same
// batch and level: the volumes' meshes one after another, each volume's face indices counting
// from its own first vertex. Asynchronous on `stream`.
void emit(const VolumeDesc& vol, double level, const double spacing[3], void* workspace, float* verts, void* faces,
          bool faces_int64, float* normals, float* values, uintptr_t stream, int device);

}  // namespace cuda
}  // namespace mc
}  // namespace vrn
