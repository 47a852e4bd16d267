#pragma once
/// Deterministic parallelism for embarrassingly parallel work (sweep points, serve-sweep rows, plan layouts):
/// the work is numbered 0..n-1, each task writes its result into a pre-sized slot by index, so the output
/// never depends on scheduling; an exception is rethrown as the one of the lowest index that threw, the same
/// one a single thread would have met first.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>

namespace mlasim {

/// The CPUs this process may run on (its affinity mask on Linux, as `nproc` counts; elsewhere
/// std::thread::hardware_concurrency), at least 1: the default of `-j`.
[[nodiscard]] int default_jobs();

/// Runs f(begin, end) over consecutive chunks [begin, end) covering [0, n), on up to `jobs` threads (the
/// calling thread among them; no thread is started when jobs is 1 or there is one chunk). Chunks are handed
/// out in increasing order; `chunk` indices each (0: chosen from n and jobs, 1 when n is small). If any f
/// throws, no new chunk is handed out, the chunks already running finish, and the exception of the lowest
/// chunk that threw is rethrown on the calling thread: when f stops at its first failing index, that is the
/// exception of the lowest failing index overall, whatever `jobs`. InternalError when jobs < 1.
void parallel_for_chunks(std::size_t n, int jobs, std::size_t chunk,
                         const std::function<void(std::size_t begin, std::size_t end)>& f);

/// Runs f(i) for every i in [0, n) on up to `jobs` threads; see parallel_for_chunks (the exception rethrown
/// is the one of the lowest index that threw).
void parallel_for(std::size_t n, int jobs, const std::function<void(std::size_t i)>& f);

/// A count of finished work shared by worker threads, reported to a callback at most every `interval`
/// (and always by finish()). The callback runs under a mutex, so never twice at once, on whichever thread
/// crossed the interval; it must not throw. Without a callback, add() is one atomic addition.
class ProgressCounter {
 public:
  using Callback = std::function<void(std::size_t done, std::size_t total)>;
  ProgressCounter(std::size_t total, Callback callback,
                  std::chrono::milliseconds interval = std::chrono::milliseconds(100));
  /// `k` more tasks finished. Thread-safe.
  void add(std::size_t k);
  /// Reports the count now (from the calling thread, after the workers are joined).
  void finish();

 private:
  std::size_t total_;
  Callback callback_;
  std::chrono::steady_clock::duration interval_;
  std::atomic<std::size_t> done_{0};
  std::atomic<std::chrono::steady_clock::rep> next_report_;  ///< steady_clock ticks
  std::mutex report_mutex_;
};

}  // namespace mlasim
