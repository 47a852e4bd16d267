#include "sim/random.hpp"

#include <cmath>
#include <numbers>

#include "sim/error.hpp"

namespace mlasim {

std::int64_t Rng::uniform_int(std::int64_t lo, std::int64_t hi) {
  if (hi < lo) throw InternalError("uniform_int with hi < lo");
  const std::uint64_t span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo) + 1;
  if (span == 0) return static_cast<std::int64_t>(next());  // the whole 64-bit range
  // Reject the top partial copy of [0, span) so every value is equally likely.
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % span;
  std::uint64_t x = next();
  while (x >= limit) x = next();
  return lo + static_cast<std::int64_t>(x % span);
}

double Rng::exponential(double rate) {
  return -std::log(uniform01_open_low()) / rate;
}

double Rng::standard_normal() {
  const double u1 = uniform01_open_low();
  const double u2 = uniform01();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

}  // namespace mlasim
