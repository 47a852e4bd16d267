#pragma once
/// Renders a Table as CSV (tidy, one row per point), Markdown or terminal text (JSON:
/// reports/json_output.hpp). Pure functions returning text: callers write files through OutputSet so that
/// outputs are whole or absent.
#include <string>

#include "sim/table.hpp"

namespace mlasim {

/// RFC 4180 CSV with a header row. Doubles use the shortest representation that round-trips
/// ({:.17g}-equivalent via fmt's default), so outputs are byte-identical for identical inputs.
[[nodiscard]] std::string table_to_csv(const Table& table);

/// Markdown table; doubles shown with `significant` significant digits.
[[nodiscard]] std::string table_to_markdown(const Table& table, int significant = 4);

/// Fixed-width text table for terminals.
[[nodiscard]] std::string table_to_text(const Table& table, int significant = 4);

/// `table` with every NaN number cell (no samples) replaced by the text `missing`: "" for CSV, "—" for
/// Markdown and terminal text; no value (std::monostate) too. JSON needs no replacement (its writer writes
/// null).
[[nodiscard]] Table with_missing_as(const Table& table, const std::string& missing);

}  // namespace mlasim
