#pragma once
// What the GPU probes measure, derived in plain C++ (no CUDA, fmt, yaml-cpp or Boost: the GPU machines build
// this from the CUDA toolkit alone, and the CPU tests check it): GEMM shapes from model dimensions, the
// bandwidth working sets and grids, the L2/HBM labelling, the CSV columns and a run-time estimate.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/common/csv.hpp"
#include "kernels/common/stats.hpp"

namespace mlasim::gpu {

// ---------------------------------------------------------------- model dimensions

/// Dimensions of a dense GQA transformer (Llama family) that fix its GEMM shapes.
struct DenseModelDims {
  std::string name;          ///< label prefix in the CSV, e.g. "llama3_70b"
  std::int64_t hidden = 0;   ///< hidden_size
  std::int64_t inter = 0;    ///< intermediate_size (SwiGLU)
  std::int64_t n_heads = 0;  ///< num_attention_heads
  std::int64_t n_kv_heads = 0;
  std::int64_t head_dim = 0;
  std::int64_t vocab = 0;
};

/// Dimensions of an MLA + MoE model (DeepSeek-V3 family) that fix its GEMM shapes.
struct MlaModelDims {
  std::string name;
  std::int64_t hidden = 0;        ///< hidden_size
  std::int64_t q_lora_rank = 0;   ///< r_q
  std::int64_t kv_lora_rank = 0;  ///< d_c
  std::int64_t n_heads = 0;       ///< n_h
  std::int64_t qk_nope_dim = 0;   ///< d_n
  std::int64_t qk_rope_dim = 0;   ///< d_r
  std::int64_t v_head_dim = 0;    ///< d_v
  std::int64_t expert_inter = 0;  ///< moe_intermediate_size
  std::int64_t dense_inter = 0;   ///< intermediate_size of the first dense layers
  std::int64_t n_routed_experts = 0;
  std::int64_t vocab = 0;
};

// The GPU program cannot read the YAML model cards (no yaml-cpp there), so the three probe models' dimensions
// are repeated here, each from its published Hugging Face config.json.
/// meta-llama/Meta-Llama-3-8B config.json.
inline DenseModelDims llama3_8b() {
  return {"llama3_8b", 4096, 14336, 32, 8, 128, 128256};
}
/// meta-llama/Meta-Llama-3-70B config.json.
inline DenseModelDims llama3_70b() {
  return {"llama3_70b", 8192, 28672, 64, 8, 128, 128256};
}
/// deepseek-ai/DeepSeek-V3 config.json.
inline MlaModelDims deepseek_v3() {
  return {"dsv3", 7168, 1536, 512, 128, 128, 64, 128, 2048, 18432, 256, 129280};
}

// ---------------------------------------------------------------- GEMM shapes

/// One GEMM family: Y[m×n] = X[m×k]·W[k×n], `batch` independent products per launch; m (tokens) is swept.
struct GemmShape {
  std::string label;  ///< "model.tpN.op"; several labels joined by '|' when models share (n, k, batch)
  std::int64_t n = 0;
  std::int64_t k = 0;
  std::int64_t batch = 1;
};

namespace detail {
inline std::int64_t split(std::int64_t total, int tp, const std::string& what) {
  if (tp < 1 || total % tp != 0) {
    throw std::invalid_argument(what + " (" + std::to_string(total) + ") does not split over TP " +
                                std::to_string(tp));
  }
  return total / tp;
}
inline std::string tp_label(const std::string& model, int tp, const char* op) {
  return model + ".tp" + std::to_string(tp) + "." + op;
}
}  // namespace detail

/// Per-rank GEMMs of one dense layer plus the LM head under tensor parallelism `tp`, fused as vLLM runs them
/// (QKVParallelLinear, MergedColumnParallelLinear): qkv, o, gate_up, down, lm_head. KV heads are replicated
/// when tp exceeds them (vLLM's QKVParallelLinear), so each rank keeps at least one.
inline std::vector<GemmShape> dense_model_shapes(const DenseModelDims& d, int tp) {
  using detail::split;
  const std::int64_t heads = split(d.n_heads, tp, d.name + " heads");
  const std::int64_t kv = d.n_kv_heads >= tp ? split(d.n_kv_heads, tp, d.name + " kv heads") : 1;
  const std::int64_t inter = split(d.inter, tp, d.name + " intermediate");
  return {
      {detail::tp_label(d.name, tp, "qkv"), (heads + 2 * kv) * d.head_dim, d.hidden, 1},
      {detail::tp_label(d.name, tp, "o"), d.hidden, heads * d.head_dim, 1},
      {detail::tp_label(d.name, tp, "gate_up"), 2 * inter, d.hidden, 1},
      {detail::tp_label(d.name, tp, "down"), d.hidden, inter, 1},
      {detail::tp_label(d.name, tp, "lm_head"), split(d.vocab, tp, d.name + " vocab"), d.hidden, 1},
  };
}

/// Per-rank GEMMs of DeepSeek-V3-style MLA + MoE under TP `tp` (DESIGN.md §5): fused q_a + kv_a (replicated,
/// hidden → r_q + d_c + d_r), q_b (r_q → n_h·(d_n + d_r)), kv_b (d_c → n_h·(d_n + d_v); the naive form, used
/// by prefill), o (n_h·d_v → hidden), the dense FFN of the first layers, one routed/shared expert (whole on
/// its expert-parallel rank, so independent of tp), the router and the LM head.
inline std::vector<GemmShape> mla_model_shapes(const MlaModelDims& d, int tp) {
  using detail::split;
  using detail::tp_label;
  const std::int64_t heads = split(d.n_heads, tp, d.name + " heads");
  const std::int64_t dense = split(d.dense_inter, tp, d.name + " dense intermediate");
  return {
      {tp_label(d.name, tp, "qkv_a"), d.q_lora_rank + d.kv_lora_rank + d.qk_rope_dim, d.hidden, 1},
      {tp_label(d.name, tp, "q_b"), heads * (d.qk_nope_dim + d.qk_rope_dim), d.q_lora_rank, 1},
      {tp_label(d.name, tp, "kv_b"), heads * (d.qk_nope_dim + d.v_head_dim), d.kv_lora_rank, 1},
      {tp_label(d.name, tp, "o"), d.hidden, heads * d.v_head_dim, 1},
      {tp_label(d.name, tp, "dense_gate_up"), 2 * dense, d.hidden, 1},
      {tp_label(d.name, tp, "dense_down"), d.hidden, dense, 1},
      {tp_label(d.name, tp, "expert_gate_up"), 2 * d.expert_inter, d.hidden, 1},
      {tp_label(d.name, tp, "expert_down"), d.hidden, d.expert_inter, 1},
      {tp_label(d.name, tp, "router"), d.n_routed_experts, d.hidden, 1},
      {tp_label(d.name, tp, "lm_head"), split(d.vocab, tp, d.name + " vocab"), d.hidden, 1},
  };
}

/// MLA's absorbed per-head batched GEMMs (DESIGN.md §5), batched over the rank's heads: W_UK folded into the
/// query (d_n → d_c per head) and W_UV applied to the latent output (d_c → d_v per head).
inline std::vector<GemmShape> mla_absorbed_bmm_shapes(const MlaModelDims& d, int tp) {
  const std::int64_t heads = detail::split(d.n_heads, tp, d.name + " heads");
  return {
      {detail::tp_label(d.name, tp, "bmm_w_uk"), d.kv_lora_rank, d.qk_nope_dim, heads},
      {detail::tp_label(d.name, tp, "bmm_w_uv"), d.v_head_dim, d.kv_lora_rank, heads},
  };
}

/// Merges families with the same (n, k, batch), joining their labels with '|'; keeps first-seen order.
inline std::vector<GemmShape> dedupe_shapes(const std::vector<GemmShape>& shapes) {
  std::vector<GemmShape> out;
  for (const GemmShape& s : shapes) {
    auto it = std::find_if(out.begin(), out.end(), [&](const GemmShape& o) {
      return o.n == s.n && o.k == s.k && o.batch == s.batch;
    });
    if (it == out.end()) {
      out.push_back(s);
    } else {
      it->label += "|" + s.label;
    }
  }
  return out;
}

/// Tensor-parallel degrees the probes cover for the dense models (one node of 8 GPUs).
inline std::vector<int> dense_tp_degrees() {
  return {1, 2, 4, 8};
}
/// TP degrees for DeepSeek-V3: one rank with all heads (DP attention) and TP 8 over a node.
inline std::vector<int> mla_tp_degrees() {
  return {1, 8};
}

/// The GEMM families the probe measures: Llama-3-8B and -70B at TP 1, 2, 4, 8; DeepSeek-V3's projections,
/// experts and absorbed BMMs at TP 1 and 8; duplicates merged.
inline std::vector<GemmShape> default_gemm_shapes() {
  std::vector<GemmShape> all;
  for (const DenseModelDims& d : {llama3_8b(), llama3_70b()}) {
    for (int tp : dense_tp_degrees()) {
      const auto s = dense_model_shapes(d, tp);
      all.insert(all.end(), s.begin(), s.end());
    }
  }
  const MlaModelDims v3 = deepseek_v3();
  for (int tp : mla_tp_degrees()) {
    const auto s = mla_model_shapes(v3, tp);
    all.insert(all.end(), s.begin(), s.end());
    const auto b = mla_absorbed_bmm_shapes(v3, tp);
    all.insert(all.end(), b.begin(), b.end());
  }
  return dedupe_shapes(all);
}

/// The small set `--quick` measures: Llama-3-70B at TP 8 and DeepSeek-V3's absorbed BMMs at TP 1.
inline std::vector<GemmShape> quick_gemm_shapes() {
  auto s = dense_model_shapes(llama3_70b(), 8);
  const auto b = mla_absorbed_bmm_shapes(deepseek_v3(), 1);
  s.insert(s.end(), b.begin(), b.end());
  return s;
}

/// m = 1, 2, 4, .., max_m (tokens per step, from one decode token to a large prefill chunk).
inline std::vector<std::int64_t> gemm_m_values(std::int64_t max_m = 8192) {
  std::vector<std::int64_t> out;
  for (std::int64_t m = 1; m <= max_m; m *= 2) out.push_back(m);
  return out;
}

/// FLOPs of one launch: 2·m·n·k per product (DESIGN.md §5), times the batch.
inline double gemm_flops(std::int64_t m, const GemmShape& s) {
  return 2.0 * static_cast<double>(m) * static_cast<double>(s.n) * static_cast<double>(s.k) *
         static_cast<double>(s.batch);
}

/// Fewest bytes one launch moves: W (k·n), X (m·k) and Y (m·n) once each (DESIGN.md §5), times the batch.
inline double gemm_bytes(std::int64_t m, const GemmShape& s, double in_bytes_per_elem,
                         double out_bytes_per_elem) {
  const auto mm = static_cast<double>(m), n = static_cast<double>(s.n), k = static_cast<double>(s.k);
  return static_cast<double>(s.batch) * ((k * n + mm * k) * in_bytes_per_elem + mm * n * out_bytes_per_elem);
}

// ---------------------------------------------------------------- bandwidth sweep

/// Working sets from `lo` to `hi` bytes, `count` points spaced geometrically, each rounded to a multiple of
/// 4 KiB (so a copy's two halves stay 16-byte aligned) and strictly increasing.
inline std::vector<std::int64_t> bandwidth_working_sets(std::int64_t lo = 64LL << 10,
                                                        std::int64_t hi = 4LL << 30, int count = 30) {
  if (count < 2 || lo < 4096 || hi <= lo) throw std::invalid_argument("bad working-set range");
  constexpr std::int64_t kAlign = 4096;
  std::vector<std::int64_t> out;
  const double ratio = std::pow(static_cast<double>(hi) / static_cast<double>(lo), 1.0 / (count - 1));
  for (int i = 0; i < count; ++i) {
    const double v = static_cast<double>(lo) * std::pow(ratio, i);
    std::int64_t ws = std::llround(v / kAlign) * kAlign;
    if (i == count - 1) ws = hi / kAlign * kAlign;
    if (!out.empty() && ws <= out.back()) ws = out.back() + kAlign;
    out.push_back(ws);
  }
  return out;
}

/// Grid sizes: ¼, ½, 1, 2, 4 and 8 CTAs per SM (at least 1 CTA).
inline std::vector<int> bandwidth_grid_sizes(int sms) {
  if (sms < 1) throw std::invalid_argument("SM count must be >= 1");
  std::vector<int> out;
  for (int eighths : {2, 4, 8, 16, 32, 64}) {
    const int g = std::max(1, sms * eighths / 8);
    if (out.empty() || g != out.back()) out.push_back(g);
  }
  return out;
}

/// Threads per CTA of the bandwidth kernels: 4 CTAs per SM fill a Hopper SM (2048 threads, H100 and H200
/// alike) at 8× SMs.
inline constexpr int kBandwidthBlock = 512;

/// Memory level a working set is served from when warm: "l2" when it fits in the L2 (read off the device),
/// "hbm" otherwise. Working sets below the L2 are also timed right after a flush and labelled "cold".
inline const char* memory_level(std::int64_t working_set_bytes, std::int64_t l2_bytes) {
  return working_set_bytes < l2_bytes ? "l2" : "hbm";
}

/// Bandwidth kernels: how many bytes one launch moves for a working set (the bytes it allocates and touches).
enum class BandwidthKernel { kRead, kCopy, kReadModifyWrite };
inline const char* to_string(BandwidthKernel k) {
  switch (k) {
    case BandwidthKernel::kRead:
      return "read";
    case BandwidthKernel::kCopy:
      return "copy";
    case BandwidthKernel::kReadModifyWrite:
      return "rmw";
  }
  return "?";
}
/// read: the set once; copy: half read + half written = the set; rmw: the set read and written back.
inline double bandwidth_bytes_moved(BandwidthKernel k, std::int64_t working_set_bytes) {
  const auto ws = static_cast<double>(working_set_bytes);
  return k == BandwidthKernel::kReadModifyWrite ? 2.0 * ws : ws;
}

// ---------------------------------------------------------------- output

/// Columns of every probe CSV (bandwidth.csv, gemm.csv, launch.csv); sim/calibration/probe_csv.cpp reads
/// them.
inline std::vector<std::string> probe_csv_columns() {
  return {"probe",  "kernel", "shape", "level", "dtype", "working_set_bytes", "m",     "n",    "k",
          "batch",  "bytes",  "flops", "grid",  "block", "median_s",          "p90_s", "gbps", "tflops",
          "repeats"};
}

/// One measured point, as written to the probe CSVs (columns: probe_csv_columns()).
struct MeasuredPoint {
  std::string probe, kernel, shape, level = "-", dtype = "-";
  std::int64_t working_set_bytes = 0, m = 0, n = 0, k = 0, batch = 0;
  double bytes = 0.0, flops = 0.0;
  std::int64_t grid = 0, block = 0;
  TimingStats time;
};

/// Writes one probe CSV row (the GPU program, and host code that writes the same format).
inline void write_probe_row(CsvWriter& csv, const MeasuredPoint& p) {
  const double gbps = p.bytes / p.time.median_s * 1e-9;
  const double tflops = p.flops / p.time.median_s * 1e-12;
  csv.cell(p.probe)
      .cell(p.kernel)
      .cell(p.shape)
      .cell(p.level)
      .cell(p.dtype)
      .cell(p.working_set_bytes)
      .cell(p.m)
      .cell(p.n)
      .cell(p.k)
      .cell(p.batch)
      .cell(p.bytes)
      .cell(p.flops)
      .cell(p.grid)
      .cell(p.block)
      .cell(p.time.median_s)
      .cell(p.time.p90_s)
      .cell(gbps)
      .cell(tflops)
      .cell(p.time.repeats);
  csv.end_row();
}

// ---------------------------------------------------------------- run-time estimate

/// Rough rates for the estimate (H100 SXM-like, so conservative for an H200, whose HBM is ~1.4x faster and
/// whose dense bf16/fp8 peaks are the same; only the time budget depends on them, never a measurement).
struct EstimateRates {
  double bf16_flop_per_s = 600e12;    ///< achieved large-GEMM bf16 rate
  double fp8_flop_per_s = 1100e12;    ///< achieved large-GEMM fp8 rate
  double hbm_bytes_per_s = 2.8e12;    ///< achieved HBM bandwidth
  double per_run_overhead_s = 60e-6;  ///< L2 flush (a memset of 2×L2) + event sync + launch, per timed run
};

/// Timed runs per GEMM point: the probe's warm-up + pilot + repeats (see gemm_probe.cu), repeats chosen so
/// one point takes about `kGemmTargetSeconds`, between kGemmMinRepeats and kGemmMaxRepeats.
inline constexpr int kGemmWarmup = 2;
inline constexpr int kGemmPilot = 3;
inline constexpr int kGemmMinRepeats = 5;
inline constexpr int kGemmMaxRepeats = 25;
inline constexpr double kGemmTargetSeconds = 0.02;
inline int gemm_repeats_for(double pilot_s) {
  const double r = std::ceil(kGemmTargetSeconds / std::max(pilot_s, 1e-9));
  return static_cast<int>(
      std::clamp(r, static_cast<double>(kGemmMinRepeats), static_cast<double>(kGemmMaxRepeats)));
}

/// Estimated seconds of device work for the GEMM sweep: every shape × m × dtype, each run
/// max(FLOPs/rate, bytes/BW) plus the per-run overhead, times warm-up + pilot + repeats.
inline double estimate_gemm_seconds(const std::vector<GemmShape>& shapes, const std::vector<std::int64_t>& ms,
                                    bool fp8, const EstimateRates& r = {}) {
  double total = 0.0;
  for (const GemmShape& s : shapes) {
    for (std::int64_t m : ms) {
      for (int dt = 0; dt < (fp8 ? 2 : 1); ++dt) {
        const double rate = dt == 0 ? r.bf16_flop_per_s : r.fp8_flop_per_s;
        const double elem = dt == 0 ? 2.0 : 1.0;
        const double t = std::max(gemm_flops(m, s) / rate, gemm_bytes(m, s, elem, 2.0) / r.hbm_bytes_per_s);
        const int runs = kGemmWarmup + kGemmPilot + gemm_repeats_for(t);
        total += runs * (t + r.per_run_overhead_s);
      }
    }
  }
  return total;
}

/// Estimated seconds for the bandwidth sweep: 3 kernels × grids × (working sets, plus the cold re-run of the
/// L2-resident ones), warm-up + repeats per point.
inline double estimate_bandwidth_seconds(const std::vector<std::int64_t>& working_sets, int n_grids,
                                         std::int64_t l2_bytes, int warmup, int repeats,
                                         const EstimateRates& r = {}) {
  double total = 0.0;
  for (std::int64_t ws : working_sets) {
    const int levels = ws < l2_bytes ? 2 : 1;
    const double t =
        3.0 * static_cast<double>(ws) / r.hbm_bytes_per_s;  // read + copy + rmw (2×) ≈ 4 ws; 3 is
                                                            // a fair mean with the L2 ones faster
    total += levels * n_grids * (warmup + repeats) * (t + r.per_run_overhead_s);
  }
  return total;
}

}  // namespace mlasim::gpu
