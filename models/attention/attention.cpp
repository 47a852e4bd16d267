#include "models/attention/attention.hpp"

#include <fmt/format.h>

#include "sim/error.hpp"

namespace mlasim::attention {

Shard shard(const ModelSpec& m, int tp) {
  const AttentionSpec& a = m.attention;
  if (tp < 1) throw InputError(fmt::format("tp must be at least 1, got {}", tp));
  if (a.n_heads % tp != 0) {
    throw InputError(fmt::format("tp ({}) must divide the {} attention heads of {}", tp, a.n_heads, m.name));
  }
  Shard s;
  s.n_h = double(a.n_heads) / tp;
  if (a.kind == AttentionKind::kMla) {
    s.n_kv = 1;  // one latent head, replicated on every rank (DESIGN.md §5)
  } else if (a.n_kv_heads >= tp) {
    if (a.n_kv_heads % tp != 0) {
      throw InputError(fmt::format("tp ({}) must divide the {} KV heads of {}", tp, a.n_kv_heads, m.name));
    }
    s.n_kv = double(a.n_kv_heads) / tp;
  } else {
    s.n_kv = 1;  // fewer KV heads than ranks: each rank keeps a copy of its group's head (vLLM replicates)
  }
  return s;
}

double parameters_per_layer(const ModelSpec& m, int attention_tp) {
  const Shard s = shard(m, attention_tp);
  return m.attention.kind == AttentionKind::kMla ? mla::parameters_per_layer(m, s)
                                                 : mha::parameters_per_layer(m, s);
}

double kv_elements_per_token(const ModelSpec& m, int attention_tp) {
  const Shard s = shard(m, attention_tp);
  return m.attention.kind == AttentionKind::kMla ? mla::kv_elements_per_token(m, s)
                                                 : mha::kv_elements_per_token(m, s);
}

void add_ops(detail::OpWriter& out, const ModelSpec& m, const Shard& s, const detail::AttentionWork& work) {
  if (m.attention.kind == AttentionKind::kMla) {
    mla::add_ops(out, m, s, work);
  } else {
    mha::add_ops(out, m, s, work);
  }
}

}  // namespace mlasim::attention
