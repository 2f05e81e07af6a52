// Host-side pieces of marching cubes used by both extensions: the tables as host arrays, the level
// thresholds, and the description of a volume handed over from Python.
#pragma once
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "mc_cell.h"

VRN_ISA_BEGIN
namespace mc {

struct HostTriTable {
  static constexpr int16_t offsets[257] = VRN_MC_TRI_OFFSETS_INIT;
  static constexpr int8_t edges[VRN_MC_NUM_TRI_EDGES] = VRN_MC_TRI_EDGES_INIT;
  int offset(int cs) const { return offsets[cs]; }
  int edge(int k) const { return edges[k]; }
  int operator()(int cs) const { return (offsets[cs + 1] - offsets[cs]) / 3; }  // triangle count
};

inline Level make_level(double level) {
  float f = static_cast<float>(level);
  if (static_cast<double>(f) > level) f = std::nextafter(f, -INFINITY);
  return Level{level, f};
}

// A batch of volumes as Python hands it over: a raw pointer to element (0, 0, 0) of the first,
// sizes and element strides of one volume, and the element stride from one volume to the next.
struct VolumeDesc {
  const void* data;
  DType dtype;
  Grid grid;
  int64_t batch, batch_stride;
  int64_t rows() const { return batch * grid.rows(); }  // batch rows
};

inline VolumeDesc make_volume(uintptr_t ptr, int dtype, int64_t n0, int64_t n1, int64_t n2, int64_t s0, int64_t s1,
                              int64_t s2, int64_t batch = 1, int64_t batch_stride = 0) {
  if (n0 < 2 || n1 < 2 || n2 < 2) throw std::invalid_argument("vrnfast: volume must be at least 2x2x2");
  if (n2 > (int64_t{1} << 40) || n1 > (int64_t{1} << 40) || n0 > (int64_t{1} << 40))
    throw std::invalid_argument("vrnfast: volume dimension too large");
  if (batch < 1 || batch > (int64_t{1} << 40)) throw std::invalid_argument("vrnfast: bad batch size");
  return VolumeDesc{reinterpret_cast<const void*>(ptr), static_cast<DType>(dtype),
                    Grid{n0, n1, n2, s0, s1, s2, words_per_row(n2)}, batch, batch_stride};
}

}  // namespace mc
VRN_ISA_END
