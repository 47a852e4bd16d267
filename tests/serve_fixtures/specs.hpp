#pragma once
// Specs for serving tests and benchmarks, built in C++ so they do not depend on the model-card and hardware
// catalogues. Numbers from the published config.json files and datasheets (DESIGN.md §11).
#include "models/model_spec.hpp"
#include "sim/device/hardware_spec.hpp"
#include "sim/serving/serve.hpp"

namespace mlasim::test {

/// Llama-3-8B, https://huggingface.co/meta-llama/Meta-Llama-3-8B/blob/main/config.json
inline ModelSpec llama3_8b() {
  ModelSpec m;
  m.name = "Llama-3-8B";
  m.n_layers = 32;
  m.hidden_size = 4096;
  m.vocab_size = 128256;
  m.attention.kind = AttentionKind::kGqa;
  m.attention.n_heads = 32;
  m.attention.n_kv_heads = 8;
  m.attention.head_dim = 128;
  m.ffn.intermediate_size = 14336;
  return m;
}

/// DeepSeek-V3, https://huggingface.co/deepseek-ai/DeepSeek-V3/blob/main/config.json
inline ModelSpec deepseek_v3() {
  ModelSpec m;
  m.name = "DeepSeek-V3";
  m.n_layers = 61;
  m.hidden_size = 7168;
  m.vocab_size = 129280;
  m.attention.kind = AttentionKind::kMla;
  m.attention.n_heads = 128;
  m.attention.n_kv_heads = 1;
  m.attention.kv_lora_rank = 512;
  m.attention.q_lora_rank = 1536;
  m.attention.qk_rope_head_dim = 64;
  m.attention.qk_nope_head_dim = 128;
  m.attention.v_head_dim = 128;
  m.ffn.intermediate_size = 18432;
  m.ffn.moe = MoeSpec{256, 1, 8, 2048, 3};
  return m;
}

/// H100 SXM (datasheet, dense peaks).
inline HardwareSpec h100() {
  HardwareSpec h;
  h.name = "H100 SXM";
  h.id = "h100-sxm";
  h.hbm_bytes = 80e9;
  h.hbm_bandwidth_bytes_per_s = 3.35e12;
  h.peak_flops_per_s = {{Dtype::kBf16, 989e12}, {Dtype::kFp16, 989e12}, {Dtype::kFp8, 1979e12},
                        {Dtype::kFp32, 67e12}};
  h.sms = 132;
  h.l2_bytes = 50e6;
  h.launch_overhead_s = 4e-6;
  h.interconnect = Interconnect{"NVLink 4", 450e9, 5e-6};
  return h;
}

/// H200 (H100 compute, 141 GB at 4.8 TB/s).
inline HardwareSpec h200() {
  HardwareSpec h = h100();
  h.name = "H200";
  h.id = "h200";
  h.hbm_bytes = 141e9;
  h.hbm_bandwidth_bytes_per_s = 4.8e12;
  return h;
}

/// Llama-3-8B on one H100, Poisson arrivals, 256/256 tokens.
inline ServeSpec llama_spec(double rate_per_s, std::int64_t requests) {
  ServeSpec s;
  s.name = "llama3-8b-h100";
  s.model = llama3_8b();
  s.hardware = h100();
  s.workload.arrival = ArrivalKind::kPoisson;
  s.workload.rate_per_s = rate_per_s;
  s.workload.num_requests = requests;
  s.workload.prompt = LengthSpec::fixed(256);
  s.workload.output = LengthSpec::fixed(256);
  return s;
}

/// DeepSeek-V3 on 8 × H200 (TP 8), fp8 weights, 4k/1k tokens, closed loop.
inline ServeSpec deepseek_spec(int concurrency, std::int64_t requests) {
  ServeSpec s;
  s.name = "deepseek-v3-8xh200";
  s.model = deepseek_v3();
  s.hardware = h200();
  s.tp = 8;
  s.precision.weights = Dtype::kFp8;
  s.workload.arrival = ArrivalKind::kClosedLoop;
  s.workload.concurrency = concurrency;
  s.workload.num_requests = requests;
  s.workload.prompt = LengthSpec::fixed(4096);
  s.workload.output = LengthSpec::fixed(1024);
  return s;
}

}  // namespace mlasim::test
