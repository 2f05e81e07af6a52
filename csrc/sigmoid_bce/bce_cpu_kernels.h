// The CPU kernels of sigmoid_bce, compiled once per instruction set (bce_cpu_isa.inc) and chosen
// at run time. Only plain types cross this boundary.
#pragma once
#include <cstdint>

namespace vrn {
namespace cpu {

struct BceArgs {
  const void* logits;  // n contiguous elements, dtype code f32 / f16 / bf16
  int logits_dtype;
  const void* target;  // n contiguous elements, dtype code u8 / f32 / f16 / bf16 / f64
  int target_dtype;
  const float* pos_weight;  // null, or element i uses pos_weight[(i / pw_inner) % pw_count]
  int64_t pw_count, pw_inner;
  int64_t n;
  float grad_scale;  // 1/n for a mean, else 1
  void* grad;        // n elements (may be the logits' own storage)
  int grad_dtype;    // f32 / f16 / bf16
  float* loss;       // n per-element losses (reduction "none"), or null
  double* partials;  // one sum per chunk of kBceChunk elements (reductions "mean"/"sum"), or null
};

constexpr int64_t kBceChunk = 1 << 15;  // fixed: the sum's order never depends on threads

struct BceKernels {
  const char* isa;
  void (*chunks)(const BceArgs&, int64_t c0, int64_t c1);  // chunks [c0, c1)
};

BceKernels bce_kernels_generic();
BceKernels bce_kernels_x86v3();  // AVX2; only where the CPU has x86-64-v3
BceKernels bce_kernels_x86v4();  // AVX-512; only where the CPU has x86-64-v4
const BceKernels& bce_kernels();

}  // namespace cpu
}  // namespace vrn
