#include "mc_cpu.h"

#include <mutex>
#include <stdexcept>
#include <vector>

#include "../common/cpu_features.h"
#include "../common/parallel.h"

namespace vrn {
namespace cpu {

const McKernels& mc_kernels() {
  static const McKernels k = has_x86v3() ? mc_kernels_x86v3() : mc_kernels_generic();
  return k;
}

namespace {
constexpr int64_t kRowGrain = 32;  // rows per task: big enough to amortise scheduling

// Idle workspaces, reused by later plans. Large ones are freed instead of kept.
constexpr size_t kPoolMaxBytes = size_t{64} << 20;
std::mutex pool_mutex;
std::vector<std::unique_ptr<McWorkspace>> pool;

std::unique_ptr<McWorkspace> acquire_workspace(size_t words, size_t rows) {
  std::unique_ptr<McWorkspace> ws;
  {
    std::lock_guard<std::mutex> lock(pool_mutex);
    if (!pool.empty()) {
      ws = std::move(pool.back());
      pool.pop_back();
    }
  }
  if (!ws) ws = std::make_unique<McWorkspace>();
  // Left uninitialised: every word and row entry is written before it is read.
  if (ws->bits_capacity < words) {
    ws->bits.reset(new uint32_t[words]);
    ws->bits_capacity = words;
  }
  if (ws->rows_capacity < rows) {
    ws->per_row.reset(new int64_t[rows * 6]);
    ws->rows_capacity = rows;
  }
  return ws;
}

void release_workspace(std::unique_ptr<McWorkspace> ws) {
  if (!ws || ws->bytes() > kPoolMaxBytes) return;
  std::lock_guard<std::mutex> lock(pool_mutex);
  if (pool.size() < 4) pool.push_back(std::move(ws));
}

void run_rows(void (*kernel)(const McArgs&, int64_t, int64_t), const McArgs& a, int num_threads) {
  const int64_t rows = a.batch * a.shape[0] * a.shape[1];
  parallel_for((rows + kRowGrain - 1) / kRowGrain, 1, num_threads, [&](int64_t chunk) {
    const int64_t r0 = chunk * kRowGrain;
    kernel(a, r0, r0 + kRowGrain < rows ? r0 + kRowGrain : rows);
  });
}
}  // namespace

McPlan::McPlan(const void* data, int dtype, const int64_t shape[3], const int64_t strides[3], int64_t batch,
               int64_t batch_stride, double level, int num_threads) {
  for (int k = 0; k < 3; ++k)
    if (shape[k] < 2) throw std::invalid_argument("vrnfast: volume must be at least 2x2x2");
  if (batch < 1) throw std::invalid_argument("vrnfast: a batch needs at least one volume");
  const int64_t volume_rows = shape[0] * shape[1], rows = batch * volume_rows, words = (shape[2] + 31) / 32;
  ws_ = acquire_workspace(static_cast<size_t>(rows * words), static_cast<size_t>(rows));
  int64_t* per_row[6];
  for (int k = 0; k < 6; ++k) per_row[k] = ws_->per_row.get() + k * ws_->rows_capacity;
  args_ = McArgs{data, dtype, {shape[0], shape[1], shape[2]}, {strides[0], strides[1], strides[2]}, batch,
                 batch_stride, level, {1.0, 1.0, 1.0}, ws_->bits.get(), per_row[0], per_row[1], per_row[2],
                 per_row[3], per_row[4], per_row[5], nullptr, nullptr, false, nullptr, nullptr};
  const McKernels& k = mc_kernels();
  run_rows(k.classify, args_, num_threads);
  run_rows(k.count, args_, num_threads);
  volume_verts_.assign(static_cast<size_t>(batch), 0);
  volume_tris_.assign(static_cast<size_t>(batch), 0);
  for (int64_t r = 0; r < rows; ++r) {  // exclusive scans over the whole batch; a few microseconds
    args_.vfirst[r] = num_verts_;
    args_.tfirst[r] = num_tris_;
    num_verts_ += args_.nverts[r];
    num_tris_ += args_.ntris[r];
    volume_verts_[r / volume_rows] += args_.nverts[r];
    volume_tris_[r / volume_rows] += args_.ntris[r];
  }
}

McPlan::~McPlan() { release_workspace(std::move(ws_)); }

void McPlan::emit(const double spacing[3], float* verts, void* faces, bool faces_int64, float* normals, float* values,
                  int num_threads) const {
  McArgs a = args_;
  for (int k = 0; k < 3; ++k) a.spacing[k] = spacing[k];
  a.verts = verts;
  a.faces = faces;
  a.faces_int64 = faces_int64;
  a.normals = normals;
  a.values = values;
  run_rows(mc_kernels().emit, a, num_threads);
}

}  // namespace cpu
}  // namespace vrn
