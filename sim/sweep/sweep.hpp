#pragma once
/// Context-length sweeps (issue 2 §11): a grid over models × variants × GPUs × TP × batch × context × s_q,
/// each point costed by the workload and device models into a typed SweepPoint. Rendering the points (the
/// tidy table, charts, pages) is reports/sweep_report.hpp's job.
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "models/model_spec.hpp"
#include "models/precision.hpp"
#include "models/variant.hpp"
#include "models/workload.hpp"
#include "sim/cost.hpp"
#include "sim/device/capacity.hpp"
#include "sim/device/device_model.hpp"
#include "sim/device/hardware_spec.hpp"
#include "sim/provenance.hpp"
#include "sim/step/evaluate.hpp"

namespace mlasim {

/// One value of a sweep's batch axis: a number of sequences, or `max`: at each point the largest batch whose
/// KV cache fits at that context (max_concurrency), within the scheduler's token budget
/// (CapacityOptions::max_batched_tokens / s_q sequences). The sweep has no max_num_seqs: nothing else caps
/// it.
struct BatchChoice {
  int sequences = 1;    ///< the batch when !is_max
  bool is_max = false;  ///< `max`: resolved at each point by run_sweep
  constexpr BatchChoice() = default;
  /// A count: `spec.batch = {1, 8}` reads as counts.
  constexpr BatchChoice(int n) : sequences(n) {}  // NOLINT(google-explicit-constructor)
  /// `max`.
  [[nodiscard]] static constexpr BatchChoice max() {
    BatchChoice b(0);
    b.is_max = true;
    return b;
  }
  /// "32" or "max".
  [[nodiscard]] std::string to_string() const;
  friend constexpr bool operator==(const BatchChoice&, const BatchChoice&) = default;
};

/// A validated sweep: every list non-empty, every model and GPU resolved.
struct SweepSpec {
  std::string name;
  std::string source;       ///< the config file, for provenance
  std::string config_json;  ///< the config file as JSON (YamlDocument::to_json_text), echoed in outputs
  /// Command-line options that override the config, as given (`--price h100=3.5`), echoed in outputs.
  std::vector<std::string> cli_overrides;
  std::vector<ModelSpec> models;
  std::vector<VariantSpec> variants;  ///< default: {native}
  std::vector<HardwareSpec> hardware;
  std::vector<int> tp;                    ///< default {1}
  std::vector<bool> dp_attention{false};  ///< DP-attention off, on, or both
  std::vector<BatchChoice> batch;         ///< counts and/or `max`
  std::vector<std::int64_t> context;
  std::vector<int> s_q;  ///< default {1}
  /// The layout's other options, the same at every point: ep (1, or with expert_parallel the point's tp),
  /// redundant experts, expert imbalance, micro-batches. Its tp and dp_attention are the axes'.
  Parallelism layout;
  bool expert_parallel = false;  ///< ep = tp at every point (each GPU an expert rank)
  Speculation mtp;               ///< multi-token prediction at every point (s_q must then be 1)
  Precision precision;
  /// `precision.weights` was set by the config; otherwise each model's stored dtype applies (a config.json's
  /// quantization_config or torch_dtype: ModelSpec::weights_dtype), precision.weights (bf16) without one.
  bool weights_given = false;
  MlaMode mla_mode = MlaMode::kAuto;
  DeviceMode device_mode = DeviceMode::kDatasheet;
  LaunchMode launch = LaunchMode::kGraph;
  CapacityOptions capacity;

  /// The layout of a point at `gpus` (the tp axis) GPUs with DP-attention `dp`.
  [[nodiscard]] Parallelism parallel_at(int gpus, bool dp) const {
    Parallelism p = layout;
    p.tp = gpus;
    p.dp_attention = dp;
    p.ep = expert_parallel ? gpus : 1;
    return p;
  }
  /// The precision model `model` runs in (see weights_given).
  [[nodiscard]] Precision precision_for(const ModelSpec& model) const {
    Precision p = precision;
    if (!weights_given && model.weights_dtype) p.weights = *model.weights_dtype;
    return p;
  }
};

/// One grid point, costed. Quantities in base SI units (seconds, bytes, FLOPs, tokens/s); every cost is 0
/// when the point is invalid or is a `max` batch of which not one sequence fits, every capacity is 0 when the
/// capacity itself could not be computed.
struct SweepPoint {
  /// Where in the grid: positions in the spec's lists (models, variants, hardware, tp, dp_attention, batch,
  /// context, s_q).
  std::uint32_t model = 0, variant = 0, hardware = 0, tp_index = 0, dp_index = 0, batch_index = 0,
                context_index = 0, s_q_index = 0;
  int tp = 1;
  bool dp_attention = false;
  int batch = 1;  ///< sequences in the step; for `max` the resolved batch (0 when not one sequence fits)
  bool batch_is_max = false;                      ///< the grid's `max` asked for this batch
  std::int64_t context = 0;                       ///< tokens of context per sequence
  int s_q = 1;                                    ///< new tokens per sequence per step
  AttentionKind attention = AttentionKind::kMha;  ///< the kind evaluated (after the variant)
  PointStatus status = PointStatus::kOk;
  std::string invalid_reason;  ///< kInvalid only: why (the error's message)

  double step_time_s = 0;                ///< one decode step
  double attention_s = 0;                ///< time in attention cores
  double gemm_s = 0;                     ///< time in GEMMs (projections, FFN, experts, LM head)
  double communication_s = 0;            ///< time in collectives
  double other_s = 0;                    ///< norms, rope, KV append, embedding, sampling
  double tokens_per_s = 0;               ///< output tokens/s of the TP group
  double tokens_per_s_per_gpu = 0;       ///< tokens_per_s / tp
  double tokens_per_s_per_user = 0;      ///< s_q / step time: one sequence's output tokens/s
  double flops = 0;                      ///< FLOPs of the step on one GPU
  double bytes = 0;                      ///< HBM bytes of the step on one GPU
  double attention_flops = 0;            ///< of the attention cores, one GPU
  double attention_bytes = 0;            ///< HBM bytes of the attention cores, one GPU
  std::optional<Bound> attention_bound;  ///< what bounds the (last) attention core; none when not costed

  double kv_bytes_per_token = 0;          ///< KV cache per token, all layers, whole model
  double kv_bytes_per_token_per_gpu = 0;  ///< KV cache per token held by one GPU
  std::int64_t kv_capacity_tokens = 0;    ///< KV tokens that fit in the replica (the TP group)
  std::int64_t max_concurrency = 0;       ///< sequences of this context that fit
  double weight_bytes = 0;                ///< whole model
  double weight_bytes_per_gpu = 0;
  /// Fraction of the step time from each provenance (index: Provenance); all 0 when not costed.
  std::array<double, 4> time_share{};
  /// What the replica (tp GPUs) costs and its price per 1M output tokens at this step's throughput: only
  /// when the GPU's profile has a price and the status is ok.
  std::optional<DeploymentCost> cost;

  /// "ok", ..., or "invalid: REASON": the `status` column of sweep.csv.
  [[nodiscard]] std::string status_text() const;
  /// Fraction of the step time resting on provenance `p`.
  [[nodiscard]] double share(Provenance p) const { return time_share[static_cast<std::size_t>(p)]; }
};

/// The most points a sweep may have. Its outputs are streamed (memory does not grow with the grid), but each
/// point is about 1.7 KB of sweep.csv and sweep.json, so a grid this large is already 170 GB on disk; a longer
/// one is a typo (a missing `x` in a range), not an experiment.
inline constexpr std::size_t kMaxSweepGridPoints = 100'000'000;

/// Number of grid points, the product of the axes' lengths. InputError (at the spec's source) when the
/// product exceeds kMaxSweepGridPoints or overflows.
[[nodiscard]] std::size_t sweep_size(const SweepSpec& spec);
/// The product of the axes' lengths, or nullopt when it overflows std::size_t.
[[nodiscard]] std::optional<std::size_t> checked_sweep_size(const SweepSpec& spec);
/// "2 models × 1 variants × ...": the axes' lengths, for messages.
[[nodiscard]] std::string sweep_axes_text(const SweepSpec& spec);

/// How to run a sweep: on how many threads, and whom to tell how far it got.
struct SweepRunOptions {
  int jobs = 1;  ///< threads evaluating points (at least 1); the points do not depend on it
  /// Points evaluated so far and points asked for: called at most every 100 ms from any one worker thread at
  /// a time (under a mutex), and once at the end from the calling thread. Must not throw.
  std::function<void(std::size_t done, std::size_t total)> progress;
};

/// Runs every point, in a fixed order (model, variant, hardware, tp, dp_attention, batch, context, s_q; the
/// last varies fastest), so point i sits at sweep_index(spec, its positions). Points whose model cannot run
/// (tp does not divide heads) or does not fit are kept, with `status` saying why. Deterministic: the same
/// spec gives the same points, byte for byte, whatever options.jobs.
[[nodiscard]] std::vector<SweepPoint> run_sweep(const SweepSpec& spec, const SweepRunOptions& options = {});

/// The points at grid indices `indices` (each below sweep_size; any order, repeats allowed), in that order:
/// element k is exactly run_sweep(spec)[indices[k]]. A shard of a sweep runs its share of the indices with
/// this. InputError when the grid is empty; InternalError for an index out of the grid.
[[nodiscard]] std::vector<SweepPoint> run_sweep_points(const SweepSpec& spec,
                                                       const std::vector<std::size_t>& indices,
                                                       const SweepRunOptions& options = {});

/// The positions in the spec's lists of grid point `index`: the inverse of sweep_index.
struct SweepPosition {
  std::size_t model = 0, variant = 0, hardware = 0, tp = 0, dp = 0, batch = 0, context = 0, s_q = 0;
};
[[nodiscard]] SweepPosition sweep_position(const SweepSpec& spec, std::size_t index);

/// The index in run_sweep's result of the point at these positions in the spec's lists.
[[nodiscard]] std::size_t sweep_index(const SweepSpec& spec, std::size_t model, std::size_t variant,
                                      std::size_t hardware, std::size_t tp, std::size_t dp, std::size_t batch,
                                      std::size_t context, std::size_t s_q);

/// The best configurations at one context of a sweep's headline: indices into run_sweep's result.
struct HeadlineRow {
  std::int64_t context = 0;  ///< tokens per sequence
  /// The point with the most sequences of this context in one replica's KV cache (max_concurrency); ties go
  /// to fewer GPUs, then to the first in grid order. None when nothing fits.
  std::optional<std::size_t> most_concurrent;
  /// The point with the most output tokens/s per GPU at capacity; ties go to the first in grid order. None
  /// when nothing runs at this context.
  std::optional<std::size_t> fastest_at_capacity;
};

/// The headline of one model of a sweep: per context, which variant and layout (GPU, TP, DP-attention, s_q)
/// is best by max concurrency and which by tokens/s per GPU at capacity. Points that are invalid or where not
/// one sequence fits never count.
struct SweepHeadline {
  std::size_t model = 0;  ///< position in the spec's models
  /// Capacity is the batch `max` (status ok) when the grid has one; else, per configuration, s_q and context,
  /// the largest batch of the grid whose status is ok.
  bool at_max = false;
  std::vector<HeadlineRow> rows;  ///< one per distinct context, increasing
};

/// One headline per model, in the spec's order. `points` must be run_sweep(spec)'s result.
[[nodiscard]] std::vector<SweepHeadline> sweep_headline(const SweepSpec& spec,
                                                        const std::vector<SweepPoint>& points);

}  // namespace mlasim
