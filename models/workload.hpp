#pragma once
/// Workload model (DESIGN.md §5): the ops of one engine step — what each computes (FLOPs) and moves
/// (bytes of weights, KV cache and activations) — on one GPU of a tensor-parallel group. Device-independent:
/// the device model turns each op into a duration.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "models/model_spec.hpp"
#include "models/parallelism.hpp"
#include "models/precision.hpp"

namespace mlasim {

/// How MLA attention is computed. Engines use naive for prefill and absorbed for decode (kAuto).
enum class MlaMode { kAuto, kAbsorbed, kNaive };
[[nodiscard]] std::string_view to_string(MlaMode m);
/// Parses "auto", "absorbed", "naive"; throws InputError.
[[nodiscard]] MlaMode parse_mla_mode(std::string_view text);

/// Coarse class of an op, for the per-class time split in reports.
enum class OpClass { kAttention, kGemm, kCommunication, kOther };
[[nodiscard]] std::string_view to_string(OpClass c);

/// Communication pattern, for ops of class kCommunication.
enum class Collective { kNone, kAllReduce, kAllGather, kReduceScatter, kAllToAll, kSendRecv };

/// One sequence's share of a step: `new_tokens` query tokens appended to a context that, after appending,
/// holds `context_tokens` tokens. Decode: new_tokens = s_q (1, or more with multi-token prediction).
/// A prefill chunk: new_tokens = chunk length, context_tokens = tokens prefilled so far + chunk.
/// `count` identical sequences share one record: a step's cost depends only on sums over its sequences, so a
/// batch of a billion identical decodes costs one record, not a billion (build_step multiplies every sum).
struct SequenceWork {
  std::int64_t context_tokens = 0;
  std::int64_t new_tokens = 1;
  bool prefill = false;    ///< prefill chunk (causal attention within the chunk) rather than decode
  bool samples = true;     ///< produces a token this step (decode, or a prefill chunk that ends the prompt)
  std::int64_t count = 1;  ///< identical sequences this record stands for (at least 1)
};

/// Multi-token prediction (DeepSeek-V3 §2.2) or speculative decoding: a draft proposes `depth` tokens per
/// sequence, the model verifies 1 + depth tokens in one step and keeps 1 + the accepted ones.
struct Speculation {
  int depth = 0;  ///< draft tokens per step; 0 = off
  /// Acceptance of the draft token at each position given the ones before it were accepted: one value for
  /// every position, or one per position (depth values).
  std::vector<double> acceptance;
  [[nodiscard]] bool enabled() const { return depth > 0; }
  /// Acceptance at draft position i (0-based).
  [[nodiscard]] double acceptance_at(int i) const;
  /// Expected accepted draft tokens per step: Σ_i Π_{j<=i} a_j.
  [[nodiscard]] double expected_accepted() const;
};
/// Checks a speculation spec; throws InputError keyed "mtp.depth" or "mtp.acceptance".
void check_speculation(const Speculation& mtp);

/// Everything that defines one step's workload.
struct StepShape {
  std::vector<SequenceWork> sequences;
  Parallelism parallel;
  Precision precision;
  MlaMode mla_mode = MlaMode::kAuto;
  /// Multi-token prediction. With it on, every decode record must have new_tokens 1 (one plain decode); the
  /// step verifies 1 + depth tokens per decode at context L + depth and runs the draft module depth times.
  Speculation mtp;
};

/// Convenience: B identical decode sequences at context L with s_q new tokens each (one record, count B).
[[nodiscard]] StepShape uniform_decode(int batch, std::int64_t context, int s_q = 1);

/// The shape of one launch of an attention core, for timing it as a kernel (the device model's decode-kernel
/// model and the calibrated kernel tables). Sums are over the sequences this GPU attends to (the busiest rank
/// under DP-attention); head counts are per GPU.
struct AttentionCall {
  bool mla = false;      ///< absorbed MLA: MQA over one latent head (K = [c; k_r], V = c)
  bool prefill = false;  ///< prefill chunks (causal), not decode
  /// The sequences hold different contexts: the split-KV schedule then cuts some sequence between parts (a
  /// combine pass), which a uniform batch of B <= parts sequences avoids.
  bool mixed_lengths = false;
  double sequences = 0;    ///< B
  double context_sum = 0;  ///< ΣL: KV tokens read
  double new_tokens = 0;   ///< T: query tokens (B·s_q for decode)
  double q_heads = 0;      ///< query heads on this GPU
  double kv_heads = 0;     ///< KV heads on this GPU (MLA: 1)
  int qk_dim = 0;          ///< d_h, or d_c + d_r for MLA
  int v_dim = 0;           ///< d_h, or d_c for MLA
  /// New tokens per sequence (s_q).
  [[nodiscard]] double s_q() const { return sequences > 0 ? new_tokens / sequences : 0.0; }
};

/// One op of a step, totalled over the whole step (all layers) on one GPU.
struct Op {
  /// e.g. "attention_decode", "qkv_proj", "moe_experts", "allreduce_attn", "mtp_o_proj". It views static
  /// storage (a string literal): an op is plain data, copied without allocating.
  std::string_view name;
  OpClass op_class = OpClass::kOther;
  Collective collective = Collective::kNone;
  std::int64_t count = 0;     ///< launches per step (e.g. one per layer)
  double flops = 0.0;         ///< total FLOPs of all launches
  double weight_bytes = 0.0;  ///< weights read, all launches
  double kv_read_bytes = 0.0;
  double kv_write_bytes = 0.0;
  double activation_bytes = 0.0;  ///< activations read + written
  double comm_bytes = 0.0;        ///< message bytes (collectives), all launches; not HBM traffic
  double gemm_m = 0.0;            ///< GEMMs: rows (tokens) of the activation operand, for efficiency curves
  double gemm_n = 0.0;            ///< GEMMs: output columns of one product
  double gemm_k = 0.0;            ///< GEMMs: reduction depth
  double gemm_batch = 1.0;        ///< GEMMs: independent products per launch (MLA's per-head BMMs: heads)
  AttentionCall attention;        ///< attention cores: the shape of one launch
  Dtype math = Dtype::kBf16;      ///< the dtype its math runs in (GEMMs: weights; attention: KV cache)
  int comm_ranks = 1;             ///< collectives: the GPUs of its group

  /// HBM bytes moved by all launches.
  [[nodiscard]] double bytes() const {
    return weight_bytes + kv_read_bytes + kv_write_bytes + activation_bytes;
  }
  /// FLOP per HBM byte.
  [[nodiscard]] double intensity() const { return bytes() > 0.0 ? flops / bytes() : 0.0; }
};

/// The ops of one step, in execution order, plus what the step produces.
struct StepWorkload {
  std::vector<Op> ops;
  std::int64_t tokens = 0;         ///< T: query tokens processed (all sequences)
  std::int64_t output_tokens = 0;  ///< positions sampled (decode sequences' new tokens, prompt ends)
  /// Tokens the step emits in expectation: output_tokens without MTP; with it, each decode emits 1 + the
  /// expected accepted draft tokens.
  double emitted_tokens = 0;
  std::int64_t sequences = 0;
  std::int64_t context_sum = 0;  ///< ΣL_b
  /// Two micro-batches: ops [0, overlapped_ops) are both micro-batches' (each op's work twice, once per
  /// micro-batch), whose communication overlaps the other's compute; the rest (the MTP draft) run after.
  int micro_batches = 1;
  std::size_t overlapped_ops = 0;
  /// Pipeline stages: ops [0, overlapped_ops) are one GPU's stage run for each of `pipeline_micro_batches`
  /// micro-batches; with fewer micro-batches than stages the step waits out the bubble (pp − m stage times).
  int pipeline_stages = 1;
  int pipeline_micro_batches = 1;
  /// Every all-reduce op right after a GEMM runs under it (Parallelism::fuse_allreduce).
  bool fused_allreduce = false;
  int layers = 0;  ///< the model's layers (the overlap schedule's pipeline depth)
};

/// Builds the op list of one step of `model` (DESIGN.md §5). Throws InputError for shapes the model cannot
/// run (tp not dividing heads, empty batch, zero-length context, a count below 1, token totals that overflow
/// a 64-bit count).
[[nodiscard]] StepWorkload build_step(const ModelSpec& model, const StepShape& shape);
/// The same into `out`, reusing its op buffer: once that has held a step of as many ops, building another
/// allocates nothing (the sweep's and the serving simulator's steady state).
void build_step(const ModelSpec& model, const StepShape& shape, StepWorkload& out);

/// The checks build_step makes of `shape`'s layout alone — the parallel layout, the speculation, expert
/// parallelism only on an MoE model — throwing the same InputError.
void check_step_layout(const ModelSpec& model, const StepShape& shape);
/// build_step(model, shape, out) for a shape whose layout passed check_step_layout: the same ops, without
/// checking the layout again (a sweep checks each layout once, not each of its points).
void build_step_of_checked_layout(const ModelSpec& model, const StepShape& shape, StepWorkload& out);

/// KV-cache bytes per token, all layers (models/attention/ owns the formulas): for the whole model (DESIGN.md
/// §11 reference figures) and what one GPU of a TP group stores for a token of a sequence it holds (KV heads
/// split by TP; MLA's latent cache is replicated on every rank; with DP-attention a rank holds all heads of
/// its own sequences).
[[nodiscard]] double kv_bytes_per_token(const ModelSpec& model, Dtype kv_dtype);
[[nodiscard]] double kv_bytes_per_token_per_gpu(const ModelSpec& model, Dtype kv_dtype,
                                                const Parallelism& parallel);

/// Weight bytes: the whole model, and what one GPU holds (attention replicated under DP-attention; under
/// expert parallelism its share of the routed experts, whole, and the shared experts replicated). One formula
/// (parameters_per_gpu) for both: the whole model is the per-GPU count of a one-GPU layout.
[[nodiscard]] double weight_bytes_total(const ModelSpec& model, Dtype weight_dtype);
[[nodiscard]] double weight_bytes_per_gpu(const ModelSpec& model, Dtype weight_dtype,
                                          const Parallelism& parallel);

/// Weights one GPU holds, elements (count_parameters(model).total at Parallelism{}).
[[nodiscard]] double parameters_per_gpu(const ModelSpec& model, const Parallelism& parallel);

/// Routed experts one expert-parallel GPU holds: ceil((E + redundant) / ep); E when ep is 1.
[[nodiscard]] int experts_per_gpu(const ModelSpec& model, const Parallelism& parallel);

/// The busiest of `ranks` GPUs' load over the mean when `items` go to them uniformly at random: the expected
/// maximum, by the Gaussian extreme-value approximation 1 + sqrt(2·ln(ranks) / mean), mean = items / ranks
/// (it overestimates a simulated maximum by up to about 7%), at least ceil(mean) / mean (some GPU holds a
/// whole item) and at most `ranks` (every item on one GPU); 1 for one rank.
[[nodiscard]] double expected_max_load_factor(double items, int ranks);

/// Expected number of distinct experts touched by T tokens each choosing k of E experts uniformly:
/// E·(1 − (1 − k/E)^T) (DESIGN.md §5).
[[nodiscard]] double expected_distinct_experts(int n_experts, int top_k, double tokens);

}  // namespace mlasim
