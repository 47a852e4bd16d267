#include "sim/table.hpp"

#include <fmt/format.h>

#include <cmath>

#include "sim/error.hpp"

namespace mlasim {

std::string cell_text(const Cell& cell) {
  if (const auto* i = std::get_if<std::int64_t>(&cell)) return fmt::format("{}", *i);
  if (const auto* d = std::get_if<double>(&cell)) {
    if (std::isnan(*d)) return "nan";
    if (std::isinf(*d)) return *d > 0 ? "inf" : "-inf";
    return fmt::format("{}", *d);
  }
  if (const auto* b = std::get_if<bool>(&cell)) return *b ? "true" : "false";
  if (std::holds_alternative<std::monostate>(cell)) return {};
  return std::get<std::string>(cell);
}

void Table::add_row(std::vector<Cell> row) {
  if (row.size() != columns_.size()) {
    throw InternalError(fmt::format("table row has {} cells, expected {}", row.size(), columns_.size()));
  }
  rows_.push_back(std::move(row));
}

std::size_t Table::column_index(const std::string& name) const {
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i].name == name) return i;
  }
  throw InternalError(fmt::format("table has no column `{}`", name));
}

}  // namespace mlasim
