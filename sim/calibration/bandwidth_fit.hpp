#pragma once
/// Fits of the bandwidth probes: the ramp t = t0 + bytes / BW∞ per kernel (robust least squares on HBM
/// points) and the L2 plateau (bandwidth of the L2-resident points).
#include <span>
#include <string>
#include <vector>

#include "sim/calibration/probe_csv.hpp"

namespace mlasim {

/// One bandwidth measurement: bytes moved by one launch and its (median) time.
struct BandwidthPoint {
  double bytes = 0.0;   ///< bytes read + written by one launch [B]
  double time_s = 0.0;  ///< time of one launch [s]
};

/// Result of fitting t = t0 + bytes / BW∞.
struct RampFit {
  double t0_s = 0.0;                ///< fixed cost per launch (launch, ramp-up, tail) [s], >= 0
  double bw_inf_bytes_per_s = 0.0;  ///< asymptotic bandwidth for large transfers [B/s]
  int points = 0;                   ///< points used
  int downweighted = 0;             ///< points whose Huber weight ended below 1 (treated as outliers)
  int iterations = 0;               ///< IRLS iterations run
  double rms_rel_residual = 0.0;    ///< RMS of (t - fit) / t over the points with full weight
  /// Predicted time for `bytes` [s].
  [[nodiscard]] double time_s(double bytes) const { return t0_s + bytes / bw_inf_bytes_per_s; }
};

/// Tuning of the robust fit.
struct RampFitOptions {
  double huber_c = 1.345;    ///< Huber threshold in robust standard deviations (95% efficiency, Huber 1964)
  int max_iterations = 100;  ///< IRLS iteration cap
  double tolerance = 1e-12;  ///< stop when both parameters change by less than this, relatively
};

/// Fits t = t0 + bytes / BW∞ by Huber-weighted iteratively reweighted least squares on relative residuals
/// (times span four decades, so every point counts by its relative error). The residual scale is
/// 1.4826·MAD (consistent for Gaussian noise). t0 is constrained to be >= 0. Needs at least 3 points with
/// at least 2 distinct byte counts; throws InputError otherwise, naming `what`.
[[nodiscard]] RampFit fit_bandwidth_ramp(std::span<const BandwidthPoint> points,
                                         const RampFitOptions& options = {},
                                         const std::string& what = "bandwidth ramp");

/// L2 plateau: the median bandwidth of the best `top_fraction` of L2-resident points (at least 3, or all if
/// fewer). Small working sets are launch-bound and the largest ones spill out of L2, so only the top counts.
/// Returns bytes/s; throws InputError when `points` is empty.
[[nodiscard]] double l2_plateau_bytes_per_s(std::span<const BandwidthPoint> points,
                                            double top_fraction = 0.25);

/// Fits of one bandwidth kernel ("read", "copy", "rmw").
struct KernelBandwidthFit {
  std::string kernel;
  RampFit hbm;                          ///< ramp fit over the points of the fitted levels
  bool has_l2 = false;                  ///< whether any L2-resident point was measured
  double l2_plateau_bytes_per_s = 0.0;  ///< see l2_plateau_bytes_per_s(); 0 when has_l2 is false
  int hbm_points = 0;                   ///< distinct working sets in the ramp fit
  double min_bytes = 0.0;               ///< smallest and largest bytes per launch in the ramp fit
  double max_bytes = 0.0;
  int l2_points = 0;  ///< distinct working sets in the plateau
};

/// Which rows the ramp fit uses.
struct BandwidthFitOptions {
  /// Also fit the `cold` points: working sets below the L2 size timed right after an L2 flush, so their data
  /// come from HBM too. They pin t0 down (above the L2 the shortest launch already takes ~20 us on an H100);
  /// the warm `l2` points never enter the ramp fit. Off: only working sets larger than the L2 (`hbm`).
  bool include_cold = true;
  RampFitOptions ramp;
};

/// Groups bandwidth rows by kernel and fits each. For every (kernel, level, working set) the fastest grid
/// counts (the probes sweep grid sizes to find the ceiling). Rows of other probes are ignored. Kernels come
/// out sorted by name. Throws InputError (naming the kernel) when a kernel has too few HBM points.
[[nodiscard]] std::vector<KernelBandwidthFit> fit_bandwidth_rows(const std::vector<ProbeRow>& rows,
                                                                 const BandwidthFitOptions& options = {});

}  // namespace mlasim
