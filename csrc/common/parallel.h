// Host-side parallel loop: std::thread workers taking chunks from an atomic counter. Each index
// is processed exactly once and what it writes is fixed by the index alone, so results never
// depend on the thread count or on scheduling.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace vrn {

// Threads used when a caller passes 0: VRNFAST_NUM_THREADS if set, else the hardware count.
int default_num_threads();

template <class Fn>
void parallel_for(int64_t n, int64_t grain, int num_threads, const Fn& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = (n + grain - 1) / grain;
  int workers = num_threads > 0 ? num_threads : default_num_threads();
  workers = static_cast<int>(std::min<int64_t>(std::max(workers, 1), chunks));
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    try {
      for (int64_t ch; (ch = next.fetch_add(1)) < chunks;) {
        const int64_t lo = ch * grain, hi = std::min(n, lo + grain);
        for (int64_t i = lo; i < hi; ++i) fn(i);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      next.store(chunks);
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  for (int t = 1; t < workers; ++t) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace vrn
