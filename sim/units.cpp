#include "sim/units.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <utility>

#include "sim/error.hpp"
#include "sim/suggest.hpp"

namespace mlasim {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

struct Prefix {
  std::string_view text;
  double factor;
};

// Longest first so that "Gi" wins over "G".
constexpr std::array<Prefix, 13> kPrefixes{{{"Ki", 1024.0},
                                            {"Mi", 1048576.0},
                                            {"Gi", 1073741824.0},
                                            {"Ti", 1099511627776.0},
                                            {"Pi", 1125899906842624.0},
                                            {"k", 1e3},
                                            {"K", 1e3},
                                            {"M", 1e6},
                                            {"G", 1e9},
                                            {"T", 1e12},
                                            {"P", 1e15},
                                            {"E", 1e18},
                                            {"", 1.0}}};

// Splits "GiB/s" into a prefix factor and the base unit "B/s" if the base unit is one of `bases`.
template <std::size_t N>
std::optional<double> match_prefixed(std::string_view unit, const std::array<std::string_view, N>& bases,
                                     bool allow_binary) {
  for (const Prefix& p : kPrefixes) {
    if (unit.substr(0, p.text.size()) != p.text) continue;
    const bool binary = p.text.size() == 2;
    if (binary && !allow_binary) continue;
    const std::string_view rest = unit.substr(p.text.size());
    for (std::string_view base : bases) {
      if (rest == base) return p.factor;
    }
  }
  return std::nullopt;
}

std::optional<double> unit_factor(std::string_view unit, Dimension d) {
  switch (d) {
    case Dimension::kBytes: {
      constexpr std::array<std::string_view, 2> bases{"B", "bytes"};
      return match_prefixed(unit, bases, true);
    }
    case Dimension::kBandwidth: {
      constexpr std::array<std::string_view, 3> bases{"B/s", "Bps", "bytes/s"};
      return match_prefixed(unit, bases, true);
    }
    case Dimension::kFlopRate: {
      constexpr std::array<std::string_view, 4> bases{"FLOP/s", "FLOPS", "flop/s", "FLOPs/s"};
      return match_prefixed(unit, bases, false);
    }
    case Dimension::kFlops: {
      constexpr std::array<std::string_view, 3> bases{"FLOP", "flop", "FLOPs"};
      return match_prefixed(unit, bases, false);
    }
    case Dimension::kTime: {
      static constexpr std::array<std::pair<std::string_view, double>, 9> times{{{"ps", 1e-12},
                                                                                 {"ns", 1e-9},
                                                                                 {"us", 1e-6},
                                                                                 {"\xC2\xB5s", 1e-6},
                                                                                 {"ms", 1e-3},
                                                                                 {"s", 1.0},
                                                                                 {"min", 60.0},
                                                                                 {"h", 3600.0},
                                                                                 {"sec", 1.0}}};
      for (const auto& [text, factor] : times) {
        if (unit == text) return factor;
      }
      return std::nullopt;
    }
    case Dimension::kFrequency: {
      constexpr std::array<std::string_view, 1> bases{"Hz"};
      return match_prefixed(unit, bases, false);
    }
    case Dimension::kPower: {
      constexpr std::array<std::string_view, 1> bases{"W"};
      return match_prefixed(unit, bases, false);
    }
    case Dimension::kRate: {
      if (unit == "/s" || unit == "1/s" || unit == "req/s" || unit == "Hz") return 1.0;
      if (unit == "/min" || unit == "req/min") return 1.0 / 60.0;
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string_view dimension_example(Dimension d) {
  switch (d) {
    case Dimension::kBytes:
      return "a size such as `80 GiB` or `50 MB`";
    case Dimension::kBandwidth:
      return "a bandwidth such as `3.35 TB/s`";
    case Dimension::kFlopRate:
      return "a compute rate such as `989 TFLOP/s`";
    case Dimension::kFlops:
      return "an amount of work such as `2 GFLOP`";
    case Dimension::kTime:
      return "a time such as `4 us` or `50 ms`";
    case Dimension::kFrequency:
      return "a frequency such as `1.98 GHz`";
    case Dimension::kPower:
      return "a power such as `700 W`";
    case Dimension::kRate:
      return "a rate such as `10 /s` or `10 req/s`";
  }
  return "a quantity with a unit";
}

double parse_quantity(std::string_view text, Dimension expected) {
  const std::string_view s = trim(text);
  if (s.empty())
    throw InputError(fmt::format("expected {}, got an empty value", dimension_example(expected)));
  double value = 0.0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || ptr == s.data()) {
    throw InputError(
        fmt::format("expected {}, got `{}` (no number)", dimension_example(expected), clipped(s)));
  }
  if (!std::isfinite(value)) throw InputError(fmt::format("`{}` is not a finite number", clipped(s)));
  const std::string_view unit =
      trim(std::string_view(ptr, static_cast<std::size_t>(s.data() + s.size() - ptr)));
  if (unit.empty()) {
    throw InputError(fmt::format("`{}` has no unit; expected {}", clipped(s), dimension_example(expected)));
  }
  const std::optional<double> factor = unit_factor(unit, expected);
  if (!factor) {
    throw InputError(fmt::format("unknown or mismatched unit `{}` in `{}`; expected {}", clipped(unit),
                                 clipped(s), dimension_example(expected)));
  }
  return value * *factor;
}

std::int64_t parse_count(std::string_view text) {
  const std::string_view s = trim(text);
  std::int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || ptr == s.data())
    throw InputError(fmt::format("expected a count, got `{}`", clipped(s)));
  if (value < 0) throw InputError(fmt::format("a count cannot be negative, got `{}`", clipped(s)));
  const std::string_view suffix =
      trim(std::string_view(ptr, static_cast<std::size_t>(s.data() + s.size() - ptr)));
  std::int64_t factor = 1;
  if (suffix.empty()) {
    factor = 1;
  } else if (suffix == "k" || suffix == "K") {
    factor = 1024;
  } else if (suffix == "M") {
    factor = 1024 * 1024;
  } else {
    throw InputError(fmt::format("unknown suffix `{}` in count `{}` (use k = 1024 or M = 1024^2)",
                                 clipped(suffix), clipped(s)));
  }
  if (value > (std::int64_t{1} << 50) / factor)
    throw InputError(fmt::format("count `{}` is absurdly large", clipped(s)));
  return value * factor;
}

UnitPrefix si_prefix(double value, double smallest, double largest) {
  static constexpr std::array<UnitPrefix, 10> kScale{{{1e18, "E"},
                                                      {1e15, "P"},
                                                      {1e12, "T"},
                                                      {1e9, "G"},
                                                      {1e6, "M"},
                                                      {1e3, "k"},
                                                      {1.0, ""},
                                                      {1e-3, "m"},
                                                      {1e-6, "u"},
                                                      {1e-9, "n"}}};
  const double mag = std::fabs(value);
  UnitPrefix chosen = kScale.back();
  for (const UnitPrefix& p : kScale) {
    if (p.factor > largest) continue;
    if (p.factor < smallest) break;
    chosen = p;
    if (mag >= p.factor) break;
  }
  return chosen;
}

UnitPrefix binary_prefix(double value) {
  static constexpr std::array<UnitPrefix, 6> kScale{{{1.0, ""},
                                                     {1024.0, "Ki"},
                                                     {1048576.0, "Mi"},
                                                     {1073741824.0, "Gi"},
                                                     {1099511627776.0, "Ti"},
                                                     {1125899906842624.0, "Pi"}}};
  UnitPrefix chosen = kScale.front();
  for (const UnitPrefix& p : kScale) {
    if (std::fabs(value) >= p.factor) chosen = p;
  }
  return chosen;
}

std::string format_si(double value, std::string_view unit, int significant) {
  if (value == 0.0 || !std::isfinite(value)) return fmt::format("{} {}", value, unit);
  const UnitPrefix p = si_prefix(value);
  return fmt::format("{:.{}g} {}{}", value / p.factor, significant, p.symbol, unit);
}

std::string format_bytes_binary(double bytes) {
  const UnitPrefix p = binary_prefix(bytes);
  return fmt::format("{:.4g} {}B", bytes / p.factor, p.symbol);
}

std::string format_count(std::int64_t count) {
  if (count >= 1024 * 1024 && count % (1024 * 1024) == 0) return fmt::format("{}M", count / (1024 * 1024));
  if (count >= 1024 && count % 1024 == 0) return fmt::format("{}k", count / 1024);
  return fmt::format("{}", count);
}

}  // namespace mlasim
