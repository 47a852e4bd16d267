#pragma once
/// Device model (DESIGN.md §6): an op's duration on a GPU by roofline,
/// t = t_launch + max(FLOPs / (peak·η_c), bytes / (BW·η_m)), with the bound and the provenance of the number.
#include <array>
#include <memory>
#include <optional>
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

/// How kernels are launched: replayed from a CUDA graph (decode in vLLM and SGLang) or launched one by one
/// by the host (eager).
enum class LaunchMode { kGraph, kEager };
[[nodiscard]] std::string_view to_string(LaunchMode m);
/// Parses "graph" or "eager"; throws InputError.
[[nodiscard]] LaunchMode parse_launch_mode(std::string_view text);

/// What limits an op.
enum class Bound { kMemory, kCompute, kLaunch, kNetwork };
[[nodiscard]] std::string_view to_string(Bound b);

/// An op's predicted time, totalled over its launches in the step.
struct OpTime {
  double time_s = 0.0;
  double compute_s = 0.0;  ///< FLOP term, all launches
  double memory_s = 0.0;   ///< byte term, all launches
  double launch_s = 0.0;   ///< launch overhead, all launches
  double fixed_s = 0.0;  ///< fixed per-kernel costs (pipeline fill and drain, split-KV combine), all launches
  double network_s = 0.0;  ///< communication term, all launches
  Bound bound = Bound::kMemory;
  Provenance provenance = Provenance::kAnalytic;
};

/// Times ops on one GPU. Cheap to copy; holds the resolved ceilings.
class CalibratedAttention;
enum class OpDetail;
struct StepCost;

/// Times ops on one GPU (DESIGN.md §6). Cheap to copy; holds the resolved ceilings and, in calibrated mode,
/// the measured tables prepared for lookups.
///  - speed-of-light: roofline at the datasheet peaks, no launch or fixed cost.
///  - datasheet: roofline at peak·η plus, per launch, the launch cost and the bandwidth ramp's fixed cost
///  (two
///    HBM round trips); attention cores as split-KV decode kernels (attention_kernel_model.hpp).
///  - calibrated: our attention kernels' measured tables, GEMM efficiency at the op's m and nearest probed
///    shape, the measured bandwidth ramp for small ops, measured launch costs; the roofline at the measured
///    ceilings where nothing was measured (analytic).
class DeviceModel {
 public:
  /// Throws InputError when `mode` is calibrated and `hw` has no calibration block.
  DeviceModel(const HardwareSpec& hw, DeviceMode mode, LaunchMode launch = LaunchMode::kGraph);

  /// The op's time: it carries all it needs (its math dtype, its collective's group).
  [[nodiscard]] OpTime time_op(const Op& op) const;

  /// Effective ceilings in this mode (after η).
  [[nodiscard]] double memory_bandwidth_bytes_per_s() const { return mem_bw_; }
  [[nodiscard]] double compute_flops_per_s(Dtype d) const;
  /// Launch cost per kernel in this mode and launch mode.
  [[nodiscard]] double launch_overhead_s() const { return launch_s_; }
  [[nodiscard]] const HardwareSpec& hardware() const { return hw_; }
  [[nodiscard]] DeviceMode mode() const { return mode_; }
  [[nodiscard]] LaunchMode launch_mode() const { return launch_; }

 private:
  // cost_step and step_time_s time each op through time_op_inline, time_op's body inlined into their loops.
  friend StepCost cost_step(const StepWorkload& workload, const DeviceModel& device, OpDetail detail);
  friend double step_time_s(const StepWorkload& workload, const DeviceModel& device);
  [[nodiscard]] OpTime time_op_inline(const Op& op) const;
  /// time_op's rare paths, out of line: collectives, errors.
  [[nodiscard]] OpTime time_collective(const Op& op, double launches) const;
  [[noreturn]] void throw_no_rate(const Op& op) const;
  [[nodiscard]] bool time_attention(const Op& op, Dtype math, double launches, OpTime& t) const;
  [[nodiscard]] bool time_calibrated_gemm(const Op& op, Dtype math, double launches, OpTime& t) const;

  HardwareSpec hw_;
  DeviceMode mode_;
  LaunchMode launch_;
  double mem_bw_ = 0.0;
  double compute_eff_ = 1.0;
  double net_bw_ = 0.0;        ///< scale-up (NVLink) bandwidth reached
  double scale_out_bw_ = 0.0;  ///< scale-out (RDMA) bandwidth reached, per GPU
  double launch_s_ = 0.0;
  double ramp_t0_s_ = 0.0;  ///< fixed cost per memory-touching launch (datasheet: two HBM round trips)
  /// The FLOP rates time_op divides by, resolved once: per math dtype (GEMMs, attention), and elementwise
  /// (class kOther); NaN where the profile has none (time_op then asks the profile, which says so).
  std::array<double, 6> rate_by_dtype_{};
  double elementwise_rate_ = 0.0;
  /// hw.peak_flops per math dtype (the datasheet decode-kernel model's rate), resolved once; NaN where the
  /// profile has none.
  std::array<double, 6> peak_by_dtype_{};
  std::shared_ptr<const CalibratedAttention> attention_;  ///< calibrated mode only
};

/// One op with its time.
struct TimedOp {
  Op op;
  OpTime time;
};

/// What cost_step keeps of a step's ops: each op with its time, or the totals only (`ops` left empty, so
/// that costing a step allocates nothing: the sweep's points).
enum class OpDetail { kOps, kTotals };

/// A costed step: ops with times and the step's totals.
struct StepCost {
  std::vector<TimedOp> ops;  ///< empty when costed with OpDetail::kTotals
  /// The step's time: the ops' times summed (ops back to back), or with two micro-batches the overlapped
  /// schedule (overlap_schedule), which is at most the sum.
  double step_time_s = 0.0;
  /// The ops' times summed: what the step takes with nothing overlapped. Equals step_time_s with one
  /// micro-batch.
  double serial_time_s = 0.0;
  double attention_s = 0.0;  ///< per-class sums of the ops' times (they add up to serial_time_s)
  double gemm_s = 0.0;
  double communication_s = 0.0;
  double other_s = 0.0;
  double flops = 0.0;
  double bytes = 0.0;
  double attention_flops = 0.0;          ///< of the attention cores (class kAttention), summed in op order
  double attention_bytes = 0.0;          ///< HBM bytes of the attention cores
  std::optional<Bound> attention_bound;  ///< the last attention core's bound; none without one
  std::int64_t tokens = 0;
  std::int64_t output_tokens = 0;  ///< positions sampled
  double emitted_tokens = 0;       ///< tokens emitted in expectation (more than sampled ones only with MTP)
  int micro_batches = 1;
  /// serial_time_s split by where each op's time comes from (index: Provenance).
  std::array<double, 4> time_by_provenance{};
  /// Fraction of the ops' time resting on provenance `p`.
  [[nodiscard]] double share(Provenance p) const {
    return serial_time_s > 0.0 ? time_by_provenance[static_cast<std::size_t>(p)] / serial_time_s : 0.0;
  }
};

/// Two micro-batches, each computing for `compute_s` and communicating for `comm_s` in a step of `layers`
/// layers: in steady state one micro-batch's communication runs while the other computes, so each layer
/// takes 2·max(compute, comm) per layer, plus one layer's min(compute, comm) to fill the pipeline:
/// max(2·C, 2·M) + min(C, M) / layers. Never more than back to back (2·C + 2·M), never less than the
/// larger of the two (2·max(C, M)).
[[nodiscard]] double overlap_schedule(double compute_s, double comm_s, int layers);

/// Times every op of `workload`: back to back, or (two micro-batches) the overlapped ops by overlap_schedule
/// and the rest after them. With OpDetail::kTotals the result holds the totals only (no ops, no allocation).
[[nodiscard]] StepCost cost_step(const StepWorkload& workload, const DeviceModel& device,
                                 OpDetail detail = OpDetail::kOps);
/// The step time cost_step computes, without keeping the ops (the serving simulator's hot path).
[[nodiscard]] double step_time_s(const StepWorkload& workload, const DeviceModel& device);

}  // namespace mlasim
