#pragma once
/// Fits of one probe run (the CSVs `mlasim_probes` wrote into a folder) and a short text report of the
/// numbers calibration needs: per bandwidth kernel t0, BW∞ and the L2 plateau; GEMM TFLOP/s at chosen m;
/// launch overheads.
#include <string>
#include <vector>

#include "sim/calibration/bandwidth_fit.hpp"
#include "sim/calibration/gemm_fit.hpp"

namespace mlasim {

/// One launch-overhead measurement, per launch.
struct LaunchOverhead {
  std::string kernel;   ///< "empty_eager", "empty_eager_full", "empty_graph", "empty_single"
  double median_s = 0;  ///< median time per launch [s]
  double p90_s = 0;     ///< p90 time per launch [s]
};

/// Everything fitted from one probe run.
struct ProbeRunFits {
  std::vector<KernelBandwidthFit> bandwidth;
  std::vector<GemmEfficiencyTable> gemm;
  std::vector<LaunchOverhead> launch;
};

/// Fits the rows of a run (any mix of probes). Throws InputError from the fits.
[[nodiscard]] ProbeRunFits fit_probe_rows(const std::vector<ProbeRow>& rows,
                                          const BandwidthFitOptions& options = {});

/// Reads `dir`/bandwidth.csv, gemm.csv and launch.csv (those present; at least one must be) and fits them.
/// Throws InputError naming the file on a missing folder, no CSV or a bad row.
[[nodiscard]] ProbeRunFits fit_probe_directory(const std::string& dir,
                                               const BandwidthFitOptions& options = {});

/// Plain-text report: one line per bandwidth kernel (t0 in us, BW∞ and L2 plateau in GB/s), the bf16 GEMM
/// TFLOP/s at `report_m` for every family whose label contains `gemm_label_filter`, and the launch overheads.
[[nodiscard]] std::string format_probe_report(const ProbeRunFits& fits,
                                              const std::string& gemm_label_filter = "llama3_70b.tp8.",
                                              const std::vector<double>& report_m = {1, 16, 128, 1024, 8192});

}  // namespace mlasim
