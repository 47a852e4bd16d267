#include "sim/device/device_model.hpp"

#include <fmt/format.h>

#include <algorithm>

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

DeviceModel::DeviceModel(const HardwareSpec& hw, DeviceMode mode) : hw_(hw), mode_(mode) {
  switch (mode) {
    case DeviceMode::kSpeedOfLight:
      // η = 1 and no launch cost: the physical floor.
      mem_bw_ = hw.hbm_bandwidth_bytes_per_s;
      compute_eff_ = 1.0;
      net_bw_ = hw.interconnect.bandwidth_bytes_per_s;
      launch_s_ = 0.0;
      break;
    case DeviceMode::kDatasheet:
      mem_bw_ = hw.hbm_bandwidth_bytes_per_s * hw.datasheet_efficiency.memory;
      compute_eff_ = hw.datasheet_efficiency.compute;
      net_bw_ = hw.interconnect.bandwidth_bytes_per_s * hw.datasheet_efficiency.network;
      launch_s_ = hw.launch_overhead_s;
      break;
    case DeviceMode::kCalibrated: {
      const Calibration& c = hw.calibration;
      if (c.empty() || !c.hbm_bandwidth_bytes_per_s) {
        throw InputError(fmt::format(
            "mode calibrated: profile `{}` ({}) has no calibration block (hbm_bandwidth missing); run the probes "
            "on the GPU (kernels/probes/run_on_gpu.sh), fit them into the profile, or use mode datasheet",
            hw.id, hw.name));
      }
      mem_bw_ = *c.hbm_bandwidth_bytes_per_s;
      compute_eff_ = hw.datasheet_efficiency.compute;
      net_bw_ = hw.interconnect.bandwidth_bytes_per_s * hw.datasheet_efficiency.network;
      launch_s_ = c.launch_overhead_s.value_or(hw.launch_overhead_s);
      break;
    }
  }
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

OpTime DeviceModel::time_op(const Op& op, const Precision& precision, int tp) const {
  OpTime t;
  const double launches = static_cast<double>(std::max<std::int64_t>(op.count, 1));
  t.provenance = mode_ == DeviceMode::kCalibrated ? Provenance::kExtrapolated : Provenance::kAnalytic;
  if (op.op_class == OpClass::kCommunication) {
    // DESIGN.md §5: latency + bytes / link bandwidth, per collective.
    if (tp <= 1 || net_bw_ <= 0.0) return t;
    t.network_s = op.comm_bytes / net_bw_;
    t.launch_s = launches * (hw_.interconnect.latency_s + launch_s_);
    t.time_s = t.network_s + t.launch_s;
    t.bound = t.network_s >= t.launch_s ? Bound::kNetwork : Bound::kLaunch;
    return t;
  }
  const Dtype math = op.op_class == OpClass::kAttention ? precision.kv_cache
                     : op.op_class == OpClass::kGemm    ? precision.weights
                                                        : precision.activations;
  // Elementwise ops run on CUDA cores, not tensor cores: bound them by the fp32 rate where listed.
  double peak = 0.0;
  if (op.op_class == OpClass::kOther) {
    auto it = hw_.peak_flops_per_s.find(Dtype::kFp32);
    peak = it != hw_.peak_flops_per_s.end() ? it->second * compute_eff_ : compute_flops_per_s(Dtype::kBf16);
  } else {
    peak = compute_flops_per_s(math);
  }
  // DESIGN.md §6: t = t_launch + max(FLOPs / (peak·η_c), bytes / (BW·η_m)), per launch, times launches.
  t.compute_s = peak > 0.0 ? op.flops / peak : 0.0;
  t.memory_s = op.bytes() / mem_bw_;
  // Calibrated: the measured bandwidth ramp, t = t0 + bytes / BW∞ per launch (DESIGN.md §6).
  if (mode_ == DeviceMode::kCalibrated && hw_.calibration.hbm_t0_s && op.bytes() > 0.0) {
    t.memory_s += launches * *hw_.calibration.hbm_t0_s;
  }
  t.launch_s = launches * launch_s_;
  const double body = std::max(t.compute_s, t.memory_s);
  t.time_s = t.launch_s + body;
  if (t.launch_s > body) {
    t.bound = Bound::kLaunch;
  } else {
    t.bound = t.compute_s > t.memory_s ? Bound::kCompute : Bound::kMemory;
  }
  return t;
}

StepCost cost_step(const StepWorkload& workload, const DeviceModel& device, const Precision& precision,
                   int tp) {
  StepCost cost;
  cost.ops.reserve(workload.ops.size());
  for (const Op& op : workload.ops) {
    TimedOp timed{op, device.time_op(op, precision, tp)};
    const double s = timed.time.time_s;
    cost.step_time_s += s;
    switch (op.op_class) {
      case OpClass::kAttention:
        cost.attention_s += s;
        break;
      case OpClass::kGemm:
        cost.gemm_s += s;
        break;
      case OpClass::kCommunication:
        cost.communication_s += s;
        break;
      case OpClass::kOther:
        cost.other_s += s;
        break;
    }
    cost.flops += op.flops;
    cost.bytes += op.bytes();
    cost.ops.push_back(std::move(timed));
  }
  cost.tokens = workload.tokens;
  cost.output_tokens = workload.output_tokens;
  return cost;
}

}  // namespace mlasim
