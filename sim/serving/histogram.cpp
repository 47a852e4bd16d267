#include "sim/serving/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "sim/error.hpp"

namespace mlasim {

namespace {
constexpr int kHalf = LogHistogram::kSubBits - 1;  // 7: sub-bucket bits above the exact range
constexpr std::uint64_t kExact = std::uint64_t{1} << LogHistogram::kSubBits;  // 256 exact values
constexpr std::size_t kSub = std::size_t{1} << kHalf;                         // 128 sub-buckets per octave
// Octaves 2^8 .. 2^62 (63 − 8 = 55 of them) after the exact range.
constexpr std::size_t kBuckets = kExact + (63 - LogHistogram::kSubBits) * kSub;
}  // namespace

LogHistogram::LogHistogram() : buckets_(kBuckets, 0) {}

std::size_t LogHistogram::bucket_of(std::int64_t value) {
  const auto v = static_cast<std::uint64_t>(value);
  if (v < kExact) return static_cast<std::size_t>(v);
  const int e = 63 - std::countl_zero(v);               // 2^e <= v < 2^(e+1), e >= 8
  const std::uint64_t sub = (v >> (e - kHalf)) - kSub;  // top 8 bits minus the leading one
  return static_cast<std::size_t>(kExact + static_cast<std::uint64_t>(e - LogHistogram::kSubBits) * kSub +
                                  sub);
}

double LogHistogram::bucket_value(std::size_t bucket) {
  if (bucket < kExact) return static_cast<double>(bucket);
  const std::size_t rel = bucket - kExact;
  const int e = static_cast<int>(rel / kSub) + LogHistogram::kSubBits;
  const double width = std::ldexp(1.0, e - kHalf);
  const double lo = std::ldexp(1.0, e) + static_cast<double>(rel % kSub) * width;
  return lo + 0.5 * (width - 1.0);  // midpoint of the integers lo .. lo + width − 1
}

void LogHistogram::add(std::int64_t value, std::uint64_t count) {
  if (value < 0) throw InternalError("histogram sample is negative");
  if (count == 0) return;
  buckets_[bucket_of(value)] += count;
  if (count_ == 0) {
    min_ = max_ = value;
  } else {
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
  }
  count_ += count;
  sum_ += static_cast<double>(value) * static_cast<double>(count);
}

void LogHistogram::merge(const LogHistogram& other) {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  if (count_ == 0) {
    min_ = other.min_;
    max_ = other.max_;
  } else {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
  count_ += other.count_;
  sum_ += other.sum_;
}

double LogHistogram::order_statistic(std::uint64_t k) const {
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    seen += buckets_[b];
    if (seen > k) {
      return std::clamp(bucket_value(b), static_cast<double>(min_), static_cast<double>(max_));
    }
  }
  return static_cast<double>(max_);
}

double LogHistogram::percentile(double p) const {
  if (count_ == 0) return 0.0;
  if (!(p >= 0.0 && p <= 100.0)) throw InternalError("percentile outside [0, 100]");
  // numpy.percentile's default ("linear"): rank = p/100 · (n − 1), interpolate between its neighbours.
  const double rank = p / 100.0 * static_cast<double>(count_ - 1);
  const auto lo = static_cast<std::uint64_t>(std::floor(rank));
  const double frac = rank - static_cast<double>(lo);
  const double a = order_statistic(lo);
  if (frac == 0.0 || lo + 1 >= count_) return a;
  const double b = order_statistic(lo + 1);
  return a + frac * (b - a);
}

}  // namespace mlasim
