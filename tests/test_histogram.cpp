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
