#pragma once
/// A log-bucketed histogram of non-negative integers (picoseconds, token counts) with a fixed relative error,
/// so that percentiles over billions of samples never store the samples (HdrHistogram's layout).
///
/// Buckets: values below 2^kSubBits are exact; above, each power of two [2^e, 2^(e+1)) is split into
/// 2^(kSubBits−1) = 128 equal sub-buckets of width 2^(e−7). A value is reported as its bucket's midpoint, so
/// the error of any reported value is at most half a bucket: ≤ 2^(e−8) / 2^e = 1/256 ≈ 0.39% relative.
/// Percentiles interpolate linearly between order statistics as numpy.percentile (and so vLLM's benchmark)
/// does; because each of the two order statistics is within 0.39%, so is the interpolated value.
#include <cstdint>
#include <span>
#include <vector>

namespace mlasim {

class LogHistogram {
 public:
  static constexpr int kSubBits = 8;  ///< 2^8 = 256 exact values, then 128 sub-buckets per octave
  /// Bound on |reported − true| / true for any sample or percentile.
  static constexpr double kRelativeError = 1.0 / 256.0;

  LogHistogram();

  /// Adds `count` samples of `value` (negative values are a bug: InternalError).
  void add(std::int64_t value, std::uint64_t count = 1);
  /// Adds every sample of `other`.
  void merge(const LogHistogram& other);

  [[nodiscard]] std::uint64_t count() const { return count_; }
  /// Exact mean (0 when empty).
  [[nodiscard]] double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }
  [[nodiscard]] std::int64_t min() const { return count_ ? min_ : 0; }
  [[nodiscard]] std::int64_t max() const { return count_ ? max_ : 0; }
  /// numpy-style percentile (linear interpolation between order statistics), p in [0, 100]; 0 when empty.
  /// Within kRelativeError of the exact value.
  [[nodiscard]] double percentile(double p) const;
  /// The same for several levels at once (any order), in one pass over the buckets: a serving run asks for
  /// 200 levels of each latency, which one scan per order statistic made the run's costliest part.
  [[nodiscard]] std::vector<double> percentiles(std::span<const double> levels) const;

  /// Bucket of a value and the value a bucket reports (exposed for tests).
  [[nodiscard]] static std::size_t bucket_of(std::int64_t value);
  [[nodiscard]] static double bucket_value(std::size_t bucket);

 private:
  /// The k-th smallest samples (0-based, `ks` ascending) as their buckets report them; clamped to [min, max].
  [[nodiscard]] std::vector<double> order_statistics(std::span<const std::uint64_t> ks) const;

  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0;
  double sum_ = 0.0;
  std::int64_t min_ = 0;
  std::int64_t max_ = 0;
};

}  // namespace mlasim
