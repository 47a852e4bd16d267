#include "models/workload.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "sim/error.hpp"

namespace mlasim {

std::string_view to_string(MlaMode m) {
  switch (m) {
    case MlaMode::kAuto:
      return "auto";
    case MlaMode::kAbsorbed:
      return "absorbed";
    case MlaMode::kNaive:
      return "naive";
  }
  return "?";
}

MlaMode parse_mla_mode(std::string_view text) {
  if (text == "auto") return MlaMode::kAuto;
  if (text == "absorbed") return MlaMode::kAbsorbed;
  if (text == "naive") return MlaMode::kNaive;
  throw InputError(fmt::format("unknown MLA mode `{}`; valid: auto, absorbed, naive", text));
}

std::string_view to_string(OpClass c) {
  switch (c) {
    case OpClass::kAttention:
      return "attention";
    case OpClass::kGemm:
      return "gemm";
    case OpClass::kCommunication:
      return "communication";
    case OpClass::kOther:
      return "other";
  }
  return "?";
}

StepShape uniform_decode(int batch, std::int64_t context, int s_q) {
  StepShape shape;
  if (batch > 0) shape.sequences.push_back(SequenceWork{context, s_q, false, true, batch});
  return shape;
}

double expected_distinct_experts(int n_experts, int top_k, std::int64_t tokens) {
  if (n_experts <= 0 || tokens <= 0) return 0.0;
  // DESIGN.md §5: with uniform routing, E·(1 − (1 − k/E)^T) experts are touched in expectation.
  const double e = n_experts;
  return e * (1.0 - std::pow(1.0 - double(top_k) / e, double(tokens)));
}

namespace {

/// Per-GPU head counts under tensor parallelism.
struct Shard {
  double n_h = 0;   ///< query heads on this GPU
  double n_kv = 0;  ///< KV heads on this GPU (replicated when n_kv < tp)
};

Shard shard_heads(const ModelSpec& m, int tp) {
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

/// Sums over the sequences of one attention form.
struct SeqSums {
  double sequences = 0;
  double tokens = 0;                        ///< T: query tokens
  double context = 0;                       ///< ΣL: KV tokens read
  double pairs = 0;                         ///< (query, key) pairs scored
  bool prefill = false;                     ///< holds prefill chunks (causal), not only decodes
  double min_context = 0, max_context = 0;  ///< over the sequences (0 when empty)
  [[nodiscard]] bool empty() const { return tokens == 0; }
  [[nodiscard]] bool mixed() const { return min_context != max_context; }
};

/// The share of the busiest of `ranks` DP-attention ranks: ceil(n / ranks) of the n sequences, each of the
/// average size (the router balances sequences, not tokens). One sequence on 8 ranks stays whole.
SeqSums busiest_rank(const SeqSums& all, int ranks) {
  if (ranks <= 1 || all.sequences == 0) return all;
  const double share = std::ceil(all.sequences / ranks) / all.sequences;
  return SeqSums{all.sequences * share, all.tokens * share, all.context * share, all.pairs * share,
                 all.prefill,           all.min_context,    all.max_context};
}

/// Adds the `w.count` identical sequences of one record; `window` > 0 caps the keys each query sees.
void add_sequence(SeqSums& s, const SequenceWork& w, std::int64_t window) {
  const double q = double(w.new_tokens);
  const double n = double(w.count);
  const bool first = s.sequences == 0;
  // Sliding window W (Mistral-7B §2): query j of the q new ones sees min(L − q + j, W) keys, so the step
  // reads the last min(L, W + q − 1) keys of the context. Without a window (W = 0) that is all L.
  const double l =
      window > 0 ? double(std::min(w.context_tokens, window + w.new_tokens - 1)) : double(w.context_tokens);
  s.sequences += n;
  s.tokens += n * q;
  s.context += n * l;
  // Decode: every new token scores the whole (windowed) context (as kernels compute it and FlashMLA counts
  // it). Prefill chunk: causal — token i of the chunk sees L − q + i + 1 keys: q·L − q(q − 1)/2 pairs; with a
  // window, the first n1 = clamp(W − (L − q), 0, q) queries see L − q + j keys and the rest W.
  if (window > 0 && w.prefill) {
    const double before = double(w.context_tokens) - q;
    const double n1 = std::clamp(double(window) - before, 0.0, q);
    s.pairs += n * (n1 * before + n1 * (n1 + 1.0) / 2.0 + (q - n1) * double(window));
  } else if (window > 0) {
    s.pairs += n * q * std::min(l, double(window));
  } else {
    s.pairs += n * (w.prefill ? q * l - q * (q - 1.0) / 2.0 : q * l);
  }
  s.prefill = s.prefill || w.prefill;
  s.min_context = first ? l : std::min(s.min_context, l);
  s.max_context = std::max(s.max_context, l);
}

class Builder {
 public:
  explicit Builder(const Precision& p)
      : w_(dtype_bytes(p.weights)), c_(dtype_bytes(p.kv_cache)), a_(dtype_bytes(p.activations)) {}

  void gemm(const char* name, double count, double m, double k, double n) {
    Op op = base(name, OpClass::kGemm, count);
    op.flops = count * 2.0 * m * k * n;
    op.weight_bytes = count * k * n * w_;
    op.activation_bytes = count * (m * k + m * n) * a_;
    op.gemm_m = m;
    op.gemm_n = n;
    op.gemm_k = k;
    push(std::move(op));
  }

  /// Elementwise / normalisation work on `elements_in` read and `elements_out` written activations.
  void elementwise(const char* name, double count, double flops_per_launch, double elements_in,
                   double elements_out) {
    Op op = base(name, OpClass::kOther, count);
    op.flops = count * flops_per_launch;
    op.activation_bytes = count * (elements_in + elements_out) * a_;
    push(std::move(op));
  }

  /// A collective of `message_bytes` per launch over `tp` ranks.
  void collective(const char* name, double count, Collective kind, double message_bytes, int tp) {
    if (tp <= 1) return;
    Op op = base(name, OpClass::kCommunication, count);
    op.collective = kind;
    const double p = tp;
    // Ring all-reduce moves 2·(p − 1)/p of the message over each link; all-gather and reduce-scatter (p −
    // 1)/p (DESIGN.md §5).
    const double factor = kind == Collective::kAllReduce ? 2.0 * (p - 1.0) / p : (p - 1.0) / p;
    op.comm_bytes = count * factor * message_bytes;
    push(std::move(op));
  }

  Op& push(Op op) {
    ops_.push_back(std::move(op));
    return ops_.back();
  }
  static Op base(const char* name, OpClass cls, double count) {
    Op op;
    op.name = name;
    op.op_class = cls;
    op.count = static_cast<std::int64_t>(count);
    return op;
  }

  [[nodiscard]] double w() const { return w_; }
  [[nodiscard]] double c() const { return c_; }
  [[nodiscard]] double a() const { return a_; }
  std::vector<Op> take() { return std::move(ops_); }

 private:
  double w_, c_, a_;
  std::vector<Op> ops_;
};

void add_mha_attention(Builder& b, const ModelSpec& m, const Shard& s, double layers, double t,
                       const SeqSums& decode, const SeqSums& prefill, int tp) {
  const double h = m.hidden_size;
  const double d = m.attention.head_dim;
  b.gemm("qkv_proj", layers, t, h, (s.n_h + 2.0 * s.n_kv) * d);
  {
    Op op = Builder::base("rope_kv_append", OpClass::kOther, layers);
    op.flops = layers * 3.0 * t * (s.n_h + s.n_kv) * d;
    op.activation_bytes = layers * t * ((s.n_h + 2.0 * s.n_kv) * d + s.n_h * d) * b.a();
    op.kv_write_bytes = layers * t * 2.0 * s.n_kv * d * b.c();
    b.push(std::move(op));
  }
  // Attention core (DESIGN.md §5): FLOPs 4·n_h·d_h·pairs; bytes 2·n_kv·d_h·c·ΣL plus Q and O.
  auto core = [&](const char* name, const SeqSums& ss) {
    if (ss.empty()) return;
    Op op = Builder::base(name, OpClass::kAttention, layers);
    op.flops = layers * 4.0 * s.n_h * d * ss.pairs;
    op.kv_read_bytes = layers * 2.0 * s.n_kv * d * b.c() * ss.context;
    op.activation_bytes = layers * 2.0 * ss.tokens * s.n_h * d * b.a();
    op.gemm_m = ss.tokens;
    op.attention = AttentionCall{false,     ss.prefill, ss.mixed(), ss.sequences, ss.context,
                                 ss.tokens, s.n_h,      s.n_kv,     int(d),       int(d)};
    b.push(std::move(op));
  };
  core("attention_decode", decode);
  core("attention_prefill", prefill);
  b.gemm("o_proj", layers, t, s.n_h * d, h);
  b.collective("allreduce_attn", layers, Collective::kAllReduce, t * h * b.a(), tp);
}

void add_mla_attention(Builder& b, const ModelSpec& m, const Shard& s, double layers, double t,
                       const SeqSums& absorbed, const SeqSums& naive, int tp) {
  const AttentionSpec& at = m.attention;
  const double h = m.hidden_size;
  const double dc = at.kv_lora_rank, dr = at.qk_rope_head_dim, dn = at.qk_nope_head_dim, dv = at.v_head_dim;
  const double nh = s.n_h;
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
    Op op = Builder::base("kv_norm_rope_append", OpClass::kOther, layers);
    op.flops = layers * (4.0 * t * dc + 3.0 * t * (nh + 1.0) * dr);
    op.activation_bytes = layers * t * (dc + dr + nh * dr) * b.a();
    op.kv_write_bytes = layers * t * (dc + dr) * b.c();
    b.push(std::move(op));
  }
  if (!absorbed.empty()) {
    const double ta = absorbed.tokens;
    // W_UK folded into the query: T·n_h small GEMMs d_n -> d_c (DeepSeek-V2 §2.1.2, "absorbed").
    {
      Op op = Builder::base("q_absorb_bmm", OpClass::kGemm, layers);
      op.flops = layers * 2.0 * ta * nh * dn * dc;
      op.weight_bytes = layers * nh * dn * dc * b.w();
      op.activation_bytes = layers * ta * nh * (dn + dc) * b.a();
      op.gemm_m = ta;
      op.gemm_n = dc;
      op.gemm_k = dn;
      op.gemm_batch = nh;
      b.push(std::move(op));
    }
    // MQA over one latent head: K = [c; k_r] (d_c + d_r wide), V = c (d_c wide).
    // FLOPs 2·n_h·pairs·(d_c + d_r + d_c); bytes (d_c + d_r)·c·ΣL + Q (d_c + d_r) + O (d_c) per head-token:
    // FlashMLA's benchmark counting when a = c = 2 bytes.
    Op op = Builder::base("attention_decode_mla_absorbed", OpClass::kAttention, layers);
    op.flops = layers * 2.0 * nh * absorbed.pairs * (dc + dr + dc);
    op.kv_read_bytes = layers * (dc + dr) * b.c() * absorbed.context;
    op.activation_bytes = layers * ta * nh * ((dc + dr) + dc) * b.a();
    op.gemm_m = ta;
    op.attention =
        AttentionCall{true, absorbed.prefill, absorbed.mixed(), absorbed.sequences, absorbed.context, ta, nh,
                      1.0,  int(dc + dr),     int(dc)};
    b.push(std::move(op));
    Op vup = Builder::base("v_up_bmm", OpClass::kGemm, layers);
    vup.flops = layers * 2.0 * ta * nh * dc * dv;
    vup.weight_bytes = layers * nh * dc * dv * b.w();
    vup.activation_bytes = layers * ta * nh * (dc + dv) * b.a();
    vup.gemm_m = ta;
    vup.gemm_n = dv;
    vup.gemm_k = dc;
    vup.gemm_batch = nh;
    b.push(std::move(vup));
  }
  if (!naive.empty()) {
    // Naive: up-project every cached latent to per-head K_nope and V (2·ΣL·d_c·n_h·(d_n + d_v) FLOPs), then
    // MHA-style attention with qk dim d_n + d_r and v dim d_v.
    Op up = Builder::base("kv_b_proj_context", OpClass::kGemm, layers);
    up.flops = layers * 2.0 * naive.context * dc * nh * (dn + dv);
    up.weight_bytes = layers * dc * nh * (dn + dv) * b.w();
    up.kv_read_bytes = layers * naive.context * dc * b.c();
    up.activation_bytes = layers * naive.context * nh * (dn + dv) * b.a();
    up.gemm_m = naive.context;
    up.gemm_n = nh * (dn + dv);
    up.gemm_k = dc;
    b.push(std::move(up));
    Op op = Builder::base("attention_mla_naive", OpClass::kAttention, layers);
    op.flops = layers * 2.0 * nh * naive.pairs * (dn + dr + dv);
    op.kv_read_bytes = layers * naive.context * dr * b.c();  // shared rope key from the cache
    op.activation_bytes =
        layers * (naive.context * nh * (dn + dv) + naive.tokens * nh * (dn + dr + dv)) * b.a();
    op.gemm_m = naive.tokens;
    op.attention = AttentionCall{false, true, naive.mixed(), naive.sequences, naive.context, naive.tokens,
                                 nh,    nh,   int(dn + dr),  int(dv)};
    b.push(std::move(op));
  }
  b.gemm("o_proj", layers, t, nh * dv, h);
  b.collective("allreduce_attn", layers, Collective::kAllReduce, t * h * b.a(), tp);
}

}  // namespace

StepWorkload build_step(const ModelSpec& m, const StepShape& shape) {
  if (shape.sequences.empty()) throw InputError("a step needs at least one sequence");
  const int tp = shape.parallel.tp;
  if (tp < 1) throw InputError(fmt::format("tp must be at least 1, got {}", tp));
  const bool dp_attention = shape.parallel.dp_attention && tp > 1;
  const Shard s = shard_heads(m, shape.parallel.attention_tp());

  SeqSums decode, prefill;
  double sampled = 0;
  StepWorkload out;
  // Totals over records of many sequences each: checked, so that a huge batch is an error, not a wrapped
  // count.
  const auto add_checked = [](std::int64_t& into, std::int64_t count, std::int64_t each, const char* what) {
    std::int64_t product = 0;
    if (__builtin_mul_overflow(count, each, &product) || __builtin_add_overflow(into, product, &into)) {
      // Keyed, so that a caller's wrapper (cmd_step's --tp) does not claim it.
      throw InputError(SourceLocation{}, "batch",
                       fmt::format("the step is too large: its {} overflow a 64-bit count", what));
    }
  };
  std::int64_t tokens = 0;
  for (const SequenceWork& w : shape.sequences) {
    if (w.count < 1) throw InputError(fmt::format("a sequence count must be at least 1, got {}", w.count));
    if (w.context_tokens <= 0)
      throw InputError(fmt::format("context length must be positive, got {}", w.context_tokens));
    if (w.new_tokens <= 0)
      throw InputError(fmt::format("new tokens per sequence must be positive, got {}", w.new_tokens));
    if (w.new_tokens > w.context_tokens) {
      throw InputError(fmt::format("new tokens ({}) exceed the context ({}) that includes them", w.new_tokens,
                                   w.context_tokens));
    }
    add_sequence(w.prefill ? prefill : decode, w, m.attention.sliding_window);
    if (w.samples) {
      sampled += double(w.count) * (w.prefill ? 1.0 : double(w.new_tokens));
      add_checked(out.output_tokens, w.count, w.prefill ? 1 : w.new_tokens, "output tokens");
    }
    add_checked(out.context_sum, w.count, w.context_tokens, "context tokens");
    add_checked(tokens, w.count, w.new_tokens, "new tokens");
    add_checked(out.sequences, w.count, 1, "sequences");
  }
  const double t = decode.tokens + prefill.tokens;
  out.tokens = tokens;
  // With DP-attention this GPU runs the attention side (embedding to o_proj) for its own sequences only; the
  // step waits for the busiest rank.
  decode = busiest_rank(decode, shape.parallel.attention_dp());
  prefill = busiest_rank(prefill, shape.parallel.attention_dp());
  const double t_attn = decode.tokens + prefill.tokens;
  const int attn_comm = shape.parallel.attention_tp();  // no all-reduce after o_proj under DP-attention

  Builder b(shape.precision);
  const double h = m.hidden_size;
  const double layers = m.n_layers;

  {
    Op op = Builder::base("embedding", OpClass::kOther, 1);
    op.weight_bytes = t_attn * h * b.w();  // one row per token
    op.activation_bytes = t_attn * h * b.a();
    b.push(std::move(op));
  }
  b.elementwise("attn_norm", layers, 4.0 * t_attn * h, t_attn * h, t_attn * h);
  if (m.attention.kind == AttentionKind::kMla) {
    SeqSums absorbed, naive;
    auto merge = [](SeqSums& into, const SeqSums& from) {
      into.sequences += from.sequences;
      into.tokens += from.tokens;
      into.context += from.context;
      into.pairs += from.pairs;
      into.prefill = into.prefill || from.prefill;
      if (from.sequences > 0) {
        into.min_context = into.sequences == from.sequences ? from.min_context
                                                            : std::min(into.min_context, from.min_context);
        into.max_context = std::max(into.max_context, from.max_context);
      }
    };
    switch (shape.mla_mode) {
      case MlaMode::kAbsorbed:
        merge(absorbed, decode), merge(absorbed, prefill);
        break;
      case MlaMode::kNaive:
        merge(naive, decode), merge(naive, prefill);
        break;
      case MlaMode::kAuto:
        merge(absorbed, decode), merge(naive, prefill);
        break;
    }
    add_mla_attention(b, m, s, layers, t_attn, absorbed, naive, attn_comm);
  } else {
    add_mha_attention(b, m, s, layers, t_attn, decode, prefill, attn_comm);
  }
  if (dp_attention) {
    // Every rank's tokens meet for the tensor-parallel FFN (SGLang's DP-attention).
    b.collective("allgather_tokens", layers, Collective::kAllGather, t * h * b.a(), tp);
  }
  b.elementwise("ffn_norm", layers, 4.0 * t * h, t * h, t * h);

  const double dense = m.dense_layers();
  if (dense > 0) {
    const double inter = double(m.ffn.intermediate_size) / tp;
    if (m.ffn.activation == FfnActivation::kGelu) {
      b.gemm("ffn_up", dense, t, h, inter);
      b.elementwise("ffn_act", dense, 8.0 * t * inter, t * inter, t * inter);  // tanh-approximated GELU
    } else {
      b.gemm("ffn_gate_up", dense, t, h, 2.0 * inter);
      b.elementwise("ffn_act", dense, 5.0 * t * inter, 2.0 * t * inter, t * inter);
    }
    b.gemm("ffn_down", dense, t, inter, h);
    if (dp_attention) {
      b.collective("reducescatter_ffn", dense, Collective::kReduceScatter, t * h * b.a(), tp);
    } else {
      b.collective("allreduce_ffn", dense, Collective::kAllReduce, t * h * b.a(), tp);
    }
  }
  const double moe = m.moe_layers();
  if (moe > 0) {
    const MoeSpec& e = m.ffn.moe;
    const double ie = double(e.expert_intermediate_size) / tp;
    b.gemm("moe_router", moe, t, h, e.n_routed_experts);
    if (e.n_shared_experts > 0) {
      b.gemm("shared_expert_gate_up", moe, t, h, 2.0 * e.n_shared_experts * ie);
      b.gemm("shared_expert_down", moe, t, e.n_shared_experts * ie, h);
    }
    // Routed experts: FLOPs 2·T·k·3·h·I_e; weights of the distinct experts touched (DESIGN.md §5).
    const double touched = expected_distinct_experts(e.n_routed_experts, e.experts_per_token, out.tokens);
    const double routed_tokens = t * e.experts_per_token;
    Op op = Builder::base("moe_experts", OpClass::kGemm, moe);
    op.flops = moe * 2.0 * routed_tokens * 3.0 * h * ie;
    op.weight_bytes = moe * touched * 3.0 * h * ie * b.w();
    op.activation_bytes = moe * routed_tokens * (2.0 * h + 3.0 * ie) * b.a();
    op.gemm_m = touched > 0 ? routed_tokens / touched : 0.0;
    op.gemm_n = 3.0 * ie;  // gate, up and down of one expert: 2·m·(3·h·I_e) FLOPs, as one h × 3·I_e product
    op.gemm_k = h;
    b.push(std::move(op));
    if (dp_attention) {
      b.collective("reducescatter_moe", moe, Collective::kReduceScatter, t * h * b.a(), tp);
    } else {
      b.collective("allreduce_moe", moe, Collective::kAllReduce, t * h * b.a(), tp);
    }
  }

  b.elementwise("final_norm", 1, 4.0 * sampled * h, sampled * h, sampled * h);
  const double vocab_shard = double(m.vocab_size) / tp;
  if (sampled > 0) {
    b.gemm("lm_head", 1, sampled, h, vocab_shard);
    b.collective("allgather_logits", 1, Collective::kAllGather, sampled * m.vocab_size * 4.0, tp);
    Op op = Builder::base("sampling", OpClass::kOther, 1);
    op.flops = 5.0 * sampled * m.vocab_size;
    op.activation_bytes = sampled * m.vocab_size * 4.0;  // fp32 logits read once
    b.push(std::move(op));
  }
  out.ops = b.take();
  return out;
}

double kv_bytes_per_token(const ModelSpec& m, Dtype kv_dtype) {
  return double(m.n_layers) * double(m.attention.kv_elements_per_token()) * dtype_bytes(kv_dtype);
}

double kv_bytes_per_token_per_gpu(const ModelSpec& m, Dtype kv_dtype, const Parallelism& parallel) {
  const AttentionSpec& a = m.attention;
  if (a.kind == AttentionKind::kMla) return kv_bytes_per_token(m, kv_dtype);  // replicated latent
  const int tp = parallel.attention_tp();
  const double n_kv = a.n_kv_heads >= tp ? double(a.n_kv_heads) / tp : 1.0;
  return double(m.n_layers) * 2.0 * n_kv * a.head_dim * dtype_bytes(kv_dtype);
}

double weight_bytes_total(const ModelSpec& m, Dtype weight_dtype) {
  return count_parameters(m).total * dtype_bytes(weight_dtype);
}

double weight_bytes_per_gpu(const ModelSpec& m, Dtype weight_dtype, const Parallelism& parallel) {
  const int tp = parallel.tp;
  if (tp < 1) throw InputError(fmt::format("tp must be at least 1, got {}", tp));
  const Shard s = shard_heads(m, parallel.attention_tp());
  const AttentionSpec& a = m.attention;
  const double h = m.hidden_size;
  double attn = 0.0;
  if (a.kind == AttentionKind::kMla) {
    const double qk = a.qk_nope_head_dim + a.qk_rope_head_dim;
    const double q = a.q_lora_rank > 0 ? h * a.q_lora_rank + a.q_lora_rank * s.n_h * qk : h * s.n_h * qk;
    attn = q + h * (a.kv_lora_rank + a.qk_rope_head_dim) +
           a.kv_lora_rank * s.n_h * (a.qk_nope_head_dim + a.v_head_dim) + s.n_h * a.v_head_dim * h;
  } else {
    attn = h * (s.n_h + 2.0 * s.n_kv) * a.head_dim + s.n_h * a.head_dim * h;
  }
  double params = m.n_layers * (attn + 2.0 * h) +
                  m.dense_layers() * m.ffn.dense_matrices() * h * m.ffn.intermediate_size / tp;
  if (m.ffn.is_moe()) {
    const MoeSpec& e = m.ffn.moe;
    params += m.moe_layers() *
              ((e.n_routed_experts + e.n_shared_experts) * 3.0 * h * e.expert_intermediate_size / tp +
               h * e.n_routed_experts);
  }
  params += double(m.vocab_size) * h / tp * (m.tie_word_embeddings ? 1.0 : 2.0) + h;
  return params * dtype_bytes(weight_dtype);
}

}  // namespace mlasim
