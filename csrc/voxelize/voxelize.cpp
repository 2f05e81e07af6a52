#include "voxelize.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "../common/parallel.h"

namespace vrn {
namespace cpu {
namespace {

struct P2 {
  double x, y;
};

bool less(const P2& a, const P2& b) { return a.x < b.x || (a.x == b.x && a.y < b.y); }

// Orientation of p against edge (a, b), evaluated with the edge's endpoints in canonical order, so
// the two triangles sharing an edge compute exactly negated values.
double edge_value(const P2& a, const P2& b, const P2& p) {
  const bool swap = less(b, a);
  const P2& c0 = swap ? b : a;
  const P2& c1 = swap ? a : b;
  const double v = (c1.x - c0.x) * (p.y - c0.y) - (c1.y - c0.y) * (p.x - c0.x);
  return swap ? -v : v;
}

// Points exactly on an edge belong to the triangle for which the edge runs "downward" (or
// leftward when horizontal): opposite directions never both qualify.
bool owns_edge(const P2& a, const P2& b) { return b.y > a.y || (b.y == a.y && b.x < a.x); }

struct Hit {
  int64_t column;
  float z;
};

void rasterize(const float* v, const int64_t* f, int64_t H, int64_t W, std::vector<Hit>& hits) {
  P2 p[3];
  double z[3];
  for (int k = 0; k < 3; ++k) {
    p[k] = P2{v[3 * f[k]], v[3 * f[k] + 1]};
    z[k] = v[3 * f[k] + 2];
  }
  double area = edge_value(p[0], p[1], p[2]);
  if (!(area != 0.0) || !std::isfinite(area)) return;  // degenerate in xy (or NaN): no column crosses it
  if (area < 0.0) {  // counter-clockwise order, so that inside means all edge values > 0
    std::swap(p[1], p[2]);
    std::swap(z[1], z[2]);
    area = -area;
  }
  const double x0 = std::max(0.0, std::ceil(std::min({p[0].x, p[1].x, p[2].x})));
  const double x1 = std::min(static_cast<double>(W - 1), std::floor(std::max({p[0].x, p[1].x, p[2].x})));
  const double y0 = std::max(0.0, std::ceil(std::min({p[0].y, p[1].y, p[2].y})));
  const double y1 = std::min(static_cast<double>(H - 1), std::floor(std::max({p[0].y, p[1].y, p[2].y})));
  for (double y = y0; y <= y1; y += 1.0) {
    for (double x = x0; x <= x1; x += 1.0) {
      const P2 q{x, y};
      double e[3];
      bool in = true;
      for (int k = 0; k < 3 && in; ++k) {
        const P2& a = p[(k + 1) % 3];
        const P2& b = p[(k + 2) % 3];  // e[k]: the edge opposite vertex k
        e[k] = edge_value(a, b, q);
        in = e[k] > 0.0 || (e[k] == 0.0 && owns_edge(a, b));
      }
      if (!in) continue;
      const double zq = (e[0] * z[0] + e[1] * z[1] + e[2] * z[2]) / area;
      hits.push_back(Hit{static_cast<int64_t>(y) * W + static_cast<int64_t>(x), static_cast<float>(zq)});
    }
  }
}

}  // namespace

int64_t voxelize(const float* verts, int64_t num_verts, const int64_t* faces, int64_t num_faces, int64_t D, int64_t H,
                 int64_t W, uint8_t* out, int num_threads) {
  // 1. crossings, per chunk of faces (chunk order keeps the result independent of threads)
  constexpr int64_t kFaceChunk = 4096;
  const int64_t chunks = (num_faces + kFaceChunk - 1) / kFaceChunk;
  std::vector<std::vector<Hit>> chunk_hits(static_cast<size_t>(chunks));
  std::vector<int64_t> bad(static_cast<size_t>(chunks), 0);
  parallel_for(chunks, 1, num_threads, [&](int64_t c) {
    for (int64_t t = c * kFaceChunk; t < std::min(num_faces, (c + 1) * kFaceChunk); ++t) {
      const int64_t* f = faces + 3 * t;
      if (f[0] < 0 || f[1] < 0 || f[2] < 0 || f[0] >= num_verts || f[1] >= num_verts || f[2] >= num_verts) {
        ++bad[c];
        continue;
      }
      rasterize(verts, f, H, W, chunk_hits[c]);
    }
  });
  // 2. group by column (counting sort)
  const int64_t columns = H * W;
  std::vector<int64_t> start(static_cast<size_t>(columns + 1), 0);
  for (const auto& hs : chunk_hits)
    for (const Hit& h : hs) ++start[h.column + 1];
  for (int64_t c = 0; c < columns; ++c) start[c + 1] += start[c];
  std::vector<float> zs(static_cast<size_t>(start[columns]));
  std::vector<int64_t> fill(start.begin(), start.end() - 1);
  for (const auto& hs : chunk_hits)
    for (const Hit& h : hs) zs[fill[h.column]++] = h.z;
  // 3. per column: sort the crossings, fill (z[2k], z[2k+1]]
  parallel_for(columns, 256, num_threads, [&](int64_t c) {
    float* z = zs.data() + start[c];
    const int64_t n = start[c + 1] - start[c];
    std::sort(z, z + n);
    uint8_t* col = out + c;
    for (int64_t d = 0; d < D; ++d) col[d * columns] = 0;
    for (int64_t k = 0; k < n; k += 2) {  // an odd count (open surface): inside to the top
      const double lo = std::floor(static_cast<double>(z[k])) + 1.0;
      const double hi = k + 1 < n ? std::floor(static_cast<double>(z[k + 1])) : static_cast<double>(D - 1);
      for (int64_t d = static_cast<int64_t>(std::max(lo, 0.0)); d <= std::min(hi, static_cast<double>(D - 1)); ++d)
        col[d * columns] = 1;
    }
  });
  int64_t total_bad = 0;
  for (int64_t b : bad) total_bad += b;
  return total_bad;
}

}  // namespace cpu
}  // namespace vrn
