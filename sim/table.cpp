#include "sim/table.hpp"

#include <fmt/format.h>

#include "sim/error.hpp"

namespace mlasim {

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
