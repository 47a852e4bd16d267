#pragma once
/// Seeded random numbers with a fixed algorithm, so runs are byte-identical across standard libraries:
/// std::mt19937_64 is specified exactly by the standard, the std::*_distribution classes are not, so every
/// distribution here is our own code on top of the raw 64-bit stream.
#include <cstdint>
#include <random>

namespace mlasim {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}

  /// Raw 64 random bits.
  std::uint64_t next() { return engine_(); }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform01() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  /// Uniform in (0, 1]: safe under log().
  double uniform01_open_low() { return 1.0 - uniform01(); }
  /// Uniform integer in [lo, hi] (inclusive), unbiased (rejection sampling).
  std::int64_t uniform_int(std::int64_t lo, std::int64_t hi);
  /// Exponential with the given rate (mean 1/rate), by inversion: −ln(U)/rate.
  double exponential(double rate);
  /// Standard normal by the Box–Muller transform (one value per two uniforms; no cached spare, so the
  /// stream position depends only on the number of calls).
  double standard_normal();

 private:
  std::mt19937_64 engine_;
};

}  // namespace mlasim
