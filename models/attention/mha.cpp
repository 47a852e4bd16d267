// MHA, GQA and MQA: one model parameterised by n_kv (DESIGN.md §5).
#include "models/attention/attention.hpp"

namespace mlasim::attention::mha {

double parameters_per_layer(const ModelSpec& m, const Shard& s) {
  const double h = m.hidden_size;
  const double d = m.attention.head_dim;
  return h * (s.n_h + 2.0 * s.n_kv) * d + s.n_h * d * h;  // qkv projection, output projection
}

double kv_elements_per_token(const ModelSpec& m, const Shard& s) {
  return 2.0 * s.n_kv * m.attention.head_dim;  // DeepSeek-V2 Table 1: 2·n_kv·d_h
}

void add_ops(detail::OpWriter& b, const ModelSpec& m, const Shard& s, const detail::AttentionWork& w) {
  const double h = m.hidden_size;
  const double d = m.attention.head_dim;
  const double layers = w.layers;
  const double t = w.tokens;
  b.gemm("qkv_proj", layers, t, h, (s.n_h + 2.0 * s.n_kv) * d);
  {
    Op& op = b.add("rope_kv_append", OpClass::kOther, layers);
    op.flops = layers * 3.0 * t * (s.n_h + s.n_kv) * d;
    op.activation_bytes = layers * t * ((s.n_h + 2.0 * s.n_kv) * d + s.n_h * d) * b.a();
    op.kv_write_bytes = layers * t * 2.0 * s.n_kv * d * b.c();
  }
  // Attention core (DESIGN.md §5): FLOPs 4·n_h·d_h·pairs; bytes 2·n_kv·d_h·c·ΣL plus Q and O.
  auto core = [&](const char* name, const detail::SeqSums& ss) {
    if (ss.empty()) return;
    Op& op = b.add(name, OpClass::kAttention, layers);
    op.flops = layers * 4.0 * s.n_h * d * ss.pairs;
    op.kv_read_bytes = layers * 2.0 * s.n_kv * d * b.c() * ss.context;
    op.activation_bytes = layers * 2.0 * ss.tokens * s.n_h * d * b.a();
    op.gemm_m = ss.tokens;
    op.attention = AttentionCall{false,     ss.prefill, ss.mixed(), ss.sequences, ss.context,
                                 ss.tokens, s.n_h,      s.n_kv,     int(d),       int(d)};
  };
  core("attention_decode", w.decode);
  core("attention_prefill", w.prefill);
  b.gemm("o_proj", layers, t, s.n_h * d, h);
  b.collective(w.comm == Collective::kReduceScatter ? "reducescatter_attn" : "allreduce_attn", layers, w.comm,
               t * h * b.a(), w.comm_ranks);
}

}  // namespace mlasim::attention::mha
