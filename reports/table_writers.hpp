#pragma once
/// Renders a Table as CSV (tidy, one row per point), Markdown or terminal text (JSON:
/// reports/json_output.hpp). Pure functions returning text: callers write files through OutputSet so that
/// outputs are whole or absent.
#include <string>

#include "sim/table.hpp"

namespace mlasim {

/// RFC 4180 CSV with a header row. Doubles use the shortest representation that round-trips
/// ({:.17g}-equivalent via fmt's default), so outputs are byte-identical for identical inputs.
/// Without `header`, the rows only: a table written in pieces is table_to_csv of the first piece followed by
/// table_to_csv(piece, false) of each next one.
[[nodiscard]] std::string table_to_csv(const Table& table, bool header = true);

/// Markdown table for a reader, through display_table: numbers in their column's unit (ms, %, GFLOP, GB)
/// with `significant` significant digits, the unit in the header, NaN as `—`.
[[nodiscard]] std::string table_to_markdown(const Table& table, int significant = 4);

/// Fixed-width text table for terminals, shown as table_to_markdown shows it: columns of numbers
/// right-aligned, columns of text (and the first column) left-aligned, widths in code points.
[[nodiscard]] std::string table_to_text(const Table& table, int significant = 4);

/// `table` with every NaN number cell (no samples) replaced by the text `missing`: "" for CSV, "—" for
/// Markdown and terminal text; no value (std::monostate) too. JSON needs no replacement (its writer writes
/// null).
[[nodiscard]] Table with_missing_as(Table table, const std::string& missing);

}  // namespace mlasim
