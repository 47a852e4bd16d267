#include "sim/serving/csv_lines.hpp"

#include <charconv>
#include <cmath>

namespace mlasim {

namespace detail {

namespace {
std::string_view trim(std::string_view s, int& offset) {
  offset = 0;
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
    ++offset;
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

bool split_csv_line(std::string_view line, std::vector<std::string_view>& fields, std::vector<int>& columns) {
  fields.clear();
  columns.clear();
  if (const std::size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
  int off = 0;
  if (trim(line, off).empty()) return false;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    const std::size_t end = comma == std::string_view::npos ? line.size() : comma;
    fields.push_back(trim(line.substr(start, end - start), off));
    columns.push_back(static_cast<int>(start) + off + 1);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return true;
}

bool looks_numeric(std::string_view field) {
  double v = 0;
  const auto r = std::from_chars(field.data(), field.data() + field.size(), v);
  return r.ec == std::errc() && r.ptr == field.data() + field.size();
}

}  // namespace detail

void CsvRow::fail(std::size_t i, const std::string& message) const {
  const int col = i < columns_.size() ? columns_[i] : 1;
  throw InputError(SourceLocation{file_, line_, col}, "", message);
}

std::int64_t CsvRow::integer(std::size_t i, std::string_view name) const {
  const std::string_view f = fields_.at(i);
  std::int64_t v = 0;
  const auto r = std::from_chars(f.data(), f.data() + f.size(), v);
  if (r.ec != std::errc() || r.ptr != f.data() + f.size()) {
    fail(i, std::string(name) + " must be an integer, got `" + std::string(f) + "`");
  }
  return v;
}

double CsvRow::real(std::size_t i, std::string_view name) const {
  const std::string_view f = fields_.at(i);
  double v = 0;
  const auto r = std::from_chars(f.data(), f.data() + f.size(), v);
  if (r.ec != std::errc() || r.ptr != f.data() + f.size() || !std::isfinite(v)) {
    fail(i, std::string(name) + " must be a number, got `" + std::string(f) + "`");
  }
  return v;
}

}  // namespace mlasim
