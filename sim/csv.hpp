#pragma once
/// The one CSV reader of mlasim: reading CSV files by column name (RFC 4180: quoted cells may hold commas,
/// doubled quotes and line breaks; CRLF or LF line ends). Columns are found by name, so any order is
/// accepted; every error names `file:line:col` and the column, like a compiler diagnostic. Used for every CSV
/// input: serving traces and length histograms, and the files GPU runs write (probe, attention, check and
/// device-state CSVs).
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

/// How a file is read beyond RFC 4180.
struct CsvOptions {
  /// Lines whose first non-blank character is `#` are comments (serving inputs; never inside a quoted cell).
  bool comments = false;
  /// When not empty: a file whose first row starts with a number has no header, and these are its columns.
  std::vector<std::string> default_header;
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
  /// A non-negative integer of at most `max` (`what` names the limit in the message).
  [[nodiscard]] std::int64_t integer(std::size_t col, std::int64_t max, std::string_view what) const;
  /// Throws InputError at this cell, naming its column.
  [[noreturn]] void fail(std::size_t col, const std::string& message) const;
  /// file:line of the row (column 0).
  [[nodiscard]] SourceLocation where() const { return SourceLocation{*file_, line_, 0}; }
  /// file:line:col of cell `col`.
  [[nodiscard]] SourceLocation where(std::size_t col) const {
    return SourceLocation{*file_, line_, cells_[col].column};
  }
  [[nodiscard]] int line() const { return line_; }

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
                       std::string_view what, const CsvOptions& options = {});
  /// Reads and parses the file at `path`; a missing or unreadable file is an InputError.
  static CsvFile read(const std::string& path, const std::vector<std::string_view>& required,
                      std::string_view what, const CsvOptions& options = {});

  /// Index of column `name`; throws InputError (at the header) when the header lacks it.
  [[nodiscard]] std::size_t column(std::string_view name) const;
  [[nodiscard]] bool has_column(std::string_view name) const;
  /// The header's column names, in file order (the default header when the file has none).
  [[nodiscard]] const std::vector<std::string>& names() const { return *names_; }
  /// file:line:col of header column `col` (file:line of the first row when the file has no header).
  [[nodiscard]] SourceLocation header_where(std::size_t col) const;
  /// Whether the file had no header line and got CsvOptions::default_header.
  [[nodiscard]] bool headerless() const { return headerless_; }
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
  std::vector<int> header_columns_;
  int header_line_ = 0;
  bool truncated_ = false;
  bool headerless_ = false;
};

}  // namespace mlasim
