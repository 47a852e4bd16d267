#pragma once
/// A tidy result table: named columns, one row per point. Producers (sweeps, serving runs) fill it; the
/// writers in reports/ render it without knowing how it was made.
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace mlasim {

/// One cell: an integer count, a real quantity (base SI units), or text.
using Cell = std::variant<std::int64_t, double, std::string>;

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
  [[nodiscard]] std::size_t column_index(const std::string& name) const;  ///< throws InternalError if absent
  void reserve(std::size_t n) { rows_.reserve(n); }

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<Cell>> rows_;
};

}  // namespace mlasim
