#include "sim/device/capacity.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "models/workload.hpp"
#include "sim/error.hpp"
#include "sim/units.hpp"

namespace mlasim {

int effective_block_size(const ModelSpec& model, const CapacityOptions& opt) {
  if (opt.block_size > 0) return opt.block_size;
  // FlashMLA pages the latent cache in blocks of 64 tokens; vLLM's default block is 16 tokens.
  return model.attention.kind == AttentionKind::kMla ? 64 : 16;
}

namespace {

double activation_workspace_bytes(const ModelSpec& m, const Precision& p, const Parallelism& parallel,
                                  const CapacityOptions& opt) {
  // Peak live activations of one forward pass over max_batched_tokens: residual, normed input, the widest
  // projection output (FFN gate+up, or the MoE experts' inputs), plus fp32 logits of the sampled tokens.
  const int tp = parallel.tp;
  const double a = dtype_bytes(p.activations);
  const double t = double(opt.max_batched_tokens);
  double ffn_width = (m.ffn.dense_matrices() - 1.0) * m.ffn.intermediate_size / tp;
  if (m.ffn.is_moe()) {
    const MoeSpec& e = m.ffn.moe;
    ffn_width = std::max(ffn_width, 3.0 * e.experts_per_token * double(e.expert_intermediate_size) / tp);
  }
  const double qkv =
      double(m.attention.n_heads) / parallel.attention_tp() * 3.0 * std::max(m.attention.qk_head_dim(), 1);
  const double per_token = (4.0 * m.hidden_size + std::max(ffn_width, qkv)) * a;
  const double logits = 256.0 * double(m.vocab_size) / tp * 4.0;  // up to 256 sampled rows in fp32
  return t * per_token + logits;
}

}  // namespace

Capacity compute_capacity(const ModelSpec& model, const HardwareSpec& hw, const Precision& precision,
                          const Parallelism& parallel, const CapacityOptions& opt) {
  if (!(opt.gpu_memory_utilization > 0.0 && opt.gpu_memory_utilization <= 1.0)) {
    throw InputError(
        fmt::format("gpu_memory_utilization must be in (0, 1], got {}", opt.gpu_memory_utilization));
  }
  Capacity c;
  c.hbm_bytes = hw.hbm_bytes;
  c.usable_bytes = hw.hbm_bytes * opt.gpu_memory_utilization;
  c.weight_bytes_per_gpu = weight_bytes_per_gpu(model, precision.weights, parallel);
  c.activation_workspace_bytes = activation_workspace_bytes(model, precision, parallel, opt);
  c.runtime_reserve_bytes = opt.runtime_reserve_bytes;
  // DESIGN.md §7: KV budget = HBM × utilisation − weights − activation workspace − runtime reserve.
  c.kv_budget_bytes =
      c.usable_bytes - c.weight_bytes_per_gpu - c.activation_workspace_bytes - c.runtime_reserve_bytes;
  c.kv_bytes_per_token_per_gpu = kv_bytes_per_token_per_gpu(model, precision.kv_cache, parallel);
  c.block_size = effective_block_size(model, opt);
  c.kv_window_tokens = model.attention.sliding_window;
  c.kv_pools = parallel.attention_dp();
  if (c.kv_budget_bytes > 0.0) {
    c.kv_blocks_per_pool = static_cast<std::int64_t>(
        std::floor(c.kv_budget_bytes / (c.block_size * c.kv_bytes_per_token_per_gpu)));
  }
  return c;
}

std::int64_t kv_cached_tokens(const Capacity& cap, std::int64_t context) {
  // Mistral-7B paper §2 (rolling buffer cache): a sliding-window layer keeps only the last W tokens.
  return cap.kv_window_tokens > 0 ? std::min(context, cap.kv_window_tokens) : context;
}

std::int64_t max_concurrency(const Capacity& cap, std::int64_t context) {
  if (context <= 0 || cap.kv_blocks_per_pool <= 0) return 0;
  // DESIGN.md §7: blocks / ceil(L / block_size), per pool (a sequence never spans two pools).
  const std::int64_t cached = kv_cached_tokens(cap, context);
  const std::int64_t blocks_per_seq = (cached + cap.block_size - 1) / cap.block_size;
  return cap.kv_pools * (cap.kv_blocks_per_pool / blocks_per_seq);
}

double kv_bytes_per_sequence_per_gpu(const ModelSpec& model, Dtype kv_dtype, const Parallelism& parallel,
                                     std::int64_t context) {
  return double(model.attention.attended_tokens(context)) *
         kv_bytes_per_token_per_gpu(model, kv_dtype, parallel);
}

std::optional<int> smallest_fitting_tp(const ModelSpec& model, const HardwareSpec& hw,
                                       const Precision& precision, std::int64_t context, bool dp_attention,
                                       const CapacityOptions& opt) {
  for (int tp = 1; tp <= 64; tp *= 2) {
    if (!dp_attention && model.attention.n_heads % tp != 0) continue;
    const Capacity c = compute_capacity(model, hw, precision, Parallelism{tp, dp_attention}, opt);
    if (max_concurrency(c, context) >= 1) return tp;
  }
  return std::nullopt;
}

std::string explain_no_fit(const ModelSpec& model, const HardwareSpec& hw, const Precision& precision,
                           const Parallelism& parallel, std::int64_t context, const CapacityOptions& opt) {
  const Capacity c = compute_capacity(model, hw, precision, parallel, opt);
  std::string s = fmt::format(
      "{} does not fit on {} x {} at {} tokens of context:\n"
      "  HBM {} x utilisation {} = {} usable per GPU\n"
      "  weights per GPU ({}, TP {}{}) {}\n"
      "  activation workspace {}, runtime reserve {}\n"
      "  KV budget {} for {} per token per GPU ({} needed for one sequence)",
      model.name, parallel.tp, hw.name, context, format_si(c.hbm_bytes, "B"), opt.gpu_memory_utilization,
      format_si(c.usable_bytes, "B"), to_string(precision.weights), parallel.tp,
      parallel.dp_attention ? ", DP-attention" : "", format_si(c.weight_bytes_per_gpu, "B"),
      format_si(c.activation_workspace_bytes, "B"), format_si(c.runtime_reserve_bytes, "B"),
      format_si(c.kv_budget_bytes, "B"), format_bytes_binary(c.kv_bytes_per_token_per_gpu),
      format_si(double(kv_cached_tokens(c, context)) * c.kv_bytes_per_token_per_gpu, "B"));
  if (const auto fit = smallest_fitting_tp(model, hw, precision, context, parallel.dp_attention, opt)) {
    s += fmt::format("\n  smallest TP that fits: {} (--tp {})", *fit, *fit);
  } else {
    s += "\n  no TP up to 64 fits on this GPU";
  }
  return s;
}

}  // namespace mlasim
