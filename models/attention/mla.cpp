// Multi-head Latent Attention (DeepSeek-V2 §2.1; DESIGN.md §5): the cache holds the latent c (d_c) and one
// shared rope key (d_r); decode runs it absorbed (MQA over one latent head), prefill naive.
#include "models/attention/attention.hpp"

namespace mlasim::attention::mla {

double parameters_per_layer(const ModelSpec& m, const Shard& s) {
  const AttentionSpec& a = m.attention;
  const double h = m.hidden_size;
  const double qk = a.qk_nope_head_dim + a.qk_rope_head_dim;
  // Query: q_a (replicated) + its RMSNorm + q_b (heads split), or one projection without q_lora.
  const double q =
      a.q_lora_rank > 0 ? h * a.q_lora_rank + a.q_lora_rank + a.q_lora_rank * s.n_h * qk : h * s.n_h * qk;
  const double kv_a = h * (a.kv_lora_rank + a.qk_rope_head_dim) + a.kv_lora_rank;  // replicated, + kv norm
  const double kv_b = double(a.kv_lora_rank) * s.n_h * (a.qk_nope_head_dim + a.v_head_dim);
  const double o = s.n_h * a.v_head_dim * h;
  return q + kv_a + kv_b + o;
}

double kv_elements_per_token(const ModelSpec& m, const Shard&) {
  // DeepSeek-V2 Table 1: d_c + d_r, replicated on every rank (the latent is not split by heads).
  return double(m.attention.kv_lora_rank) + m.attention.qk_rope_head_dim;
}

void add_ops(detail::OpWriter& b, const ModelSpec& m, const Shard& s, const detail::AttentionWork& w) {
  const AttentionSpec& at = m.attention;
  const double h = m.hidden_size;
  const double dc = at.kv_lora_rank, dr = at.qk_rope_head_dim, dn = at.qk_nope_head_dim, dv = at.v_head_dim;
  const double nh = s.n_h;
  const double layers = w.layers;
  const double t = w.tokens;
  detail::SeqSums absorbed, naive;
  switch (w.mla_mode) {
    case MlaMode::kAbsorbed:
      absorbed.merge(w.decode), absorbed.merge(w.prefill);
      break;
    case MlaMode::kNaive:
      naive.merge(w.decode), naive.merge(w.prefill);
      break;
    case MlaMode::kAuto:  // engines: absorbed for decode, naive for prefill
      absorbed.merge(w.decode), naive.merge(w.prefill);
      break;
  }
  // Query path: q_a (replicated, as vLLM's fused_qkv_a_proj) -> norm -> q_b (heads split), or one projection.
  if (at.q_lora_rank > 0) {
    const double rq = at.q_lora_rank;
    b.gemm("q_a_proj", layers, t, h, rq);
    b.elementwise("q_a_norm", layers, 4.0 * t * rq, t * rq, t * rq);
    b.gemm("q_b_proj", layers, t, rq, nh * (dn + dr));
  } else {
    b.gemm("q_proj", layers, t, h, nh * (dn + dr));
  }
  b.gemm("kv_a_proj", layers, t, h, dc + dr);  // replicated: every rank needs the whole latent
  {
    Op& op = b.add("kv_norm_rope_append", OpClass::kOther, layers);
    op.flops = layers * (4.0 * t * dc + 3.0 * t * (nh + 1.0) * dr);
    op.activation_bytes = layers * t * (dc + dr + nh * dr) * b.a();
    op.kv_write_bytes = layers * t * (dc + dr) * b.c();
  }
  if (!absorbed.empty()) {
    const double ta = absorbed.tokens;
    // W_UK folded into the query: T·n_h small GEMMs d_n -> d_c (DeepSeek-V2 §2.1.2, "absorbed").
    b.bmm("q_absorb_bmm", layers, nh, ta, dn, dc);
    // MQA over one latent head: K = [c; k_r] (d_c + d_r wide), V = c (d_c wide).
    // FLOPs 2·n_h·pairs·(d_c + d_r + d_c); bytes (d_c + d_r)·c·ΣL + Q (d_c + d_r) + O (d_c) per head-token:
    // FlashMLA's benchmark counting when a = c = 2 bytes.
    Op& op = b.add("attention_decode_mla_absorbed", OpClass::kAttention, layers);
    op.flops = layers * 2.0 * nh * absorbed.pairs * (dc + dr + dc);
    op.kv_read_bytes = layers * (dc + dr) * b.c() * absorbed.context;
    op.activation_bytes = layers * ta * nh * ((dc + dr) + dc) * b.a();
    op.gemm_m = ta;
    op.attention =
        AttentionCall{true, absorbed.prefill, absorbed.mixed(), absorbed.sequences, absorbed.context, ta, nh,
                      1.0,  int(dc + dr),     int(dc)};
    // W_UV per head: d_c -> d_v.
    b.bmm("v_up_bmm", layers, nh, ta, dc, dv);
  }
  if (!naive.empty()) {
    // Naive: up-project every cached latent to per-head K_nope and V (2·ΣL·d_c·n_h·(d_n + d_v) FLOPs), then
    // MHA-style attention with qk dim d_n + d_r and v dim d_v.
    Op& up = b.add("kv_b_proj_context", OpClass::kGemm, layers);
    up.flops = layers * 2.0 * naive.context * dc * nh * (dn + dv);
    up.weight_bytes = layers * dc * nh * (dn + dv) * b.w();
    up.kv_read_bytes = layers * naive.context * dc * b.c();
    up.activation_bytes = layers * naive.context * nh * (dn + dv) * b.a();
    up.gemm_m = naive.context;
    up.gemm_n = nh * (dn + dv);
    up.gemm_k = dc;
    Op& op = b.add("attention_mla_naive", OpClass::kAttention, layers);
    op.flops = layers * 2.0 * nh * naive.pairs * (dn + dr + dv);
    op.kv_read_bytes = layers * naive.context * dr * b.c();  // shared rope key from the cache
    op.activation_bytes =
        layers * (naive.context * nh * (dn + dv) + naive.tokens * nh * (dn + dr + dv)) * b.a();
    op.gemm_m = naive.tokens;
    op.attention = AttentionCall{false, true, naive.mixed(), naive.sequences, naive.context, naive.tokens,
                                 nh,    nh,   int(dn + dr),  int(dv)};
  }
  b.gemm("o_proj", layers, t, nh * dv, h);
  b.collective(w.comm == Collective::kReduceScatter ? "reducescatter_attn" : "allreduce_attn", layers, w.comm,
               t * h * b.a(), w.comm_ranks);
}

}  // namespace mlasim::attention::mla
