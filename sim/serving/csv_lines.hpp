#pragma once
/// A minimal reader for the small numeric CSV files of serving runs (traces, length histograms): comma
/// separated fields, `#` comments, blank lines skipped, an optional header row (a first row whose first field
/// is not a number). Every error is an InputError at file:line:column.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/error.hpp"

namespace mlasim {

/// One data row with its location.
class CsvRow {
 public:
  CsvRow(const std::string& file, int line, std::vector<std::string_view> fields, std::vector<int> columns)
      : file_(file), line_(line), fields_(std::move(fields)), columns_(std::move(columns)) {}

  [[nodiscard]] int line() const { return line_; }
  [[nodiscard]] std::size_t size() const { return fields_.size(); }
  /// Field `i` as an integer; `name` appears in the error.
  [[nodiscard]] std::int64_t integer(std::size_t i, std::string_view name) const;
  /// Field `i` as a finite real number.
  [[nodiscard]] double real(std::size_t i, std::string_view name) const;
  /// Throws InputError at field `i` of this row.
  [[noreturn]] void fail(std::size_t i, const std::string& message) const;

 private:
  const std::string& file_;
  int line_;
  std::vector<std::string_view> fields_;
  std::vector<int> columns_;  ///< 1-based column of each field
};

/// Calls `on_row(const CsvRow&)` for each data row of `text` (read from `file`). Rows must have exactly
/// `fields` fields.
template <class OnRow>
void for_each_csv_row(const std::string& text, const std::string& file, std::size_t fields, OnRow&& on_row);

namespace detail {
/// Splits one line into trimmed fields with their 1-based columns; returns false for blank/comment lines.
bool split_csv_line(std::string_view line, std::vector<std::string_view>& fields, std::vector<int>& columns);
bool looks_numeric(std::string_view field);
}  // namespace detail

template <class OnRow>
void for_each_csv_row(const std::string& text, const std::string& file, std::size_t fields, OnRow&& on_row) {
  std::vector<std::string_view> parts;
  std::vector<int> columns;
  std::size_t pos = 0;
  int line = 0;
  bool first = true;
  const std::string_view all(text);
  while (pos < all.size()) {
    std::size_t end = all.find('\n', pos);
    if (end == std::string_view::npos) end = all.size();
    std::string_view l = all.substr(pos, end - pos);
    pos = end + 1;
    ++line;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (!detail::split_csv_line(l, parts, columns)) continue;
    if (first) {
      first = false;
      if (!detail::looks_numeric(parts[0])) continue;  // header row
    }
    if (parts.size() != fields) {
      throw InputError(SourceLocation{file, line, 1}, "",
                       "expected " + std::to_string(fields) + " comma-separated fields, found " +
                           std::to_string(parts.size()));
    }
    on_row(CsvRow(file, line, parts, columns));
  }
}

}  // namespace mlasim
