#pragma once
/// The attention families (DESIGN.md §3, §5): each family owns, in its own file, what its attention caches
/// per token, its weights (one formula: per GPU at an attention-TP degree; the whole model at degree 1) and
/// the ops one step runs. This header dispatches on AttentionKind:
///   - mha.cpp: MHA, GQA and MQA (one model, parameterised by n_kv);
///   - mla.cpp: Multi-head Latent Attention (absorbed and naive forms).
/// A new family is one new file, an AttentionKind value, the cases below, and its loader keys.
#include <cstdint>

#include "models/model_spec.hpp"
#include "models/op_builder.hpp"

namespace mlasim::attention {

/// Heads on one GPU when the heads are split `attention_tp` ways.
struct Shard {
  double n_h = 0;   ///< query heads on this GPU
  double n_kv = 0;  ///< KV heads on this GPU (replicated when n_kv < tp; MLA: 1 latent head, replicated)
};
/// Throws InputError when `attention_tp` does not divide the heads.
[[nodiscard]] Shard shard(const ModelSpec& model, int attention_tp);

/// Weights of one layer's attention on one GPU (projections and the attention's own norms), elements; at
/// attention_tp 1, the whole layer's.
[[nodiscard]] double parameters_per_layer(const ModelSpec& model, int attention_tp);

/// KV-cache elements one GPU holds per token per layer for a sequence it attends to (KV heads split by the
/// attention TP; MLA's latent replicated on every rank).
[[nodiscard]] double kv_elements_per_token(const ModelSpec& model, int attention_tp);

/// Appends one step's attention ops (all layers) for `work` on one GPU.
void add_ops(detail::OpWriter& out, const ModelSpec& model, const Shard& shard,
             const detail::AttentionWork& work);

// The families, one file each.
namespace mha {
[[nodiscard]] double parameters_per_layer(const ModelSpec& model, const Shard& shard);
[[nodiscard]] double kv_elements_per_token(const ModelSpec& model, const Shard& shard);
void add_ops(detail::OpWriter& out, const ModelSpec& model, const Shard& shard,
             const detail::AttentionWork& work);
}  // namespace mha
namespace mla {
[[nodiscard]] double parameters_per_layer(const ModelSpec& model, const Shard& shard);
[[nodiscard]] double kv_elements_per_token(const ModelSpec& model, const Shard& shard);
void add_ops(detail::OpWriter& out, const ModelSpec& model, const Shard& shard,
             const detail::AttentionWork& work);
}  // namespace mla

}  // namespace mlasim::attention
