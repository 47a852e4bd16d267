#pragma once
// Model and GPU specs built in C++ for tests, with numbers from the published config.json files / datasheets
// named beside each. Tests of formulas use these; tests of the loader compare the YAML cards against them.
#include "models/model_spec.hpp"
#include "sim/device/hardware_spec.hpp"

namespace mlasim::test {

/// Llama-3-8B, https://huggingface.co/meta-llama/Meta-Llama-3-8B/blob/main/config.json
inline ModelSpec llama3_8b() {
  ModelSpec m;
  m.name = "Llama-3-8B";
  m.n_layers = 32;
  m.hidden_size = 4096;
  m.vocab_size = 128256;
  m.attention = {AttentionKind::kGqa, 32, 8, 128};
  m.ffn.intermediate_size = 14336;
  return m;
}

/// Llama-2-7B, https://huggingface.co/meta-llama/Llama-2-7b-hf/blob/main/config.json
inline ModelSpec llama2_7b() {
  ModelSpec m;
  m.name = "Llama-2-7B";
  m.n_layers = 32;
  m.hidden_size = 4096;
  m.vocab_size = 32000;
  m.attention = {AttentionKind::kMha, 32, 32, 128};
  m.ffn.intermediate_size = 11008;
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
  m.ffn.moe = {256, 1, 8, 2048, 3};
  return m;
}

/// DeepSeek-V2, https://huggingface.co/deepseek-ai/DeepSeek-V2/blob/main/config.json
inline ModelSpec deepseek_v2() {
  ModelSpec m = deepseek_v3();
  m.name = "DeepSeek-V2";
  m.n_layers = 60;
  m.hidden_size = 5120;
  m.vocab_size = 102400;
  m.ffn.intermediate_size = 12288;
  m.ffn.moe = {160, 2, 6, 1536, 1};
  return m;
}

/// H100 SXM datasheet, dense rates (https://www.nvidia.com/en-us/data-center/h100/).
inline HardwareSpec h100() {
  HardwareSpec h;
  h.name = "H100 SXM";
  h.id = "h100-sxm";
  h.hbm_bytes = 80e9;
  h.hbm_bandwidth_bytes_per_s = 3.35e12;
  h.peak_flops_per_s = {{Dtype::kBf16, 989e12}, {Dtype::kFp8, 1979e12}, {Dtype::kFp32, 67e12}};
  h.sms = 132;
  h.l2_bytes = 50e6;
  h.launch_overhead_s = 4e-6;
  h.graph_launch_overhead_s = 1e-6;
  h.memory_latency_s = 600e-9;
  h.interconnect = {"NVLink 4", 450e9, 5e-6};
  return h;
}

/// H200 SXM: H100 compute, 141 GB of HBM3e at 4.8 TB/s (https://www.nvidia.com/en-us/data-center/h200/).
inline HardwareSpec h200() {
  HardwareSpec h = h100();
  h.name = "H200";
  h.id = "h200";
  h.hbm_bytes = 141e9;
  h.hbm_bandwidth_bytes_per_s = 4.8e12;
  return h;
}

}  // namespace mlasim::test
