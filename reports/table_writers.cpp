#include "reports/table_writers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

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

std::string short_number(double v, int significant) {
  if (std::isnan(v)) return "-";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v != 0.0 && (std::fabs(v) >= 1e7 || std::fabs(v) < 1e-3))
    return fmt::format("{:.{}e}", v, significant - 1);
  return fmt::format("{:.{}g}", v, significant);
}

template <class F>
std::string render(const Cell& cell, F&& number) {
  if (const auto* d = std::get_if<double>(&cell)) return number(*d);
  return cell_text(cell);
}

}  // namespace

std::string table_to_csv(const Table& table) {
  std::string out;
  const auto& cols = table.columns();
  for (std::size_t i = 0; i < cols.size(); ++i) out += (i ? "," : "") + csv_quote(cols[i].name);
  out += '\n';
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
std::vector<std::vector<std::string>> rendered(const Table& table, int significant) {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(table.rows().size());
  for (const auto& row : table.rows()) {
    std::vector<std::string> r;
    r.reserve(row.size());
    for (const Cell& c : row) r.push_back(render(c, [&](double v) { return short_number(v, significant); }));
    rows.push_back(std::move(r));
  }
  return rows;
}
}  // namespace

std::string table_to_markdown(const Table& table, int significant) {
  const auto& cols = table.columns();
  std::string out = "|";
  for (const Column& c : cols) out += " " + c.name + " |";
  out += "\n|";
  for (std::size_t i = 0; i < cols.size(); ++i) out += "---|";
  out += "\n";
  for (const auto& row : rendered(table, significant)) {
    out += "|";
    for (const std::string& s : row) out += " " + s + " |";
    out += "\n";
  }
  return out;
}

std::string table_to_text(const Table& table, int significant) {
  const auto& cols = table.columns();
  const auto rows = rendered(table, significant);
  std::vector<std::size_t> width(cols.size());
  for (std::size_t i = 0; i < cols.size(); ++i) width[i] = cols[i].name.size();
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      // Text left-aligned in the first column, numbers right-aligned elsewhere.
      out += i == 0 ? fmt::format("{:<{}}", cells[i], width[i]) : fmt::format("  {:>{}}", cells[i], width[i]);
    }
    out += '\n';
  };
  std::vector<std::string> header;
  for (const Column& c : cols) header.push_back(c.name);
  line(header);
  for (const auto& r : rows) line(r);
  return out;
}

Table with_missing_as(const Table& table, const std::string& missing) {
  Table t(table.columns());
  t.reserve(table.rows().size());
  for (const auto& row : table.rows()) {
    std::vector<Cell> r = row;
    for (Cell& c : r) {
      if (const auto* d = std::get_if<double>(&c);
          (d && std::isnan(*d)) || std::holds_alternative<std::monostate>(c))
        c = missing;
    }
    t.add_row(std::move(r));
  }
  return t;
}

}  // namespace mlasim
