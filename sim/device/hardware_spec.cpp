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

std::vector<SpecProblem> validate(const HardwareSpec& hw) {
  std::vector<SpecProblem> out;
  if (hw.hbm_bytes <= 0) out.push_back({"memory.capacity", "must be positive"});
  if (hw.hbm_bytes > 100e12) out.push_back({"memory.capacity", "is absurdly large (over 100 TB)"});
  if (hw.hbm_bandwidth_bytes_per_s <= 0) out.push_back({"memory.bandwidth", "must be positive"});
  if (hw.hbm_bandwidth_bytes_per_s > 1e15)
    out.push_back({"memory.bandwidth", "is absurdly large (over 1 PB/s)"});
  if (hw.peak_flops_per_s.find(Dtype::kBf16) == hw.peak_flops_per_s.end()) {
    out.push_back({"compute", "needs a bf16 peak (dense)"});
  }
  for (const auto& [d, f] : hw.peak_flops_per_s) {
    const std::string key = fmt::format("compute.{}", to_string(d));
    if (f <= 0) out.push_back({key, "must be positive"});
    if (f > 1e17) out.push_back({key, "is absurdly large (over 100 PFLOP/s dense)"});
  }
  if (hw.sms <= 0) out.push_back({"sms", "must be positive"});
  if (hw.l2_bytes < 0) out.push_back({"l2", "cannot be negative"});
  if (hw.launch_overhead_s < 0 || hw.launch_overhead_s > 1e-3) {
    out.push_back({"launch_overhead", "must be between 0 and 1 ms"});
  }
  if (hw.graph_launch_overhead_s < 0 || hw.graph_launch_overhead_s > 1e-3) {
    out.push_back({"graph_launch_overhead", "must be between 0 and 1 ms"});
  }
  if (!(hw.memory_latency_s > 0 && hw.memory_latency_s < 1e-4)) {
    out.push_back({"memory.latency", "must be between 0 and 100 us"});
  }
  if (hw.interconnect.bandwidth_bytes_per_s < 0)
    out.push_back({"interconnect.bandwidth", "cannot be negative"});
  if (hw.interconnect.latency_s < 0) out.push_back({"interconnect.latency", "cannot be negative"});
  auto eff = [&](double v, const char* key) {
    if (!(v > 0.0 && v <= 1.0)) out.push_back({key, fmt::format("must be in (0, 1], got {}", v)});
  };
  eff(hw.datasheet_efficiency.compute, "datasheet_efficiency.compute");
  eff(hw.datasheet_efficiency.memory, "datasheet_efficiency.memory");
  eff(hw.datasheet_efficiency.network, "datasheet_efficiency.network");
  return out;
}

}  // namespace mlasim
