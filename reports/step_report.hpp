#pragma once
/// The report of `mlasim step`: one costed decode step (its StepCost and the headline totals beside it) as a
/// table of ops, as text or Markdown for a terminal, as CSV (the ops and a total row, or one row of totals)
/// or as JSON (inputs, ops, totals). Pure rendering: same result, same bytes.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/model_spec.hpp"
#include "models/precision.hpp"
#include "sim/cost.hpp"
#include "sim/device/capacity.hpp"
#include "sim/device/device_model.hpp"
#include "sim/table.hpp"

namespace mlasim {

/// What the step was asked, as given: the `inputs` block of the JSON.
struct StepInputs {
  std::string model;
  std::string variant;
  std::string hardware;       ///< profile id
  std::string hardware_name;  ///< "H100 SXM": the text header names the GPU so
  int tp = 1;
  bool dp_attention = false;
  int batch = 0;
  std::string context;                 ///< as given ("4096", "32k" or "1024,2048"), for the text header
  std::vector<std::int64_t> contexts;  ///< the same, read: one per sequence record (`batch` of one length)
  int s_q = 1;
  std::string mode;
  std::string launch;  ///< graph | eager
  std::string weights_dtype;
  std::string kv_dtype;
  std::string mla_mode;
};

/// The headline numbers of a step beside its StepCost. Base SI units.
struct StepTotals {
  double step_time_s = 0;
  double tokens_per_s = 0;           ///< output tokens/s of the TP group
  double tokens_per_s_per_gpu = 0;   ///< tokens_per_s / tp
  double tokens_per_s_per_user = 0;  ///< s_q / step time: one sequence's output tokens/s
  double total_tokens_per_s = 0;     ///< every token the step processes, prompt and output, per second
  int gpus = 1;                      ///< the replica's GPUs: tp (DP-attention splits sequences over them)
  std::optional<double> price_per_gpu_hour;  ///< USD, from the profile; none when it has no price
  /// The replica's USD per hour and per 1M output (and total) tokens at this step's throughput; none
  /// without a price.
  std::optional<DeploymentCost> cost;
  double kv_bytes_per_token = 0;          ///< all layers, whole model
  double kv_bytes_per_token_per_gpu = 0;  ///< held by one GPU
  std::int64_t kv_capacity_tokens = 0;    ///< in the replica (the TP group)
  std::int64_t kv_blocks = 0;             ///< in the replica
  int block_size = 0;                     ///< tokens per KV block
  std::int64_t longest_context = 0;       ///< tokens: the context max_concurrency is counted at
  std::int64_t max_concurrency = 0;       ///< sequences of longest_context that fit
  double weight_bytes = 0;                ///< whole model
  double weight_bytes_per_gpu = 0;
};

/// A costed step and what it was asked.
struct StepResult {
  StepInputs inputs;
  StepCost cost;
  StepTotals totals;
};

/// The totals of `cost` for `model` (already with its variant) on a replica of capacity `cap`, `tp` GPUs,
/// `s_q` new tokens per sequence; max concurrency counted at `longest_context` tokens; the cost through
/// deployment_cost when `price_per_gpu_hour` (USD) is given.
[[nodiscard]] StepTotals step_totals(const StepCost& cost, const Capacity& cap, const ModelSpec& model,
                                     const Precision& precision, int tp, int s_q,
                                     std::int64_t longest_context, std::optional<double> price_per_gpu_hour);

/// One row per op, then a `total` row (op and class `total`): op, class, count (launches), flops, bytes
/// (HBM), comm_bytes (collective messages), intensity (FLOP per HBM byte), time_s, share (of the step time),
/// bound, provenance (empty on the total row). Base SI units. The total row holds the step's sums: its count,
/// flops, bytes, comm_bytes and time_s are the sums of the op rows (ops run back to back), its share 1,
/// its intensity flops / bytes. This is `mlasim step --format csv`.
[[nodiscard]] Table step_ops_table(const StepCost& cost);

/// One row: the inputs (as step_json's `inputs`), `status`, and every headline total of step_json's `totals`
/// (the time split by class, flops, bytes, tokens, throughputs, cost, KV cache, weights) with
/// `<provenance>_share` for each provenance. Base SI units; NaN where there is no price. This is
/// `mlasim step --format csv --totals`: rows of several runs concatenate into one table.
[[nodiscard]] Table step_totals_table(const StepResult& result, std::string_view status);

/// {inputs, ops (every field of each op, SI units), totals (with time_share_by_provenance)}. The totals'
/// price_per_gpu_hour, usd_per_hour, usd_per_million_output_tokens and usd_per_million_total_tokens are null
/// without a price.
[[nodiscard]] nlohmann::ordered_json step_json(const StepResult& result, std::string_view status = "ok");

/// For a terminal: a header line, the ops table (fixed-width text, or Markdown with a `###` header), then
/// the totals, one line each; the cost line says "no price in the profile" when there is none.
[[nodiscard]] std::string step_text(const StepResult& result, bool markdown);

}  // namespace mlasim
