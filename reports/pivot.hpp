#pragma once
/// Pivots a tidy table into compact Markdown tables for reading: one table per group, rows from one column,
/// columns from another, cells from a value column in one unit for every group (ms, %, KiB: display_unit);
/// a number 0 shows as "-".
#include <string>
#include <vector>

#include "sim/table.hpp"

namespace mlasim {

struct PivotSpec {
  std::vector<std::string> group_by;  ///< one Markdown table per distinct combination, in order of appearance
  std::string row_key;                ///< e.g. "context"
  std::string column_key;             ///< e.g. "variant"
  std::string value;        ///< e.g. "step_time_s": shown in its unit (column_display), as in tables
  std::string value_label;  ///< e.g. "step time"; the headings add the unit: "step time (ms)"
  int significant = 4;
};

[[nodiscard]] std::string pivot_to_markdown(const Table& table, const PivotSpec& spec);

}  // namespace mlasim
