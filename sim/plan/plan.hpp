#pragma once
/// `mlasim plan` (DESIGN.md §10 "Plan"): the cheapest deployment that serves a workload at a target rate
/// within percentile SLOs. Every layout of the search space (model variant × GPU × TP × DP-attention × dtypes
/// × scheduler limits and policy) is first checked against the capacity model — what cannot fit is never
/// simulated — then the serving simulation finds the fewest replicas that meet every SLO at the target rate
/// (a binary search) and the highest rate one replica sustains (a bisection). Costs, a ranking and the Pareto
/// front of tokens/s per GPU against tokens/s per user follow. Plain data in, typed results out.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "models/model_spec.hpp"
#include "models/variant.hpp"
#include "sim/plan/search.hpp"
#include "sim/serving/serve.hpp"

namespace mlasim {

/// A GPU kind the plan may use, at a price.
struct PlanGpu {
  HardwareSpec hw;
  double price_per_gpu_hour = 0.0;  ///< USD
};

/// The question: a workload (its `base.workload` at the target rate), SLOs (`base.slo`), a budget and the
/// space to search. Every list has at least one entry.
struct PlanSpec {
  std::string name;
  std::string source;       ///< the config file
  std::string config_json;  ///< the config file as JSON (YamlDocument::to_json_text), echoed in outputs
  /// Command-line options that override the config, as given (`--price h100=3.5`), echoed in outputs.
  std::vector<std::string> cli_overrides;
  std::vector<ModelSpec> models;
  std::vector<VariantSpec> variants;  ///< default {native}
  std::vector<PlanGpu> gpus;
  std::vector<int> tp;             ///< default {1, 2, 4, 8}
  std::vector<bool> dp_attention;  ///< default {false}
  std::vector<Dtype> weights;      ///< default {bf16}
  /// `weights` was set by the config; otherwise a model that stores its weights in a dtype (a config.json's
  /// quantization_config or torch_dtype) is planned in that dtype alone.
  bool weights_given = false;
  std::vector<Dtype> kv_cache;                       ///< default {bf16}
  std::vector<int> max_num_seqs;                     ///< default {256}
  std::vector<std::int64_t> max_num_batched_tokens;  ///< default {8192}
  std::vector<SchedulerPolicy> policies;             ///< default {vllm}
  int max_gpus = 64;                                 ///< budget: GPUs of the whole deployment
  ServeSpec base;  ///< workload (rate = the target), SLOs, window, router, device mode
  std::int64_t requests_per_replica = 2000;  ///< simulated requests per replica of an evaluated deployment
  double rate_tolerance = 0.02;              ///< of the highest-rate bisection, relative
  int top = 5;                               ///< alternatives reported beside the cheapest
};

/// One point of the search space: everything but the replica count.
struct PlanLayout {
  std::string model;    ///< card name
  std::string variant;  ///< "native", "gqa:8", ...
  ModelSpec spec;       ///< with the variant applied
  PlanGpu gpu;
  int tp = 1;
  bool dp_attention = false;
  Precision precision;
  int max_num_seqs = 256;
  std::int64_t max_num_batched_tokens = 8192;
  SchedulerPolicy policy = SchedulerPolicy::kVllm;
  /// "DeepSeek-V3 mla on h200, TP 8, DP-attention, fp8 weights, bf16 KV, 256 seqs, 8192 tokens, vllm".
  [[nodiscard]] std::string describe() const;
};

/// What became of one layout.
enum class LayoutStatus {
  kOk,          ///< some replica count within the budget meets every SLO at the target rate
  kDoesNotFit,  ///< the capacity model says no request fits (never simulated)
  kInvalid,     ///< the model cannot run this way (TP not dividing the heads, ...)
  kOverBudget,  ///< one replica already needs more GPUs than the budget
  kSloUnmet,    ///< even the most replicas the budget allows miss an SLO
};
[[nodiscard]] std::string_view to_string(LayoutStatus s);

struct LayoutOutcome {
  PlanLayout layout;
  LayoutStatus status = LayoutStatus::kOk;
  std::string reason;                       ///< why, for every status but kOk
  std::optional<PlanEvaluation> at_target;  ///< the fewest replicas meeting the SLOs at the target rate
  std::optional<ServeSummary> at_target_summary;
  std::optional<PlanEvaluation>
      best_effort;  ///< kSloUnmet: the most replicas the budget allows, as evaluated
  std::optional<PlanEvaluation> one_replica_max;  ///< one replica at the highest rate it sustains
  DeploymentCost cost;                            ///< of at_target (kOk only)
  double max_requests_per_s_bound = 0.0;          ///< one replica's analytic ceiling (decode at full batch)
  int simulations = 0;
};

/// One simulation the search ran: a layout's replicas at a rate, and what came of it.
struct PlanTrial {
  std::size_t layout = 0;
  PlanEvaluation evaluation;
  ServeSummary summary;
};

/// A point of the throughput trade-off, and where it comes from.
struct PlanPoint {
  std::size_t layout = 0;
  bool at_target = true;  ///< the target-rate deployment (else one replica at its highest rate)
  TradeoffPoint point;
};

struct PlanResult {
  double target_rate_per_s = 0.0;
  std::vector<LayoutOutcome> layouts;  ///< in search-space order
  std::vector<std::size_t>
      ranking;                      ///< kOk layouts, cheapest first ($/h, then $/1M output tokens, then GPUs)
  std::vector<PlanTrial> trials;    ///< every simulation, in the order run
  std::vector<PlanPoint> points;    ///< every evaluated deployment meeting the SLOs
  std::vector<std::size_t> pareto;  ///< indices into `points`: the front, tokens/s per GPU descending
  int simulations = 0;
  int not_simulated = 0;  ///< layouts discarded by the capacity model, the budget or as invalid
  /// The cheapest deployment, when one meets the SLOs.
  [[nodiscard]] const LayoutOutcome* cheapest() const {
    return ranking.empty() ? nullptr : &layouts[ranking.front()];
  }
};

/// Progress: simulations run so far, layouts finished, layouts in all. Called at most every 100 ms from one
/// worker thread at a time (under a mutex), and once at the end from the calling thread. Must not throw.
using PlanProgress = std::function<void(int simulations, std::size_t done, std::size_t total)>;

/// How to run a plan: on how many threads, and whom to tell how far it got.
struct PlanRunOptions {
  int jobs = 1;  ///< layouts searched at once (at least 1); the result does not depend on it
  PlanProgress progress;
};

/// What the search of one layout produced: independent of every other layout's, so layouts run in parallel
/// (or in separate shards) and are joined in layout order.
struct PlanLayoutRun {
  LayoutOutcome outcome;
  std::vector<PlanTrial> trials;  ///< its simulations, in the order run
  std::vector<PlanPoint> points;  ///< its deployments meeting the SLOs
  bool simulated = false;         ///< false: discarded by the capacity model, the budget or as invalid
};

/// The layouts of the search space, in a fixed order (model, variant, GPU, TP, DP-attention, weights, KV,
/// max_num_seqs, max_num_batched_tokens, policy; the last varies fastest).
[[nodiscard]] std::vector<PlanLayout> plan_layouts(const PlanSpec& spec);

/// The serving experiment of `replicas` copies of `layout` at `rate_per_s` (the spec's base with the layout's
/// choices, `requests_per_replica` × replicas requests, no per-request CSV).
[[nodiscard]] ServeSpec plan_serve_spec(const PlanSpec& spec, const PlanLayout& layout, int replicas,
                                        double rate_per_s);

/// Runs the plan. Deterministic: the same spec gives the same result, whatever options.jobs (each layout's
/// search is sequential; the layouts run in parallel and are joined in layout order, `trials` too).
[[nodiscard]] PlanResult run_plan(const PlanSpec& spec, const PlanRunOptions& options);
/// The number of layouts of the search space (InputError when it is empty).
[[nodiscard]] std::size_t plan_size(const PlanSpec& spec);

/// The searches of layouts [first, last) of plan_layouts(spec) (a shard's block), in layout order, on up to
/// options.jobs threads. run_plan is join_plan of every layout's.
[[nodiscard]] std::vector<PlanLayoutRun> run_plan_layouts(const PlanSpec& spec, std::size_t first,
                                                          std::size_t last,
                                                          const PlanRunOptions& options = {});

/// The plan from every layout's run, in layout order: the ranking (cheapest first) and the Pareto front.
[[nodiscard]] PlanResult join_plan(const PlanSpec& spec, std::vector<PlanLayoutRun> runs);

/// Sets each run's outcome.layout to its layout as run_plan_layouts found it (plan_layouts with the variant
/// applied): what a shard file leaves out, since merge can compute it. `runs` holds every layout's run.
void restore_layouts(const PlanSpec& spec, std::vector<PlanLayoutRun>& runs);

/// The same on one thread.
[[nodiscard]] PlanResult run_plan(const PlanSpec& spec, const PlanProgress& progress = {});

}  // namespace mlasim
