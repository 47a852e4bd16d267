#include "sim/calibration/probe_csv.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>

namespace mlasim {

namespace {

/// One cell of a CSV line with the 1-based column (character position) where it starts.
struct Cell {
  std::string text;
  int column = 0;
};

/// Splits one CSV line (RFC 4180 quoting: "a,b" and "" for a quote; no newlines inside cells).
std::vector<Cell> split_csv_line(std::string_view line, const std::string& file, int line_no) {
  std::vector<Cell> cells;
  std::size_t i = 0;
  while (true) {
    Cell cell;
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
      if (!closed) {
        throw InputError(SourceLocation{file, line_no, cell.column}, "", "unterminated quoted cell");
      }
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
      cells.push_back(Cell{"", static_cast<int>(i) + 1});
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

/// Column indices of the required fields, looked up by name in the header.
struct ColumnMap {
  std::size_t probe, kernel, shape, level, dtype, working_set_bytes, m, n, k, batch, bytes, flops, grid, block,
      median_s, p90_s, gbps, tflops, repeats;
};

class RowParser {
 public:
  RowParser(const std::string& file, int line_no, const std::vector<Cell>& cells, const std::vector<std::string>& names)
      : file_(file), line_(line_no), cells_(cells), names_(names) {}

  [[nodiscard]] std::string text(std::size_t col) const { return std::string(trim(cells_[col].text)); }

  [[nodiscard]] double real(std::size_t col, bool allow_negative = false) const {
    const std::string_view s = trim(cells_[col].text);
    double v = 0.0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
      fail(col, fmt::format("'{}' is not a number", s));
    }
    if (!std::isfinite(v)) fail(col, fmt::format("'{}' is not finite", s));
    if (!allow_negative && v < 0.0) fail(col, fmt::format("{} is negative", s));
    return v;
  }

  [[nodiscard]] std::int64_t integer(std::size_t col) const {
    const std::string_view s = trim(cells_[col].text);
    std::int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
      fail(col, fmt::format("'{}' is not an integer", s));
    }
    if (v < 0) fail(col, fmt::format("{} is negative", v));
    return v;
  }

  [[noreturn]] void fail(std::size_t col, const std::string& message) const {
    throw InputError(SourceLocation{file_, line_, cells_[col].column}, names_[col], message);
  }

 private:
  const std::string& file_;
  int line_;
  const std::vector<Cell>& cells_;
  const std::vector<std::string>& names_;
};

}  // namespace

const std::vector<std::string_view>& probe_csv_required_columns() {
  static const std::vector<std::string_view> columns = {
      "probe", "kernel", "shape", "level", "dtype", "working_set_bytes", "m", "n", "k", "batch",
      "bytes", "flops", "grid", "block", "median_s", "p90_s", "gbps", "tflops", "repeats"};
  return columns;
}

std::vector<ProbeRow> parse_probe_csv(std::string_view text, const std::string& file_name) {
  std::vector<ProbeRow> rows;
  std::vector<std::string> names;
  ColumnMap map{};
  int line_no = 0;
  std::size_t pos = 0;
  bool have_header = false;
  while (pos < text.size()) {
    const std::size_t end = text.find('\n', pos);
    std::string_view line = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? text.size() : end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) continue;
    const std::vector<Cell> cells = split_csv_line(line, file_name, line_no);

    if (!have_header) {
      for (const Cell& c : cells) names.emplace_back(trim(c.text));
      auto find = [&](std::string_view name) -> std::size_t {
        for (std::size_t i = 0; i < names.size(); ++i) {
          if (names[i] == name) return i;
        }
        throw InputError(SourceLocation{file_name, line_no, 1}, std::string(name),
                         fmt::format("the header lacks column '{}' (a probe CSV needs: {})", name,
                                     fmt::join(probe_csv_required_columns(), ", ")));
      };
      map = ColumnMap{find("probe"),  find("kernel"), find("shape"),    find("level"), find("dtype"),
                      find("working_set_bytes"),      find("m"),        find("n"),     find("k"),
                      find("batch"),  find("bytes"),  find("flops"),    find("grid"),  find("block"),
                      find("median_s"), find("p90_s"), find("gbps"),    find("tflops"), find("repeats")};
      have_header = true;
      continue;
    }

    if (cells.size() != names.size()) {
      throw InputError(SourceLocation{file_name, line_no, 1}, "",
                       fmt::format("row has {} cells but the header has {} columns", cells.size(), names.size()));
    }
    const RowParser p(file_name, line_no, cells, names);
    ProbeRow r;
    r.where = SourceLocation{file_name, line_no, 0};
    r.probe = p.text(map.probe);
    if (r.probe != "bandwidth" && r.probe != "gemm" && r.probe != "launch") {
      p.fail(map.probe, fmt::format("unknown probe '{}' (known: bandwidth, gemm, launch)", r.probe));
    }
    r.kernel = p.text(map.kernel);
    if (r.kernel.empty()) p.fail(map.kernel, "is empty");
    r.shape = p.text(map.shape);
    r.level = p.text(map.level);
    if (r.probe == "bandwidth" && r.level != "l2" && r.level != "hbm" && r.level != "cold") {
      p.fail(map.level, fmt::format("unknown memory level '{}' for a bandwidth row (known: l2, hbm, cold)", r.level));
    }
    r.dtype = p.text(map.dtype);
    r.working_set_bytes = p.integer(map.working_set_bytes);
    r.m = p.integer(map.m);
    r.n = p.integer(map.n);
    r.k = p.integer(map.k);
    r.batch = p.integer(map.batch);
    r.bytes = p.real(map.bytes);
    r.flops = p.real(map.flops);
    r.grid = p.integer(map.grid);
    r.block = p.integer(map.block);
    r.median_s = p.real(map.median_s);
    if (r.median_s <= 0.0) p.fail(map.median_s, "a measured time must be positive");
    r.p90_s = p.real(map.p90_s);
    if (r.p90_s < r.median_s) {
      p.fail(map.p90_s, fmt::format("p90 ({:g} s) is below the median ({:g} s)", r.p90_s, r.median_s));
    }
    r.gbps = p.real(map.gbps);
    r.tflops = p.real(map.tflops);
    r.repeats = p.integer(map.repeats);
    if (r.repeats < 1) p.fail(map.repeats, "must be at least 1");
    if (r.probe == "bandwidth" && r.bytes <= 0.0) p.fail(map.bytes, "a bandwidth row must move bytes");
    if (r.probe == "gemm") {
      if (r.m < 1 || r.n < 1 || r.k < 1 || r.batch < 1) {
        p.fail(r.m < 1 ? map.m : r.n < 1 ? map.n : r.k < 1 ? map.k : map.batch, "GEMM dimensions must be >= 1");
      }
      if (r.flops <= 0.0) p.fail(map.flops, "a GEMM row must count FLOPs");
    }
    rows.push_back(std::move(r));
  }
  if (!have_header) throw InputError(SourceLocation{file_name, 0, 0}, "", "empty probe CSV (no header line)");
  return rows;
}

std::vector<ProbeRow> read_probe_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(SourceLocation{path, 0, 0}, "", "cannot open the probe CSV for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_probe_csv(ss.str(), path);
}

}  // namespace mlasim
