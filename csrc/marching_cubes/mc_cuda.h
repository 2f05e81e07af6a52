// Marching cubes on a CUDA device. The caller (vrnfast/_backend.py through vrnfast._cuda) owns all
// memory: it allocates the workspace and, once count() has sized the mesh, the outputs, in its own
// array library (torch's caching allocator, CuPy's pool). Work is queued on the caller's stream.
#pragma once
#include <cstddef>
#include <cstdint>

#include "mc_host.h"

namespace vrn {
namespace mc {
namespace cuda {

// Why the CUDA runtime linked into the extension cannot run here ("" when it can): no device, or
// a driver older than the runtime (this toolkit's cudart needs a driver of the same major release).
const char* runtime_error();

size_t workspace_bytes(const Grid& g, int device);

struct Totals {
  int64_t verts, tris;
};

// Classifies, counts and scans; one device-to-host copy of the two totals, then waits for it.
Totals count(const VolumeDesc& vol, double level, void* workspace, size_t workspace_size, uintptr_t stream,
             int device);

// Fills verts (V, 3) float32, faces (F, 3) int32/int64 and, when not null, normals (V, 3) float32
// from the workspace of a count() on the same volume and level. Asynchronous on `stream`.
void emit(const VolumeDesc& vol, double level, const double spacing[3], void* workspace, float* verts, void* faces,
          bool faces_int64, float* normals, uintptr_t stream, int device);

}  // namespace cuda
}  // namespace mc
}  // namespace vrn
