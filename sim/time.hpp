#pragma once
/// Simulated time: an integer count of picoseconds (2^63 ps is about 106 days). Doubles appear only inside
/// cost formulas and are rounded once, here, when a duration enters the event world.
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

#include "sim/error.hpp"

namespace mlasim {

/// A point in, or a span of, simulated time in picoseconds.
using TimePs = std::int64_t;

inline constexpr TimePs kPsPerSecond = 1'000'000'000'000;
inline constexpr TimePs kTimeNever = std::numeric_limits<TimePs>::max();

/// Rounds a duration in seconds to the nearest picosecond; nullopt when it is NaN, negative or beyond the
/// clock (about 106 days). For durations that come from user input, which must become located InputErrors.
inline std::optional<TimePs> try_seconds_to_ps(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0.0) return std::nullopt;
  const double ps = std::round(seconds * static_cast<double>(kPsPerSecond));
  if (ps >= 9.2e18) return std::nullopt;
  return static_cast<TimePs>(ps);
}

/// a + b, or nullopt when the sum leaves the 64-bit clock.
inline std::optional<TimePs> checked_add(TimePs a, TimePs b) {
  TimePs sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) return std::nullopt;
  return sum;
}

/// Rounds a duration in seconds to the nearest picosecond. Throws InternalError on NaN, negative or
/// overflowing durations: a cost formula producing one is a bug.
inline TimePs seconds_to_ps(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0.0)
    throw InternalError("invalid duration (seconds < 0 or not finite)");
  const double ps = std::round(seconds * static_cast<double>(kPsPerSecond));
  if (ps >= 9.2e18) throw InternalError("duration overflows the 64-bit picosecond clock");
  return static_cast<TimePs>(ps);
}

/// Converts picoseconds to seconds for reporting.
inline constexpr double ps_to_seconds(TimePs ps) {
  return static_cast<double>(ps) / static_cast<double>(kPsPerSecond);
}

}  // namespace mlasim
