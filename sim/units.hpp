#pragma once
/// Physical quantities as they appear in YAML and on the command line: `3.35 TB/s`, `80 GiB`,
/// `989 TFLOP/s`, `4 us`. Decimal prefixes are decimal (GB = 1e9), binary prefixes binary (GiB = 2^30).
/// Every parsed value is returned in base SI units (bytes, seconds, FLOP/s, bytes/s, Hz, W).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mlasim {

/// What a quantity measures; the unit suffix must match it.
enum class Dimension {
  kBytes,      ///< B, kB, MB, GB, TB, KiB, MiB, GiB, TiB
  kBandwidth,  ///< B/s with prefixes: GB/s, TB/s, GiB/s
  kFlopRate,   ///< FLOP/s with prefixes: TFLOP/s, PFLOP/s (also TFLOPS)
  kFlops,      ///< FLOP with prefixes: GFLOP, TFLOP
  kTime,       ///< ps, ns, us (or µs), ms, s, min, h
  kFrequency,  ///< Hz, kHz, MHz, GHz
  kPower,      ///< W, kW
  kRate,       ///< per second: 1/s, /s, req/s
};

/// Human name of a dimension, for error messages ("a bandwidth such as `3.35 TB/s`").
[[nodiscard]] std::string_view dimension_example(Dimension d);

/// Parses "<number> <unit>" (space optional) into base SI units. Throws InputError (without a location:
/// the caller re-throws with file, line and key) when the number or the unit is missing or does not match
/// `expected`. A bare number is an error: units are required.
[[nodiscard]] double parse_quantity(std::string_view text, Dimension expected);

/// Parses a count: a non-negative integer, optionally with a `k` (x1024), `M` (x1024^2) suffix as token
/// counts are usually written (`128k` = 131072 tokens), or an exact integer. Throws InputError.
[[nodiscard]] std::int64_t parse_count(std::string_view text);

/// A unit prefix: the factor it stands for and its symbol ("G" for 1e9, "Ki" for 1024, "u" for 1e-6).
struct UnitPrefix {
  double factor = 1.0;
  std::string_view symbol;
};

/// The largest SI prefix from nano to exa whose factor is at most |value| and lies in [`smallest`,
/// `largest`]: si_prefix(3.35e12) = {1e12, "T"}. Smaller magnitudes, 0 and non-finite values get
/// `smallest`'s. The one choice of prefix behind format_si and the readable tables.
[[nodiscard]] UnitPrefix si_prefix(double value, double smallest = 1e-9, double largest = 1e18);

/// The largest binary prefix (none, Ki, Mi, Gi, Ti, Pi) whose factor is at most |value|: 73728 -> {1024,
/// "Ki"}.
[[nodiscard]] UnitPrefix binary_prefix(double value);

/// Formats a value in base units with an SI prefix and the given unit: format_si(3.35e12, "B/s") = "3.35
/// TB/s".
[[nodiscard]] std::string format_si(double value, std::string_view unit, int significant = 4);

/// Formats bytes with binary prefixes: 73728 -> "72 KiB".
[[nodiscard]] std::string format_bytes_binary(double bytes);

/// Formats a token count compactly: 131072 -> "128k", 1000 -> "1000".
[[nodiscard]] std::string format_count(std::int64_t count);

}  // namespace mlasim
