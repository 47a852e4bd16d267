#include "sim/device/hardware_spec.hpp"

#include <fmt/format.h>

#include "sim/error.hpp"

namespace mlasim {

const BandwidthRamp* Calibration::hbm_ramp() const {
  for (const char* kernel : {"copy", "read"}) {
    if (auto it = bandwidth.find(kernel); it != bandwidth.end() && it->second.valid()) return &it->second;
  }
  return nullptr;
}

GemmRoofline Calibration::gemm_roofline(Dtype d) const {
  GemmRoofline roof;
  const Dtype family = d == Dtype::kFp8 || d == Dtype::kInt8 ? Dtype::kFp8 : Dtype::kBf16;
  const auto peak = gemm_peak_flops_per_s.find(family);
  const BandwidthRamp* ramp = hbm_ramp();
  if (peak == gemm_peak_flops_per_s.end() || ramp == nullptr) return roof;
  roof.flops_per_s = peak->second;
  roof.bytes_per_s = ramp->bw_inf_bytes_per_s;
  roof.t0_s = ramp->t0_s + launch_single_s.value_or(0.0);
  return roof;
}

std::string attention_ramp_key(AttentionKernel kernel, int head_dim) {
  return kernel == AttentionKernel::kMla ? std::string("mla") : fmt::format("gqa_d{}", head_dim);
}

double HardwareSpec::peak_flops(Dtype d) const {
  if (auto it = peak_flops_per_s.find(d); it != peak_flops_per_s.end()) return it->second;
  // fp16 runs at the bf16 rate on every tensor-core GPU we model; int4 weights are dequantised to bf16.
  if (d == Dtype::kFp16 || d == Dtype::kInt4) {
    if (auto it = peak_flops_per_s.find(Dtype::kBf16); it != peak_flops_per_s.end()) return it->second;
  }
  // A GPU without fp8 tensor cores (A100) runs fp8 weights through bf16 math after dequantisation.
  if (d == Dtype::kFp8 || d == Dtype::kInt8) {
    if (auto it = peak_flops_per_s.find(Dtype::kBf16); it != peak_flops_per_s.end()) return it->second;
  }
  throw InputError(SourceLocation{id}, "compute", fmt::format("{} has no {} peak", name, to_string(d)));
}

namespace {

// Plausibility bounds: no GPU (or link) is slower than these or faster than the upper ones, and a value
// outside them gives step times that are infinite, zero or meaningless rather than an answer.
constexpr double kMinBandwidth = 1e9;   // 1 GB/s
constexpr double kMaxBandwidth = 1e15;  // 1 PB/s
constexpr double kMinFlops = 1e9;       // 1 GFLOP/s
constexpr double kMaxFlops = 1e17;      // 100 PFLOP/s dense
constexpr double kMaxLaunch = 1e-3;     // 1 ms per launch
constexpr double kMinEfficiency = 0.01;

bool within(double v, double lo, double hi) {
  return v >= lo && v <= hi;
}  // false for NaN

void check_bandwidth(std::vector<SpecProblem>& out, const std::string& key, double v) {
  if (!within(v, kMinBandwidth, kMaxBandwidth)) {
    out.push_back({key, fmt::format("must be between 1 GB/s and 1 PB/s, got {:g} B/s", v)});
  }
}

void check_flops(std::vector<SpecProblem>& out, const std::string& key, double v) {
  if (!within(v, kMinFlops, kMaxFlops)) {
    out.push_back(
        {key, fmt::format("must be between 1 GFLOP/s and 100 PFLOP/s (dense), got {:g} FLOP/s", v)});
  }
}

void check_launch(std::vector<SpecProblem>& out, const std::string& key, double v) {
  if (!within(v, 0.0, kMaxLaunch))
    out.push_back({key, fmt::format("must be between 0 and 1 ms, got {:g} s", v)});
}

/// The calibration block: what `mlasim calibrate` writes is always in range; a hand edit may not be.
void validate_calibration(std::vector<SpecProblem>& out, const Calibration& c) {
  for (const auto& [kernel, ramp] : c.bandwidth) {
    const std::string key = fmt::format("calibration.bandwidth.{}", kernel);
    check_bandwidth(out, key + ".bw_inf", ramp.bw_inf_bytes_per_s);
    check_launch(out, key + ".t0", ramp.t0_s);
    if (!within(ramp.min_bytes, 0.0, 1e15)) out.push_back({key + ".min_bytes", "must be between 0 and 1 PB"});
    if (!within(ramp.max_bytes, 0.0, 1e15)) out.push_back({key + ".max_bytes", "must be between 0 and 1 PB"});
  }
  if (c.launch_eager_s) check_launch(out, "calibration.launch.eager", *c.launch_eager_s);
  if (c.launch_graph_s) check_launch(out, "calibration.launch.graph", *c.launch_graph_s);
  if (c.launch_single_s) check_launch(out, "calibration.launch.single", *c.launch_single_s);
  for (const auto& [d, f] : c.gemm_peak_flops_per_s) {
    check_flops(out, fmt::format("calibration.gemm_peak.{}", to_string(d)), f);
  }
  for (const auto& [name, ramp] : c.attention_ramps) {
    const std::string key = fmt::format("calibration.attention_ramps.{}", name);
    check_bandwidth(out, key + ".bandwidth", ramp.bytes_per_s);
    check_launch(out, key + ".t0", ramp.t0_s);
    // 0 = never compute-bound.
    if (ramp.flops_per_s != 0.0) check_flops(out, key + ".flops", ramp.flops_per_s);
  }
}

}  // namespace

std::vector<SpecProblem> validate(const HardwareSpec& hw) {
  std::vector<SpecProblem> out;
  if (!within(hw.hbm_bytes, 1e6, 100e12)) {
    out.push_back(
        {"memory.capacity", fmt::format("must be between 1 MB and 100 TB, got {:g} B", hw.hbm_bytes)});
  }
  check_bandwidth(out, "memory.bandwidth", hw.hbm_bandwidth_bytes_per_s);
  if (hw.peak_flops_per_s.find(Dtype::kBf16) == hw.peak_flops_per_s.end()) {
    out.push_back({"compute", "needs a bf16 peak (dense)"});
  }
  for (const auto& [d, f] : hw.peak_flops_per_s) check_flops(out, fmt::format("compute.{}", to_string(d)), f);
  if (hw.sms <= 0) out.push_back({"sms", "must be positive"});
  if (!within(hw.l2_bytes, 0.0, 100e12)) out.push_back({"l2", "must be between 0 and 100 TB"});
  check_launch(out, "launch_overhead", hw.launch_overhead_s);
  check_launch(out, "graph_launch_overhead", hw.graph_launch_overhead_s);
  if (!(hw.memory_latency_s > 0 && hw.memory_latency_s < 1e-4)) {
    out.push_back({"memory.latency", "must be between 0 and 100 us"});
  }
  // 0 = no scale-up link: the GPU runs alone (tp 1); tensor parallelism on it is an error, never free.
  if (hw.interconnect.bandwidth_bytes_per_s != 0.0) {
    if (!within(hw.interconnect.bandwidth_bytes_per_s, kMinBandwidth, kMaxBandwidth)) {
      out.push_back({"interconnect.bandwidth",
                     fmt::format("must be 0 (no link: tp 1 only) or between 1 GB/s and 1 PB/s, got {:g} B/s",
                                 hw.interconnect.bandwidth_bytes_per_s)});
    }
  }
  if (!within(hw.interconnect.latency_s, 0.0, 1e-3)) {
    out.push_back({"interconnect.latency", "must be between 0 and 1 ms"});
  }
  if (hw.gpus_per_node < 1 || hw.gpus_per_node > 1024) {
    out.push_back({"gpus_per_node", fmt::format("must be between 1 and 1024, got {}", hw.gpus_per_node)});
  }
  // The scale-out network is optional (all zero and unnamed: none given); once given, it must be a real one:
  // a zero-bandwidth network would make every multi-node collective infinite, a zero latency free.
  const Interconnect& net = hw.scale_out;
  if (!net.name.empty() || net.bandwidth_bytes_per_s != 0.0 || net.latency_s != 0.0) {
    if (!within(net.bandwidth_bytes_per_s, kMinBandwidth, kMaxBandwidth)) {
      out.push_back({"scale_out.bandwidth", fmt::format("must be between 1 GB/s and 1 PB/s, got {:g} B/s",
                                                        net.bandwidth_bytes_per_s)});
    }
    if (!(net.latency_s > 0.0 && net.latency_s <= 1e-3)) {
      out.push_back(
          {"scale_out.latency", fmt::format("must be positive, at most 1 ms, got {:g} s", net.latency_s)});
    }
  }
  auto eff = [&](double v, const char* key) {
    if (!within(v, kMinEfficiency, 1.0)) out.push_back({key, fmt::format("must be in [0.01, 1], got {}", v)});
  };
  eff(hw.datasheet_efficiency.compute, "datasheet_efficiency.compute");
  eff(hw.datasheet_efficiency.memory, "datasheet_efficiency.memory");
  eff(hw.datasheet_efficiency.network, "datasheet_efficiency.network");
  validate_calibration(out, hw.calibration);
  return out;
}

}  // namespace mlasim
