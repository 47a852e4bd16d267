#pragma once
/// A tidy result table: named columns, one row per point. Producers (sweeps, serving runs) fill it; the
/// writers in reports/ render it without knowing how it was made.
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace mlasim {

/// One cell: an integer count, a real quantity (base SI units; NaN for a missing number), text, a yes/no
/// answer, or no value at all (std::monostate: a yes/no that has no answer, such as "every SLO met" when none
/// is set). JSON writes them as integer, number (null for NaN), string, boolean and null.
using Cell = std::variant<std::int64_t, double, std::string, bool, std::monostate>;

/// The exact text of a cell: integers in decimal, doubles in the shortest form that reads back to the same
/// value ("nan", "inf"), booleans as `true`/`false`, no value as "". Deterministic for identical inputs.
[[nodiscard]] std::string cell_text(const Cell& cell);

struct Column {
  std::string name;  ///< snake_case, units in the name where there is one: "step_time_s"
  std::string description;
};

class Table {
 public:
  Table() = default;
  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

  void add_row(std::vector<Cell> row);  ///< throws InternalError when the width is wrong
  [[nodiscard]] const std::vector<Column>& columns() const { return columns_; }
  [[nodiscard]] const std::vector<std::vector<Cell>>& rows() const { return rows_; }
  /// The cells, to change in place (the width of a row must not change).
  [[nodiscard]] std::vector<std::vector<Cell>>& rows_to_change() { return rows_; }
  [[nodiscard]] std::size_t column_index(const std::string& name) const;  ///< throws InternalError if absent
  void reserve(std::size_t n) { rows_.reserve(n); }

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<Cell>> rows_;
};

}  // namespace mlasim
