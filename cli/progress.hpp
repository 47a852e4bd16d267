#pragma once
// A progress line on stderr for the long runs (sweep points, serve-sweep runs, plan layouts): shown only when
// stderr is a terminal and the run has lasted over two seconds, rewritten in place, cleared at the end; so a
// log or a pipe never sees it, and a short run never flickers.
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <mutex>
#include <string>

namespace mlasim::cli {

class ProgressLine {
 public:
  /// "mlasim <command>: 1200/4000 <unit>, 600 <unit>/s, ETA 5 s". Shown when `enabled` (not -q, not
  /// --no-progress) and stderr is a terminal.
  ProgressLine(std::string command, std::string unit, bool enabled);
  /// For tests: `terminal` says whether `out` is one, `delay` how long a run lasts before it is shown.
  ProgressLine(std::string command, std::string unit, bool enabled, bool terminal, std::FILE* out,
               std::chrono::steady_clock::duration delay);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  /// `done` of `total` finished; `detail` is appended (", 12 simulations"). Thread-safe; redraws at most
  /// every 0.25 s.
  void update(std::size_t done, std::size_t total, const std::string& detail = {});
  /// Clears the line if it was shown; then, if it was, prints "mlasim <command>: <summary> in 12.3 s" (when
  /// `summary` is not empty).
  void finish(const std::string& summary = {});
  /// The text of the line, e.g. "mlasim sweep: 1200/4000 points, 600 points/s, ETA 5 s".
  [[nodiscard]] static std::string text(const std::string& command, const std::string& unit, std::size_t done,
                                        std::size_t total, double elapsed_s, const std::string& detail);

 private:
  std::string command_, unit_;
  bool active_;  ///< enabled and on a terminal
  std::FILE* out_;
  std::chrono::steady_clock::duration delay_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_draw_{};
  bool shown_ = false;  ///< the line is on the screen
  std::mutex mutex_;
};

}  // namespace mlasim::cli
