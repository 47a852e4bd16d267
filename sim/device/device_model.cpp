#include "sim/device/device_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include "sim/device/attention_kernel_model.hpp"
#include "sim/error.hpp"

namespace mlasim {

std::string_view to_string(DeviceMode m) {
  switch (m) {
    case DeviceMode::kSpeedOfLight:
      return "speed-of-light";
    case DeviceMode::kDatasheet:
      return "datasheet";
    case DeviceMode::kCalibrated:
      return "calibrated";
  }
  return "?";
}

DeviceMode parse_device_mode(std::string_view text) {
  if (text == "speed-of-light" || text == "sol") return DeviceMode::kSpeedOfLight;
  if (text == "datasheet") return DeviceMode::kDatasheet;
  if (text == "calibrated") return DeviceMode::kCalibrated;
  throw InputError(
      fmt::format("unknown device mode `{}`; valid: speed-of-light, datasheet, calibrated", text));
}

std::string_view to_string(Bound b) {
  switch (b) {
    case Bound::kMemory:
      return "memory";
    case Bound::kCompute:
      return "compute";
    case Bound::kLaunch:
      return "launch";
    case Bound::kNetwork:
      return "network";
  }
  return "?";
}

std::string_view to_string(LaunchMode m) {
  return m == LaunchMode::kGraph ? "graph" : "eager";
}

LaunchMode parse_launch_mode(std::string_view text) {
  if (text == "graph") return LaunchMode::kGraph;
  if (text == "eager") return LaunchMode::kEager;
  throw InputError(fmt::format("unknown launch mode `{}`; valid: graph, eager", text));
}

DeviceModel::DeviceModel(const HardwareSpec& hw, DeviceMode mode, LaunchMode launch)
    : hw_(hw), mode_(mode), launch_(launch) {
  const bool graph = launch == LaunchMode::kGraph;
  switch (mode) {
    case DeviceMode::kSpeedOfLight:
      // η = 1 and no launch or fixed cost: the physical floor.
      mem_bw_ = hw.hbm_bandwidth_bytes_per_s;
      compute_eff_ = 1.0;
      net_bw_ = hw.interconnect.bandwidth_bytes_per_s;
      scale_out_bw_ = hw.scale_out.bandwidth_bytes_per_s;
      launch_s_ = 0.0;
      break;
    case DeviceMode::kDatasheet:
      mem_bw_ = hw.hbm_bandwidth_bytes_per_s * hw.datasheet_efficiency.memory;
      compute_eff_ = hw.datasheet_efficiency.compute;
      net_bw_ = hw.interconnect.bandwidth_bytes_per_s * hw.datasheet_efficiency.network;
      scale_out_bw_ = hw.scale_out.bandwidth_bytes_per_s * hw.datasheet_efficiency.network;
      launch_s_ = graph ? hw.graph_launch_overhead_s : hw.launch_overhead_s;
      // The bandwidth ramp from first principles: a kernel waits one HBM round trip for its first bytes and
      // one for its last stores to drain (DESIGN.md §6).
      ramp_t0_s_ = 2.0 * hw.memory_latency_s;
      break;
    case DeviceMode::kCalibrated: {
      const Calibration& c = hw.calibration;
      if (c.empty()) {
        throw InputError(
            fmt::format("mode calibrated: profile `{}` ({}) has no calibration block; run "
                        "scripts/gpu_measure.sh on the GPU, "
                        "then `mlasim calibrate RUN_DIR --profile <profile>`, or use mode datasheet",
                        hw.id, hw.name));
      }
      const BandwidthRamp* ramp = c.hbm_ramp();
      mem_bw_ = ramp != nullptr ? ramp->bw_inf_bytes_per_s
                                : hw.hbm_bandwidth_bytes_per_s * hw.datasheet_efficiency.memory;
      ramp_t0_s_ = ramp != nullptr ? ramp->t0_s : 2.0 * hw.memory_latency_s;
      compute_eff_ = hw.datasheet_efficiency.compute;
      net_bw_ = hw.interconnect.bandwidth_bytes_per_s * hw.datasheet_efficiency.network;
      scale_out_bw_ = hw.scale_out.bandwidth_bytes_per_s * hw.datasheet_efficiency.network;
      launch_s_ = graph ? c.launch_graph_s.value_or(hw.graph_launch_overhead_s)
                        : c.launch_eager_s.value_or(hw.launch_overhead_s);
      attention_ = std::make_shared<const CalibratedAttention>(c);
      break;
    }
  }
  // time_op's rates, as it would look them up op by op.
  static_assert(static_cast<std::size_t>(Dtype::kInt4) + 1 == std::tuple_size_v<decltype(rate_by_dtype_)>);
  for (std::size_t d = 0; d < rate_by_dtype_.size(); ++d) {
    try {
      rate_by_dtype_[d] = compute_flops_per_s(static_cast<Dtype>(d));
    } catch (const InputError&) {
      rate_by_dtype_[d] = std::numeric_limits<double>::quiet_NaN();
    }
    try {
      peak_by_dtype_[d] = hw_.peak_flops(static_cast<Dtype>(d));
    } catch (const InputError&) {
      peak_by_dtype_[d] = std::numeric_limits<double>::quiet_NaN();
    }
  }
  const auto fp32 = hw_.peak_flops_per_s.find(Dtype::kFp32);
  elementwise_rate_ = fp32 != hw_.peak_flops_per_s.end()
                          ? fp32->second * compute_eff_
                          : rate_by_dtype_[static_cast<std::size_t>(Dtype::kBf16)];
}

double DeviceModel::compute_flops_per_s(Dtype d) const {
  if (mode_ == DeviceMode::kCalibrated) {
    if (auto it = hw_.calibration.gemm_peak_flops_per_s.find(d);
        it != hw_.calibration.gemm_peak_flops_per_s.end()) {
      return it->second;
    }
  }
  return hw_.peak_flops(d) * compute_eff_;
}

namespace {

/// "bf16", "fp8", ...: the dtype family a GEMM table is looked up by (fp16 and int4 run bf16 math).
std::string_view gemm_dtype_family(Dtype d) {
  switch (d) {
    case Dtype::kFp8:
    case Dtype::kInt8:
      return "fp8";
    case Dtype::kFp32:
      return "f32";
    default:
      return "bf16";
  }
}

void finish(OpTime& t) {
  const double body = std::max(t.compute_s, t.memory_s);
  t.time_s = t.launch_s + t.fixed_s + body;
  if (t.launch_s > body + t.fixed_s) {
    t.bound = Bound::kLaunch;
  } else {
    t.bound = t.compute_s > t.memory_s ? Bound::kCompute : Bound::kMemory;
  }
}

}  // namespace

bool DeviceModel::time_attention(const Op& op, Dtype math, double launches, OpTime& t) const {
  const AttentionCall& call = op.attention;
  if (call.sequences <= 0.0 || call.prefill || mode_ == DeviceMode::kSpeedOfLight) return false;
  const double bytes = op.bytes() / launches;
  const double flops = op.flops / launches;
  // The profile's peak, looked up once (NaN: not listed, so the lookup throws the profile's error).
  const double peak = peak_by_dtype_[static_cast<std::size_t>(math)];
  const DecodeCallTime model = std::isnan(peak) ? datasheet_decode_call(hw_, call, bytes, flops, math)
                                                : datasheet_decode_call(hw_, call, bytes, flops, peak);
  if (mode_ == DeviceMode::kCalibrated) {
    const std::optional<KernelPrediction> p = attention_->predict(call, bytes, flops);
    if (!p) return false;
    // The bench times one eager launch between events: its launch gap is inside the measurement. Take it out,
    // then add this mode's launch cost per kernel (attention, and combine when the schedule splits).
    const double gap = hw_.calibration.launch_single_s.value_or(0.0);
    const double body = std::max(p->time_s - gap, 0.0);
    (model.compute_s > model.memory_s ? t.compute_s : t.memory_s) = launches * body;
    t.launch_s = launches * model.kernels * launch_s_;
    t.provenance = p->provenance;
    return true;
  }
  t.memory_s = launches * model.memory_s;
  t.compute_s = launches * model.compute_s;
  t.fixed_s = launches * (model.fixed_s + model.combine_s);
  t.launch_s = launches * model.kernels * launch_s_;
  t.provenance = Provenance::kAnalytic;
  return true;
}

bool DeviceModel::time_calibrated_gemm(const Op& op, Dtype math, double launches, OpTime& t) const {
  if (op.gemm_n <= 0.0 || op.gemm_k <= 0.0 || op.flops <= 0.0) return false;
  const Calibration& cal = hw_.calibration;
  const GemmTableMatch match =
      nearest_gemm_table(cal.gemm, gemm_dtype_family(math), op.gemm_n, op.gemm_k, op.gemm_batch);
  const GemmRoofline roof = cal.gemm_roofline(math);
  if (match.table == nullptr || !roof.valid()) return false;
  // The measured residual against the roofline at this m (of the same shape, or the nearest probed one) times
  // the roofline at this op's own work; the probe's launch gap comes out, this mode's launch cost goes in.
  const Residual residual = match.table->residual_at(std::max(op.gemm_m, 1.0), roof);
  const double measured_frame = residual.value * roof.time_s(op.flops / launches, op.bytes() / launches);
  const double body = launches * std::max(measured_frame - cal.launch_single_s.value_or(0.0), 0.0);
  const bool compute = op.flops / roof.flops_per_s > op.bytes() / roof.bytes_per_s;
  (compute ? t.compute_s : t.memory_s) = body;
  t.launch_s = launches * launch_s_;
  t.provenance = match.exact ? residual.provenance : Provenance::kExtrapolated;
  return true;
}

OpTime DeviceModel::time_collective(const Op& op, double launches) const {
  OpTime t;
  t.provenance = Provenance::kAnalytic;
  // DESIGN.md §5: latency + bytes / link bandwidth, per collective. No probe measures the links yet.
  const int ranks = op.comm_ranks;
  if (ranks <= 1) {
    throw InternalError(fmt::format("collective `{}` has a group of {} GPUs", op.name, ranks));
  }
  // A missing link makes a multi-GPU layout impossible, never free.
  if (!(net_bw_ > 0.0)) {
    throw InputError(SourceLocation{}, "tp",
                     fmt::format("{} ({}) has no interconnect (interconnect.bandwidth 0): {} GPUs need one",
                                 hw_.name, hw_.id, ranks));
  }
  const int node = std::max(hw_.gpus_per_node, 1);
  double inside = op.comm_bytes, across = 0.0;  // bytes over the scale-up link and over the network
  if (ranks > node) {
    if (!(scale_out_bw_ > 0.0)) {
      throw InputError(
          SourceLocation{}, "tp",
          fmt::format("{} GPUs span {} nodes of {}, but {} ({}) has no scale_out network: add one to the "
                      "profile, or keep the layout within {} GPUs",
                      ranks, (ranks + node - 1) / node, node, hw_.name, hw_.id, node));
    }
    if (op.collective == Collective::kAllToAll) {
      // Of the ranks − 1 other GPUs a token may go to, node − 1 share this GPU's node (DeepEP forwards the
      // rest over RDMA); the two links carry their shares at once.
      across = op.comm_bytes * double(ranks - node) / double(ranks - 1);
      inside = op.comm_bytes - across;
    } else {
      // A ring over several nodes runs at its slowest link: every byte crosses at the network's rate.
      across = op.comm_bytes;
      inside = 0.0;
    }
  }
  t.network_s = std::max(inside / net_bw_, across > 0.0 ? across / scale_out_bw_ : 0.0);
  const double latency = ranks > node ? std::max(hw_.interconnect.latency_s, hw_.scale_out.latency_s)
                                      : hw_.interconnect.latency_s;
  t.launch_s = launches * (latency + launch_s_);
  t.time_s = t.network_s + t.launch_s;
  t.bound = t.network_s >= t.launch_s ? Bound::kNetwork : Bound::kLaunch;
  return t;
}

void DeviceModel::throw_no_rate(const Op& op) const {
  // validate() keeps every profile peak positive; a spec built in code may not be: never cost work as free.
  throw InputError(SourceLocation{}, "compute",
                   fmt::format("{} ({}) has no positive {} rate for op `{}`", hw_.name, hw_.id,
                               to_string(op.math), op.name));
}

// Inlined into cost_step and step_time_s (a step's ops are mostly GEMMs and small ops timed by the roofline).
[[gnu::always_inline]] inline OpTime DeviceModel::time_op_inline(const Op& op) const {
  // Every return returns `t`, so that it is built in the caller's result (copying it after its fields were
  // stored one by one stalled the loads: store forwarding fails, a third of a sweep point's time).
  OpTime t;
  const double launches = static_cast<double>(std::max<std::int64_t>(op.count, 1));
  if (op.op_class == OpClass::kCommunication) {
    t = time_collective(op, launches);
    return t;
  }
  t.provenance = Provenance::kAnalytic;
  const Dtype math = op.math;
  if (op.op_class == OpClass::kAttention && time_attention(op, math, launches, t)) {
    finish(t);
    return t;
  }
  if (mode_ == DeviceMode::kCalibrated && op.op_class == OpClass::kGemm &&
      time_calibrated_gemm(op, math, launches, t)) {
    finish(t);
    return t;
  }
  // Elementwise ops run on CUDA cores, not tensor cores: bound them by the fp32 rate where listed.
  double peak =
      op.op_class == OpClass::kOther ? elementwise_rate_ : rate_by_dtype_[static_cast<std::size_t>(math)];
  if (std::isnan(peak)) {
    // Not in the profile: the lookup time_op made op by op, which throws the profile's error.
    peak = op.op_class == OpClass::kOther ? compute_flops_per_s(Dtype::kBf16) : compute_flops_per_s(math);
  }
  // DESIGN.md §6: t = t_launch + max(FLOPs / (peak·η_c), t0 + bytes / (BW·η_m)), per launch, times launches.
  if (op.flops > 0.0 && !(peak > 0.0 && std::isfinite(peak))) throw_no_rate(op);
  const double bytes = op.bytes();
  t.compute_s = op.flops > 0.0 ? op.flops / peak : 0.0;
  t.memory_s = bytes / mem_bw_;
  if (bytes > 0.0) t.memory_s += launches * ramp_t0_s_;
  t.launch_s = launches * launch_s_;
  if (mode_ == DeviceMode::kCalibrated && op.op_class == OpClass::kOther && t.compute_s <= t.memory_s) {
    // A small memory-bound op follows the measured copy ramp: interpolated inside the byte range the probe
    // swept, extrapolated outside it.
    const BandwidthRamp* ramp = hw_.calibration.hbm_ramp();
    const double per_launch = bytes / launches;
    if (ramp != nullptr && bytes > 0.0) {
      const bool inside =
          ramp->max_bytes > 0.0 && per_launch >= ramp->min_bytes && per_launch <= ramp->max_bytes;
      t.provenance = inside ? Provenance::kInterpolated : Provenance::kExtrapolated;
    }
  }
  finish(t);
  return t;
}

OpTime DeviceModel::time_op(const Op& op) const {
  return time_op_inline(op);
}

namespace {

/// A step's sums while its ops are timed: locals, which the compiler keeps in registers (StepCost's own
/// fields, written through a reference, might alias the ops' and would be stored and reloaded op by op).
struct OpSums {
  double step = 0.0, attention = 0.0, gemm = 0.0, communication = 0.0, other = 0.0;
  double flops = 0.0, bytes = 0.0, attention_flops = 0.0, attention_bytes = 0.0;
  std::array<double, 4> by_provenance{};
  std::optional<Bound> attention_bound;
};

/// Adds one timed op to the step's totals.
void account(OpSums& sums, const Op& op, const OpTime& time) {
  const double s = time.time_s;
  const double bytes = op.bytes();
  sums.step += s;
  switch (op.op_class) {
    case OpClass::kAttention:
      sums.attention += s;
      sums.attention_flops += op.flops;
      sums.attention_bytes += bytes;
      sums.attention_bound = time.bound;
      break;
    case OpClass::kGemm:
      sums.gemm += s;
      break;
    case OpClass::kCommunication:
      sums.communication += s;
      break;
    case OpClass::kOther:
      sums.other += s;
      break;
  }
  sums.by_provenance[static_cast<std::size_t>(time.provenance)] += s;
  sums.flops += op.flops;
  sums.bytes += bytes;
}

}  // namespace

double overlap_schedule(double compute_s, double comm_s, int layers) {
  const double per_layer_fill = std::min(compute_s, comm_s) / std::max(layers, 1);
  return std::max(2.0 * compute_s, 2.0 * comm_s) + per_layer_fill;
}

namespace {

/// The step time from the ops' times, fed in order: the sum, or the overlapped schedule of the first
/// `overlapped` ops (both micro-batches' work, so each micro-batch's compute and communication are half of
/// their sums) and the rest after them.
class Schedule {
 public:
  explicit Schedule(const StepWorkload& w) : w_(w) {}

  /// Op i's time (ops in order, from 0).
  void add(std::size_t i, double s) {
    if (w_.fused_allreduce && i > 0 && w_.ops[i].collective == Collective::kAllReduce &&
        w_.ops[i - 1].op_class == OpClass::kGemm) {
      // Fused under the GEMM before it: the pair takes max(GEMM, all-reduce) = GEMM + what exceeds it.
      const double own = s;
      s = std::max(own - previous_, 0.0);
      previous_ = own;
    } else {
      previous_ = s;
    }
    if (i >= w_.overlapped_ops) {
      serial_ += s;
    } else if (w_.pipeline_stages > 1) {
      staged_ += s;
    } else {
      (w_.ops[i].op_class == OpClass::kCommunication ? comm_ : compute_) += s;
    }
  }

  /// The step time, once every op is added.
  [[nodiscard]] double step_time_s() const {
    if (w_.pipeline_stages > 1) {
      // m micro-batches through pp stages: each GPU is busy m stage-times of the step's max(m, pp).
      return staged_ * double(std::max(w_.pipeline_micro_batches, w_.pipeline_stages)) /
                 double(w_.pipeline_micro_batches) +
             serial_;
    }
    if (w_.micro_batches != 2) return serial_;
    return overlap_schedule(compute_ / 2.0, comm_ / 2.0, w_.layers) + serial_;
  }

 private:
  const StepWorkload& w_;
  double serial_ = 0.0, compute_ = 0.0, comm_ = 0.0, staged_ = 0.0;
  double previous_ = 0.0;  // the op before's time
};

}  // namespace

StepCost cost_step(const StepWorkload& workload, const DeviceModel& device, OpDetail detail) {
  StepCost cost;
  if (detail == OpDetail::kOps) cost.ops.reserve(workload.ops.size());
  // Nothing fused, overlapped or staged: the schedule is the ops back to back, the sum account() takes in the
  // same order.
  const bool back_to_back = !workload.fused_allreduce && workload.overlapped_ops == 0 &&
                            workload.micro_batches == 1 && workload.pipeline_stages == 1;
  Schedule schedule(workload);
  OpSums sums;
  const Op* const ops = workload.ops.data();
  const std::size_t n = workload.ops.size();
  for (std::size_t i = 0; i < n; ++i) {
    const Op& op = ops[i];
    const OpTime time = device.time_op_inline(op);
    // A validated profile gives every op a finite, non-negative time; anything else is a bug in a model.
    if (!(std::isfinite(time.time_s) && time.time_s >= 0.0)) {
      throw InternalError(
          fmt::format("op `{}` costs {} s on {}", op.name, time.time_s, device.hardware().name));
    }
    account(sums, op, time);
    if (!back_to_back) schedule.add(i, time.time_s);
    if (detail == OpDetail::kOps) cost.ops.push_back(TimedOp{op, time});
  }
  cost.step_time_s = sums.step;
  cost.attention_s = sums.attention;
  cost.gemm_s = sums.gemm;
  cost.communication_s = sums.communication;
  cost.other_s = sums.other;
  cost.flops = sums.flops;
  cost.bytes = sums.bytes;
  cost.attention_flops = sums.attention_flops;
  cost.attention_bytes = sums.attention_bytes;
  cost.attention_bound = sums.attention_bound;
  cost.time_by_provenance = sums.by_provenance;
  cost.serial_time_s = cost.step_time_s;
  if (!back_to_back) cost.step_time_s = schedule.step_time_s();
  if (!(std::isfinite(cost.step_time_s) && cost.step_time_s > 0.0)) {
    throw InternalError(fmt::format("the step costs {} s on {}", cost.step_time_s, device.hardware().name));
  }
  cost.tokens = workload.tokens;
  cost.output_tokens = workload.output_tokens;
  cost.emitted_tokens = workload.emitted_tokens;
  cost.micro_batches = workload.micro_batches;
  return cost;
}

double step_time_s(const StepWorkload& workload, const DeviceModel& device) {
  Schedule schedule(workload);
  for (std::size_t i = 0; i < workload.ops.size(); ++i)
    schedule.add(i, device.time_op_inline(workload.ops[i]).time_s);
  return schedule.step_time_s();
}

}  // namespace mlasim
