#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "sim/error.hpp"
#include "sim/random.hpp"
#include "sim/serving/histogram.hpp"

using namespace mlasim;

namespace {
double exact_percentile(std::vector<std::int64_t> v, double p) {  // numpy.percentile, linear
  std::sort(v.begin(), v.end());
  const double rank = p / 100.0 * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(rank));
  const double frac = rank - static_cast<double>(lo);
  if (lo + 1 >= v.size()) return static_cast<double>(v[lo]);
  return static_cast<double>(v[lo]) + frac * static_cast<double>(v[lo + 1] - v[lo]);
}
}  // namespace

TEST_CASE("every value is reported within the stated relative error") {
  for (std::int64_t v : {0LL, 1LL, 255LL, 256LL, 257LL, 1000LL, 123456789LL, 999999999999LL, 1LL << 62}) {
    const double rep = LogHistogram::bucket_value(LogHistogram::bucket_of(v));
    if (v == 0) {
      CHECK(rep == 0.0);
    } else {
      CHECK(std::abs(rep - static_cast<double>(v)) / static_cast<double>(v) <= LogHistogram::kRelativeError);
    }
  }
}

TEST_CASE("small values are exact") {
  LogHistogram h;
  for (int i = 1; i <= 100; ++i) h.add(i);
  CHECK(h.percentile(50) == Approx(50.5));
  CHECK(h.percentile(0) == 1.0);
  CHECK(h.percentile(100) == 100.0);
  CHECK(h.mean() == Approx(50.5));
}

TEST_CASE("percentiles match exact ones within 1/256 on skewed samples") {
  Rng rng(7);
  std::vector<std::int64_t> samples;
  LogHistogram h;
  for (int i = 0; i < 200000; ++i) {
    // Lognormal picosecond latencies around 20 ms.
    const auto v = static_cast<std::int64_t>(2e10 * std::exp(0.8 * rng.standard_normal()));
    samples.push_back(v);
    h.add(v);
  }
  for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9}) {
    const double exact = exact_percentile(samples, p);
    INFO("p" << p);
    CHECK(std::abs(h.percentile(p) - exact) / exact <= LogHistogram::kRelativeError);
  }
  double sum = 0;
  for (auto v : samples) sum += static_cast<double>(v);
  CHECK(h.mean() == Approx(sum / static_cast<double>(samples.size())).epsilon(1e-12));
  CHECK(h.count() == samples.size());
}

TEST_CASE("weighted adds and merges equal individual adds") {
  LogHistogram a, b, c;
  a.add(5000, 3);
  b.add(5000);
  b.add(5000);
  c.add(5000);
  c.merge(b);
  CHECK(a.percentile(50) == c.percentile(50));
  CHECK(a.count() == c.count());
  CHECK_THROWS_AS(a.add(-1), InternalError);
}

TEST_CASE(
    "percentiles of many levels in one pass equal the bucketed order statistics of the sorted samples") {
  // Independent of the histogram's scan: sort the raw samples, report the k-th one as its bucket's midpoint
  // (clamped to [min, max]) and interpolate as numpy does; the one-pass answer must be exactly that.
  Rng rng(11);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<std::int64_t> samples;
    LogHistogram h, part;
    const int n = 1 + static_cast<int>(rng.uniform01() * 3000.0);
    for (int i = 0; i < n; ++i) {
      // Mixed scales: exact small values, microseconds and seconds in picoseconds, some repeats.
      const double scale = trial % 3 == 0 ? 200.0 : trial % 3 == 1 ? 1e7 : 1e12;
      const auto v = static_cast<std::int64_t>(scale * std::exp(1.5 * rng.standard_normal()));
      samples.push_back(v);
      (i % 2 ? part : h).add(v);
    }
    h.merge(part);
    std::sort(samples.begin(), samples.end());
    const auto lo = static_cast<double>(samples.front());
    const auto hi = static_cast<double>(samples.back());
    const auto reported = [&](std::size_t k) {
      return std::clamp(LogHistogram::bucket_value(LogHistogram::bucket_of(samples[k])), lo, hi);
    };
    // Unsorted, repeated and extreme levels.
    const std::vector<double> levels{99.9, 0.0, 50.0, 50.0, 100.0, 0.5, 37.25, 99.0, 1.0, 12.5};
    const std::vector<double> got = h.percentiles(levels);
    REQUIRE(got.size() == levels.size());
    for (std::size_t i = 0; i < levels.size(); ++i) {
      const double rank = levels[i] / 100.0 * static_cast<double>(samples.size() - 1);
      const auto k = static_cast<std::size_t>(std::floor(rank));
      const double frac = rank - static_cast<double>(k);
      const double a = reported(k);
      const double want = frac == 0.0 || k + 1 >= samples.size() ? a : a + frac * (reported(k + 1) - a);
      INFO("trial " << trial << " n " << n << " p" << levels[i]);
      CHECK(got[i] == want);
      CHECK(h.percentile(levels[i]) == want);
    }
  }
  LogHistogram empty;
  CHECK(empty.percentiles(std::vector<double>{50.0, 99.0}) == std::vector<double>{0.0, 0.0});
  LogHistogram one;
  one.add(12345);
  CHECK_THROWS_AS(one.percentiles(std::vector<double>{50.0, 100.5}), InternalError);
}
