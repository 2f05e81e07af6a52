// vrnfast._C: the CPU extension. Takes raw pointers, element strides and dtype codes from
// vrnfast/_backend.py, so it never needs numpy or torch headers; the GIL is released while
// kernels run.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <memory>

#include "common/hd.h"
#include "common/parallel.h"
#include "marching_cubes/mc_cpu.h"
#include "sigmoid_bce/bce_cpu.h"
#include "voxelize/voxelize.h"
#include "warp/warp_cpu.h"

namespace py = pybind11;
using vrn::cpu::McPlan;

namespace {

std::unique_ptr<McPlan> mc_count(uintptr_t ptr, int dtype, std::array<int64_t, 3> shape,
                                 std::array<int64_t, 3> strides, int64_t batch, int64_t batch_stride, double level,
                                 int num_threads) {
  py::gil_scoped_release release;
  return std::make_unique<McPlan>(reinterpret_cast<const void*>(ptr), dtype, shape.data(), strides.data(), batch,
                                  batch_stride, level, num_threads);
}

void mc_emit(const McPlan& plan, std::array<double, 3> spacing, uintptr_t verts, uintptr_t faces, bool faces_int64,
             uintptr_t normals, uintptr_t values, int num_threads) {
  py::gil_scoped_release release;
  plan.emit(spacing.data(), reinterpret_cast<float*>(verts), reinterpret_cast<void*>(faces), faces_int64,
            reinterpret_cast<float*>(normals), reinterpret_cast<float*>(values), num_threads);
}

double bce_forward(uintptr_t logits, int logits_dtype, uintptr_t target, int target_dtype, int64_t n,
                   uintptr_t pos_weight, int64_t pw_count, int64_t pw_inner, double grad_scale, uintptr_t grad,
                   int grad_dtype, uintptr_t loss, int num_threads) {
  using vrn::DType;
  const auto is = [](int code, std::initializer_list<DType> ok) {
    for (DType d : ok)
      if (code == static_cast<int>(d)) return true;
    return false;
  };
  if (!is(logits_dtype, {DType::f32, DType::f16, DType::bf16}) || !is(grad_dtype, {DType::f32, DType::f16, DType::bf16}))
    throw std::invalid_argument("bce_forward: logits and grad must be float32, float16 or bfloat16");
  if (!is(target_dtype, {DType::u8, DType::f32, DType::f16, DType::bf16, DType::f64}))
    throw std::invalid_argument("bce_forward: target must be uint8, float16, bfloat16, float32 or float64");
  if (n < 0 || (pos_weight && (pw_count < 1 || pw_inner < 1)))
    throw std::invalid_argument("bce_forward: bad size or pos_weight layout");
  const vrn::cpu::BceArgs args{reinterpret_cast<const void*>(logits), logits_dtype,
                               reinterpret_cast<const void*>(target), target_dtype,
                               reinterpret_cast<const float*>(pos_weight), pw_count, pw_inner, n,
                               static_cast<float>(grad_scale), reinterpret_cast<void*>(grad), grad_dtype,
                               reinterpret_cast<float*>(loss), nullptr};
  py::gil_scoped_release release;
  return vrn::cpu::bce_forward(args, num_threads);
}

void warp_volume(uintptr_t src, int dtype, std::array<int64_t, 4> shape, std::array<int64_t, 4> strides,
                 uintptr_t matrices, std::array<int64_t, 3> out_shape, bool trilinear, uintptr_t dst, int num_threads) {
  const vrn::cpu::VolumeWarpArgs args{reinterpret_cast<const void*>(src), dtype, shape[0], shape[1], shape[2],
                                      shape[3], {strides[0], strides[1], strides[2], strides[3]},
                                      reinterpret_cast<const double*>(matrices), out_shape[0], out_shape[1],
                                      out_shape[2], trilinear, reinterpret_cast<void*>(dst)};
  py::gil_scoped_release release;
  vrn::cpu::warp_volume(args, num_threads);
}

void warp_image(uintptr_t src, int dtype, std::array<int64_t, 4> shape, std::array<int64_t, 4> strides,
                uintptr_t matrices, uintptr_t colour_scale, uintptr_t dst, int num_threads) {
  const vrn::cpu::ImageWarpArgs args{reinterpret_cast<const void*>(src), dtype, shape[0], shape[1], shape[2],
                                     shape[3], {strides[0], strides[1], strides[2], strides[3]},
                                     reinterpret_cast<const double*>(matrices),
                                     reinterpret_cast<const float*>(colour_scale), reinterpret_cast<void*>(dst)};
  py::gil_scoped_release release;
  vrn::cpu::warp_image(args, num_threads);
}

int64_t voxelize(uintptr_t verts, int64_t num_verts, uintptr_t faces, int64_t num_faces, std::array<int64_t, 3> shape,
                 uintptr_t out, int num_threads) {
  py::gil_scoped_release release;
  return vrn::cpu::voxelize(reinterpret_cast<const float*>(verts), num_verts, reinterpret_cast<const int64_t*>(faces),
                            num_faces, shape[0], shape[1], shape[2], reinterpret_cast<uint8_t*>(out), num_threads);
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "vrnfast CPU kernels (C++17, threaded)";
  py::dict dtypes;
  const std::pair<const char*, vrn::DType> names[] = {
      {"uint8", vrn::DType::u8},   {"bool", vrn::DType::u8},      {"int8", vrn::DType::i8},
      {"uint16", vrn::DType::u16}, {"int16", vrn::DType::i16},    {"uint32", vrn::DType::u32},
      {"int32", vrn::DType::i32},  {"uint64", vrn::DType::u64},   {"int64", vrn::DType::i64},
      {"float16", vrn::DType::f16}, {"bfloat16", vrn::DType::bf16}, {"float32", vrn::DType::f32},
      {"float64", vrn::DType::f64}};
  for (const auto& [name, code] : names) dtypes[name] = static_cast<int>(code);
  m.attr("dtypes") = dtypes;
  m.def("default_num_threads", &vrn::default_num_threads);
  m.attr("cpu_isa") = vrn::cpu::mc_kernels().isa;
  m.attr("bce_isa") = vrn::cpu::bce_kernels().isa;
  // what the build did about vrnfast._cuda (setup.py's verdict), for the messages of a missing one
#if VRNFAST_CUDA_BUILD == 1
  m.attr("cuda_build") = "built";
#elif VRNFAST_CUDA_BUILD == 0
  m.attr("cuda_build") = "skipped on request (VRNFAST_CUDA=0)";
#else
  m.attr("cuda_build") = "skipped: nvcc was not found";
#endif
  m.def("bce_forward", &bce_forward, py::arg("logits"), py::arg("logits_dtype"), py::arg("target"),
        py::arg("target_dtype"), py::arg("n"), py::arg("pos_weight"), py::arg("pw_count"), py::arg("pw_inner"),
        py::arg("grad_scale"), py::arg("grad"), py::arg("grad_dtype"), py::arg("loss"), py::arg("num_threads") = 0,
        "Sigmoid BCE over n contiguous elements: writes the gradient (and per-element losses when loss != 0), "
        "returns the sum of the losses.");

  m.def("warp_volume", &warp_volume, py::arg("src"), py::arg("dtype"), py::arg("shape"), py::arg("strides"),
        py::arg("matrices"), py::arg("out_shape"), py::arg("trilinear"), py::arg("dst"), py::arg("num_threads") = 0);
  m.def("warp_image", &warp_image, py::arg("src"), py::arg("dtype"), py::arg("shape"), py::arg("strides"),
        py::arg("matrices"), py::arg("colour_scale"), py::arg("dst"), py::arg("num_threads") = 0);

  m.def("voxelize", &voxelize, py::arg("verts"), py::arg("num_verts"), py::arg("faces"), py::arg("num_faces"),
        py::arg("shape"), py::arg("out"), py::arg("num_threads") = 0,
        "Mesh -> uint8 occupancy by ray parity along z; returns the number of faces with bad indices.");

  py::class_<McPlan>(m, "MarchingCubesPlan")
      .def_property_readonly("num_verts", &McPlan::num_verts)
      .def_property_readonly("num_tris", &McPlan::num_tris)
      .def_property_readonly("volume_verts", &McPlan::volume_verts)
      .def_property_readonly("volume_tris", &McPlan::volume_tris)
      .def("emit", &mc_emit, py::arg("spacing"), py::arg("verts"), py::arg("faces"), py::arg("faces_int64"),
           py::arg("normals"), py::arg("values") = 0, py::arg("num_threads") = 0);
  m.def("mc_count", &mc_count, py::arg("ptr"), py::arg("dtype"), py::arg("shape"), py::arg("strides"),
        py::arg("batch"), py::arg("batch_stride"), py::arg("level"), py::arg("num_threads") = 0,
        "Classify a batch of volumes and size their meshes; returns a plan whose emit() fills the outputs.");
}
