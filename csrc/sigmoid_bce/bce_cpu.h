// sigmoid_bce on the CPU: one pass over logits and target writing the gradient (and, for
// reduction "none", the per-element loss); returns the sum of the losses, summed in a fixed order.
#pragma once
#include "bce_cpu_kernels.h"

namespace vrn {
namespace cpu {

double bce_forward(const BceArgs& args, int num_threads);

}  // namespace cpu
}  // namespace vrn
