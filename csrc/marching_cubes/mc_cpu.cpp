#include "mc_cpu.h"

#include <stdexcept>

#include "../common/parallel.h"

namespace vrn {
namespace cpu {

const McKernels& mc_kernels() {
  static const McKernels k = [] {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") && __builtin_cpu_supports("bmi") &&
        __builtin_cpu_supports("bmi2"))
      return mc_kernels_x86v3();
#endif
    return mc_kernels_generic();
  }();
  return k;
}

namespace {
constexpr int64_t kRowGrain = 32;  // rows per task: big enough to amortise scheduling

void run_rows(void (*kernel)(const McArgs&, int64_t, int64_t), const McArgs& a, int num_threads) {
  const int64_t rows = a.shape[0] * a.shape[1];
  parallel_for((rows + kRowGrain - 1) / kRowGrain, 1, num_threads, [&](int64_t chunk) {
    const int64_t r0 = chunk * kRowGrain;
    kernel(a, r0, r0 + kRowGrain < rows ? r0 + kRowGrain : rows);
  });
}
}  // namespace

McPlan::McPlan(const void* data, int dtype, const int64_t shape[3], const int64_t strides[3], double level,
               int num_threads) {
  for (int k = 0; k < 3; ++k)
    if (shape[k] < 2) throw std::invalid_argument("vrnfast: volume must be at least 2x2x2");
  const int64_t rows = shape[0] * shape[1], words = (shape[2] + 31) / 32;
  bits_.resize(static_cast<size_t>(rows * words));
  for (auto* v : {&nx_, &ny_, &nverts_, &ntris_, &vfirst_, &tfirst_}) v->resize(static_cast<size_t>(rows));
  args_ = McArgs{data, dtype, {shape[0], shape[1], shape[2]}, {strides[0], strides[1], strides[2]}, level,
                 {1.0, 1.0, 1.0}, bits_.data(), nx_.data(), ny_.data(), nverts_.data(), ntris_.data(),
                 vfirst_.data(), tfirst_.data(), nullptr, nullptr, false, nullptr};
  const McKernels& k = mc_kernels();
  run_rows(k.classify, args_, num_threads);
  run_rows(k.count, args_, num_threads);
  for (int64_t r = 0; r < rows; ++r) {  // exclusive scans; a few microseconds
    vfirst_[r] = num_verts_;
    tfirst_[r] = num_tris_;
    num_verts_ += nverts_[r];
    num_tris_ += ntris_[r];
  }
}

void McPlan::emit(const double spacing[3], float* verts, void* faces, bool faces_int64, float* normals,
                  int num_threads) const {
  McArgs a = args_;
  for (int k = 0; k < 3; ++k) a.spacing[k] = spacing[k];
  a.verts = verts;
  a.faces = faces;
  a.faces_int64 = faces_int64;
  a.normals = normals;
  run_rows(mc_kernels().emit, a, num_threads);
}

}  // namespace cpu
}  // namespace vrn
