#pragma once
// A tiny CSV writer for the GPU programs and for host C++ code that writes the same formats (standard C++17,
// no CUDA header, no fmt: the GPU programs build from the CUDA toolkit alone, and a CPU-side generator of
// synthetic measurement folders includes this same header).
//
// The file is opened when the writer is constructed and each row goes out as it is finished: end_row() hands
// the whole row to the OS in one write and flushes it. A crash, a NaN abort or a SIGKILL at a deadline keeps
// every finished row; at worst the last line is cut short, and readers drop a last line that has no newline
// or the wrong number of cells. Append mode (a restarted program continuing a file) first cuts such a torn
// last line off, so a restart never glues a new row onto half an old one.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace mlasim::gpu {

class CsvWriter {
 public:
  /// kTruncate: a new file, header first. kAppend: keep the rows already there (the header must match the
  /// existing one, else std::runtime_error); a missing or empty file is started as with kTruncate.
  enum class Mode { kTruncate, kAppend };

  /// Opens `path` and writes the header (kTruncate, or kAppend on a new file). An open or write failure does
  /// not throw: ok() turns false and close() returns false, so a measurement program can go on without it.
  CsvWriter(std::string path, std::vector<std::string> header, Mode mode = Mode::kTruncate)
      : path_(std::move(path)), columns_(header.size()) {
    std::string header_line;
    append_row(header_line, header);
    if (mode == Mode::kAppend && prepare_append(header_line)) {
      open("ab");
      return;
    }
    open("wb");
    write_line(header_line);
  }
  ~CsvWriter() { close(); }
  CsvWriter(const CsvWriter&) = delete;
  CsvWriter& operator=(const CsvWriter&) = delete;

  /// Adds a cell to the current row; add exactly as many cells as the header has columns, then end_row().
  CsvWriter& cell(const std::string& v) {
    cells_.push_back(quote(v));
    return *this;
  }
  CsvWriter& cell(const char* v) { return cell(std::string(v)); }
  /// Doubles as %.9g: enough digits to round-trip a float, and the same text on every platform.
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

  /// Writes the row and flushes it to the OS (one write call). A row with the wrong number of cells is a
  /// programming error: std::logic_error, and nothing is written.
  void end_row() {
    if (cells_.size() != columns_) {
      cells_.clear();
      throw std::logic_error("CSV row has the wrong number of cells for " + path_);
    }
    std::string line;
    append_row(line, cells_);
    cells_.clear();
    write_line(line);
    ++rows_;
  }

  /// Closes the file. True when the file opened and every row was written (call it to learn that; the
  /// destructor closes too). Idempotent.
  bool close() {
    if (file_ != nullptr) {
      ok_ = std::fclose(file_) == 0 && ok_;
      file_ = nullptr;
    }
    return ok_;
  }
  /// False once opening or a write failed.
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] const std::string& path() const { return path_; }
  /// Data rows written by this writer (not counting the header or rows already in an appended file).
  [[nodiscard]] long long rows() const { return rows_; }

 private:
  static std::string quote(const std::string& v) {
    if (v.find_first_of(",\"\n\r") == std::string::npos) return v;
    std::string out = "\"";
    for (char c : v) {
      if (c == '"') out += '"';
      out += c;
    }
    return out + "\"";
  }
  static void append_row(std::string& line, const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i != 0) line += ',';
      line += row[i];
    }
    line += '\n';
  }
  void open(const char* how) {
    file_ = std::fopen(path_.c_str(), how);
    ok_ = file_ != nullptr;
    if (ok_) std::setvbuf(file_, nullptr, _IOFBF, std::size_t{1} << 16);
  }
  void write_line(const std::string& line) {
    if (file_ == nullptr) {
      ok_ = false;
      return;
    }
    // One fwrite of the whole line into the stream's buffer (64 KiB, set below for lines that fit), then one
    // flush: the OS sees a single write per row.
    if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
      ok_ = false;
  }
  /// For append mode: true when `path_` already holds rows under the same header (a torn last line is cut
  /// off first); false when the file is missing or empty (start it afresh). Throws on a different header.
  bool prepare_append(const std::string& header_line) {
    std::ifstream in(path_, std::ios::binary);
    if (!in) return false;
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    // Empty, or a header cut short by a crash: start afresh.
    if (text.size() < header_line.size() && header_line.compare(0, text.size(), text) == 0) return false;
    if (text.compare(0, header_line.size(), header_line) != 0) {
      throw std::runtime_error(path_ + ": cannot append: the file's header differs from this writer's");
    }
    const std::size_t keep = text.find_last_of('\n') + 1;  // >= the header's length
    if (keep != text.size()) {
      // Rewrite the complete lines (std::filesystem::resize_file would need -lstdc++fs on older toolchains).
      std::ofstream out(path_, std::ios::binary | std::ios::trunc);
      out.write(text.data(), static_cast<std::streamsize>(keep));
      if (!out.flush()) throw std::runtime_error(path_ + ": cannot cut the torn last line");
    }
    return true;
  }

  std::string path_;
  std::size_t columns_;
  std::vector<std::string> cells_;
  std::FILE* file_ = nullptr;
  bool ok_ = false;
  long long rows_ = 0;
};

}  // namespace mlasim::gpu
