#pragma once
// Deadline and watchdog for the GPU measurement programs (plain C++17: no CUDA header, so host code and tests
// can use them). A device call has a fixed budget (scripts/gpu_measure.sh): each program gets
// `--deadline-s SECONDS` and stops taking new points before it, so it can close its files and say what it
// skipped; the script's `timeout` is only the hard stop behind it. The watchdog ends a program whose current
// point has not finished after a limit (a hung kernel cannot be interrupted from the host), so the script can
// restart after that point instead of losing the rest of its budget to one hang.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace mlasim::gpu {

/// Exit code of a GPU program that stopped at its --deadline-s with points left (its files are complete).
inline constexpr int kExitDeadline = 4;
/// Exit code of a GPU program ended by its watchdog: one point or check did not finish in time.
inline constexpr int kExitWatchdog = 5;

/// Seconds from the program's start (steady clock). Not set: never expires.
class Deadline {
 public:
  using Clock = std::chrono::steady_clock;
  Deadline() = default;
  /// `seconds` > 0 from now; 0 means no deadline.
  explicit Deadline(double seconds) : seconds_(seconds) {}

  [[nodiscard]] bool set() const { return seconds_ > 0.0; }
  [[nodiscard]] double elapsed_s() const {
    return std::chrono::duration<double>(Clock::now() - start_).count();
  }
  /// Records how long one unit of work (a point) took; the longest so far sizes the next guess.
  void note_point(double seconds) { longest_point_s_ = std::max(longest_point_s_, seconds); }
  /// True when a new point, guessed to take 1.5x the longest so far (at least `min_point_s`), plus a second
  /// to close files, would end past the deadline.
  [[nodiscard]] bool too_late_for_next_point(double min_point_s = 0.05) const {
    if (!set()) return false;
    const double next = 1.5 * std::max(longest_point_s_, min_point_s);
    return elapsed_s() + next + 1.0 > seconds_;
  }

 private:
  double seconds_ = 0.0;
  Clock::time_point start_ = Clock::now();
  double longest_point_s_ = 0.0;
};

/// A thread that ends the process (std::_Exit(kExitWatchdog), after one line on stdout) when an armed
/// activity runs longer than the limit. Rows already written are on disk (CsvWriter flushes each row).
class Watchdog {
 public:
  /// `limit_s` <= 0: disabled (no thread).
  explicit Watchdog(double limit_s) : limit_s_(limit_s) {
    if (limit_s_ > 0.0) thread_ = std::thread([this] { loop(); });
  }
  ~Watchdog() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  /// Starts timing `what` (e.g. "point 12 mla-d576 B=8 ctx=512"); replaces any armed activity.
  void arm(const std::string& what) {
    const std::lock_guard<std::mutex> lock(mutex_);
    what_ = what;
    since_ = std::chrono::steady_clock::now();
    armed_ = true;
  }
  void disarm() {
    const std::lock_guard<std::mutex> lock(mutex_);
    armed_ = false;
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      cv_.wait_for(lock, std::chrono::milliseconds(250));
      if (!armed_) continue;
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - since_).count();
      if (s > limit_s_) {
        std::printf("watchdog: %s still running after %.0f s (hung kernel?); exiting with code %d\n",
                    what_.c_str(), s, kExitWatchdog);
        std::fflush(stdout);
        std::fflush(stderr);
        std::_Exit(kExitWatchdog);
      }
    }
  }

  double limit_s_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool armed_ = false;
  std::string what_;
  std::chrono::steady_clock::time_point since_;
  std::thread thread_;
};

}  // namespace mlasim::gpu
