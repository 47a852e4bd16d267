#include "cli/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace mlasim::cli {

namespace {

/// Before this a run is not worth a progress line (issue 12: "any run longer than two seconds").
constexpr auto kDelay = std::chrono::seconds(2);
/// Redraws at most this often: a terminal need not see every chunk.
constexpr auto kRedraw = std::chrono::milliseconds(250);

/// "42 s", "3 min 5 s", "2 h 10 min".
std::string duration_text(double s) {
  if (!std::isfinite(s)) return "?";
  const auto t = static_cast<long long>(std::llround(std::max(s, 0.0)));
  if (t < 60) return fmt::format("{} s", t);
  if (t < 3600) return fmt::format("{} min {} s", t / 60, t % 60);
  return fmt::format("{} h {} min", t / 3600, (t % 3600) / 60);
}

}  // namespace

ProgressLine::ProgressLine(std::string command, std::string unit, bool enabled)
    : ProgressLine(std::move(command), std::move(unit), enabled, isatty(STDERR_FILENO) != 0, stderr, kDelay) {
}

ProgressLine::ProgressLine(std::string command, std::string unit, bool enabled, bool terminal, std::FILE* out,
                           std::chrono::steady_clock::duration delay)
    : command_(std::move(command)),
      unit_(std::move(unit)),
      active_(enabled && terminal),
      out_(out),
      delay_(delay) {}

ProgressLine::~ProgressLine() {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (shown_) {
    std::fputs("\r\033[K", out_);
    std::fflush(out_);
    shown_ = false;
  }
}

std::string ProgressLine::text(const std::string& command, const std::string& unit, std::size_t done,
                               std::size_t total, double elapsed_s, const std::string& detail) {
  const double rate = elapsed_s > 0.0 ? static_cast<double>(done) / elapsed_s : 0.0;
  std::string line = fmt::format("mlasim {}: {}/{} {}", command, done, total, unit);
  if (rate > 0.0) {
    line +=
        rate >= 10.0 ? fmt::format(", {:.0f} {}/s", rate, unit) : fmt::format(", {:.2g} {}/s", rate, unit);
    if (done < total) line += ", ETA " + duration_text(static_cast<double>(total - done) / rate);
  }
  line += detail;
  return line;
}

void ProgressLine::update(std::size_t done, std::size_t total, const std::string& detail) {
  if (!active_) return;
  const auto now = std::chrono::steady_clock::now();
  const std::lock_guard<std::mutex> lock(mutex_);
  if (now - start_ < delay_ || (shown_ && now - last_draw_ < kRedraw)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  fmt::print(out_, "\r\033[K{}", text(command_, unit_, done, total, elapsed, detail));
  std::fflush(out_);
  shown_ = true;
}

void ProgressLine::finish(const std::string& summary) {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (!shown_) return;
  std::fputs("\r\033[K", out_);
  if (!summary.empty()) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    fmt::print(out_, "mlasim {}: {} in {:.1f} s\n", command_, summary, elapsed);
  }
  std::fflush(out_);
  shown_ = false;
}

}  // namespace mlasim::cli
