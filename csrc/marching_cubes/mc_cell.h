// Marching cubes, the per-row logic shared by the CPU (mc_cpu_isa.inc) and CUDA (mc_cuda.cu) paths.
//
// Layout. The volume has sizes (n0, n1, n2) = (z, y, x) and arbitrary element strides. A "row" is
// the line of n2 nodes at fixed (z, y). Pass 1 stores, per row, one bit per node (value > level)
// in 32-bit words; every later step reads only these bits, plus the volume at crossed edges.
// Each node owns its +x, +y and +z edges, so a vertex id is its row's offset + the number of
// crossed edges before it in that row: vertices are welded by construction, with no hashing.
// Within a row, vertices are ordered x-edges, then y-edges, then z-edges, each by x; rows follow
// each other in (z, y) order, and so do the cells' triangles. Both backends therefore write the
// same arrays in the same order, whatever the thread count.
//
// A batch of equally shaped volumes is one run of rows, volume after volume: the drivers split a
// batch row into (volume, z, y) with batch_row() and call the per-row functions on that volume's
// own data, bits and offsets, so nothing here knows about batches except the face indices, which
// count from the volume's first vertex (RowOffsets::vbase).
#pragma once
#include <cmath>
#include <cstdint>

#include "../common/hd.h"
#include "mc_tables.h"

VRN_ISA_BEGIN
namespace mc {

struct Grid {
  int64_t n0, n1, n2;  // sizes along z, y, x
  int64_t s0, s1, s2;  // element strides along z, y, x (any sign)
  int64_t words;       // 32-bit words per row of inside bits

  VRN_HD int64_t rows() const { return n0 * n1; }
  VRN_HD int64_t offset(int64_t z, int64_t y, int64_t x) const { return z * s0 + y * s1 + x * s2; }
};

VRN_HD int64_t words_per_row(int64_t n2) { return (n2 + 31) / 32; }

struct BatchRow {
  int64_t volume, z, y;
};

VRN_HD BatchRow batch_row(const Grid& g, int64_t r) {
  const int64_t volume = r / g.rows(), local = r - volume * g.rows();
  return BatchRow{volume, local / g.n1, local % g.n1};
}

// The bit rows of one volume within the batch's.
VRN_HD const uint32_t* volume_bits(const uint32_t* bits, const Grid& g, int64_t volume) {
  return bits + volume * g.rows() * g.words;
}

// The one tie rule: a node is inside when its value is strictly greater than the level (NaN is
// never inside). `f` is the largest float <= `d`, so that for any float v, v > f <=> v > d.
struct Level {
  double d;
  float f;
};

template <class T> VRN_HD bool inside(T v, const Level& lv) { return to_double(v) > lv.d; }
template <> VRN_HD bool inside<float>(float v, const Level& lv) { return v > lv.f; }
template <> VRN_HD bool inside<half_bits>(half_bits v, const Level& lv) { return half_to_float(v.bits) > lv.f; }
template <> VRN_HD bool inside<bf16_bits>(bf16_bits v, const Level& lv) { return bf16_to_float(v.bits) > lv.f; }

// Fraction along the edge from value a to value b where the level is met. NaN (a NaN voxel, or
// inf - inf) lands on the midpoint; the clamp keeps the vertex on its edge.
VRN_HD double edge_t(double a, double b, double level) {
  const double t = (level - a) / (b - a);
  if (!(t == t)) return 0.5;
  return t < 0.0 ? 0.0 : (t > 1.0 ? 1.0 : t);
}

// ---- bit-row helpers ---------------------------------------------------------------------------

VRN_HD const uint32_t* row_bits(const uint32_t* bits, const Grid& g, int64_t z, int64_t y) {
  return bits + (z * g.n1 + y) * g.words;
}

// Bits of nodes x + 1 for the nodes x of word w.
VRN_HD uint32_t next_bits(const uint32_t* r, int64_t w, int64_t words) {
  return (r[w] >> 1) | (w + 1 < words ? r[w + 1] << 31 : 0u);
}

// Mask of x positions in word w that start an x-edge or a cell (x + 1 < n2).
VRN_HD uint32_t cell_mask(int64_t w, int64_t n2) {
  const int64_t last = n2 - 1;  // number of x-edges in a row
  const int64_t lo = w * 32;
  if (last >= lo + 32) return 0xffffffffu;
  if (last <= lo) return 0u;
  return (1u << (last - lo)) - 1u;
}

struct RowCounts {
  int64_t x, y, z;  // crossed edges owned by the row's nodes, per axis
  int64_t tris;     // triangles of the row's cells
};

// The 8 corner-bit words of the cells (z, y, x) for x in word w.
struct CellWords {
  uint32_t c[8];
  uint32_t active;  // cells with both inside and outside corners
};

VRN_HD CellWords cell_words(const uint32_t* a, const uint32_t* b, const uint32_t* c, const uint32_t* d,
                            int64_t w, const Grid& g) {
  CellWords cw;
  const uint32_t* rows[4] = {a, b, c, d};  // (by, bz) = (0,0), (1,0), (0,1), (1,1)
  uint32_t any = 0u, all = 0xffffffffu;
  for (int r = 0; r < 4; ++r) {
    cw.c[2 * r] = rows[r][w];
    cw.c[2 * r + 1] = next_bits(rows[r], w, g.words);
    any |= cw.c[2 * r] | cw.c[2 * r + 1];
    all &= cw.c[2 * r] & cw.c[2 * r + 1];
  }
  cw.active = (any & ~all) & cell_mask(w, g.n2);
  return cw;
}

VRN_HD int cell_case(const CellWords& cw, int j) {
  int cs = 0;
  for (int k = 0; k < 8; ++k) cs |= static_cast<int>((cw.c[k] >> j) & 1u) << k;
  return cs;
}

// ---- pass 2: counts ----------------------------------------------------------------------------

template <class TriCount>
VRN_HD RowCounts count_row(const uint32_t* bits, const Grid& g, int64_t z, int64_t y, const TriCount& tri_count) {
  RowCounts rc{0, 0, 0, 0};
  const uint32_t* a = row_bits(bits, g, z, y);
  const bool has_y = y + 1 < g.n1, has_z = z + 1 < g.n0;
  const uint32_t* b = has_y ? row_bits(bits, g, z, y + 1) : a;
  const uint32_t* c = has_z ? row_bits(bits, g, z + 1, y) : a;
  const uint32_t* d = (has_y && has_z) ? row_bits(bits, g, z + 1, y + 1) : a;
  for (int64_t w = 0; w < g.words; ++w) {
    rc.x += popcount32((a[w] ^ next_bits(a, w, g.words)) & cell_mask(w, g.n2));
    if (has_y) rc.y += popcount32(a[w] ^ b[w]);
    if (has_z) rc.z += popcount32(a[w] ^ c[w]);
    if (has_y && has_z) {
      const CellWords cw = cell_words(a, b, c, d, w, g);
      for (uint32_t m = cw.active; m; m &= m - 1u) rc.tris += tri_count(cell_case(cw, ctz32(m)));
    }
  }
  return rc;
}

// ---- pass 3: vertices --------------------------------------------------------------------------

// Central differences inside, one-sided at the borders (numpy.gradient's rule), in index units.
template <class T>
VRN_HD double grad_at(const T* vol, const Grid& g, int64_t z, int64_t y, int64_t x, int axis) {
  const int64_t n = axis == 0 ? g.n0 : (axis == 1 ? g.n1 : g.n2);
  const int64_t s = axis == 0 ? g.s0 : (axis == 1 ? g.s1 : g.s2);
  const int64_t i = axis == 0 ? z : (axis == 1 ? y : x);
  const T* p = vol + g.offset(z, y, x);
  const int64_t lo = i > 0 ? -1 : 0, hi = i + 1 < n ? 1 : 0;
  return (to_double(p[hi * s]) - to_double(p[lo * s])) / static_cast<double>(hi - lo);
}

struct VertexParams {
  double level;
  double spacing[3];  // along z, y, x
};

// The largest sample of the cells that share the edge from node (z, y, x) along `axis`: its 2
// samples along the axis by the 3 x 3 around it across, clipped to the volume. A vertex on a
// sample (t = 0 or 1: the level met exactly) lies in every cell around that sample: 3 x 3 x 3.
// A NaN sample makes it NaN, as numpy's max.
template <class T>
VRN_HD double cells_max(const T* vol, const Grid& g, int64_t z, int64_t y, int64_t x, int axis, double t) {
  int64_t at[3] = {z, y, x};
  const int64_t n[3] = {g.n0, g.n1, g.n2};
  const bool on_sample = t <= 0.0 || t >= 1.0;
  if (t >= 1.0) at[axis] += 1;
  int64_t lo[3], hi[3];
  for (int k = 0; k < 3; ++k) {
    const bool along = k == axis && !on_sample;
    lo[k] = along || at[k] == 0 ? at[k] : at[k] - 1;
    hi[k] = at[k] + 1 < n[k] ? at[k] + 1 : at[k];
  }
  double m = -INFINITY;
  for (int64_t i = lo[0]; i <= hi[0]; ++i)
    for (int64_t j = lo[1]; j <= hi[1]; ++j)
      for (int64_t l = lo[2]; l <= hi[2]; ++l) {
        const double v = to_double(vol[g.offset(i, j, l)]);
        if (v > m || v != v) m = v;  // once NaN, nothing is greater
      }
  return m;
}

// Writes the vertex on the edge from node (z, y, x) along `axis` (0 = z, 1 = y, 2 = x); its
// normal (toward lower values, unit length, in physical units) when `normal` is not null; its
// cells' largest sample (cells_max) when `value` is not null.
template <class T>
VRN_HD void write_vertex(const T* vol, const Grid& g, const VertexParams& vp, int64_t z, int64_t y, int64_t x,
                         int axis, float* vert, float* normal, float* value) {
  const int64_t step = axis == 0 ? g.s0 : (axis == 1 ? g.s1 : g.s2);
  const T* p = vol + g.offset(z, y, x);
  const double t = edge_t(to_double(p[0]), to_double(p[step]), vp.level);
  const double idx[3] = {static_cast<double>(z), static_cast<double>(y), static_cast<double>(x)};
  for (int k = 0; k < 3; ++k) {
    const double pos = k == axis ? idx[k] + t : idx[k];
    vert[k] = static_cast<float>(pos * vp.spacing[k]);
  }
  if (value) *value = static_cast<float>(cells_max(vol, g, z, y, x, axis, t));
  if (normal) {
    const int64_t z1 = z + (axis == 0), y1 = y + (axis == 1), x1 = x + (axis == 2);
    double n[3], len2 = 0.0;
    for (int k = 0; k < 3; ++k) {
      const double ga = grad_at(vol, g, z, y, x, k), gb = grad_at(vol, g, z1, y1, x1, k);
      n[k] = -(ga + t * (gb - ga)) / vp.spacing[k];
      len2 += n[k] * n[k];
    }
    const double inv = len2 > 0.0 ? 1.0 / sqrt(len2) : 0.0;
    for (int k = 0; k < 3; ++k) normal[k] = static_cast<float>(n[k] * inv);
  }
}

// Writes the row's vertices at verts[3 * first ...] (and normals and values, where not null).
template <class T>
VRN_HD void emit_row_vertices(const T* vol, const uint32_t* bits, const Grid& g, const VertexParams& vp, int64_t z,
                              int64_t y, int64_t first, float* verts, float* normals, float* values) {
  const uint32_t* a = row_bits(bits, g, z, y);
  const bool has_y = y + 1 < g.n1, has_z = z + 1 < g.n0;
  const uint32_t* b = has_y ? row_bits(bits, g, z, y + 1) : a;
  const uint32_t* c = has_z ? row_bits(bits, g, z + 1, y) : a;
  int64_t v = first;
  for (int axis = 2; axis >= 0; --axis) {  // x-edges, then y, then z
    if ((axis == 1 && !has_y) || (axis == 0 && !has_z)) continue;
    for (int64_t w = 0; w < g.words; ++w) {
      const uint32_t m = axis == 2 ? (a[w] ^ next_bits(a, w, g.words)) & cell_mask(w, g.n2)
                                   : a[w] ^ (axis == 1 ? b[w] : c[w]);
      for (uint32_t bitsleft = m; bitsleft; bitsleft &= bitsleft - 1u, ++v) {
        const int64_t x = w * 32 + ctz32(bitsleft);
        write_vertex(vol, g, vp, z, y, x, axis, verts + 3 * v, normals ? normals + 3 * v : nullptr,
                     values ? values + v : nullptr);
      }
    }
  }
}

// ---- pass 3: triangles -------------------------------------------------------------------------

// Crossed-edge lists a row's cells draw on: x-edges of the 4 corner rows, y-edges of rows
// (z, y) and (z+1, y), z-edges of rows (z, y) and (z, y+1).
enum EdgeList { XA, XB, XC, XD, YA, YC, ZA, ZB, NUM_LISTS };

// Cell edge e = 4 * axis + j (axis 0 = x, 1 = y, 2 = z; see tools/gen_mc_tables.py) ->
// (list, offset of the owning node along x).
// Branch-free: the axis of a cell's edge is data, and a branch on it mispredicts.
VRN_HD void edge_source(int e, int& list, int& dx) {
  const int axis = e >> 2, j = e & 3;
  list = axis == 0 ? XA + j : 2 + 2 * axis + (j >> 1);  // y: YA/YC, z: ZA/ZB by the upper bit
  dx = (axis != 0) & j;
}

struct RowOffsets {
  const int64_t* vfirst;  // first vertex id of each row of the volume, in the batch's numbering
  const int64_t* nx;      // crossed x-edges per row
  const int64_t* ny;      // crossed y-edges per row
  int64_t vbase;          // the volume's first vertex id: its face indices count from here
};

// The offsets of volume `volume`'s rows within per-row arrays that span the whole batch.
VRN_HD RowOffsets volume_offsets(const int64_t* vfirst, const int64_t* nx, const int64_t* ny, const Grid& g,
                                 int64_t volume) {
  const int64_t r0 = volume * g.rows();
  return RowOffsets{vfirst + r0, nx + r0, ny + r0, vfirst[r0]};
}

// Writes the triangles of the row's cells at faces[3 * first ...]. Requires y + 1 < n1, z + 1 < n0.
template <class Index, class TriTable>
VRN_HD void emit_row_triangles(const uint32_t* bits, const Grid& g, const RowOffsets& ro, int64_t z, int64_t y,
                               int64_t first, Index* faces, const TriTable& table) {
  const uint32_t* a = row_bits(bits, g, z, y);
  const uint32_t* b = row_bits(bits, g, z, y + 1);
  const uint32_t* c = row_bits(bits, g, z + 1, y);
  const uint32_t* d = row_bits(bits, g, z + 1, y + 1);
  const int64_t ra = z * g.n1 + y, rb = ra + 1, rc = ra + g.n1, rd = rc + 1;
  int64_t base[NUM_LISTS] = {
      ro.vfirst[ra], ro.vfirst[rb], ro.vfirst[rc], ro.vfirst[rd],
      ro.vfirst[ra] + ro.nx[ra], ro.vfirst[rc] + ro.nx[rc],
      ro.vfirst[ra] + ro.nx[ra] + ro.ny[ra], ro.vfirst[rb] + ro.nx[rb] + ro.ny[rb]};
  for (int64_t& b : base) b -= ro.vbase;
  Index* out = faces + 3 * first;
  for (int64_t w = 0; w < g.words; ++w) {
    const CellWords cw = cell_words(a, b, c, d, w, g);
    const uint32_t valid = cell_mask(w, g.n2);
    uint32_t mask[NUM_LISTS];
    for (int r = 0; r < 4; ++r) mask[XA + r] = (cw.c[2 * r] ^ cw.c[2 * r + 1]) & valid;
    mask[YA] = a[w] ^ b[w];
    mask[YC] = c[w] ^ d[w];
    mask[ZA] = a[w] ^ c[w];
    mask[ZB] = b[w] ^ d[w];
    for (uint32_t m = cw.active; m; m &= m - 1u) {
      const int j = ctz32(m);
      const int cs = cell_case(cw, j);
      const int lo = table.offset(cs), hi = table.offset(cs + 1);
      for (int k = lo; k < hi; ++k) {
        int list, dx;
        edge_source(table.edge(k), list, dx);
        *out++ = static_cast<Index>(base[list] + popcount_below(mask[list], j + dx));
      }
    }
    for (int l = 0; l < NUM_LISTS; ++l) base[l] += popcount32(mask[l]);
  }
}

}  // namespace mc
VRN_ISA_END
