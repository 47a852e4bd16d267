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

// Shortest text that reads back to the same double: deterministic across runs.
std::string exact_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{}", v);
}

std::string short_number(double v, int significant) {
  if (std::isnan(v)) return "-";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v != 0.0 && (std::fabs(v) >= 1e7 || std::fabs(v) < 1e-3))
    return fmt::format("{:.{}e}", v, significant - 1);
  return fmt::format("{:.{}g}", v, significant);
}

std::string json_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  return out;
}

template <class F>
std::string render(const Cell& cell, F&& number) {
  if (const auto* i = std::get_if<std::int64_t>(&cell)) return fmt::format("{}", *i);
  if (const auto* d = std::get_if<double>(&cell)) return number(*d);
  return std::get<std::string>(cell);
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
      out += csv_quote(render(row[i], exact_number));
    }
    out += '\n';
  }
  return out;
}

std::string table_to_json(const Table& table, int indent) {
  const auto& cols = table.columns();
  const std::string pad(static_cast<std::size_t>(std::max(indent, 0)), ' ');
  std::string out = "[";
  bool first_row = true;
  for (const auto& row : table.rows()) {
    out += first_row ? "\n" : ",\n";
    first_row = false;
    out += pad + "{";
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i) out += ", ";
      out += "\"" + json_escape(cols[i].name) + "\": ";
      if (const auto* s = std::get_if<std::string>(&row[i])) {
        out += "\"" + json_escape(*s) + "\"";
      } else if (const auto* d = std::get_if<double>(&row[i]); d && !std::isfinite(*d)) {
        out += "null";
      } else {
        out += render(row[i], exact_number);
      }
    }
    out += "}";
  }
  out += table.rows().empty() ? "]\n" : "\n]\n";
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
      if (const auto* d = std::get_if<double>(&c); d && std::isnan(*d)) c = missing;
    }
    t.add_row(std::move(r));
  }
  return t;
}

}  // namespace mlasim
