// vrnfast._cuda: the CUDA extension. Device pointers and the caller's stream arrive as integers
// (from torch's data_ptr()/cuda_stream or __cuda_array_interface__), so it needs no libtorch.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cuda_runtime_api.h>

#include <array>
#include <utility>
#include <vector>

#include "marching_cubes/mc_cuda.h"

namespace py = pybind11;
namespace mcc = vrn::mc::cuda;

namespace {

struct Volume {
  vrn::mc::VolumeDesc desc;
  int device;
};

Volume make(uintptr_t ptr, int dtype, std::array<int64_t, 3> shape, std::array<int64_t, 3> strides, int64_t batch,
            int64_t batch_stride, int device) {
  return Volume{vrn::mc::make_volume(ptr, dtype, shape[0], shape[1], shape[2], strides[0], strides[1], strides[2],
                                     batch, batch_stride),
                device};
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "vrnfast CUDA kernels (raw device pointers, caller's stream)";
  m.def("runtime_error", &mcc::runtime_error, "why the CUDA runtime cannot run here ('' when it can)");
  m.attr("cuda_runtime_version") = CUDART_VERSION;
  m.def(
      "driver_version",
      [] {
        int version = 0;  // stays 0 where no driver is installed
        cudaDriverGetVersion(&version);
        return version;
      },
      "the CUDA version the installed driver supports (1000 * major + 10 * minor), 0 without a driver");
  m.def(
      "mc_workspace_bytes",
      [](std::array<int64_t, 3> shape, int64_t batch, int device) {
        return mcc::workspace_bytes(vrn::mc::make_volume(0, 0, shape[0], shape[1], shape[2], 0, 0, 0, batch), device);
      },
      py::arg("shape"), py::arg("batch"), py::arg("device"));
  m.def(
      "mc_count",
      [](uintptr_t ptr, int dtype, std::array<int64_t, 3> shape, std::array<int64_t, 3> strides, int64_t batch,
         int64_t batch_stride, double level, uintptr_t workspace, size_t workspace_size, uintptr_t stream,
         int device) {
        const Volume v = make(ptr, dtype, shape, strides, batch, batch_stride, device);
        std::vector<std::pair<int64_t, int64_t>> out;
        {
          py::gil_scoped_release release;
          for (const auto& t : mcc::count(v.desc, level, reinterpret_cast<void*>(workspace), workspace_size, stream,
                                          device))
            out.emplace_back(t.verts, t.tris);
        }
        return out;
      },
      py::arg("ptr"), py::arg("dtype"), py::arg("shape"), py::arg("strides"), py::arg("batch"),
      py::arg("batch_stride"), py::arg("level"), py::arg("workspace"), py::arg("workspace_size"), py::arg("stream"),
      py::arg("device"), "(vertices, triangles) of each volume of the batch");
  m.def(
      "mc_emit",
      [](uintptr_t ptr, int dtype, std::array<int64_t, 3> shape, std::array<int64_t, 3> strides, int64_t batch,
         int64_t batch_stride, double level, std::array<double, 3> spacing, uintptr_t workspace, uintptr_t verts,
         uintptr_t faces, bool faces_int64, uintptr_t normals, uintptr_t values, uintptr_t stream, int device) {
        const Volume v = make(ptr, dtype, shape, strides, batch, batch_stride, device);
        py::gil_scoped_release release;
        mcc::emit(v.desc, level, spacing.data(), reinterpret_cast<void*>(workspace), reinterpret_cast<float*>(verts),
                  reinterpret_cast<void*>(faces), faces_int64, reinterpret_cast<float*>(normals),
                  reinterpret_cast<float*>(values), stream, device);
      },
      py::arg("ptr"), py::arg("dtype"), py::arg("shape"), py::arg("strides"), py::arg("batch"),
      py::arg("batch_stride"), py::arg("level"), py::arg("spacing"), py::arg("workspace"), py::arg("verts"),
      py::arg("faces"), py::arg("faces_int64"), py::arg("normals"), py::arg("values"), py::arg("stream"),
      py::arg("device"));
}
