#pragma once
/// The duration of one engine iteration. ModelStepTime costs the exact mix of prefill chunks and decodes with
/// the workload and device models (build_step + cost_step); tests inject FixedStepTime.
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "models/model_spec.hpp"
#include "models/precision.hpp"
#include "models/workload.hpp"
#include "sim/device/device_model.hpp"
#include "sim/time.hpp"

namespace mlasim {

/// The sums through which a step's cost depends on its mix (see build_step: the ops are functions of the
/// token, context and (query, key)-pair totals of the decode and prefill sequences, of the sampled count, and
/// of whether each kind's contexts are all equal). Two mixes with equal StepMix cost exactly the same.
/// Decodes here have one new token each.
struct StepMix {
  std::int64_t decode_seqs = 0;      ///< decode sequences (= decode tokens)
  std::int64_t decode_context = 0;   ///< Σ context of decodes, after appending (= decode pairs)
  std::int64_t prefill_seqs = 0;     ///< prefill chunks
  std::int64_t prefill_tokens = 0;   ///< Σ chunk lengths
  std::int64_t prefill_context = 0;  ///< Σ context after the chunk
  std::int64_t prefill_pairs = 0;    ///< Σ q·L − q(q − 1)/2 (causal)
  std::int64_t sampled = 0;          ///< sequences that produce a token this step
  bool decode_mixed = false;         ///< the decodes' contexts are not all equal
  bool prefill_mixed = false;        ///< the prefill chunks' contexts are not all equal

  [[nodiscard]] std::int64_t sequences() const { return decode_seqs + prefill_seqs; }
  [[nodiscard]] std::int64_t tokens() const { return decode_seqs + prefill_tokens; }
  /// The contexts of decodes and prefills together are not all equal.
  [[nodiscard]] bool all_mixed() const {
    return decode_mixed || prefill_mixed ||
           (decode_seqs > 0 && prefill_seqs > 0 && first_decode_ != first_prefill_);
  }
  void add_decode(std::int64_t context) {
    // This runs for every running request of every iteration: one well-predicted branch and one compare.
    if (decode_seqs == 0) first_decode_ = context;
    decode_mixed |= context != first_decode_;
    ++decode_seqs;
    decode_context += context;
    ++sampled;
  }
  /// `n` decodes at once, as n calls of add_decode would leave the sums: their contexts sum to `context_sum`,
  /// `mixed` says whether they differ, `first_context` is the first one's. Only on a mix without decodes.
  void add_decodes(std::int64_t n, std::int64_t context_sum, bool mixed, std::int64_t first_context) {
    if (n == 0) return;
    first_decode_ = first_context;
    decode_mixed = mixed;
    decode_seqs = n;
    decode_context = context_sum;
    sampled += n;
  }
  void add_prefill(std::int64_t chunk, std::int64_t context, bool samples) {
    if (prefill_seqs == 0) first_prefill_ = context;
    prefill_mixed |= context != first_prefill_;
    ++prefill_seqs;
    prefill_tokens += chunk;
    prefill_context += context;
    prefill_pairs += chunk * context - chunk * (chunk - 1) / 2;
    if (samples) ++sampled;
  }
  /// Equal sums and equal mixedness: the first contexts seen are bookkeeping, not part of the key.
  friend bool operator==(const StepMix& a, const StepMix& b) {
    return a.decode_seqs == b.decode_seqs && a.decode_context == b.decode_context &&
           a.prefill_seqs == b.prefill_seqs && a.prefill_tokens == b.prefill_tokens &&
           a.prefill_context == b.prefill_context && a.prefill_pairs == b.prefill_pairs &&
           a.sampled == b.sampled && a.decode_mixed == b.decode_mixed && a.prefill_mixed == b.prefill_mixed &&
           a.all_mixed() == b.all_mixed();
  }

 private:
  std::int64_t first_decode_ = 0;
  std::int64_t first_prefill_ = 0;
};

/// Fills the exact per-sequence work of the step being costed (implemented by the scheduler), so a cost
/// model can call build_step on the real shape.
class SequenceWorkSource {
 public:
  virtual void fill(std::vector<SequenceWork>& out) const = 0;

 protected:
  ~SequenceWorkSource() = default;
};

/// Duration of one iteration.
class StepTimeSource {
 public:
  virtual ~StepTimeSource() = default;
  /// Step time in ps for `mix`; `work` gives the exact sequences when needed.
  virtual TimePs step_time(const StepMix& mix, const SequenceWorkSource& work) = 0;
};

/// Every step takes the same time (tests: M/D/1).
class FixedStepTime final : public StepTimeSource {
 public:
  explicit FixedStepTime(TimePs step_ps) : step_ps_(step_ps) {}
  TimePs step_time(const StepMix&, const SequenceWorkSource&) override { return step_ps_; }

 private:
  TimePs step_ps_;
};

/// The workload and device models' time for the exact mix: seconds_to_ps(evaluate_step_time(model, device,
/// shape) + host overhead), the shape carrying the replica's whole Parallelism and its Speculation. With two
/// micro-batches a step's cost depends on which sequences form the busier micro-batch, not only on the
/// StepMix sums, so those steps (of two sequences or more) are costed every time, never memoized. Memoized
/// on StepMix (exact: the cost is a function of those sums). On a miss, the step time is the sum of
/// device.time_op over build_step's ops in order — the same additions cost_step makes, without copying the
/// ops.
class ModelStepTime final : public StepTimeSource {
 public:
  /// `host_overhead_s` is added to every step (CPU time the GPU waits for between iterations).
  /// `mtp`: multi-token prediction — every decode (new_tokens 1 from the scheduler) verifies 1 + depth
  /// tokens. The layout and MTP are constant for the model's life, so the StepMix key stays exact.
  ModelStepTime(ModelSpec model, DeviceModel device, Precision precision, Parallelism parallel,
                MlaMode mla_mode, double host_overhead_s = 0.0, Speculation mtp = {},
                std::size_t cache_limit = 1 << 20);
  TimePs step_time(const StepMix& mix, const SequenceWorkSource& work) override;
  /// Uncached: build_step + cost_step on `sequences`.
  [[nodiscard]] TimePs reference_time(const std::vector<SequenceWork>& sequences) const;

  [[nodiscard]] std::uint64_t cache_hits() const { return hits_; }
  [[nodiscard]] std::uint64_t cache_misses() const { return misses_; }

 private:
  struct MixHash {
    std::size_t operator()(const StepMix& m) const noexcept;
  };

  /// Two micro-batches need two sequences: a step of one runs as one batch (the step builder refuses to split
  /// it). The sequence count is part of StepMix, so the cache stays exact.
  [[nodiscard]] int micro_batches_for(std::int64_t sequences) const {
    return micro_batches_ == 2 && sequences >= 2 ? 2 : 1;
  }

  ModelSpec model_;
  DeviceModel device_;
  int micro_batches_;  ///< the layout's: 1, or 2 for steps of two sequences or more
  StepShape shape_;    ///< reused buffer
  double host_overhead_s_;
  std::size_t cache_limit_;
  std::unordered_map<StepMix, TimePs, MixHash> cache_;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
};

}  // namespace mlasim
