#pragma once
/// Reading CSV files by column name (RFC 4180 quoting; no newline inside a cell). Columns are found by name,
/// so any order and extra columns are accepted; every error names `file:line:col` and the column, like a
/// compiler diagnostic. Used for the files GPU runs write (probe, attention, check and device-state CSVs).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sim/error.hpp"

namespace mlasim {

/// One cell with the 1-based character column where it starts.
struct CsvCell {
  std::string text;
  int column = 0;
};

/// One data row; typed getters throw InputError located at the cell.
class CsvRecord {
 public:
  CsvRecord(const std::string* file, const std::vector<std::string>* names, int line,
            std::vector<CsvCell> cells)
      : file_(file), names_(names), line_(line), cells_(std::move(cells)) {}

  /// The cell's text, trimmed of blanks.
  [[nodiscard]] std::string text(std::size_t col) const;
  /// A finite number; negative values are refused unless `allow_negative`.
  [[nodiscard]] double real(std::size_t col, bool allow_negative = false) const;
  /// A non-negative integer.
  [[nodiscard]] std::int64_t integer(std::size_t col) const;
  /// Throws InputError at this cell, naming its column.
  [[noreturn]] void fail(std::size_t col, const std::string& message) const;
  /// file:line of the row (column 0).
  [[nodiscard]] SourceLocation where() const { return SourceLocation{*file_, line_, 0}; }

 private:
  const std::string* file_;
  const std::vector<std::string>* names_;
  int line_;
  std::vector<CsvCell> cells_;
};

/// A whole CSV file: the header's column names and the data rows.
class CsvFile {
 public:
  /// Parses `text`; `file` labels errors, `what` names the kind of file in messages ("probe CSV").
  /// Every name in `required` must be a header column. A last line that has no newline and the wrong number
  /// of cells is dropped (a writer killed mid-row; truncated_last_line() tells), any other malformed row is
  /// an error. An empty file (no header) is an error.
  static CsvFile parse(std::string_view text, std::string file, const std::vector<std::string_view>& required,
                       std::string_view what);
  /// Reads and parses the file at `path`; a missing or unreadable file is an InputError.
  static CsvFile read(const std::string& path, const std::vector<std::string_view>& required,
                      std::string_view what);

  /// Index of column `name`; throws InputError (at the header) when the header lacks it.
  [[nodiscard]] std::size_t column(std::string_view name) const;
  [[nodiscard]] bool has_column(std::string_view name) const;
  [[nodiscard]] const std::vector<CsvRecord>& rows() const { return rows_; }
  [[nodiscard]] const std::string& file() const { return *file_; }
  [[nodiscard]] bool truncated_last_line() const { return truncated_; }

 private:
  CsvFile() = default;
  // Rows point at the file name and the header: keep both at stable addresses when the CsvFile moves.
  std::unique_ptr<std::string> file_;
  std::unique_ptr<std::vector<std::string>> names_;
  std::string what_;
  std::vector<CsvRecord> rows_;
  bool truncated_ = false;
};

}  // namespace mlasim
