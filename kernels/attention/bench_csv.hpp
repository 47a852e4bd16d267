#pragma once
// The CSV formats of mlasim_attention_bench (check.csv, copy.csv, mla_decode.csv, gqa_decode.csv), in plain
// C++17 with no CUDA header: the GPU program writes its rows through these functions, and host code (a CPU
// generator of synthetic measurement folders, tests) can include this header and write byte-identical files.
// Column meanings: kernels/attention/README.md and measurements/README.md.
#include <string>
#include <vector>

#include "kernels/common/csv.hpp"

namespace mlasim::attention {

// ---------------------------------------------------------------- kernel variants

/// A kernel variant is (kernel, d): "mla" with d = 576, "gqa" with d = 128 or 64. A failed correctness check
/// marks every timing row of its variant. Its id, as the programs and scripts spell it: "mla-d576",
/// "gqa-d128", "gqa-d64".
inline std::string variant_id(const std::string& kernel, int d) {
  return kernel + "-d" + std::to_string(d);
}
/// Every variant the bench checks and times, in the order it checks them.
inline std::vector<std::string> known_variants() {
  return {"mla-d576", "gqa-d128", "gqa-d64"};
}

/// Values of the timing CSVs' `check` column.
inline constexpr const char* kCheckPass = "pass";
inline constexpr const char* kCheckFailed = "FAILED";

// ---------------------------------------------------------------- mla_decode.csv, gqa_decode.csv

// clang-format off
/// Columns of mla_decode.csv and gqa_decode.csv, in order.
inline std::vector<std::string> timing_csv_columns() {
  return {"kernel", "batch", "context", "lengths", "s_q", "n_h", "n_kv", "d", "sum_context", "flops", "bytes",
          "median_us", "p90_us", "min_us", "repeats", "gbps", "tflops", "pct_of_copy_bw", "num_parts",
          "num_segments", "max_splits", "attention_ctas", "combine_ctas", "check"};
}
// clang-format on

/// One timed grid point.
struct TimingRow {
  std::string kernel;  ///< "mla" or "gqa"
  int batch = 0;
  int context = 0;      ///< nominal context length (tokens)
  std::string lengths;  ///< "uniform" (every sequence = context) or "variable" (uniform in [ctx/2, 3ctx/2])
  int s_q = 1;
  int n_h = 0;   ///< query heads
  int n_kv = 1;  ///< KV heads (MLA: 1, the latent)
  int d = 0;     ///< head dim of q·k (MLA: 576)
  long long sum_context = 0;
  double flops = 0.0;  ///< per call (FlashMLA counting for MLA)
  double bytes = 0.0;  ///< per call
  double median_us = 0.0, p90_us = 0.0, min_us = 0.0;
  int repeats = 0;
  double gbps = 0.0;    ///< bytes / median [1e9 B/s]
  double tflops = 0.0;  ///< flops / median [1e12 FLOP/s]
  double pct_of_copy_bw = 0.0;
  int num_parts = 0, num_segments = 0, max_splits = 0, attention_ctas = 0, combine_ctas = 0;
  /// false: the variant failed its check (check.csv) or this point's output held non-finite values.
  bool check_passed = true;
};

inline void write_timing_row(mlasim::gpu::CsvWriter& csv, const TimingRow& r) {
  csv.cell(r.kernel)
      .cell(r.batch)
      .cell(r.context)
      .cell(r.lengths)
      .cell(r.s_q)
      .cell(r.n_h)
      .cell(r.n_kv)
      .cell(r.d)
      .cell(r.sum_context)
      .cell(r.flops)
      .cell(r.bytes)
      .cell(r.median_us)
      .cell(r.p90_us)
      .cell(r.min_us)
      .cell(r.repeats)
      .cell(r.gbps)
      .cell(r.tflops)
      .cell(r.pct_of_copy_bw)
      .cell(r.num_parts)
      .cell(r.num_segments)
      .cell(r.max_splits)
      .cell(r.attention_ctas)
      .cell(r.combine_ctas)
      .cell(r.check_passed ? kCheckPass : kCheckFailed);
  csv.end_row();
}

// ---------------------------------------------------------------- check.csv

// clang-format off
/// Columns of check.csv (one row per check case), in order.
inline std::vector<std::string> check_csv_columns() {
  return {"kernel", "batch", "lens", "s_q", "n_h", "n_kv", "d", "splits_max", "segments", "rel_l2_error",
          "lse_max_abs_error", "nonfinite_outputs", "pass"};
}
// clang-format on

/// One correctness check of a kernel against the CPU reference.
struct CheckRow {
  std::string kernel;  ///< "mla" or "gqa"
  int batch = 0;
  std::string lens;  ///< the sequence lengths, space-separated
  int s_q = 1, n_h = 0, n_kv = 1, d = 0;
  int splits_max = 0, segments = 0;
  double rel_l2_error = 0.0;
  double lse_max_abs_error = 0.0;
  long long nonfinite_outputs = 0;
  bool pass = false;  ///< written "yes" / "NO"
};

inline void write_check_row(mlasim::gpu::CsvWriter& csv, const CheckRow& r) {
  csv.cell(r.kernel)
      .cell(r.batch)
      .cell(r.lens)
      .cell(r.s_q)
      .cell(r.n_h)
      .cell(r.n_kv)
      .cell(r.d)
      .cell(r.splits_max)
      .cell(r.segments)
      .cell(r.rel_l2_error)
      .cell(r.lse_max_abs_error)
      .cell(r.nonfinite_outputs)
      .cell(r.pass ? "yes" : "NO");
  csv.end_row();
}

// ---------------------------------------------------------------- copy.csv

/// Columns of copy.csv (the device-to-device copy that is the bandwidth yardstick), in order.
inline std::vector<std::string> copy_csv_columns() {
  return {"op", "bytes_copied", "bytes_moved", "median_us", "p90_us", "min_us", "repeats", "gbps"};
}

struct CopyRow {
  std::string op = "d2d_copy";
  long long bytes_copied = 0;
  long long bytes_moved = 0;  ///< read + written
  double median_us = 0.0, p90_us = 0.0, min_us = 0.0;
  int repeats = 0;
  double gbps = 0.0;  ///< bytes_moved / median [1e9 B/s]
};

inline void write_copy_row(mlasim::gpu::CsvWriter& csv, const CopyRow& r) {
  csv.cell(r.op)
      .cell(r.bytes_copied)
      .cell(r.bytes_moved)
      .cell(r.median_us)
      .cell(r.p90_us)
      .cell(r.min_us)
      .cell(r.repeats)
      .cell(r.gbps);
  csv.end_row();
}

}  // namespace mlasim::attention
