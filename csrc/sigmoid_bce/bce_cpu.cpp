#include "bce_cpu.h"

#include <vector>

#include "../common/cpu_features.h"
#include "../common/parallel.h"

namespace vrn {
namespace cpu {

const BceKernels& bce_kernels() {
  static const BceKernels k =
      has_x86v4() ? bce_kernels_x86v4() : (has_x86v3() ? bce_kernels_x86v3() : bce_kernels_generic());
  return k;
}

double bce_forward(const BceArgs& args, int num_threads) {
  const int64_t chunks = (args.n + kBceChunk - 1) / kBceChunk;
  std::vector<double> partials(static_cast<size_t>(chunks), 0.0);
  BceArgs a = args;
  a.partials = partials.data();
  const BceKernels& k = bce_kernels();
  parallel_for(chunks, 1, num_threads, [&](int64_t c) { k.chunks(a, c, c + 1); });
  double sum = 0.0;
  for (double p : partials) sum += p;  // fixed order: bitwise-equal sums run to run
  return sum;
}

}  // namespace cpu
}  // namespace vrn
