#pragma once
// Order statistics for timing samples. Plain C++ (no CUDA, no fmt) so that the GPU programs build from the
// CUDA toolkit alone and the tests can check it on the CPU.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <vector>

namespace mlasim::gpu {

/// Summary of repeated timings, in seconds.
struct TimingStats {
  double median_s = 0.0;
  double p90_s = 0.0;
  double min_s = 0.0;
  double max_s = 0.0;
  double mean_s = 0.0;
  int repeats = 0;
};

/// Percentile by linear interpolation between closest ranks (q in [0, 1]); `sorted` must be ascending.
inline double percentile_sorted(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) throw std::invalid_argument("percentile of an empty sample");
  if (sorted.size() == 1) return sorted.front();
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

/// Median, p90, min, max and mean of `samples_s` (seconds).
inline TimingStats summarize(std::vector<double> samples_s) {
  if (samples_s.empty()) throw std::invalid_argument("no timing samples");
  std::sort(samples_s.begin(), samples_s.end());
  TimingStats s;
  s.median_s = percentile_sorted(samples_s, 0.5);
  s.p90_s = percentile_sorted(samples_s, 0.9);
  s.min_s = samples_s.front();
  s.max_s = samples_s.back();
  s.mean_s = std::accumulate(samples_s.begin(), samples_s.end(), 0.0) / static_cast<double>(samples_s.size());
  s.repeats = static_cast<int>(samples_s.size());
  return s;
}

}  // namespace mlasim::gpu
