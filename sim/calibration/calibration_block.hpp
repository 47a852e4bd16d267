#pragma once
/// Turns the fits of one probe run into the probe part of a hardware profile's calibration block (DESIGN.md
/// §9): the bandwidth ramps, launch costs, GEMM efficiency tables and best GEMM rate per dtype.
#include <string>

#include "sim/calibration/probe_report.hpp"
#include "sim/device/hardware_spec.hpp"

namespace mlasim {

/// Every bandwidth kernel's ramp (with the byte range it was fitted on); `empty_eager`, `empty_graph` and
/// `empty_single` set the launch costs; the bf16 and fp8 GEMM tables are kept, and gemm_peak per dtype is the
/// highest rate any of them reached. Fields the run did not measure stay empty. `fingerprint` is kept as
/// given.
[[nodiscard]] Calibration calibration_from_fits(const ProbeRunFits& fits, const std::string& fingerprint);

/// One line from a probe run's fingerprint.yaml: "device, N SMs, CUDA runtime R, git G, date D" (keys that
/// are missing are left out). Throws InputError when the file cannot be read.
[[nodiscard]] std::string fingerprint_summary(const std::string& fingerprint_yaml_path);

}  // namespace mlasim
