#pragma once
/// Turns the fits of one probe run into the calibration block of a hardware profile (DESIGN.md §9), the
/// numbers `calibrated` mode uses: HBM BW∞ and t0 of the copy probe, the eager launch overhead, and the best
/// large-GEMM rate per dtype.
#include <string>

#include "sim/calibration/probe_report.hpp"
#include "sim/device/hardware_spec.hpp"

namespace mlasim {

/// The copy kernel's ramp fit sets hbm_bandwidth and hbm_t0 (read's when there is no copy: DESIGN.md §9 names
/// both); `empty_eager` sets launch_overhead; gemm_peak per dtype is the highest rate any bf16 / fp8 table
/// reached. Fields the run did not measure stay empty. `fingerprint` is recorded as given.
[[nodiscard]] Calibration calibration_from_fits(const ProbeRunFits& fits, const std::string& fingerprint);

/// One line from a probe run's fingerprint.yaml: "device, N SMs, CUDA runtime R, git G, date D" (keys that
/// are missing are left out). Throws InputError when the file cannot be read.
[[nodiscard]] std::string fingerprint_summary(const std::string& fingerprint_yaml_path);

}  // namespace mlasim
