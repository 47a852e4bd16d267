#include "sim/parallel.hpp"

#include <fmt/format.h>

#ifdef __linux__
#include <sched.h>
#endif

#include <algorithm>
#include <exception>
#include <limits>
#include <thread>
#include <vector>

#include "sim/error.hpp"

namespace mlasim {

int default_jobs() {
#ifdef __linux__
  // The CPUs this process may run on (taskset, a container's cpuset), as nproc counts them: on a machine
  // shared that way, hardware_concurrency's count of every CPU would oversubscribe.
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n >= 1) return n;
  }
#endif
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(std::min<unsigned>(n, std::numeric_limits<int>::max()));
}

namespace {

/// Chunks small enough that every thread gets about 16 (load balance, progress), large enough that handing
/// one out (an atomic addition) is noise next to the work; 1 when n is small (plan layouts, serve runs).
std::size_t auto_chunk(std::size_t n, int jobs) {
  const std::size_t per = n / (static_cast<std::size_t>(jobs) * 16U);
  return std::clamp<std::size_t>(per, 1, 4096);
}

}  // namespace

void parallel_for_chunks(std::size_t n, int jobs, std::size_t chunk,
                         const std::function<void(std::size_t begin, std::size_t end)>& f) {
  if (jobs < 1) throw InternalError(fmt::format("parallel_for: jobs must be at least 1, not {}", jobs));
  if (n == 0) return;
  if (chunk == 0) chunk = auto_chunk(n, jobs);
  const std::size_t chunks = n / chunk + (n % chunk != 0 ? 1 : 0);
  const auto workers =
      static_cast<std::size_t>(std::min<std::size_t>(static_cast<std::size_t>(jobs), chunks));
  if (workers <= 1) {
    for (std::size_t begin = 0; begin < n; begin += chunk) f(begin, std::min(n, begin + chunk));
    return;
  }

  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::size_t error_chunk = std::numeric_limits<std::size_t>::max();
  std::exception_ptr error;
  const auto work = [&] {
    // Chunks are claimed in increasing order, so when chunk c fails every chunk below c is already claimed
    // and runs to its end: the lowest failing chunk is always found.
    while (!failed.load(std::memory_order_relaxed)) {
      const std::size_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks) return;
      const std::size_t begin = c * chunk;
      try {
        f(begin, std::min(n, begin + chunk));
      } catch (...) {
        const std::lock_guard<std::mutex> lock(error_mutex);
        if (c < error_chunk) {
          error_chunk = c;
          error = std::current_exception();
        }
        failed.store(true, std::memory_order_relaxed);
      }
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(workers - 1);
  for (std::size_t t = 0; t + 1 < workers; ++t) {
    try {
      threads.emplace_back(work);
    } catch (...) {  // std::system_error, std::bad_alloc
      break;         // no more threads to be had: the ones running (and this one) do the work
    }
  }
  work();
  for (std::thread& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

void parallel_for(std::size_t n, int jobs, const std::function<void(std::size_t i)>& f) {
  parallel_for_chunks(n, jobs, 0, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) f(i);
  });
}

ProgressCounter::ProgressCounter(std::size_t total, Callback callback, std::chrono::milliseconds interval)
    : total_(total),
      callback_(std::move(callback)),
      interval_(std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval)),
      next_report_((std::chrono::steady_clock::now() + interval_).time_since_epoch().count()) {}

void ProgressCounter::add(std::size_t k) {
  done_.fetch_add(k, std::memory_order_relaxed);
  if (!callback_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now.time_since_epoch().count() < next_report_.load(std::memory_order_relaxed)) return;
  const std::unique_lock<std::mutex> lock(report_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return;  // another thread is reporting
  next_report_.store((now + interval_).time_since_epoch().count(), std::memory_order_relaxed);
  callback_(done_.load(), total_);  // read under the lock: the counts reported never go down
}

void ProgressCounter::finish() {
  if (!callback_) return;
  const std::lock_guard<std::mutex> lock(report_mutex_);
  callback_(done_.load(), total_);
}

}  // namespace mlasim
