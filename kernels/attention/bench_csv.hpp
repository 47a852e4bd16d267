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

/// The baseline variant of a (kernel, d) pair: "mla" with d = 576, "gqa" with d = 128 or 64, spelt
/// "mla-d576", "gqa-d128", "gqa-d64" (the portable sm_80+ kernels). Further variants (an sm_90a MLA kernel,
/// faster GQA kernels) have their own ids in the bench's registry (bench_registry.cuh); a failed correctness
/// check marks every timing row of its variant.
inline std::string variant_id(const std::string& kernel, int d) {
  return kernel + "-d" + std::to_string(d);
}
/// The baseline variants, in the order the bench checks them (the registry lists them first). Host code that
/// writes synthetic runs uses these ids.
inline std::vector<std::string> known_variants() {
  return {"mla-d576", "gqa-d128", "gqa-d64"};
}

/// Values of the timing CSVs' `check` column.
inline constexpr const char* kCheckPass = "pass";
inline constexpr const char* kCheckFailed = "FAILED";

// ---------------------------------------------------------------- mla_decode.csv, gqa_decode.csv

// clang-format off
/// Columns of mla_decode.csv, gqa_decode.csv and best.csv, in order. `pct_of_dense_peak` is empty where the
/// device's dense bf16 peak is unknown (datasheet_dense_bf16_tflops).
inline std::vector<std::string> timing_csv_columns() {
  return {"kernel", "variant", "batch", "context", "lengths", "s_q", "n_h", "n_kv", "d", "sum_context", "flops",
          "bytes", "median_us", "p90_us", "min_us", "repeats", "gbps", "tflops", "pct_of_copy_bw",
          "pct_of_dense_peak", "num_parts", "num_segments", "max_splits", "attention_ctas", "combine_ctas",
          "check"};
}
// clang-format on

/// One timed grid point.
struct TimingRow {
  std::string kernel;   ///< "mla" or "gqa"
  std::string variant;  ///< the registry id of the kernel variant that ran ("mla-d576", ...)
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
  double pct_of_dense_peak = -1.0;  ///< tflops / dense bf16 peak x 100; < 0: peak unknown (written empty)
  int num_parts = 0, num_segments = 0, max_splits = 0, attention_ctas = 0, combine_ctas = 0;
  /// false: the variant failed its check (check.csv) or this point's output held non-finite values.
  bool check_passed = true;
};

inline void write_timing_row(mlasim::gpu::CsvWriter& csv, const TimingRow& r) {
  csv.cell(r.kernel)
      .cell(r.variant)
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
      .cell(r.pct_of_copy_bw);
  if (r.pct_of_dense_peak >= 0.0)
    csv.cell(r.pct_of_dense_peak);
  else
    csv.cell("");
  csv.cell(r.num_parts)
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
  return {"kernel", "variant", "batch", "lens", "s_q", "n_h", "n_kv", "d", "splits_max", "segments",
          "rows_checked", "rel_l2_error", "lse_max_abs_error", "nonfinite_outputs", "pass"};
}
// clang-format on

/// One correctness check of a kernel variant against the CPU reference.
struct CheckRow {
  std::string kernel;   ///< "mla" or "gqa"
  std::string variant;  ///< registry id
  int batch = 0;
  std::string lens;  ///< the sequence lengths, space-separated; a large case: "uniform 32768" or "variable
                     ///< 2048..6144"
  int s_q = 1, n_h = 0, n_kv = 1, d = 0;
  int splits_max = 0, segments = 0;
  /// Query rows compared with the reference: all rows (B·s_q·n_h) for the small cases, a deterministic sample
  /// for the large ones (the non-finite count always covers every output).
  long long rows_checked = 0;
  double rel_l2_error = 0.0;
  double lse_max_abs_error = 0.0;
  long long nonfinite_outputs = 0;
  bool pass = false;  ///< written "yes" / "NO"
};

inline void write_check_row(mlasim::gpu::CsvWriter& csv, const CheckRow& r) {
  csv.cell(r.kernel)
      .cell(r.variant)
      .cell(r.batch)
      .cell(r.lens)
      .cell(r.s_q)
      .cell(r.n_h)
      .cell(r.n_kv)
      .cell(r.d)
      .cell(r.splits_max)
      .cell(r.segments)
      .cell(r.rows_checked)
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

// ---------------------------------------------------------------- peer_inputs.csv (for peers.py)

/// Columns of peer_inputs.csv: for each grid point the PyTorch peers time, what the bench filled its inputs
/// with (bench_fill.hpp: seeds, element counts, checksums) and where the block table is (a little-endian
/// int32 file [batch][max_pages] named block_table_<point>.bin beside it). Uniform lengths only.
inline std::vector<std::string> peer_inputs_csv_columns() {
  return {"point",  "priority", "kernel", "batch",     "context",   "s_q",
          "n_h",    "n_kv",     "d",      "num_pages", "max_pages", "softmax_scale",
          "q_seed", "k_seed",   "v_seed", "q_elems",   "kv_elems",  "q_sum0",
          "q_sum1", "k_sum0",   "k_sum1", "v_sum0",    "v_sum1",    "block_table_file"};
}

/// One row of peer_inputs.csv. Seeds and sums are unsigned 64-bit (written in decimal); v_* are 0 for MLA.
struct PeerInputRow {
  int point = 0;     ///< grid index
  int priority = 1;  ///< 0: a headline point (peers time those first)
  std::string kernel;
  int batch = 0, context = 0, s_q = 1, n_h = 0, n_kv = 1, d = 0, num_pages = 0, max_pages = 0;
  double softmax_scale = 0.0;
  unsigned long long q_seed = 0, k_seed = 0, v_seed = 0, q_elems = 0, kv_elems = 0;
  unsigned long long q_sum0 = 0, q_sum1 = 0, k_sum0 = 0, k_sum1 = 0, v_sum0 = 0, v_sum1 = 0;
  std::string block_table_file;
};

inline void write_peer_input_row(mlasim::gpu::CsvWriter& csv, const PeerInputRow& r) {
  // Unsigned 64-bit values as decimal text (CsvWriter's integer cells are signed).
  auto u = [](unsigned long long v) { return std::to_string(v); };
  csv.cell(r.point)
      .cell(r.priority)
      .cell(r.kernel)
      .cell(r.batch)
      .cell(r.context)
      .cell(r.s_q)
      .cell(r.n_h)
      .cell(r.n_kv)
      .cell(r.d)
      .cell(r.num_pages)
      .cell(r.max_pages)
      .cell(r.softmax_scale)
      .cell(u(r.q_seed))
      .cell(u(r.k_seed))
      .cell(u(r.v_seed))
      .cell(u(r.q_elems))
      .cell(u(r.kv_elems))
      .cell(u(r.q_sum0))
      .cell(u(r.q_sum1))
      .cell(u(r.k_sum0))
      .cell(u(r.k_sum1))
      .cell(u(r.v_sum0))
      .cell(u(r.v_sum1))
      .cell(r.block_table_file);
  csv.end_row();
}

}  // namespace mlasim::attention
