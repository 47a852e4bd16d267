#pragma once
/// Internal to models/: the pieces the step builder (workload.cpp) and the attention families
/// (models/attention/) share to write ops — the sums over a step's sequences and an op writer that knows the
/// dtypes. Not part of the models API.
#include <algorithm>
#include <cmath>
#include <string_view>
#include <utility>
#include <vector>

#include "models/workload.hpp"

namespace mlasim::detail {

/// Sums over the sequences of one attention form (decode, or prefill chunks).
struct SeqSums {
  double sequences = 0;
  double tokens = 0;                        ///< T: query tokens
  double context = 0;                       ///< ΣL: KV tokens read
  double pairs = 0;                         ///< (query, key) pairs scored
  bool prefill = false;                     ///< holds prefill chunks (causal), not only decodes
  double min_context = 0, max_context = 0;  ///< over the sequences (0 when empty)
  [[nodiscard]] bool empty() const { return tokens == 0; }
  [[nodiscard]] bool mixed() const { return min_context != max_context; }
  /// Adds `from`'s sequences.
  void merge(const SeqSums& from) {
    if (from.sequences > 0) {
      min_context = sequences == 0 ? from.min_context : std::min(min_context, from.min_context);
      max_context = std::max(max_context, from.max_context);
    }
    sequences += from.sequences;
    tokens += from.tokens;
    context += from.context;
    pairs += from.pairs;
    prefill = prefill || from.prefill;
  }
};

/// What one attention family needs to write its ops: the work of this GPU's attention side.
struct AttentionWork {
  double layers = 0;
  double tokens = 0;  ///< T on this GPU's attention side (the busiest rank's under DP-attention)
  SeqSums decode;     ///< decodes (their sums on this GPU)
  SeqSums prefill;    ///< prefill chunks
  MlaMode mla_mode = MlaMode::kAuto;
  /// Ranks of the collective after the output projection: the attention-TP group (1: no collective). Under
  /// expert parallelism with TP attention it is a reduce-scatter (the experts take each rank's share of the
  /// tokens), else an all-reduce.
  int comm_ranks = 1;
  Collective comm = Collective::kAllReduce;
};

/// Writes ops with their math dtype (GEMMs: weights; attention cores: KV cache; the rest: activations) and
/// their collective's group, appending them to a caller's op list (a reused buffer allocates nothing). Names
/// are string literals (Op::name views them).
class OpWriter {
 public:
  OpWriter(const Precision& p, std::vector<Op>& out)
      : p_(p),
        w_(dtype_bytes(p.weights)),
        c_(dtype_bytes(p.kv_cache)),
        a_(dtype_bytes(p.activations)),
        ops_(out) {}

  /// `count` launches of an [m×k]·[k×n] GEMM: 2mkn FLOPs, weights k·n·w, activations (m·k + m·n)·a.
  void gemm(std::string_view name, double count, double m, double k, double n) {
    Op& op = add(name, OpClass::kGemm, count);
    op.flops = count * 2.0 * m * k * n;
    op.weight_bytes = count * k * n * w_;
    op.activation_bytes = count * (m * k + m * n) * a_;
    op.gemm_m = m;
    op.gemm_n = n;
    op.gemm_k = k;
  }

  /// `count` launches of `batch` independent [m×k]·[k×n] products (MLA's per-head BMMs: batch = heads).
  void bmm(std::string_view name, double count, double batch, double m, double k, double n) {
    Op& op = add(name, OpClass::kGemm, count);
    op.flops = count * 2.0 * m * batch * k * n;
    op.weight_bytes = count * batch * k * n * w_;
    op.activation_bytes = count * m * batch * (k + n) * a_;
    op.gemm_m = m;
    op.gemm_n = n;
    op.gemm_k = k;
    op.gemm_batch = batch;
  }

  /// Elementwise / normalisation work on `elements_in` read and `elements_out` written activations.
  void elementwise(std::string_view name, double count, double flops_per_launch, double elements_in,
                   double elements_out) {
    Op& op = add(name, OpClass::kOther, count);
    op.flops = count * flops_per_launch;
    op.activation_bytes = count * (elements_in + elements_out) * a_;
  }

  /// A ring collective of `message_bytes` per launch over `ranks` GPUs. A group of one exchanges nothing, so
  /// it writes no op (a layout without the collective, not a free one); nor do zero launches (no layer of
  /// that kind).
  void collective(std::string_view name, double count, Collective kind, double message_bytes, int ranks) {
    if (ranks <= 1 || count <= 0) return;
    Op& op = add(name, OpClass::kCommunication, count);
    op.collective = kind;
    op.comm_ranks = ranks;
    const double p = ranks;
    // Ring all-reduce moves 2·(p − 1)/p of the message over each link; all-gather and reduce-scatter (p −
    // 1)/p (DESIGN.md §5).
    const double factor = kind == Collective::kAllReduce ? 2.0 * (p - 1.0) / p : (p - 1.0) / p;
    op.comm_bytes = count * factor * message_bytes;
  }

  /// An all-to-all over `ranks` GPUs in which this GPU sends `bytes_out` per launch to the others (what stays
  /// on the GPU is not counted). No op for a group of one.
  void all_to_all(std::string_view name, double count, double bytes_out, int ranks) {
    if (ranks <= 1 || count <= 0) return;
    Op& op = add(name, OpClass::kCommunication, count);
    op.collective = Collective::kAllToAll;
    op.comm_ranks = ranks;
    op.comm_bytes = count * bytes_out;
  }

  /// Appends an op of class `cls` with `count` launches and its class's math dtype, built in place; the
  /// caller fills in its work (before adding the next: the reference lives until then).
  Op& add(std::string_view name, OpClass cls, double count) {
    // A copy of a default op: value-initializing one in place zeroes it first with `rep stos`, whose start-up
    // cost was most of a step's op writing.
    static constexpr Op kBlank{};
    Op& op = ops_.emplace_back(kBlank);
    op.name = name;
    op.op_class = cls;
    op.count = static_cast<std::int64_t>(count);
    switch (cls) {
      case OpClass::kAttention:
        op.math = p_.kv_cache;
        break;
      case OpClass::kGemm:
        op.math = p_.weights;
        break;
      case OpClass::kCommunication:
      case OpClass::kOther:
        op.math = p_.activations;
        break;
    }
    return op;
  }

  [[nodiscard]] double w() const { return w_; }
  [[nodiscard]] double c() const { return c_; }
  [[nodiscard]] double a() const { return a_; }

 private:
  Precision p_;
  double w_, c_, a_;
  std::vector<Op>& ops_;
};

}  // namespace mlasim::detail
