// CUDA driver of marching cubes: the same per-row logic as the CPU (mc_cell.h), one thread per
// row for counting and emitting, a warp ballot per 32 nodes for classification, CUB for the scans.
// No atomics: every row writes at its scanned offsets, so output order equals the CPU's. A batch
// of volumes is one run of rows, so it takes the same launches as one volume.
#include <cuda.h>
#include <cuda_runtime.h>

#include <cub/device/device_scan.cuh>
#include <stdexcept>
#include <string>
#include <vector>

#include "../common/dispatch.h"
#include "mc_cuda.h"

namespace vrn {
namespace mc {
namespace cuda {
namespace {

__device__ const int16_t kTriOffsets[257] = VRN_MC_TRI_OFFSETS_INIT;
__device__ const int8_t kTriEdges[VRN_MC_NUM_TRI_EDGES] = VRN_MC_TRI_EDGES_INIT;

struct DeviceTriTable {
  __device__ int offset(int cs) const { return kTriOffsets[cs]; }
  __device__ int edge(int k) const { return kTriEdges[k]; }
  __device__ int operator()(int cs) const { return (kTriOffsets[cs + 1] - kTriOffsets[cs]) / 3; }
};

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string("vrnfast CUDA marching cubes: ") + what + ": " +
                                                   cudaGetErrorString(err));
}

// Driver entry points, fetched through the runtime so the extension needs no libcuda at link time.
using CtxGet = CUresult (*)(CUcontext*);
using CtxSet = CUresult (*)(CUcontext);

template <class Fn>
Fn driver_entry(const char* name) {
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult status;
  check(cudaGetDriverEntryPointByVersion(name, &fn, 12000, cudaEnableDefault, &status), name);
  if (status != cudaDriverEntryPointSuccess || fn == nullptr)
    throw std::runtime_error(std::string("vrnfast CUDA marching cubes: no driver entry point ") + name);
  return reinterpret_cast<Fn>(fn);
}

// Makes `device` current for the scope of a call, then restores the caller's exact context (which
// may be none: restoring "device 0" instead would create a context there).
struct DeviceGuard {
  CUcontext previous = nullptr;
  bool switched = false;
  explicit DeviceGuard(int device) {
    static const CtxGet get = driver_entry<CtxGet>("cuCtxGetCurrent");
    int current = -1;
    if (get(&previous) != CUDA_SUCCESS) previous = nullptr;
    if (previous != nullptr && cudaGetDevice(&current) == cudaSuccess && current == device) return;
    check(cudaSetDevice(device), "cudaSetDevice");
    switched = true;
  }
  ~DeviceGuard() {
    if (!switched) return;
    static const CtxSet set = driver_entry<CtxSet>("cuCtxSetCurrent");
    set(previous);
  }
};

// Workspace layout: bits | per-row nx, ny, nverts, ntris, vfirst, tfirst | per-volume totals |
// CUB scratch; rows and volumes of the whole batch.
struct Workspace {
  uint32_t* bits;
  int64_t *nx, *ny, *nverts, *ntris, *vfirst, *tfirst, *totals;
  void* scratch;
  size_t scratch_bytes;
  size_t total_bytes;

  static size_t align(size_t n) { return (n + 255) & ~size_t{255}; }

  Workspace(const VolumeDesc& v, void* base, size_t scan_bytes) {
    char* p = static_cast<char*>(base);
    size_t off = 0;
    auto take = [&](size_t bytes) {
      char* q = p ? p + off : nullptr;
      off += align(bytes);
      return q;
    };
    const size_t rows = static_cast<size_t>(v.rows());
    bits = reinterpret_cast<uint32_t*>(take(rows * v.grid.words * sizeof(uint32_t)));
    int64_t** per_row[] = {&nx, &ny, &nverts, &ntris, &vfirst, &tfirst};
    for (int64_t** a : per_row) *a = reinterpret_cast<int64_t*>(take(rows * sizeof(int64_t)));
    totals = reinterpret_cast<int64_t*>(take(2 * static_cast<size_t>(v.batch) * sizeof(int64_t)));
    scratch = take(scan_bytes);
    scratch_bytes = scan_bytes;
    total_bytes = off;
  }
};

size_t scan_scratch_bytes(const VolumeDesc& v) {
  size_t bytes = 0;
  check(cub::DeviceScan::ExclusiveSum(nullptr, bytes, static_cast<int64_t*>(nullptr), static_cast<int64_t*>(nullptr),
                                      v.rows()),
        "cub scan size");
  return bytes;
}

constexpr int kThreads = 256;

constexpr int64_t kMaxBlocks = int64_t{1} << 20;  // grid-stride loops beyond this

unsigned blocks_for(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < kMaxBlocks ? b : kMaxBlocks);
}

// One warp per 32-node word of a row; the loop bound is uniform across a warp, so every lane
// reaches the ballot.
template <class T>
__global__ void classify_kernel(const T* __restrict__ vol, Grid g, int64_t batch, int64_t batch_stride, Level lv,
                                uint32_t* __restrict__ bits) {
  const int64_t total = batch * g.rows() * g.words;
  const int lane = static_cast<int>(threadIdx.x & 31);
  const int64_t warps = (static_cast<int64_t>(gridDim.x) * blockDim.x) >> 5;
  for (int64_t word = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; word < total;
       word += warps) {
    const int64_t x = (word % g.words) * 32 + lane;
    const BatchRow br = batch_row(g, word / g.words);
    const bool in = x < g.n2 && inside(vol[br.volume * batch_stride + g.offset(br.z, br.y, x)], lv);
    const uint32_t m = __ballot_sync(0xffffffffu, in);
    if (lane == 0) bits[word] = m;
  }
}

__global__ void count_kernel(const uint32_t* __restrict__ bits, Grid g, int64_t rows, int64_t* nx, int64_t* ny,
                             int64_t* nverts, int64_t* ntris) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; r < rows; r += stride) {
    const BatchRow br = batch_row(g, r);
    const RowCounts rc = count_row(volume_bits(bits, g, br.volume), g, br.z, br.y, DeviceTriTable{});
    nx[r] = rc.x;
    ny[r] = rc.y;
    nverts[r] = rc.x + rc.y + rc.z;
    ntris[r] = rc.tris;
  }
}

// Vertices and triangles of each volume, from the scans over the whole batch.
__global__ void totals_kernel(const int64_t* vfirst, const int64_t* nverts, const int64_t* tfirst,
                              const int64_t* ntris, int64_t volume_rows, int64_t batch, int64_t* totals) {
  const int64_t b = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= batch) return;
  const int64_t first = b * volume_rows, last = first + volume_rows - 1;
  totals[2 * b] = vfirst[last] + nverts[last] - vfirst[first];
  totals[2 * b + 1] = tfirst[last] + ntris[last] - tfirst[first];
}

struct BatchArrays {
  int64_t rows, batch_stride;
  const int64_t *vfirst, *nx, *ny, *tfirst;  // per batch row
};

template <class T, class Index>
__global__ void emit_kernel(const T* __restrict__ vol, const uint32_t* __restrict__ bits, Grid g, VertexParams vp,
                            BatchArrays ba, float* __restrict__ verts, Index* __restrict__ faces,
                            float* __restrict__ normals, float* __restrict__ values) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; r < ba.rows; r += stride) {
    const BatchRow br = batch_row(g, r);
    const uint32_t* vbits = volume_bits(bits, g, br.volume);
    emit_row_vertices(vol + br.volume * ba.batch_stride, vbits, g, vp, br.z, br.y, ba.vfirst[r], verts, normals,
                      values);
    if (br.z + 1 < g.n0 && br.y + 1 < g.n1)
      emit_row_triangles(vbits, g, volume_offsets(ba.vfirst, ba.nx, ba.ny, g, br.volume), br.z, br.y, ba.tfirst[r],
                         faces, DeviceTriTable{});
  }
}

}  // namespace

const char* runtime_error() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err == cudaSuccess) return n > 0 ? "" : "no CUDA device";
  cudaGetLastError();  // clear the sticky error for later calls
  return cudaGetErrorString(err);
}

size_t workspace_bytes(const VolumeDesc& vol, int device) {
  DeviceGuard guard(device);
  return Workspace(vol, nullptr, scan_scratch_bytes(vol)).total_bytes;
}

std::vector<Totals> count(const VolumeDesc& vol, double level, void* workspace, size_t workspace_size,
                          uintptr_t stream_handle, int device) {
  DeviceGuard guard(device);
  const Grid& g = vol.grid;
  const Workspace ws(vol, workspace, scan_scratch_bytes(vol));
  if (workspace_size < ws.total_bytes) throw std::invalid_argument("vrnfast: marching cubes workspace too small");
  cudaStream_t stream = reinterpret_cast<cudaStream_t>(stream_handle);
  cudaStreamCaptureStatus capture;
  check(cudaStreamIsCapturing(stream, &capture), "cudaStreamIsCapturing");
  if (capture != cudaStreamCaptureStatusNone)
    throw std::runtime_error("vrnfast: marching cubes cannot run inside CUDA graph capture (its output size is "
                             "read back to the host)");
  const Level lv = make_level(level);
  const int64_t rows = vol.rows();

  VRN_DISPATCH_DTYPE(vol.dtype, {
    classify_kernel<scalar_t><<<blocks_for(rows * g.words * 32), kThreads, 0, stream>>>(
        static_cast<const scalar_t*>(vol.data), g, vol.batch, vol.batch_stride, lv, ws.bits);
  });
  check(cudaGetLastError(), "classify launch");
  count_kernel<<<blocks_for(rows), kThreads, 0, stream>>>(ws.bits, g, rows, ws.nx, ws.ny, ws.nverts, ws.ntris);
  check(cudaGetLastError(), "count launch");
  size_t scratch = ws.scratch_bytes;
  check(cub::DeviceScan::ExclusiveSum(ws.scratch, scratch, ws.nverts, ws.vfirst, rows, stream), "vertex scan");
  check(cub::DeviceScan::ExclusiveSum(ws.scratch, scratch, ws.ntris, ws.tfirst, rows, stream), "triangle scan");
  totals_kernel<<<blocks_for(vol.batch), kThreads, 0, stream>>>(ws.vfirst, ws.nverts, ws.tfirst, ws.ntris,
                                                                 g.rows(), vol.batch, ws.totals);
  check(cudaGetLastError(), "totals launch");
  std::vector<int64_t> host(2 * static_cast<size_t>(vol.batch));
  check(cudaMemcpyAsync(host.data(), ws.totals, host.size() * sizeof(int64_t), cudaMemcpyDeviceToHost, stream),
        "copy totals");
  check(cudaStreamSynchronize(stream), "synchronize");
  std::vector<Totals> out(static_cast<size_t>(vol.batch));
  for (size_t b = 0; b < out.size(); ++b) out[b] = Totals{host[2 * b], host[2 * b + 1]};
  return out;
}

void emit(const VolumeDesc& vol, double level, const double spacing[3], void* workspace, float* verts, void* faces,
          bool faces_int64, float* normals, float* values, uintptr_t stream_handle, int device) {
  DeviceGuard guard(device);
  const Grid& g = vol.grid;
  const Workspace ws(vol, workspace, scan_scratch_bytes(vol));
  cudaStream_t stream = reinterpret_cast<cudaStream_t>(stream_handle);
  const VertexParams vp{level, {spacing[0], spacing[1], spacing[2]}};
  const BatchArrays ba{vol.rows(), vol.batch_stride, ws.vfirst, ws.nx, ws.ny, ws.tfirst};
  const unsigned blocks = blocks_for(vol.rows());
  VRN_DISPATCH_DTYPE(vol.dtype, {
    const scalar_t* v = static_cast<const scalar_t*>(vol.data);
    if (faces_int64)
      emit_kernel<<<blocks, kThreads, 0, stream>>>(v, ws.bits, g, vp, ba, verts, static_cast<int64_t*>(faces),
                                                   normals, values);
    else
      emit_kernel<<<blocks, kThreads, 0, stream>>>(v, ws.bits, g, vp, ba, verts, static_cast<int32_t*>(faces),
                                                   normals, values);
  });
  check(cudaGetLastError(), "emit launch");
}

}  // namespace cuda
}  // namespace mc
}  // namespace vrn
