#include "sim/csv.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <system_error>

namespace mlasim {

namespace {

/// One record as read: its cells, the line it starts on, and how it ended.
struct RawRecord {
  std::vector<CsvCell> cells;
  int line = 0;
  bool at_eof_without_newline = false;  ///< the file ends inside this record (no final line break)
};

/// Reads one RFC 4180 record starting at `pos` (the start of a line numbered `line_no`): cells split at
/// commas; a quoted cell may hold commas, doubled quotes and line breaks. Advances `pos` past the record's
/// line break and `line_no` past the lines it spans. Throws InputError on a malformed quoted cell; `torn` is
/// set instead when the file ends inside an open quote without a final line break (a writer stopped
/// mid-row).
RawRecord read_record(std::string_view text, std::size_t& pos, int& line_no, const std::string& file,
                      bool& torn) {
  RawRecord rec;
  rec.line = line_no;
  std::size_t line_start = pos;
  while (true) {
    CsvCell cell;
    cell.column = static_cast<int>(pos - line_start) + 1;
    const int cell_line = line_no;
    if (pos < text.size() && text[pos] == '"') {
      ++pos;
      bool closed = false;
      while (pos < text.size()) {
        const char c = text[pos];
        if (c == '"') {
          if (pos + 1 < text.size() && text[pos + 1] == '"') {
            cell.text += '"';
            pos += 2;
            continue;
          }
          ++pos;
          closed = true;
          break;
        }
        if (c == '\n') {
          ++line_no;
          line_start = pos + 1;
        }
        cell.text += c;
        ++pos;
      }
      if (!closed) {
        if (text.empty() || text.back() != '\n') {
          torn = true;
          rec.at_eof_without_newline = true;
          return rec;
        }
        throw InputError(SourceLocation{file, cell_line, cell.column}, "", "unterminated quoted cell");
      }
      if (pos < text.size() && text[pos] == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n') ++pos;
      if (pos < text.size() && text[pos] != ',' && text[pos] != '\n') {
        throw InputError(SourceLocation{file, line_no, static_cast<int>(pos - line_start) + 1}, "",
                         "unexpected character after a quoted cell (expected ',' or the end of the line)");
      }
    } else {
      const std::size_t stop = std::min(text.find_first_of(",\n", pos), text.size());
      std::string_view raw = text.substr(pos, stop - pos);
      if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
      cell.text = std::string(raw);
      pos = stop;
    }
    rec.cells.push_back(std::move(cell));
    if (pos >= text.size()) {
      rec.at_eof_without_newline = true;
      return rec;
    }
    if (text[pos] == '\n') {
      ++pos;
      ++line_no;
      return rec;
    }
    ++pos;  // the comma; a trailing comma yields one more (empty) cell
  }
}

bool looks_numeric(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '+')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  double v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return !s.empty() && ec == std::errc() && ptr == s.data() + s.size();
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
  if (ec == std::errc::result_out_of_range && ptr == s.data() + s.size())
    fail(col, fmt::format("'{}' is out of range", s));
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
    fail(col, fmt::format("'{}' is not an integer", s));
  }
  if (v < 0) fail(col, fmt::format("{} is negative", v));
  return v;
}

std::int64_t CsvRecord::integer(std::size_t col, std::int64_t max, std::string_view what) const {
  const std::string_view s = trim(cells_[col].text);
  std::int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range && ptr == s.data() + s.size() && !s.starts_with('-'))
    fail(col, fmt::format("{} is above {}", s, what));
  v = integer(col);
  if (v > max) fail(col, fmt::format("{} is above {}", v, what));
  return v;
}

void CsvRecord::fail(std::size_t col, const std::string& message) const {
  throw InputError(SourceLocation{*file_, line_, cells_[col].column}, (*names_)[col], message);
}

CsvFile CsvFile::parse(std::string_view text, std::string file, const std::vector<std::string_view>& required,
                       std::string_view what, const CsvOptions& options) {
  CsvFile out;
  out.file_ = std::make_unique<std::string>(std::move(file));
  out.names_ = std::make_unique<std::vector<std::string>>();
  out.what_ = std::string(what);
  const std::string& name = *out.file_;
  int line_no = 1;
  std::size_t pos = 0;
  bool have_header = false;
  while (pos < text.size()) {
    // Blank and comment lines (a record always starts at the start of a line).
    const std::size_t eol = std::min(text.find('\n', pos), text.size());
    const std::string_view line = trim(text.substr(pos, eol - pos));
    if (line.empty() || (options.comments && line.front() == '#')) {
      pos = eol < text.size() ? eol + 1 : eol;
      ++line_no;
      continue;
    }
    bool torn = false;
    RawRecord rec;
    try {
      rec = read_record(text, pos, line_no, name, torn);
    } catch (const InputError&) {
      if (!have_header || text.back() == '\n' || text.find('\n', pos) != std::string_view::npos) throw;
      out.truncated_ = true;  // a writer stopped mid-row
      break;
    }
    if (!have_header) {
      have_header = true;
      if (torn)
        throw InputError(SourceLocation{name, rec.line, 1}, "", "unterminated quoted cell in the header");
      if (!options.default_header.empty() && looks_numeric(rec.cells.front().text)) {
        out.headerless_ = true;
        out.header_line_ = rec.line;
        *out.names_ = options.default_header;
        out.header_columns_.assign(out.names_->size(), 0);
      } else {
        out.header_line_ = rec.line;
        for (const CsvCell& c : rec.cells) {
          const std::string col(trim(c.text));
          if (out.has_column(col)) {
            throw InputError(SourceLocation{name, rec.line, c.column}, col,
                             fmt::format("column '{}' appears twice in the header", col));
          }
          out.names_->push_back(col);
          out.header_columns_.push_back(c.column);
        }
      }
      for (const std::string_view col : required) {
        if (!out.has_column(col)) {
          throw InputError(SourceLocation{name, rec.line, 1}, std::string(col),
                           fmt::format("the header lacks column '{}' (a {} needs: {})", col, what,
                                       fmt::join(required, ", ")));
        }
      }
      if (!out.headerless_) continue;
    }
    if (torn) {
      out.truncated_ = true;
      break;
    }
    if (rec.cells.size() != out.names_->size()) {
      if (rec.at_eof_without_newline) {
        out.truncated_ = true;  // a writer stopped mid-row
        break;
      }
      const std::size_t n = std::min(rec.cells.size(), out.names_->size());
      throw InputError(SourceLocation{name, rec.line, rec.cells.size() > n ? rec.cells[n].column : 1}, "",
                       fmt::format("row has {} cells but the header has {} columns", rec.cells.size(),
                                   out.names_->size()));
    }
    out.rows_.emplace_back(out.file_.get(), out.names_.get(), rec.line, std::move(rec.cells));
  }
  if (!have_header)
    throw InputError(SourceLocation{name, 0, 0}, "", fmt::format("empty {} (no header line)", what));
  return out;
}

CsvFile CsvFile::read(const std::string& path, const std::vector<std::string_view>& required,
                      std::string_view what, const CsvOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw InputError(SourceLocation{path, 0, 0}, "", fmt::format("cannot open the {} for reading", what));
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path, required, what, options);
}

SourceLocation CsvFile::header_where(std::size_t col) const {
  return SourceLocation{*file_, header_line_, col < header_columns_.size() ? header_columns_[col] : 0};
}

std::size_t CsvFile::column(std::string_view col) const {
  for (std::size_t i = 0; i < names_->size(); ++i) {
    if ((*names_)[i] == col) return i;
  }
  throw InputError(SourceLocation{*file_, header_line_, 1}, std::string(col),
                   fmt::format("the header lacks column '{}'", col));
}

bool CsvFile::has_column(std::string_view col) const {
  for (const std::string& n : *names_) {
    if (n == col) return true;
  }
  return false;
}

}  // namespace mlasim
