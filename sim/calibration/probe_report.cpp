#include "sim/calibration/probe_report.hpp"

#include <fmt/format.h>

#include <filesystem>

namespace mlasim {

ProbeRunFits fit_probe_rows(const std::vector<ProbeRow>& rows, const BandwidthFitOptions& options) {
  ProbeRunFits fits;
  bool any_bandwidth = false;
  for (const ProbeRow& r : rows) {
    if (r.probe == "bandwidth") any_bandwidth = true;
    if (r.probe == "launch") fits.launch.push_back(LaunchOverhead{r.kernel, r.median_s, r.p90_s});
  }
  if (any_bandwidth) fits.bandwidth = fit_bandwidth_rows(rows, options);
  fits.gemm = build_gemm_tables(rows);
  return fits;
}

ProbeRunFits fit_probe_directory(const std::string& dir, const BandwidthFitOptions& options) {
  namespace fs = std::filesystem;
  // Without error codes a name the system refuses (too long, a loop) would escape as an internal error.
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw InputError(SourceLocation{dir, 0, 0}, "",
                     ec ? "not a folder of probe CSVs (" + ec.message() + ")" : "not a folder of probe CSVs");
  }
  std::vector<ProbeRow> rows;
  int files = 0;
  for (const char* name : {"bandwidth.csv", "gemm.csv", "launch.csv"}) {
    const fs::path p = fs::path(dir) / name;
    if (!fs::exists(p, ec)) continue;
    ++files;
    auto part = read_probe_csv(p.string());
    rows.insert(rows.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
  }
  if (files == 0) {
    throw InputError(SourceLocation{dir, 0, 0}, "",
                     "no bandwidth.csv, gemm.csv or launch.csv in this folder");
  }
  return fit_probe_rows(rows, options);
}

std::string format_probe_report(const ProbeRunFits& fits, const std::string& gemm_label_filter,
                                const std::vector<double>& report_m) {
  std::string out;
  for (const KernelBandwidthFit& b : fits.bandwidth) {
    out += fmt::format(
        "bandwidth {:<5} t0 {:.2f} us, BW∞ {:.0f} GB/s ({} HBM points, {} down-weighted, rms {:.1f}%)",
        b.kernel, b.hbm.t0_s * 1e6, b.hbm.bw_inf_bytes_per_s * 1e-9, b.hbm_points, b.hbm.downweighted,
        b.hbm.rms_rel_residual * 100.0);
    out += b.has_l2 ? fmt::format(", L2 plateau {:.0f} GB/s\n", b.l2_plateau_bytes_per_s * 1e-9)
                    : std::string(", no L2 points\n");
  }
  for (const GemmEfficiencyTable& t : fits.gemm) {
    if (t.key().dtype != "bf16" || t.label().find(gemm_label_filter) == std::string::npos) continue;
    out += fmt::format("gemm {} n={} k={} batch={} [{}] TFLOP/s:", t.key().kernel, t.key().n, t.key().k,
                       t.key().batch, t.label());
    for (double m : report_m) {
      const GemmRate r = t.rate_at(m);
      out += fmt::format(" m={:g}: {:.1f}{}", m, r.tflop_per_s,
                         r.provenance == Provenance::kMeasured ? "" : "*");
    }
    out += "\n";
  }
  for (const LaunchOverhead& l : fits.launch) {
    out += fmt::format("launch {:<16} {:.2f} us per launch (p90 {:.2f} us)\n", l.kernel, l.median_s * 1e6,
                       l.p90_s * 1e6);
  }
  if (out.empty()) out = "no probe points\n";
  return out;
}

}  // namespace mlasim
