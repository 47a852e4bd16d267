#pragma once
/// A serving run (DESIGN.md §8): requests from a WorkloadSpec, a router, and several engine replicas (data
/// parallel) in one event queue; per-request timestamps turned into vLLM-style metrics.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "models/model_spec.hpp"
#include "models/precision.hpp"
#include "models/workload.hpp"
#include "sim/device/capacity.hpp"
#include "sim/device/device_model.hpp"
#include "sim/device/hardware_spec.hpp"
#include "sim/engine/simulator.hpp"
#include "sim/serving/metrics.hpp"
#include "sim/serving/replica.hpp"
#include "sim/serving/workload_spec.hpp"
#include "sim/table.hpp"

namespace mlasim {

/// How arriving requests are spread over replicas.
enum class RouterPolicy {
  kRoundRobin,        ///< replica i mod n
  kLeastOutstanding,  ///< fewest waiting + running requests; ties to the lowest index
};
[[nodiscard]] std::string_view to_string(RouterPolicy p);
/// Parses "round_robin", "least_outstanding"; throws InputError.
[[nodiscard]] RouterPolicy parse_router_policy(std::string_view text);

/// Sane limits on the sizes a serve config may ask for (memory and run time grow with each).
inline constexpr int kMaxReplicas = 4096;                  ///< engine replicas
inline constexpr int kMaxConcurrency = 1'000'000;          ///< closed-loop clients
inline constexpr std::int64_t kMaxRequests = 100'000'000;  ///< requests in one run

/// Disaggregated prefill and decode (DistServe, OSDI'24; SGLang's and vLLM's PD disaggregation): a pool of
/// prefill replicas that only prefill, a pool of decode replicas that only decode, each with its own layout,
/// and the KV cache of every prompt sent from the one to the other (sim/serving/README.md, "Disaggregated").
struct DisaggregatedSpec {
  int prefill_replicas = 1;
  int decode_replicas = 1;
  Parallelism prefill;  ///< one prefill replica's layout
  Parallelism decode;   ///< one decode replica's layout
  /// The KV transfer of one request: latency_s + bytes / bandwidth (bytes per second). Transfers of different
  /// requests run in parallel (no contention is modelled).
  double kv_bandwidth_bytes_per_s = 0;
  double kv_latency_s = 0;
};

/// A validated serving experiment: plain data (the config loader builds it; tests build it in C++).
struct ServeSpec {
  std::string name;
  std::string source;       ///< the config file, for provenance
  std::string config_json;  ///< the config file as JSON (YamlDocument::to_json_text), echoed in outputs
  /// Command-line options that override the config, as given (`--price h100=3.5`), echoed in outputs.
  std::vector<std::string> cli_overrides;
  ModelSpec model;  ///< with any attention variant already applied
  std::string variant = "native";
  HardwareSpec hardware;
  DeviceMode device_mode = DeviceMode::kDatasheet;
  LaunchMode launch = LaunchMode::kGraph;  ///< decode under CUDA graphs, as vLLM and SGLang run it
  /// CPU time per engine step that the GPU waits for (scheduling, input preparation, sampling bookkeeping).
  /// Default 0: vLLM V1 overlaps it with the GPU ("near-zero CPU overhead", vLLM V1 alpha blog, 2025-01-27);
  /// v0.5.3 spent ~29% of each step in scheduling on Llama-3-8B / H100 (vLLM v0.6.0 blog, 2024-09-05):
  /// ~4 ms beside ~5 ms of GPU time. sim/serving/README.md.
  double host_overhead_s = 0.0;
  Precision precision;
  MlaMode mla_mode = MlaMode::kAuto;
  /// One replica's layout: its GPUs (tp), DP-attention, expert parallelism (ep 1 or tp), redundant experts,
  /// expert imbalance, micro-batches. The step-time model and the capacity model take it whole.
  Parallelism parallel;
  /// Multi-token prediction: each decode step verifies 1 + depth tokens per running request and emits 1 + the
  /// accepted ones, drawn per request and step from the run's seeded MTP stream (Replica). Off by default.
  Speculation mtp;
  int replicas = 1;  ///< data-parallel engine copies
  /// When set, the run is disaggregated: `replicas` and `parallel` are unused, the two pools' counts and
  /// layouts are here.
  std::optional<DisaggregatedSpec> disaggregated;
  RouterPolicy router = RouterPolicy::kRoundRobin;
  SchedulerSpec scheduler;
  CapacityOptions
      capacity;  ///< gpu_memory_utilization, block_size (max_batched_tokens is taken from scheduler)
  std::int64_t kv_blocks = 0;  ///< > 0 overrides the memory model's block count (per replica)
  WorkloadSpec workload;
  SloSpec slo;
  MeasureSpec measure;  ///< steady-state window (default: leave out the first and last 10% of requests)
  EngineLimits limits;
  bool per_request_csv = true;
  TimePs timeseries_interval_ps = kPsPerSecond;
  bool check_invariants = false;  ///< verify KV-block conservation at every step (slower)
  /// Advance the running decodes of a replica as one group, in O(changes) per iteration instead of a pass
  /// over every request, wherever that is exact (Replica::set_grouped_decodes; sim/serving/README.md,
  /// "Speed"). false: the step-by-step loop over every request, the reference the grouped one is tested
  /// against byte for byte.
  bool grouped_decodes = true;
};

/// Test and tool hooks of one run.
struct ServeRunOptions {
  StepTimeSource* step_time = nullptr;  ///< overrides the model's step time (shared by every replica)
  ServeObserver* observer = nullptr;
  /// Disaggregated runs: overrides the decode pool's step time (`step_time` then covers the prefill pool
  /// only; without this both pools share `step_time`).
  StepTimeSource* decode_step_time = nullptr;
  /// With ServeSpec::per_request_csv: requests.csv (its header, then one row per request as it ends, the
  /// in-flight ones last) handed over in blocks of at least `requests_csv_block_bytes` (the last one shorter)
  /// while the run goes, instead of kept whole in ServeResult::requests_csv (then empty): the CLI streams it
  /// to the output file (OutputSet::stream), so memory stays flat in the number of requests. The
  /// concatenated blocks are byte for byte the in-memory requests_csv. An exception from the sink ends the
  /// run and leaves run_serve.
  std::function<void(std::string_view)> requests_csv_sink{};
  std::size_t requests_csv_block_bytes = std::size_t{1} << 20U;
};

/// The headline numbers of a run, and its verdicts. Counts (arrived, completed, rejected, in_flight,
/// preemptions, steps, tokens) cover the whole run; latency distributions and the SLO verdicts cover the
/// measured requests; rates and time averages cover the measurement window [window_start_s, window_end_s).
/// A figure with no samples is NaN (kNoValue), never 0.
struct ServeSummary {
  std::string name, model, variant, hardware;
  int tp = 1, replicas = 1;
  bool dp_attention = false;
  std::string router, arrival, scheduler_policy;
  double rate_per_s = 0;  ///< poisson only
  int concurrency = 0;    ///< closed loop only
  std::string stop_reason;
  /// Configured requests that never arrived: the run stopped first (max_time, max_events) or the next
  /// arrival lay beyond the 64-bit picosecond clock (`arrivals_beyond_clock`).
  std::int64_t not_arrived = 0;
  bool arrivals_beyond_clock = false;
  std::int64_t arrived = 0, completed = 0, rejected = 0, in_flight = 0, good = 0, preemptions = 0;
  std::int64_t output_tokens = 0, prompt_tokens = 0, steps = 0, events = 0;
  int block_size = 0;
  std::int64_t kv_blocks_per_replica = 0;
  double duration_s = 0;  ///< from 0 to the last completion (or the end of the run if none)

  // The measurement window (MeasureSpec): requests by arrival index, and the matching times.
  std::int64_t warmup_requests = 0;  ///< first requests left out
  std::int64_t drain_requests = 0;   ///< last requests left out
  std::int64_t measured_requests = 0, measured_completed = 0, measured_rejected = 0, measured_in_flight = 0;
  double window_start_s = kNoValue;  ///< arrival of the first measured request (0 without warm-up)
  double window_end_s =
      kNoValue;  ///< arrival of the first drained request (the end of the run without drain)
  double offered_requests_per_s = kNoValue;  ///< measured arrivals per second of window

  double requests_per_s = kNoValue, output_tokens_per_s = kNoValue, output_tokens_per_s_per_gpu = kNoValue;
  double output_tokens_per_s_per_user = kNoValue;  ///< 1 / mean TPOT
  double total_tokens_per_s = kNoValue, goodput_requests_per_s = kNoValue;
  double slo_attainment = kNoValue;  ///< measured completed requests meeting every per-request SLO, fraction
  Distribution ttft, tpot, itl, e2e, queue;
  double step_min_s = kNoValue, step_mean_s = kNoValue, step_max_s = kNoValue;  ///< min / max: whole run
  double mean_batch_size = kNoValue;                  ///< time-weighted over busy time
  std::int64_t max_batch_size = 0;                    ///< whole run
  double mean_kv_usage = kNoValue, max_kv_usage = 0;  ///< fractions of the KV blocks (max: whole run)
  double mean_requests_in_system = kNoValue;          ///< Little's L over the window

  // Disaggregated prefill/decode (all 0 otherwise): replicas and tp per pool, the KV transfers made (one per
  // request whose prefill finished and that has more than one output token), their bytes and time summed
  // over transfers (they overlap: this is not wall time).
  bool disaggregated = false;
  int prefill_replicas = 0, prefill_tp = 0, decode_replicas = 0, decode_tp = 0;
  std::int64_t kv_blocks_per_decode_replica = 0;
  std::int64_t kv_transfers = 0;
  double kv_transfer_bytes = 0, kv_transfer_time_s = 0;
  int gpus = 0;  ///< the deployment's GPUs: replicas × gpus per replica, summed over the pools

  // Cost (sim/cost.hpp), when the profile has a price: the deployment's GPUs (replicas × tp) for an hour, and
  // that hour over the tokens served per second in the window. NaN without a price or without tokens.
  double price_per_gpu_hour = kNoValue;
  double usd_per_hour = kNoValue;
  double usd_per_million_output_tokens = kNoValue;
  double usd_per_million_total_tokens = kNoValue;

  // Verdicts.
  std::vector<SloVerdict> slo_verdicts;  ///< one per percentile target, in SloSpec order
  bool slos_met = true;                  ///< every percentile target met (true when there is none)
  OverloadVerdict overload;
  std::string first_rejection;  ///< why the first rejected request was rejected ("" when none was)

  /// The capacity planner's test: nothing rejected, the load judged stable (or a closed loop), some measured
  /// request completed, and every percentile SLO met.
  [[nodiscard]] bool meets_slos() const;
};

/// Plain sentences about what makes a run's figures doubtful or meaningless: overload, rejections, nothing
/// measured, measured requests still in flight, missed SLOs. For stderr; empty when all is well.
[[nodiscard]] std::vector<std::string> serve_warnings(const ServeSummary& s);

/// Latency quantiles of the measured requests, for CDF charts: at each level (a percentile in (0, 100)), the
/// TTFT, TPOT and E2E in seconds (NaN when the metric has no samples).
struct LatencyQuantiles {
  std::vector<double> levels;
  std::vector<double> ttft_s, tpot_s, e2e_s;
};
/// The levels LatencyQuantiles uses: every 0.5 from 0.5 to 99.5, then 99.9.
[[nodiscard]] const std::vector<double>& latency_quantile_levels();

struct ServeResult {
  ServeSummary summary;
  LatencyQuantiles quantiles;
  /// Per replica, the intervals of `timeseries_interval_ps` with any activity, in time order (sparse: each
  /// bucket carries its interval index): what the engine did (timeseries.csv's rows).
  std::vector<std::vector<TimeBucket>> buckets;
  TimePs timeseries_interval_ps = 0;
  std::string requests_csv;      ///< empty unless per_request_csv, and empty with a requests_csv_sink
  double in_system_area_ps = 0;  ///< ∫ requests in system dt (request·ps)
  TimePs end_ps = 0;
  /// Iterations scheduled through the decode group (ServeSpec::grouped_decodes), summed over replicas: a
  /// diagnostic for tests and benchmarks, written to no output.
  std::int64_t grouped_steps = 0;
};

/// timeseries.csv's table of a run (timeseries_table of its buckets), built on demand: a long run at a fine
/// interval has millions of rows (timeseries_tables hands them over in slices).
[[nodiscard]] Table timeseries_table(const ServeResult& r);

/// The step-time model a run of `spec` uses (its model, device, precision, parallelism, MLA mode and host
/// overhead).
[[nodiscard]] ModelStepTime model_step_time(const ServeSpec& spec);

/// KV blocks per replica from the memory model (or the override); InputError when the model does not fit.
[[nodiscard]] Capacity serve_capacity(const ServeSpec& spec);
/// The same for a replica laid out as `parallel` (a disaggregated pool's).
[[nodiscard]] Capacity serve_capacity(const ServeSpec& spec, const Parallelism& parallel);
/// The step-time model of a replica laid out as `parallel`, with speculation `mtp`.
[[nodiscard]] ModelStepTime model_step_time(const ServeSpec& spec, const Parallelism& parallel,
                                            const Speculation& mtp);

/// Runs the experiment. Deterministic: the same spec gives byte-identical outputs.
[[nodiscard]] ServeResult run_serve(const ServeSpec& spec, const ServeRunOptions& options = {});

}  // namespace mlasim
