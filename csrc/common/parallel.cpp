#include "parallel.h"

#include <cstdlib>

namespace vrn {

int default_num_threads() {
  if (const char* env = std::getenv("VRNFAST_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw ? static_cast<int>(hw) : 1;
}

}  // namespace vrn
