#include "models/model_spec.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace mlasim {

std::string_view to_string(AttentionKind kind) {
  switch (kind) {
    case AttentionKind::kMha:
      return "mha";
    case AttentionKind::kGqa:
      return "gqa";
    case AttentionKind::kMqa:
      return "mqa";
    case AttentionKind::kMla:
      return "mla";
  }
  return "?";
}

std::string_view to_string(FfnActivation a) {
  return a == FfnActivation::kGelu ? "gelu" : "swiglu";
}

std::int64_t AttentionSpec::kv_elements_per_token() const {
  // DeepSeek-V2 paper, Table 1: MHA 2·n_h·d_h, GQA 2·n_g·d_h, MQA 2·d_h, MLA (d_c + d_R).
  if (kind == AttentionKind::kMla) return std::int64_t{kv_lora_rank} + qk_rope_head_dim;
  return std::int64_t{2} * n_kv_heads * head_dim;
}

int AttentionSpec::qk_head_dim() const {
  return kind == AttentionKind::kMla ? qk_nope_head_dim + qk_rope_head_dim : head_dim;
}

int AttentionSpec::v_dim() const {
  return kind == AttentionKind::kMla ? v_head_dim : head_dim;
}

std::int64_t AttentionSpec::attended_tokens(std::int64_t context) const {
  // Mistral-7B paper §2: with window W a token attends to at most W tokens, and a rolling buffer of W entries
  // holds the cache.
  return sliding_window > 0 ? std::min<std::int64_t>(context, sliding_window) : context;
}

namespace {

// Largest values accepted for any size; beyond these a value is a typo, not a model.
constexpr int kMaxDim = kMaxModelDim;
constexpr int kMaxLayers = 10'000;
constexpr int kMaxHeads = 65'536;
constexpr int kMaxVocab = 1 << 24;
constexpr int kMaxWindow = 1 << 30;  // tokens

void check_range(std::vector<SpecProblem>& out, const std::string& key, long long value, long long lo,
                 long long hi) {
  if (value < lo) {
    out.push_back({key, lo == 1 ? fmt::format("must be positive, got {}", value)
                                : fmt::format("must be at least {}, got {}", lo, value)});
  } else if (value > hi) {
    out.push_back({key, fmt::format("({}) is absurdly large (limit {})", value, hi)});
  }
}

}  // namespace

std::vector<SpecProblem> validate(const ModelSpec& m) {
  std::vector<SpecProblem> out;
  check_range(out, "layers", m.n_layers, 1, kMaxLayers);
  check_range(out, "hidden_size", m.hidden_size, 1, kMaxDim);
  check_range(out, "vocab_size", m.vocab_size, 1, kMaxVocab);

  const AttentionSpec& a = m.attention;
  check_range(out, "attention.n_heads", a.n_heads, 1, kMaxHeads);
  check_range(out, "attention.sliding_window", a.sliding_window, 0, kMaxWindow);
  if (a.kind == AttentionKind::kMla) {
    if (a.kv_lora_rank <= 0) {
      out.push_back({"attention.kv_lora_rank", "MLA needs kv_lora_rank (the latent width d_c) > 0"});
    } else {
      check_range(out, "attention.kv_lora_rank", a.kv_lora_rank, 1, kMaxDim);
    }
    check_range(out, "attention.qk_rope_head_dim", a.qk_rope_head_dim, 1, kMaxDim);
    check_range(out, "attention.qk_nope_head_dim", a.qk_nope_head_dim, 1, kMaxDim);
    check_range(out, "attention.v_head_dim", a.v_head_dim, 1, kMaxDim);
    check_range(out, "attention.q_lora_rank", a.q_lora_rank, 0, kMaxDim);
  } else {
    check_range(out, "attention.n_kv_heads", a.n_kv_heads, 1, kMaxHeads);
    check_range(out, "attention.head_dim", a.head_dim, 1, kMaxDim);
    if (a.n_heads > 0 && a.n_kv_heads > 0) {
      if (a.n_kv_heads > a.n_heads) {
        out.push_back({"attention.n_kv_heads",
                       fmt::format("({}) cannot exceed n_heads ({})", a.n_kv_heads, a.n_heads)});
      } else if (a.n_heads % a.n_kv_heads != 0) {
        out.push_back(
            {"attention.n_kv_heads", fmt::format("({}) must divide n_heads ({})", a.n_kv_heads, a.n_heads)});
      }
      if (a.kind == AttentionKind::kMha && a.n_kv_heads != a.n_heads) {
        out.push_back(
            {"attention.n_kv_heads", fmt::format("MHA has n_kv_heads = n_heads ({}), got {}; use variant gqa",
                                                 a.n_heads, a.n_kv_heads)});
      }
      if (a.kind == AttentionKind::kMqa && a.n_kv_heads != 1) {
        out.push_back({"attention.n_kv_heads", fmt::format("MQA has one KV head, got {}", a.n_kv_heads)});
      }
    }
  }

  const FfnSpec& f = m.ffn;
  if (!f.is_moe() || f.moe.first_k_dense > 0)
    check_range(out, "ffn.intermediate_size", f.intermediate_size, 1, kMaxDim);
  if (f.is_moe()) {
    const MoeSpec& e = f.moe;
    check_range(out, "ffn.moe.n_routed_experts", e.n_routed_experts, 1, 1 << 16);
    check_range(out, "ffn.moe.n_shared_experts", e.n_shared_experts, 0, 1 << 10);
    check_range(out, "ffn.moe.experts_per_token", e.experts_per_token, 1, 1 << 16);
    check_range(out, "ffn.moe.expert_intermediate_size", e.expert_intermediate_size, 1, kMaxDim);
    check_range(out, "ffn.moe.first_k_dense", e.first_k_dense, 0, kMaxLayers);
    if (e.experts_per_token > e.n_routed_experts && e.n_routed_experts > 0) {
      out.push_back({"ffn.moe.experts_per_token", fmt::format("({}) cannot exceed n_routed_experts ({})",
                                                              e.experts_per_token, e.n_routed_experts)});
    }
    if (e.first_k_dense > m.n_layers && m.n_layers > 0) {
      out.push_back({"ffn.moe.first_k_dense",
                     fmt::format("({}) cannot exceed layers ({})", e.first_k_dense, m.n_layers)});
    }
  }
  return out;
}

}  // namespace mlasim
