#pragma once
/// What a reader sees of a Table: each number in a unit chosen for its column (times in ms, µs, ns or s,
/// fractions in %, FLOPs in GFLOP or TFLOP, bytes in MB or GB, KV bytes per token in KiB), the unit in the
/// column's header, and no exponent for an ordinary number. The Markdown, terminal-text and HTML tables
/// are shown through display_table; CSV and JSON keep the exact base-SI values. The rules (a column name's
/// suffix -> what it measures) are one table in table_display.cpp, listed in reports/README.md.
#include <string>
#include <string_view>

#include "sim/table.hpp"

namespace mlasim {

/// What a column measures, as its name's suffix says.
enum class DisplayKind {
  kPlain,          ///< no unit in the name, or one that reads as is (`tokens_per_s`, `usd_per_hour`)
  kTime,           ///< `_s`, `_ms`, `_us`: shown in ns, µs, ms, or s from 10 s
  kBytes,          ///< `bytes`, `_bytes`: decimal prefixes, B to PB
  kBytesPerToken,  ///< `_bytes_per_token`, `_bytes_per_token_per_gpu`: KiB
  kFlops,          ///< `flops`: FLOP with SI prefixes (GFLOP, TFLOP)
  kFraction,       ///< `share`, `_usage`, `_fraction`, `_margin`, ...: shown as %
};

/// The text of a missing number (NaN: no samples, no price) in a human table.
inline constexpr std::string_view kMissingNumber = "—";

/// A number for a reader: `significant` significant digits in plain notation with trailing zeros dropped
/// (0.028374 -> "0.02837", 28374.2 -> "28374": whole numbers are never cut); NaN -> kMissingNumber; an
/// exponent only outside [1e-4, 1e15), where plain digits would not be read.
[[nodiscard]] std::string readable_number(double value, int significant = 4);

/// How the numbers of one quantity are shown: what it is, its unit and the factor from its stored unit.
struct DisplayUnit {
  DisplayKind kind = DisplayKind::kPlain;
  std::string unit;    ///< "ms", "%", "GFLOP", "GB", "KiB"; empty for a plain number
  double scale = 1.0;  ///< shown = stored × scale (a time stored in s shown in ms: 1e3)
  std::string label;   ///< the name with the unit: "step_time (ms)", "flops (TFLOP)", "share (%)"

  /// A cell in this unit: text as is, an integer of a plain column exact, other numbers readable_number.
  [[nodiscard]] std::string cell(const Cell& cell, int significant = 4) const;
};

/// The display of the quantity named `name` (a column name such as "step_time_s") whose largest magnitude,
/// in the unit the name gives, is `largest`: times in the largest unit in which `largest` is at least 1,
/// seconds only from 10 s (0.0284 s -> ms, 2.5 s -> ms); FLOPs and bytes in the largest unit in which it is
/// at least 10 (2.5e12 FLOP -> GFLOP, 1.6e10 B -> GB); KV bytes per token always in KiB; one unit per
/// column, so that its values compare down its rows. With no value (0, NaN): the unit the name gives (s, B,
/// FLOP).
[[nodiscard]] DisplayUnit display_unit(std::string_view name, double largest);

/// The display of column `column` of `table`: display_unit of its name and its largest magnitude.
[[nodiscard]] DisplayUnit column_display(const Table& table, std::size_t column);

/// `table` as a reader sees it: every cell text in its column's unit, headers with the unit, descriptions
/// kept. A long table (a `metric` column naming each row's quantity beside a `value` column) gets a unit
/// per row instead: the value in its metric's unit, the metric named with it ("ttft_p50 (ms)").
[[nodiscard]] Table display_table(const Table& table, int significant = 4);

}  // namespace mlasim
