#pragma once
/// Model specs: plain, validated data describing a transformer as its published config does. The config
/// loader builds these from model cards (models/cards/*.yaml) or Hugging Face config.json; tests build them
/// in C++. Nothing here knows YAML.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/precision.hpp"

namespace mlasim {

/// Largest width (hidden size, head size, FFN width, ...) a spec may have; beyond it a value is a typo, not a
/// model. 4 × kMaxModelDim still fits an int.
inline constexpr int kMaxModelDim = 1 << 20;

/// Attention variant. MHA, GQA and MQA share one cost model (n_kv_heads); MLA has its own.
enum class AttentionKind { kMha, kGqa, kMqa, kMla };

/// "mha", "gqa", "mqa", "mla".
[[nodiscard]] std::string_view to_string(AttentionKind kind);

/// Attention of one layer. Head counts are for the whole model (before tensor parallelism).
struct AttentionSpec {
  AttentionKind kind = AttentionKind::kMha;
  int n_heads = 0;     ///< query heads n_h
  int n_kv_heads = 0;  ///< key/value heads n_kv (MHA: n_h, MQA: 1); MLA: 1 latent head
  int head_dim = 0;    ///< d_h for MHA/GQA/MQA; unused for MLA

  // MLA only (DeepSeek-V2 paper §2.1): the cache holds the latent c (d_c) and one shared rope key (d_r).
  int kv_lora_rank = 0;      ///< d_c
  int q_lora_rank = 0;       ///< r_q; 0 = the query is one projection hidden -> n_h·(d_n + d_r)
  int qk_rope_head_dim = 0;  ///< d_r
  int qk_nope_head_dim = 0;  ///< d_n
  int v_head_dim = 0;        ///< d_v

  /// Sliding-window attention (Mistral-7B, Qwen2 with use_sliding_window): each query attends to at most the
  /// last `sliding_window` tokens, so a sequence caches and reads at most that many; 0 = full attention.
  int sliding_window = 0;

  /// KV-cache elements per token per layer (DeepSeek-V2 Table 1): 2·n_kv·d_h, or d_c + d_r for MLA.
  [[nodiscard]] std::int64_t kv_elements_per_token() const;
  /// Query/key dimension of one head: d_h, or d_n + d_r for MLA.
  [[nodiscard]] int qk_head_dim() const;
  /// Value dimension of one head: d_h, or d_v for MLA.
  [[nodiscard]] int v_dim() const;
  /// Tokens of a `context`-token sequence held in the KV cache and read by one decode query: the context,
  /// capped at the sliding window when there is one.
  [[nodiscard]] std::int64_t attended_tokens(std::int64_t context) const;
};

/// Mixture of experts (DeepSeekMoE): shared experts always run, top-k of the routed experts per token.
struct MoeSpec {
  int n_routed_experts = 0;          ///< E; 0 = dense model
  int n_shared_experts = 0;          ///< always-active experts, each expert_intermediate_size wide
  int experts_per_token = 0;         ///< top-k
  int expert_intermediate_size = 0;  ///< SwiGLU inner width of one expert
  int first_k_dense = 0;             ///< the first k layers use the dense FFN instead
};

/// The dense FFN's form.
enum class FfnActivation {
  kSwiGlu,  ///< gate and up (hidden -> inter), SiLU(gate)·up, down (inter -> hidden): Llama, Mistral, Qwen,
            ///< DeepSeek
  kGelu,    ///< up (hidden -> inter), GELU, down (inter -> hidden): Falcon, GPT-2
};
[[nodiscard]] std::string_view to_string(FfnActivation a);

/// Feed-forward (SwiGLU or GELU MLP), dense or MoE (experts are SwiGLU).
struct FfnSpec {
  int intermediate_size = 0;  ///< dense FFN inner width (also used by MoE models' first_k_dense layers)
  FfnActivation activation = FfnActivation::kSwiGlu;
  /// Weight matrices of the dense FFN: 3 for SwiGLU, 2 for a GELU MLP.
  [[nodiscard]] int dense_matrices() const { return activation == FfnActivation::kGelu ? 2 : 3; }
  MoeSpec moe;
  [[nodiscard]] bool is_moe() const { return moe.n_routed_experts > 0; }
};

/// A whole decoder-only model.
struct ModelSpec {
  std::string name;    ///< e.g. "DeepSeek-V3"
  std::string source;  ///< where the numbers come from (URL of the published config.json)
  int n_layers = 0;
  int hidden_size = 0;
  int vocab_size = 0;
  bool tie_word_embeddings = false;
  /// The dtype the checkpoint stores its weights in (an HF config's quantization_config or torch_dtype),
  /// which runs use unless told otherwise; nullopt = not declared (runs default to bf16).
  std::optional<Dtype> weights_dtype;
  AttentionSpec attention;
  FfnSpec ffn;

  /// Layers that use the dense FFN (all of them for a dense model).
  [[nodiscard]] int dense_layers() const { return ffn.is_moe() ? ffn.moe.first_k_dense : n_layers; }
  /// Layers that use the MoE FFN.
  [[nodiscard]] int moe_layers() const { return n_layers - dense_layers(); }
};

/// Checks a spec for impossible values. Returns the problems found, each as (key path, message), empty if
/// the spec is valid. The config loader turns these into located errors.
struct SpecProblem {
  std::string key_path;
  std::string message;
};
[[nodiscard]] std::vector<SpecProblem> validate(const ModelSpec& spec);

/// Parameter counts (elements, not bytes).
struct ParameterCount {
  double total = 0.0;                ///< every weight of the model
  double activated = 0.0;            ///< what one token's forward pass reads: shared weights + top-k experts
  double embedding = 0.0;            ///< input embedding table
  double lm_head = 0.0;              ///< output projection (0 extra when tied)
  double attention_per_layer = 0.0;  ///< projections of one layer
};
/// Counted by the one per-GPU formula (models/workload.hpp, parameters_per_gpu) at a one-GPU layout.
[[nodiscard]] ParameterCount count_parameters(const ModelSpec& spec);

}  // namespace mlasim
