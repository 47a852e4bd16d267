#pragma once
/// Reader for the CSV files the GPU probes write (kernels/probes: bandwidth.csv, gemm.csv, launch.csv).
/// One row per measured point; columns are found by name, so extra columns and any order are accepted.
/// Bad rows raise InputError naming `file:line:col` and the column, like a compiler diagnostic.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/error.hpp"

namespace mlasim {

/// One measured point as written by `mlasim_probes` (see kernels/probes/README.md for the column list).
struct ProbeRow {
  std::string probe;   ///< probe family: "bandwidth", "gemm" or "launch"
  std::string kernel;  ///< e.g. "read", "copy", "rmw", "lt_bf16", "lt_fp8_e4m3", "empty_graph"
  std::string shape;   ///< human label of the shape, e.g. "llama3_70b.tp8.qkv"
  std::string level;   ///< bandwidth: "l2" (warm, fits in L2), "hbm" (above L2), "cold"; else "-"
  std::string dtype;   ///< element type of the inputs ("bf16", "fp8_e4m3", "f32", "-")
  std::int64_t working_set_bytes = 0;  ///< bytes allocated and touched by one launch [B]
  std::int64_t m = 0;                  ///< GEMM rows (tokens); 0 for other probes
  std::int64_t n = 0;                  ///< GEMM output columns
  std::int64_t k = 0;                  ///< GEMM reduction depth
  std::int64_t batch = 0;              ///< GEMM batch count (1 for a plain GEMM)
  double bytes = 0.0;                  ///< bytes moved through memory by one launch (reads + writes) [B]
  double flops = 0.0;                  ///< floating-point operations of one launch [FLOP]
  std::int64_t grid = 0;               ///< CTAs launched (0 when the library chooses, e.g. cuBLAS)
  std::int64_t block = 0;              ///< threads per CTA (0 when the library chooses)
  double median_s = 0.0;               ///< median time of one launch over the repeats [s]
  double p90_s = 0.0;                  ///< 90th percentile of the repeats [s]
  double gbps = 0.0;                   ///< bytes / median_s [GB/s, 1e9 B/s]
  double tflops = 0.0;                 ///< flops / median_s [TFLOP/s, 1e12 FLOP/s]
  std::int64_t repeats = 0;            ///< timed repeats behind median and p90
  SourceLocation where;                ///< file and line the row came from (for later diagnostics)
};

/// Columns every probe CSV must have (extra columns are ignored).
[[nodiscard]] const std::vector<std::string_view>& probe_csv_required_columns();

/// Parses CSV text; `file_name` only labels errors. Throws InputError (file:line:col, column name) on a
/// missing column, a wrong cell count, a non-numeric or out-of-range value, or p90 below the median.
[[nodiscard]] std::vector<ProbeRow> parse_probe_csv(std::string_view text, const std::string& file_name);

/// Reads and parses a probe CSV file. Throws InputError when the file cannot be read or a row is bad.
[[nodiscard]] std::vector<ProbeRow> read_probe_csv(const std::string& path);

}  // namespace mlasim
