#include "sim/calibration/probe_csv.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>

#include "sim/csv.hpp"

namespace mlasim {

const std::vector<std::string_view>& probe_csv_required_columns() {
  static const std::vector<std::string_view> columns = {
      "probe",  "kernel", "shape", "level", "dtype", "working_set_bytes", "m",     "n",    "k",
      "batch",  "bytes",  "flops", "grid",  "block", "median_s",          "p90_s", "gbps", "tflops",
      "repeats"};
  return columns;
}

std::vector<ProbeRow> parse_probe_csv(std::string_view text, const std::string& file_name) {
  const CsvFile csv = CsvFile::parse(text, file_name, probe_csv_required_columns(), "probe CSV");
  const auto col = [&](std::string_view name) { return csv.column(name); };
  const std::size_t probe = col("probe"), kernel = col("kernel"), shape = col("shape"), level = col("level"),
                    dtype = col("dtype"), working_set = col("working_set_bytes"), m = col("m"), n = col("n"),
                    k = col("k"), batch = col("batch"), bytes = col("bytes"), flops = col("flops"),
                    grid = col("grid"), block = col("block"), median = col("median_s"), p90 = col("p90_s"),
                    gbps = col("gbps"), tflops = col("tflops"), repeats = col("repeats");
  std::vector<ProbeRow> rows;
  rows.reserve(csv.rows().size());
  for (const CsvRecord& p : csv.rows()) {
    ProbeRow r;
    r.where = p.where();
    r.probe = p.text(probe);
    if (r.probe != "bandwidth" && r.probe != "gemm" && r.probe != "launch") {
      p.fail(probe, fmt::format("unknown probe '{}' (known: bandwidth, gemm, launch)", r.probe));
    }
    r.kernel = p.text(kernel);
    if (r.kernel.empty()) p.fail(kernel, "is empty");
    r.shape = p.text(shape);
    r.level = p.text(level);
    if (r.probe == "bandwidth" && r.level != "l2" && r.level != "hbm" && r.level != "cold") {
      p.fail(level,
             fmt::format("unknown memory level '{}' for a bandwidth row (known: l2, hbm, cold)", r.level));
    }
    r.dtype = p.text(dtype);
    r.working_set_bytes = p.integer(working_set);
    r.m = p.integer(m);
    r.n = p.integer(n);
    r.k = p.integer(k);
    r.batch = p.integer(batch);
    r.bytes = p.real(bytes);
    r.flops = p.real(flops);
    r.grid = p.integer(grid);
    r.block = p.integer(block);
    r.median_s = p.real(median);
    if (r.median_s <= 0.0) p.fail(median, "a measured time must be positive");
    r.p90_s = p.real(p90);
    if (r.p90_s < r.median_s) {
      p.fail(p90, fmt::format("p90 ({:g} s) is below the median ({:g} s)", r.p90_s, r.median_s));
    }
    r.gbps = p.real(gbps);
    r.tflops = p.real(tflops);
    r.repeats = p.integer(repeats);
    if (r.repeats < 1) p.fail(repeats, "must be at least 1");
    if (r.probe == "bandwidth" && r.bytes <= 0.0) p.fail(bytes, "a bandwidth row must move bytes");
    if (r.probe == "gemm") {
      if (r.m < 1 || r.n < 1 || r.k < 1 || r.batch < 1) {
        p.fail(r.m < 1 ? m : r.n < 1 ? n : r.k < 1 ? k : batch, "GEMM dimensions must be >= 1");
      }
      if (r.flops <= 0.0) p.fail(flops, "a GEMM row must count FLOPs");
    }
    rows.push_back(std::move(r));
  }
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
