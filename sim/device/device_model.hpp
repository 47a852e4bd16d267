#pragma once
/// Device model (DESIGN.md §6): an op's duration on a GPU by roofline,
/// t = t_launch + max(FLOPs / (peak·η_c), bytes / (BW·η_m)), with the bound and the provenance of the number.
#include <string_view>
#include <vector>

#include "models/workload.hpp"
#include "sim/device/hardware_spec.hpp"
#include "sim/provenance.hpp"

namespace mlasim {

/// Where efficiencies come from: speed-of-light (η = 1, no launch cost), datasheet (documented defaults), or
/// calibrated (fitted on the device; requires a calibration block).
enum class DeviceMode { kSpeedOfLight, kDatasheet, kCalibrated };
[[nodiscard]] std::string_view to_string(DeviceMode m);
/// Parses "speed-of-light" (or "sol"), "datasheet", "calibrated"; throws InputError.
[[nodiscard]] DeviceMode parse_device_mode(std::string_view text);

/// What limits an op.
enum class Bound { kMemory, kCompute, kLaunch, kNetwork };
[[nodiscard]] std::string_view to_string(Bound b);

/// An op's predicted time, totalled over its launches in the step.
struct OpTime {
  double time_s = 0.0;
  double compute_s = 0.0;  ///< FLOP term, all launches
  double memory_s = 0.0;   ///< byte term, all launches
  double launch_s = 0.0;   ///< launch overhead, all launches
  double network_s = 0.0;  ///< communication term, all launches
  Bound bound = Bound::kMemory;
  Provenance provenance = Provenance::kAnalytic;
};

/// Times ops on one GPU. Cheap to copy; holds the resolved ceilings.
class DeviceModel {
 public:
  /// Throws InputError when `mode` is calibrated and `hw` has no calibration block.
  DeviceModel(const HardwareSpec& hw, DeviceMode mode);

  [[nodiscard]] OpTime time_op(const Op& op, const Precision& precision, int tp) const;

  /// Effective ceilings in this mode (after η).
  [[nodiscard]] double memory_bandwidth_bytes_per_s() const { return mem_bw_; }
  [[nodiscard]] double compute_flops_per_s(Dtype d) const;
  [[nodiscard]] double launch_overhead_s() const { return launch_s_; }
  [[nodiscard]] const HardwareSpec& hardware() const { return hw_; }
  [[nodiscard]] DeviceMode mode() const { return mode_; }

 private:
  HardwareSpec hw_;
  DeviceMode mode_;
  double mem_bw_ = 0.0;
  double compute_eff_ = 1.0;
  double net_bw_ = 0.0;
  double launch_s_ = 0.0;
};

/// One op with its time.
struct TimedOp {
  Op op;
  OpTime time;
};

/// A costed step: ops with times and the step's totals.
struct StepCost {
  std::vector<TimedOp> ops;
  double step_time_s = 0.0;
  double attention_s = 0.0;  ///< per-class split of step_time_s
  double gemm_s = 0.0;
  double communication_s = 0.0;
  double other_s = 0.0;
  double flops = 0.0;
  double bytes = 0.0;
  std::int64_t tokens = 0;
  std::int64_t output_tokens = 0;
};

/// Times every op of `workload` (ops run back to back: no overlap is modelled).
[[nodiscard]] StepCost cost_step(const StepWorkload& workload, const DeviceModel& device,
                                 const Precision& precision, int tp);

}  // namespace mlasim
