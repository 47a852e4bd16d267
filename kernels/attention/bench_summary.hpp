#pragma once
// best.csv and the closing summary of mlasim_attention_bench, from the CSV files of a run folder (plain
// C++17, no CUDA: the bench's --summarize mode needs no GPU, and tests/test_attention_bench_csv.cpp checks
// both on hand-written files). Reading the files rather than the program's memory keeps the result right
// across restarts (a crash restarts the timing behind the point; the CSVs hold every process's rows) and lets
// the summary include the PyTorch peers, which run after the bench.
#include <string>
#include <vector>

#include "kernels/attention/bench_csv.hpp"

namespace mlasim::attention {

/// A CSV file read back: the header and the complete rows. These files hold no quoted cells; a last line
/// without a newline or a row with the wrong number of cells (a kill mid-row) is dropped.
struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  /// Index of column `name`, or -1.
  [[nodiscard]] int col(const std::string& name) const;
  /// Cell `name` of row `r`, "" when the column is missing.
  [[nodiscard]] std::string get(const std::vector<std::string>& r, const std::string& name) const;
};

/// The cells of one CSV line (no quoting in these files; a trailing '\r' dropped).
std::vector<std::string> split_csv_line(const std::string& line);
CsvTable parse_csv_text(const std::string& text);
/// A cell as a number; 0 for an empty cell.
double cell_number(const std::string& s);

/// The grid point of a timing (or peers) row: kernel, batch, context, lengths, s_q, n_h, n_kv, d.
std::string point_key(const CsvTable& t, const std::vector<std::string>& r);

/// best.csv's rows: per grid point (in the order points first appear), the row with the smallest median_us
/// among the variants whose check is "pass". A point where no variant passed has no row; their count goes to
/// `points_without_pass`.
std::vector<std::vector<std::string>> best_rows(const CsvTable& t, int* points_without_pass = nullptr);

/// The text of best.csv for the timing tables `tables` (mla_decode.csv, gqa_decode.csv, in that order):
/// timing_csv_columns() then best_rows() of each (a table with another header is left out).
std::string best_csv_text(const std::vector<CsvTable>& tables, int* points_without_pass = nullptr);

/// What the summary compares.
struct SummaryInputs {
  std::string device;
  double copy_gbps = 0.0;        ///< the copy measured in the same run (copy.csv); 0: not measured
  double peak_tflops = 0.0;      ///< dense bf16 datasheet peak; 0: unknown
  std::vector<CsvTable> timing;  ///< mla_decode.csv, gqa_decode.csv
  CsvTable peers;                ///< peers.csv (may be empty)
};

/// The closing summary: at each headline point (MLA b128 ctx4096 uniform h_q 16/32/64 at s_q 1 against the
/// copy, h_q 128 at s_q 1 and 2 against the dense peak; GQA (64, 8, 128) b64 ctx4096 against the copy), one
/// line per variant (in the order timed: the baselines first) and per PyTorch peer; '*' marks the fastest
/// variant whose check passed, "FAILED" a row whose check failed.
std::string summary_text(const SummaryInputs& in);

}  // namespace mlasim::attention
