#include "models/workload.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <string_view>
#include <utility>

#include "models/attention/attention.hpp"
#include "models/op_builder.hpp"
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

double expected_distinct_experts(int n_experts, int top_k, double tokens) {
  if (n_experts <= 0 || tokens <= 0) return 0.0;
  // DESIGN.md §5: with uniform routing, E·(1 − (1 − k/E)^T) experts are touched in expectation.
  const double e = n_experts;
  return e * (1.0 - std::pow(1.0 - double(top_k) / e, tokens));
}

double expected_max_load_factor(double items, int ranks) {
  if (ranks <= 1 || !(items > 0.0)) return 1.0;
  // n items thrown uniformly into G bins, mean μ = n/G: the largest bin is about μ + sqrt(2·μ·ln G) (the
  // Gaussian approximation of each bin's load and the expected maximum of G such loads, to leading order;
  // Raab & Steger, "Balls into Bins — A Simple and Tight Analysis", 1998, for μ ≫ ln G). Never more than
  // every item on one GPU.
  // The busiest GPU also holds at least ceil(μ) items (one, when there are fewer items than GPUs).
  const double g = ranks;
  const double mean = items / g;
  const double gaussian = 1.0 + std::sqrt(2.0 * std::log(g) / mean);
  return std::min(std::max(gaussian, std::ceil(mean) / mean), g);
}

double Speculation::acceptance_at(int i) const {
  if (acceptance.empty()) return 0.0;
  return acceptance.size() == 1 ? acceptance.front() : acceptance.at(static_cast<std::size_t>(i));
}

double Speculation::expected_accepted() const {
  // Draft token i is kept only when it and every token before it are accepted: Σ_i Π_{j<=i} a_j.
  double sum = 0.0, all_before = 1.0;
  for (int i = 0; i < depth; ++i) {
    all_before *= acceptance_at(i);
    sum += all_before;
  }
  return sum;
}

void check_speculation(const Speculation& mtp) {
  if (mtp.depth < 0 || mtp.depth > 16) {
    throw InputError(SourceLocation{}, "mtp.depth",
                     fmt::format("must be 0 to 16 draft tokens, got {}", mtp.depth));
  }
  if (mtp.depth == 0) return;
  if (mtp.acceptance.size() != 1 && mtp.acceptance.size() != static_cast<std::size_t>(mtp.depth)) {
    throw InputError(SourceLocation{}, "mtp.acceptance",
                     fmt::format("give one acceptance rate, or one per draft position ({}); got {}",
                                 mtp.depth, mtp.acceptance.size()));
  }
  for (const double a : mtp.acceptance) {
    if (!(a >= 0.0 && a <= 1.0))
      throw InputError(SourceLocation{}, "mtp.acceptance",
                       fmt::format("each rate must be in [0, 1], got {}", a));
  }
}

namespace {

using detail::SeqSums;

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

/// The sequences of a step as the ops see them: the decode and prefill sums and the sampled positions.
struct StepSums {
  SeqSums decode, prefill;
  double sampled = 0;
};

/// With MTP on, a plain decode record becomes its verification: 1 + depth tokens at context L + depth.
SequenceWork as_verified(const SequenceWork& w, const Speculation& mtp) {
  if (!mtp.enabled() || w.prefill) return w;
  SequenceWork v = w;
  v.new_tokens = 1 + mtp.depth;
  v.context_tokens = w.context_tokens + mtp.depth;
  return v;
}

/// The sums of `sequences`, or with `parts` > 1 of the busiest of `parts` micro-batches when the sequences
/// are dealt round-robin in order: of a record of c sequences starting at position o, those at positions ≡ 0
/// (mod parts).
StepSums sum_sequences(const ModelSpec& m, const std::vector<SequenceWork>& sequences, const Speculation& mtp,
                       int parts = 1) {
  StepSums s;
  std::int64_t at = 0;  // position of the record's first sequence, mod parts
  for (const SequenceWork& raw : sequences) {
    SequenceWork w = as_verified(raw, mtp);
    if (parts > 1) {
      // Multiples of `parts` in [at, at + count): ceil((count − first) / parts) with first the offset to the
      // next one.
      const std::int64_t first = (parts - at) % parts;
      const std::int64_t n = w.count > first ? (w.count - first + parts - 1) / parts : 0;
      at = (at + w.count % parts) % parts;
      if (n == 0) continue;
      w.count = n;
    }
    add_sequence(w.prefill ? s.prefill : s.decode, w, m.attention.sliding_window);
    if (w.samples) s.sampled += double(w.count) * (w.prefill ? 1.0 : double(w.new_tokens));
  }
  return s;
}

/// Layer counts of the model, of one pipeline stage or of the MTP draft block.
struct Layers {
  int all = 0;
  int dense = 0;  ///< layers with the dense FFN
  int moe = 0;    ///< layers with the MoE FFN
};

Layers model_layers(const ModelSpec& m) {
  return {m.n_layers, m.dense_layers(), m.moe_layers()};
}

/// One pipeline stage of `m` split into `pp`: the last stage (it holds the LM head), ceil(layers / pp)
/// layers, the model's dense layers among them only if they reach that far.
Layers last_stage(const ModelSpec& m, int pp) {
  const int layers = (m.n_layers + pp - 1) / pp;
  if (!m.ffn.is_moe()) return {layers, layers, 0};
  const int dense = std::max(0, m.ffn.moe.first_k_dense - (m.n_layers - layers));
  return {layers, dense, layers - dense};
}

/// Appends to `out` the ops of one step (or one micro-batch) of `layers` of `m` on one GPU.
void write_ops(const ModelSpec& m, const Layers& counts, const StepShape& shape, const StepSums& all,
               std::vector<Op>& out) {
  const Parallelism& par = shape.parallel;
  const int tp = par.tp;
  const bool dp_attention = par.dp_attention && tp > 1;
  const bool ep = par.ep > 1;
  const attention::Shard s = attention::shard(m, par.attention_tp());
  const double t = all.decode.tokens + all.prefill.tokens;
  // With DP-attention this GPU runs the attention side (embedding to o_proj) for its own sequences only; the
  // step waits for the busiest rank.
  detail::AttentionWork aw;
  aw.decode = busiest_rank(all.decode, par.attention_dp());
  aw.prefill = busiest_rank(all.prefill, par.attention_dp());
  aw.tokens = aw.decode.tokens + aw.prefill.tokens;
  aw.layers = counts.all;
  aw.mla_mode = shape.mla_mode;
  const double t_attn = aw.tokens;

  detail::OpWriter b(shape.precision, out);
  const double h = m.hidden_size;
  const double layers = counts.all;
  const double dense = counts.dense;
  const double moe = counts.moe;
  {
    Op& op = b.add("embedding", OpClass::kOther, 1);
    op.weight_bytes = t_attn * h * b.w();  // one row per token
    op.activation_bytes = t_attn * h * b.a();
  }
  b.elementwise("attn_norm", layers, 4.0 * t_attn * h, t_attn * h, t_attn * h);
  attention::add_ops(b, m, s, aw);
  // After the output projection (no collective under DP-attention: each rank holds its own tokens whole).
  const int attn_ranks = par.attention_tp();
  if (ep && !dp_attention) {
    // TP attention feeding expert parallelism: the MoE layers reduce-scatter (each rank dispatches its share
    // of the tokens), the dense layers all-reduce.
    b.collective("allreduce_attn", dense, Collective::kAllReduce, t * h * b.a(), attn_ranks);
    b.collective("reducescatter_attn", moe, Collective::kReduceScatter, t * h * b.a(), attn_ranks);
  } else {
    b.collective("allreduce_attn", layers, Collective::kAllReduce, t * h * b.a(), attn_ranks);
  }
  // DeepSeek's decode layout: the dense FFN layers run on each GPU's own tokens (Parallelism::dense_tp).
  const bool dp_dense = par.data_parallel_dense();
  if (dp_attention && !dp_dense) {
    // Every rank's tokens meet for the tensor-parallel FFN (SGLang's DP-attention); under expert parallelism
    // only the dense layers' FFN is tensor-parallel.
    b.collective("allgather_tokens", ep ? dense : layers, Collective::kAllGather, t * h * b.a(), tp);
  }
  // The FFN side's tokens: every token (tensor-parallel FFN), or this GPU's own (DeepSeek's layout).
  const double t_ffn = dp_dense ? t_attn : t;
  if (dp_dense) {
    b.elementwise("ffn_norm", layers, 4.0 * t_ffn * h, t_ffn * h, t_ffn * h);
  } else {
    b.elementwise("ffn_norm", layers, 4.0 * t * h, t * h, t * h);
  }

  if (dense > 0) {
    const int ranks = par.dense_tp();
    const double inter = double(m.ffn.intermediate_size) / ranks;
    if (m.ffn.activation == FfnActivation::kGelu) {
      b.gemm("ffn_up", dense, t_ffn, h, inter);
      b.elementwise("ffn_act", dense, 8.0 * t_ffn * inter, t_ffn * inter,
                    t_ffn * inter);  // tanh-approximated GELU
    } else {
      b.gemm("ffn_gate_up", dense, t_ffn, h, 2.0 * inter);
      b.elementwise("ffn_act", dense, 5.0 * t_ffn * inter, 2.0 * t_ffn * inter, t_ffn * inter);
    }
    b.gemm("ffn_down", dense, t_ffn, inter, h);
    if (dp_attention) {
      b.collective("reducescatter_ffn", dense, Collective::kReduceScatter, t * h * b.a(), ranks);
    } else {
      b.collective("allreduce_ffn", dense, Collective::kAllReduce, t * h * b.a(), ranks);
    }
  }
  if (moe > 0 && !ep) {
    const MoeSpec& e = m.ffn.moe;
    const double ie = double(e.expert_intermediate_size) / tp;
    b.gemm("moe_router", moe, t, h, e.n_routed_experts);
    if (e.n_shared_experts > 0) {
      b.gemm("shared_expert_gate_up", moe, t, h, 2.0 * e.n_shared_experts * ie);
      b.gemm("shared_expert_down", moe, t, e.n_shared_experts * ie, h);
    }
    // Routed experts: FLOPs 2·T·k·3·h·I_e; weights of the distinct experts touched (DESIGN.md §5).
    const double touched = expected_distinct_experts(e.n_routed_experts, e.experts_per_token, t);
    const double routed_tokens = t * e.experts_per_token;
    Op& op = b.add("moe_experts", OpClass::kGemm, moe);
    op.flops = moe * 2.0 * routed_tokens * 3.0 * h * ie;
    op.weight_bytes = moe * touched * 3.0 * h * ie * b.w();
    op.activation_bytes = moe * routed_tokens * (2.0 * h + 3.0 * ie) * b.a();
    op.gemm_m = touched > 0 ? routed_tokens / touched : 0.0;
    op.gemm_n = 3.0 * ie;  // gate, up and down of one expert: 2·m·(3·h·I_e) FLOPs, as one h × 3·I_e product
    op.gemm_k = h;
    if (dp_attention) {
      b.collective("reducescatter_moe", moe, Collective::kReduceScatter, t * h * b.a(), tp);
    } else {
      b.collective("allreduce_moe", moe, Collective::kAllReduce, t * h * b.a(), tp);
    }
  }
  if (moe > 0 && ep) {
    // Expert parallelism (DeepSeek-V3 §3.4, DeepEP): every GPU holds experts_per_gpu routed experts whole and
    // the shared experts; each GPU's own tokens (its DP-attention share, or its 1/tp slice after the
    // reduce-scatter) are routed there by a dispatch all-to-all and their expert outputs come back by a
    // combine all-to-all. Of a token's k copies, (G − 1)/G go to other GPUs in expectation.
    const MoeSpec& e = m.ffn.moe;
    const int g = par.ep;
    const double ie = e.expert_intermediate_size;
    const double t_local = dp_attention ? t_attn : t / g;
    const double k = e.experts_per_token;
    b.gemm("moe_router", moe, t_local, h, e.n_routed_experts);
    if (e.n_shared_experts > 0) {
      b.gemm("shared_expert_gate_up", moe, t_local, h, 2.0 * e.n_shared_experts * ie);
      b.gemm("shared_expert_down", moe, t_local, e.n_shared_experts * ie, h);
    }
    // Dispatch in fp8 with one fp32 scale per 128 elements when the experts run fp8 (DeepSeek-V3 §3.3,
    // DeepEP), else in the activation dtype; combine in the activation dtype (bf16).
    const bool fp8 = shape.precision.weights == Dtype::kFp8;
    const double dispatch_bytes_per_element = fp8 ? 1.0 + 4.0 / 128.0 : b.a();
    const double leaving = double(g - 1) / g;
    b.all_to_all("moe_dispatch", moe, t_local * k * h * dispatch_bytes_per_element * leaving, g);
    // The busiest GPU: the mean T·k/G routed copies times the imbalance (a balancer's measured factor, or the
    // expected maximum under uniform routing).
    const double mean = t * k / g;
    const double factor =
        par.expert_imbalance > 0.0 ? par.expert_imbalance : expected_max_load_factor(t * k, g);
    const double arriving = mean * factor;
    const int local = experts_per_gpu(m, par);
    const double touched = expected_distinct_experts(local, 1, arriving);
    Op& op = b.add("moe_experts", OpClass::kGemm, moe);
    op.flops = moe * 2.0 * arriving * 3.0 * h * ie;
    op.weight_bytes = moe * touched * 3.0 * h * ie * b.w();
    op.activation_bytes = moe * arriving * (2.0 * h + 3.0 * ie) * b.a();
    op.gemm_m = touched > 0 ? arriving / touched : 0.0;
    op.gemm_n = 3.0 * ie;
    op.gemm_k = h;
    b.all_to_all("moe_combine", moe, t_local * k * h * b.a() * leaving, g);
    if (!dp_attention) {
      // Back to every rank holding every token for the next tensor-parallel attention.
      b.collective("allgather_moe", moe, Collective::kAllGather, t * h * b.a(), g);
    }
  }

  // The sampled positions this GPU computes logits for: all of them (vocabulary split tp ways, logits
  // gathered), or in DeepSeek's layout its own tokens' (the whole head, nothing gathered).
  const double sampled = dp_dense && t > 0 ? all.sampled * (t_attn / t) : all.sampled;
  b.elementwise("final_norm", 1, 4.0 * sampled * h, sampled * h, sampled * h);
  const double vocab_shard = double(m.vocab_size) / par.dense_tp();
  if (sampled > 0) {
    b.gemm("lm_head", 1, sampled, h, vocab_shard);
    b.collective("allgather_logits", 1, Collective::kAllGather, sampled * m.vocab_size * 4.0, par.dense_tp());
    Op& op = b.add("sampling", OpClass::kOther, 1);
    op.flops = 5.0 * sampled * m.vocab_size;
    op.activation_bytes = sampled * m.vocab_size * 4.0;  // fp32 logits read once
  }
}

/// The work of each op from `from` on `times` times (every micro-batch's).
void repeat(std::vector<Op>& ops, std::size_t from, int times) {
  const double k = times;
  for (std::size_t i = from; i < ops.size(); ++i) {
    Op& op = ops[i];
    op.count *= times;
    op.flops *= k;
    op.weight_bytes *= k;
    op.kv_read_bytes *= k;
    op.kv_write_bytes *= k;
    op.activation_bytes *= k;
    op.comm_bytes *= k;
  }
}

/// Every op name the step builder writes with its MTP draft's ("mtp_" + name), by name: the draft's ops
/// name static strings too.
constexpr std::pair<std::string_view, std::string_view> kDraftNames[] = {
    {"allgather_logits", "mtp_allgather_logits"},
    {"allgather_moe", "mtp_allgather_moe"},
    {"allgather_tokens", "mtp_allgather_tokens"},
    {"allreduce_attn", "mtp_allreduce_attn"},
    {"allreduce_ffn", "mtp_allreduce_ffn"},
    {"allreduce_moe", "mtp_allreduce_moe"},
    {"attention_decode", "mtp_attention_decode"},
    {"attention_decode_mla_absorbed", "mtp_attention_decode_mla_absorbed"},
    {"attention_mla_naive", "mtp_attention_mla_naive"},
    {"attention_prefill", "mtp_attention_prefill"},
    {"attn_norm", "mtp_attn_norm"},
    {"eh_norms", "mtp_eh_norms"},
    {"eh_proj", "mtp_eh_proj"},
    {"embedding", "mtp_embedding"},
    {"ffn_act", "mtp_ffn_act"},
    {"ffn_down", "mtp_ffn_down"},
    {"ffn_gate_up", "mtp_ffn_gate_up"},
    {"ffn_norm", "mtp_ffn_norm"},
    {"ffn_up", "mtp_ffn_up"},
    {"final_norm", "mtp_final_norm"},
    {"kv_a_proj", "mtp_kv_a_proj"},
    {"kv_b_proj_context", "mtp_kv_b_proj_context"},
    {"kv_norm_rope_append", "mtp_kv_norm_rope_append"},
    {"lm_head", "mtp_lm_head"},
    {"moe_combine", "mtp_moe_combine"},
    {"moe_dispatch", "mtp_moe_dispatch"},
    {"moe_experts", "mtp_moe_experts"},
    {"moe_router", "mtp_moe_router"},
    {"o_proj", "mtp_o_proj"},
    {"pp_send_activations", "mtp_pp_send_activations"},
    {"q_a_norm", "mtp_q_a_norm"},
    {"q_a_proj", "mtp_q_a_proj"},
    {"q_absorb_bmm", "mtp_q_absorb_bmm"},
    {"q_b_proj", "mtp_q_b_proj"},
    {"q_proj", "mtp_q_proj"},
    {"qkv_proj", "mtp_qkv_proj"},
    {"reducescatter_attn", "mtp_reducescatter_attn"},
    {"reducescatter_ffn", "mtp_reducescatter_ffn"},
    {"reducescatter_moe", "mtp_reducescatter_moe"},
    {"rope_kv_append", "mtp_rope_kv_append"},
    {"sampling", "mtp_sampling"},
    {"shared_expert_down", "mtp_shared_expert_down"},
    {"shared_expert_gate_up", "mtp_shared_expert_gate_up"},
    {"v_up_bmm", "mtp_v_up_bmm"},
};
static_assert(std::is_sorted(std::begin(kDraftNames), std::end(kDraftNames)), "kDraftNames: keep sorted");

/// "mtp_" + `name`, from kDraftNames.
std::string_view draft_name(std::string_view name) {
  const auto* it = std::lower_bound(std::begin(kDraftNames), std::end(kDraftNames), name,
                                    [](const auto& entry, std::string_view n) { return entry.first < n; });
  if (it == std::end(kDraftNames) || it->first != name) {
    throw InternalError(
        fmt::format("op `{}` has no MTP draft name (models/workload.cpp: kDraftNames)", name));
  }
  return it->second;
}

/// The MTP draft (DeepSeek-V3 §2.2: one more transformer block, sharing the embedding and output head, after
/// a projection of [norm(h); norm(embedding)] from 2·hidden to hidden) run `depth` times per step, over
/// every decode (and over the prompt tokens, to fill its own cache), appended to `ops`.
void add_draft(std::vector<Op>& ops, const ModelSpec& m, const StepShape& shape) {
  // One layer (V3's MTP block is an MoE layer); one micro-batch (write_ops reads no micro_batches).
  const Layers draft = m.ffn.is_moe() ? Layers{1, 0, 1} : Layers{1, 1, 0};
  const Speculation none;
  const StepSums sums = sum_sequences(m, shape.sequences, none);
  const std::size_t begin = ops.size();
  write_ops(m, draft, shape, sums, ops);
  detail::OpWriter b(shape.precision, ops);
  const double t = busiest_rank(sums.decode, shape.parallel.attention_dp()).tokens +
                   busiest_rank(sums.prefill, shape.parallel.attention_dp()).tokens;
  const double h = m.hidden_size;
  b.elementwise("eh_norms", 1, 8.0 * t * h, 2.0 * t * h, 2.0 * t * h);
  b.gemm("eh_proj", 1, t, 2.0 * h, h);
  // The projection after the embedding lookup (the block's first op).
  std::rotate(ops.begin() + static_cast<std::ptrdiff_t>(begin) + 1, ops.end() - 2, ops.end());
  repeat(ops, begin, shape.mtp.depth);  // the draft runs once per draft token
  for (std::size_t i = begin; i < ops.size(); ++i) ops[i].name = draft_name(ops[i].name);
}

}  // namespace

StepWorkload build_step(const ModelSpec& m, const StepShape& shape) {
  StepWorkload out;
  build_step(m, shape, out);
  return out;
}

void check_step_layout(const ModelSpec& m, const StepShape& shape) {
  check_parallelism(shape.parallel);
  check_speculation(shape.mtp);
  const Parallelism& par = shape.parallel;
  if (par.ep > 1 && !m.ffn.is_moe()) {
    throw InputError(
        SourceLocation{}, "ep",
        fmt::format("{} has no experts: expert parallelism (ep {}) needs an MoE model", m.name, par.ep));
  }
}

void build_step(const ModelSpec& m, const StepShape& shape, StepWorkload& out) {
  if (shape.sequences.empty()) throw InputError("a step needs at least one sequence");
  check_step_layout(m, shape);
  build_step_of_checked_layout(m, shape, out);
}

void build_step_of_checked_layout(const ModelSpec& m, const StepShape& shape, StepWorkload& out) {
  if (shape.sequences.empty()) throw InputError("a step needs at least one sequence");
  const Parallelism& par = shape.parallel;
  out.ops.clear();  // keeps the buffer
  out.tokens = 0;
  out.output_tokens = 0;
  out.emitted_tokens = 0;
  out.sequences = 0;
  out.context_sum = 0;
  out.micro_batches = 1;
  out.overlapped_ops = 0;
  out.pipeline_stages = 1;
  out.pipeline_micro_batches = 1;
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
  const double accepted = shape.mtp.expected_accepted();
  for (const SequenceWork& raw : shape.sequences) {
    if (raw.count < 1)
      throw InputError(fmt::format("a sequence count must be at least 1, got {}", raw.count));
    if (raw.context_tokens <= 0)
      throw InputError(fmt::format("context length must be positive, got {}", raw.context_tokens));
    if (raw.new_tokens <= 0)
      throw InputError(fmt::format("new tokens per sequence must be positive, got {}", raw.new_tokens));
    if (raw.new_tokens > raw.context_tokens) {
      throw InputError(fmt::format("new tokens ({}) exceed the context ({}) that includes them",
                                   raw.new_tokens, raw.context_tokens));
    }
    if (shape.mtp.enabled() && !raw.prefill && raw.new_tokens != 1) {
      throw InputError(
          SourceLocation{}, "mtp",
          fmt::format("with multi-token prediction a decode states one new token (the draft adds "
                      "{}), got s_q {}",
                      shape.mtp.depth, raw.new_tokens));
    }
    const SequenceWork w = as_verified(raw, shape.mtp);
    if (w.samples) {
      add_checked(out.output_tokens, w.count, w.prefill ? 1 : w.new_tokens, "output tokens");
      out.emitted_tokens += double(w.count) * (w.prefill             ? 1.0
                                               : shape.mtp.enabled() ? 1.0 + accepted
                                                                     : double(w.new_tokens));
    }
    add_checked(out.context_sum, w.count, w.context_tokens, "context tokens");
    add_checked(out.tokens, w.count, w.new_tokens, "new tokens");
    add_checked(out.sequences, w.count, 1, "sequences");
  }
  out.layers = m.n_layers;
  out.fused_allreduce = par.fuse_allreduce;
  if (par.pp > 1) {
    // Pipeline stages (vLLM's virtual engines): the batch is dealt into m = min(pp, sequences) micro-batches
    // in flight; every GPU runs its stage's layers for each of them once per step, so its ops are one
    // micro-batch's through one stage, m times, and each micro-batch's activations cross to the next stage.
    if (par.pp > m.n_layers) {
      throw InputError(SourceLocation{}, "pp",
                       fmt::format("{} stages for the {} layers of {}", par.pp, m.n_layers, m.name));
    }
    const int micro = static_cast<int>(std::min<std::int64_t>(par.pp, out.sequences));
    const StepSums sums = sum_sequences(m, shape.sequences, shape.mtp, micro);
    write_ops(m, last_stage(m, par.pp), shape, sums, out.ops);
    detail::OpWriter b(shape.precision, out.ops);
    const double t = busiest_rank(sums.decode, par.attention_dp()).tokens +
                     busiest_rank(sums.prefill, par.attention_dp()).tokens;
    // Point to point: each of the stage's tp GPUs sends its tokens' hidden states (its share under
    // DP-attention, all of them replicated under TP) to the next stage: the group spans the replica's GPUs.
    Op& send = b.add("pp_send_activations", OpClass::kCommunication, 1);
    send.collective = Collective::kSendRecv;
    send.comm_ranks = par.gpus();
    send.comm_bytes = t * m.hidden_size * b.a();
    repeat(out.ops, 0, micro);
    out.pipeline_stages = par.pp;
    out.pipeline_micro_batches = micro;
    out.overlapped_ops = out.ops.size();
  } else if (par.micro_batches == 2) {
    if (out.sequences < 2) {
      throw InputError(
          SourceLocation{}, "micro_batches",
          fmt::format("two micro-batches need at least 2 sequences in the step, got {}", out.sequences));
    }
    write_ops(m, model_layers(m), shape, sum_sequences(m, shape.sequences, shape.mtp, 2), out.ops);
    repeat(out.ops, 0, 2);
    out.micro_batches = 2;
    out.overlapped_ops = out.ops.size();
  } else {
    write_ops(m, model_layers(m), shape, sum_sequences(m, shape.sequences, shape.mtp), out.ops);
  }
  if (shape.mtp.enabled()) add_draft(out.ops, m, shape);
}

double kv_bytes_per_token(const ModelSpec& m, Dtype kv_dtype) {
  return double(m.n_layers) * attention::kv_elements_per_token(m, 1) * dtype_bytes(kv_dtype);
}

double kv_bytes_per_token_per_gpu(const ModelSpec& m, Dtype kv_dtype, const Parallelism& parallel) {
  // A GPU caches the layers of its stage: ceil(layers / pp) of them.
  const int layers = parallel.pp > 1 ? (m.n_layers + parallel.pp - 1) / parallel.pp : m.n_layers;
  return double(layers) * attention::kv_elements_per_token(m, parallel.attention_tp()) *
         dtype_bytes(kv_dtype);
}

int experts_per_gpu(const ModelSpec& m, const Parallelism& parallel) {
  const int e = m.ffn.moe.n_routed_experts;
  if (parallel.ep <= 1) return e;
  const int all = e + parallel.redundant_experts;
  return (all + parallel.ep - 1) / parallel.ep;
}

double parameters_per_gpu(const ModelSpec& m, const Parallelism& parallel) {
  check_parallelism(parallel);
  // Under pipeline stages the GPUs of the last stage hold the most: its layers and the LM head.
  const Layers layers = parallel.pp > 1 ? last_stage(m, parallel.pp) : model_layers(m);
  const int tp = parallel.tp;
  const double h = m.hidden_size;
  const int dense_tp = parallel.dense_tp();
  double params = layers.all * (attention::parameters_per_layer(m, parallel.attention_tp()) + 2.0 * h) +
                  layers.dense * m.ffn.dense_matrices() * h * m.ffn.intermediate_size / dense_tp;
  if (m.ffn.is_moe()) {
    const MoeSpec& e = m.ffn.moe;
    const double expert = 3.0 * h * e.expert_intermediate_size;
    const double routed = parallel.ep > 1 ? experts_per_gpu(m, parallel) * expert  // whole experts
                                          : e.n_routed_experts * expert / tp;      // columns split
    const double shared = e.n_shared_experts * expert / parallel.expert_tp();      // replicated under EP
    params += layers.moe * (routed + shared + h * e.n_routed_experts);             // + router (replicated)
  }
  // Embedding and output head split by vocabulary, and the final norm; with stages, the last stage's head
  // (the first stage's embedding is the same size).
  const double vocab = double(m.vocab_size) * h / dense_tp;
  params += (parallel.pp > 1 ? vocab : vocab * (m.tie_word_embeddings ? 1.0 : 2.0)) + h;
  return params;
}

double weight_bytes_total(const ModelSpec& m, Dtype weight_dtype) {
  return parameters_per_gpu(m, Parallelism{}) * dtype_bytes(weight_dtype);
}

double weight_bytes_per_gpu(const ModelSpec& m, Dtype weight_dtype, const Parallelism& parallel) {
  return parameters_per_gpu(m, parallel) * dtype_bytes(weight_dtype);
}

ParameterCount count_parameters(const ModelSpec& m) {
  const double h = m.hidden_size;
  ParameterCount p;
  p.total = parameters_per_gpu(m, Parallelism{});
  p.attention_per_layer = attention::parameters_per_layer(m, 1);
  p.embedding = double(m.vocab_size) * h;
  p.lm_head = m.tie_word_embeddings ? 0.0 : double(m.vocab_size) * h;
  // Activated: weights one token's forward reads — all but the routed experts it does not choose and the
  // embedding table (a lookup of one row); the LM head is read as a projection, tied or not.
  const double unchosen =
      m.ffn.is_moe() ? m.moe_layers() * double(m.ffn.moe.n_routed_experts - m.ffn.moe.experts_per_token) *
                           3.0 * h * m.ffn.moe.expert_intermediate_size
                     : 0.0;
  p.activated = p.total - unchosen - p.embedding - p.lm_head + double(m.vocab_size) * h;
  return p;
}

}  // namespace mlasim
