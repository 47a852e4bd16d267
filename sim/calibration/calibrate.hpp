#pragma once
/// `mlasim calibrate`: a measurement run → a hardware profile's calibration block (DESIGN.md §9). The probe
/// part (bandwidth ramps, launch costs, GEMM tables) comes from calibration_from_fits; this adds our
/// attention kernels' tables (median time over batch × context per shape) and each kernel family's fitted
/// ramp, which calibrated mode uses outside the grids.
#include <string>
#include <string_view>
#include <vector>

#include "sim/calibration/measurement_run.hpp"
#include "sim/device/hardware_spec.hpp"

namespace mlasim {

/// One table per measured shape (kernel, lengths, s_q, n_h, n_kv, d) over its batches × contexts; points
/// not measured are NaN. Rows whose kernel failed its check are left out; isolated slow outliers are dropped
/// (drop_isolated_spikes), each with a line in `notes`. Throws InputError, naming both rows, when a point is
/// measured twice.
[[nodiscard]] std::vector<AttentionTable> build_attention_tables(const std::vector<AttentionRow>& rows,
                                                                 std::vector<std::string>* notes = nullptr);

/// Drops (sets to NaN) every measured point that is more than 20% slower than the log-linear line through its
/// two neighbours on every axis where it has two (at least one): an isolated slow outlier, since GPU timing
/// noise is one-sided. Edges and points next to a hole are kept. Returns a note per dropped point, naming
/// its source row (`sources`, one per node, may be empty).
std::vector<std::string> drop_isolated_spikes(AttentionTable& table,
                                              const std::vector<SourceLocation>& sources);

/// The ramp t = t0 + max(bytes / BW, FLOPs / rate) of one kernel family: t0 and BW by the robust ramp fit
/// (sim/calibration/bandwidth_fit.hpp) on the memory-bound points (intensity below half the ridge
/// `ridge_flop_per_byte`; the three least intense points at least), the rate as the median FLOPs / (t − t0)
/// of the points at or above half the ridge that lie clearly above that line (0 when there is none: the
/// family never reaches compute-bound). Throws InputError (naming `family`) with fewer than 3 points.
[[nodiscard]] KernelRamp fit_attention_ramp(const std::vector<AttentionRow>& rows, double ridge_flop_per_byte,
                                            const std::string& family);

/// Everything a run measured, fitted: the probe part and the attention part. No refusal checks (see
/// calibrate()). `profile` gives the ridge that separates memory- from compute-bound kernel points.
[[nodiscard]] Calibration calibration_from_run(const MeasurementRun& run, const HardwareSpec& profile);

/// One line naming the run: device, SMs, driver, CUDA runtime, git revision, date; "SYNTHETIC" first for a
/// generated run.
[[nodiscard]] std::string run_fingerprint(const MeasurementRun& run);

struct CalibrateOptions {
  bool allow_throttled = false;  ///< calibrate even when the clocks show thermal or hardware slowdown
};

/// refusal_reasons() first: any reason throws InputError listing them all (nothing is written); then
/// calibration_from_run with the run's fingerprint and folder recorded.
[[nodiscard]] Calibration calibrate(const MeasurementRun& run, const HardwareSpec& profile,
                                    const CalibrateOptions& options = {});

/// `profile_text` with its top-level `calibration:` block (the key's line and every following line that is
/// indented, blank or a comment indented under it) replaced by `block` (which ends with a newline), or
/// `block` appended when there is none. Every other line, comments included, is kept as it was.
[[nodiscard]] std::string replace_calibration_block(std::string_view profile_text, std::string_view block);

}  // namespace mlasim
