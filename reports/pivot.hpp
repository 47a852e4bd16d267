#pragma once
/// Pivots a tidy table into compact Markdown tables for reading: one table per group, rows from one column,
/// columns from another, cells from a value column.
#include <string>
#include <vector>

#include "sim/table.hpp"

namespace mlasim {

struct PivotSpec {
  std::vector<std::string> group_by;  ///< one Markdown table per distinct combination, in order of appearance
  std::string row_key;                ///< e.g. "context"
  std::string column_key;             ///< e.g. "variant"
  std::string value;                  ///< e.g. "step_time_s"
  double scale = 1.0;                 ///< multiply values (1e3 for ms)
  std::string value_label;            ///< e.g. "step time (ms)"
  int significant = 4;
};

[[nodiscard]] std::string pivot_to_markdown(const Table& table, const PivotSpec& spec);

}  // namespace mlasim
