// Mesh -> occupancy volume by ray parity along z: each (h, w) column is the ray x = w, y = h; a
// voxel d of the column is inside when an odd number of the mesh's crossings of that ray have
// z < d. Crossings come from rasterizing each triangle in xy with a top-left rule evaluated on
// canonically ordered edges, so that a column through an edge or a vertex shared by triangles
// counts exactly once (twice for a ray that grazes a silhouette, leaving the parity unchanged).
// A column with an odd number of crossings (an open surface) is inside from its last crossing up.
#pragma once
#include <cstdint>

namespace vrn {
namespace cpu {

// verts (V, 3) float32 (x, y, z) = (w, h, d); faces (F, 3) int64; out (D, H, W) uint8, written whole.
// Returns the number of faces with an index outside [0, V) (those are skipped; the caller raises).
int64_t voxelize(const float* verts, int64_t num_verts, const int64_t* faces, int64_t num_faces, int64_t D, int64_t H,
                 int64_t W, uint8_t* out, int num_threads);

}  // namespace cpu
}  // namespace vrn
