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

std::vector<double> LogHistogram::order_statistics(std::span<const std::uint64_t> ks) const {
  std::vector<double> values(ks.size(), static_cast<double>(max_));
  std::size_t next = 0;
  std::uint64_t seen = 0;
  // Every bucket below min's is empty (add and merge only ever lower min_ to a value they count).
  for (std::size_t b = bucket_of(min_); b < buckets_.size() && next < ks.size(); ++b) {
    seen += buckets_[b];
    for (; next < ks.size() && ks[next] < seen; ++next) {
      values[next] = std::clamp(bucket_value(b), static_cast<double>(min_), static_cast<double>(max_));
    }
  }
  return values;
}

double LogHistogram::percentile(double p) const {
  return percentiles(std::span<const double>(&p, 1)).front();
}

std::vector<double> LogHistogram::percentiles(std::span<const double> levels) const {
  std::vector<double> out(levels.size(), 0.0);
  if (count_ == 0) return out;
  // numpy.percentile's default ("linear"): rank = p/100 · (n − 1), interpolate between its neighbours.
  std::vector<std::uint64_t> lows(levels.size());
  std::vector<double> fracs(levels.size());
  std::vector<std::uint64_t> ks;
  ks.reserve(2 * levels.size());
  for (std::size_t i = 0; i < levels.size(); ++i) {
    const double p = levels[i];
    if (!(p >= 0.0 && p <= 100.0)) throw InternalError("percentile outside [0, 100]");
    const double rank = p / 100.0 * static_cast<double>(count_ - 1);
    lows[i] = static_cast<std::uint64_t>(std::floor(rank));
    fracs[i] = rank - static_cast<double>(lows[i]);
    ks.push_back(lows[i]);
    if (lows[i] + 1 < count_) ks.push_back(lows[i] + 1);
  }
  std::sort(ks.begin(), ks.end());
  ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
  const std::vector<double> values = order_statistics(ks);
  const auto value_of = [&](std::uint64_t k) {
    return values[static_cast<std::size_t>(std::lower_bound(ks.begin(), ks.end(), k) - ks.begin())];
  };
  for (std::size_t i = 0; i < levels.size(); ++i) {
    const double a = value_of(lows[i]);
    out[i] = fracs[i] == 0.0 || lows[i] + 1 >= count_ ? a : a + fracs[i] * (value_of(lows[i] + 1) - a);
  }
  return out;
}

}  // namespace mlasim
