#include "sim/csv.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <system_error>

namespace mlasim {

namespace {

/// Splits one CSV line (RFC 4180 quoting: "a,b" and "" for a quote; no newlines inside cells).
std::vector<CsvCell> split_csv_line(std::string_view line, const std::string& file, int line_no) {
  std::vector<CsvCell> cells;
  std::size_t i = 0;
  while (true) {
    CsvCell cell;
    cell.column = static_cast<int>(i) + 1;
    if (i < line.size() && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            cell.text += '"';
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        cell.text += line[i++];
      }
      if (!closed)
        throw InputError(SourceLocation{file, line_no, cell.column}, "", "unterminated quoted cell");
      if (i < line.size() && line[i] != ',') {
        throw InputError(SourceLocation{file, line_no, static_cast<int>(i) + 1}, "",
                         "unexpected character after a quoted cell (expected ',')");
      }
    } else {
      const std::size_t end = line.find(',', i);
      const std::size_t stop = end == std::string_view::npos ? line.size() : end;
      cell.text = std::string(line.substr(i, stop - i));
      i = stop;
    }
    cells.push_back(std::move(cell));
    if (i >= line.size()) break;
    ++i;  // skip the comma; a trailing comma yields one more (empty) cell
    if (i == line.size()) {
      cells.push_back(CsvCell{"", static_cast<int>(i) + 1});
      break;
    }
  }
  return cells;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string CsvRecord::text(std::size_t col) const {
  return std::string(trim(cells_[col].text));
}

double CsvRecord::real(std::size_t col, bool allow_negative) const {
  const std::string_view s = trim(cells_[col].text);
  double v = 0.0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size())
    fail(col, fmt::format("'{}' is not a number", s));
  if (!std::isfinite(v)) fail(col, fmt::format("'{}' is not finite", s));
  if (!allow_negative && v < 0.0) fail(col, fmt::format("{} is negative", s));
  return v;
}

std::int64_t CsvRecord::integer(std::size_t col) const {
  const std::string_view s = trim(cells_[col].text);
  std::int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
    fail(col, fmt::format("'{}' is not an integer", s));
  }
  if (v < 0) fail(col, fmt::format("{} is negative", v));
  return v;
}

void CsvRecord::fail(std::size_t col, const std::string& message) const {
  throw InputError(SourceLocation{*file_, line_, cells_[col].column}, (*names_)[col], message);
}

CsvFile CsvFile::parse(std::string_view text, std::string file, const std::vector<std::string_view>& required,
                       std::string_view what) {
  CsvFile out;
  out.file_ = std::make_unique<std::string>(std::move(file));
  out.names_ = std::make_unique<std::vector<std::string>>();
  out.what_ = std::string(what);
  const std::string& name = *out.file_;
  int line_no = 0;
  std::size_t pos = 0;
  bool have_header = false;
  while (pos < text.size()) {
    const std::size_t end = text.find('\n', pos);
    const bool last_without_newline = end == std::string_view::npos;
    std::string_view line = text.substr(pos, last_without_newline ? std::string_view::npos : end - pos);
    pos = last_without_newline ? text.size() : end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) continue;
    if (!have_header) {
      for (const CsvCell& c : split_csv_line(line, name, line_no)) out.names_->emplace_back(trim(c.text));
      have_header = true;
      for (const std::string_view col : required) {
        if (!out.has_column(col)) {
          throw InputError(SourceLocation{name, line_no, 1}, std::string(col),
                           fmt::format("the header lacks column '{}' (a {} needs: {})", col, what,
                                       fmt::join(required, ", ")));
        }
      }
      continue;
    }
    std::vector<CsvCell> cells;
    try {
      cells = split_csv_line(line, name, line_no);
    } catch (const InputError&) {
      if (!last_without_newline) throw;
      out.truncated_ = true;  // a writer stopped mid-row
      break;
    }
    if (cells.size() != out.names_->size()) {
      if (last_without_newline) {
        out.truncated_ = true;
        break;
      }
      throw InputError(
          SourceLocation{name, line_no, 1}, "",
          fmt::format("row has {} cells but the header has {} columns", cells.size(), out.names_->size()));
    }
    out.rows_.emplace_back(out.file_.get(), out.names_.get(), line_no, std::move(cells));
  }
  if (!have_header)
    throw InputError(SourceLocation{name, 0, 0}, "", fmt::format("empty {} (no header line)", what));
  return out;
}

CsvFile CsvFile::read(const std::string& path, const std::vector<std::string_view>& required,
                      std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw InputError(SourceLocation{path, 0, 0}, "", fmt::format("cannot open the {} for reading", what));
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path, required, what);
}

std::size_t CsvFile::column(std::string_view col) const {
  for (std::size_t i = 0; i < names_->size(); ++i) {
    if ((*names_)[i] == col) return i;
  }
  throw InputError(SourceLocation{*file_, 1, 1}, std::string(col),
                   fmt::format("the header lacks column '{}'", col));
}

bool CsvFile::has_column(std::string_view col) const {
  for (const std::string& n : *names_) {
    if (n == col) return true;
  }
  return false;
}

}  // namespace mlasim
