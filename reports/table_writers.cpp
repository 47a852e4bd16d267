#include "reports/table_writers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "reports/table_display.hpp"

namespace mlasim {

namespace {

std::string csv_quote(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string table_to_csv(const Table& table, bool header) {
  std::string out;
  const auto& cols = table.columns();
  if (header) {
    for (std::size_t i = 0; i < cols.size(); ++i) out += (i ? "," : "") + csv_quote(cols[i].name);
    out += '\n';
  }
  for (const auto& row : table.rows()) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i) out += ',';
      out += csv_quote(cell_text(row[i]));
    }
    out += '\n';
  }
  return out;
}

namespace {
// The text of a display_table's cell (all cells are text).
const std::string& text_of(const Cell& cell) {
  return std::get<std::string>(cell);
}
}  // namespace

std::string table_to_markdown(const Table& table, int significant) {
  const Table shown = display_table(table, significant);
  std::string out = "|";
  for (const Column& c : shown.columns()) out += " " + c.name + " |";
  out += "\n|";
  for (std::size_t i = 0; i < shown.columns().size(); ++i) out += "---|";
  out += "\n";
  for (const auto& row : shown.rows()) {
    out += "|";
    for (const Cell& c : row) out += " " + text_of(c) + " |";
    out += "\n";
  }
  return out;
}

std::string table_to_text(const Table& table, int significant) {
  const Table shown = display_table(table, significant);
  const auto& cols = shown.columns();
  // Widths in code points, so that `µs` and `—` (two and three bytes in UTF-8) line up.
  const auto width_of = [](const std::string& s) {
    return static_cast<std::size_t>(std::count_if(
        s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
  };
  std::vector<std::size_t> width(cols.size());
  for (std::size_t i = 0; i < cols.size(); ++i) width[i] = width_of(cols[i].name);
  for (const auto& r : shown.rows()) {
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], width_of(text_of(r[i])));
  }
  // Numbers right-aligned, text left-aligned: a column is numeric when each of its cells is a number or
  // a missing one (with_missing_as: "", "-", "—"). The first column is always left-aligned.
  std::vector<bool> numeric(cols.size(), true);
  numeric[0] = false;
  for (const auto& r : table.rows()) {
    for (std::size_t i = 1; i < r.size(); ++i) {
      const auto* s = std::get_if<std::string>(&r[i]);
      if ((s != nullptr && !s->empty() && *s != "-" && *s != kMissingNumber) ||
          std::holds_alternative<bool>(r[i]))
        numeric[i] = false;
    }
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::string pad(width[i] - width_of(cells[i]), ' ');
      l += (i == 0 ? "" : "  ") + (numeric[i] ? pad + cells[i] : cells[i] + pad);
    }
    l.erase(l.find_last_not_of(' ') + 1);
    out += l + '\n';
  };
  std::vector<std::string> header;
  for (const Column& c : cols) header.push_back(c.name);
  line(header);
  for (const auto& r : shown.rows()) {
    std::vector<std::string> cells;
    cells.reserve(r.size());
    for (const Cell& c : r) cells.push_back(text_of(c));
    line(cells);
  }
  return out;
}

Table with_missing_as(Table table, const std::string& missing) {
  // By value: a caller that hands over its table (std::move) pays no copy.
  for (auto& row : table.rows_to_change()) {
    for (Cell& c : row) {
      if (const auto* d = std::get_if<double>(&c);
          (d && std::isnan(*d)) || std::holds_alternative<std::monostate>(c))
        c = missing;
    }
  }
  return table;
}

}  // namespace mlasim
