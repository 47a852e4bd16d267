#pragma once
// A tiny CSV writer for the GPU programs (no fmt: they build from the CUDA toolkit alone).
// Rows are buffered and written whole by close(): a crashed run leaves no half-written CSV.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace mlasim::gpu {

class CsvWriter {
 public:
  CsvWriter(std::string path, std::vector<std::string> header) : path_(std::move(path)), columns_(header.size()) {
    write_row_raw(header);
  }
  /// Starts a new row; add exactly as many cells as the header has columns, then end_row().
  CsvWriter& cell(const std::string& v) {
    cells_.push_back(quote(v));
    return *this;
  }
  CsvWriter& cell(const char* v) { return cell(std::string(v)); }
  CsvWriter& cell(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    cells_.emplace_back(buf);
    return *this;
  }
  CsvWriter& cell(long long v) {
    cells_.push_back(std::to_string(v));
    return *this;
  }
  CsvWriter& cell(int v) { return cell(static_cast<long long>(v)); }
  CsvWriter& cell(long v) { return cell(static_cast<long long>(v)); }
  CsvWriter& cell(unsigned long v) { return cell(static_cast<long long>(v)); }
  CsvWriter& cell(unsigned long long v) { return cell(static_cast<long long>(v)); }
  void end_row() {
    if (cells_.size() != columns_) throw std::logic_error("CSV row has the wrong number of cells for " + path_);
    write_row_raw(cells_);
    cells_.clear();
  }
  /// Writes the whole file (temp name, then rename). Returns false on failure.
  bool close() {
    const std::string tmp = path_ + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) return false;
      out << body_.str();
      if (!out.flush()) return false;
    }
    return std::rename(tmp.c_str(), path_.c_str()) == 0;
  }
  [[nodiscard]] std::string text() const { return body_.str(); }

 private:
  static std::string quote(const std::string& v) {
    if (v.find_first_of(",\"\n") == std::string::npos) return v;
    std::string out = "\"";
    for (char c : v) {
      if (c == '"') out += '"';
      out += c;
    }
    return out + "\"";
  }
  void write_row_raw(const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size(); ++i) body_ << (i ? "," : "") << row[i];
    body_ << "\n";
  }
  std::string path_;
  std::size_t columns_;
  std::vector<std::string> cells_;
  std::ostringstream body_;
};

}  // namespace mlasim::gpu
