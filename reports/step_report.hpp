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
#include "sim/step/evaluate.hpp"
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
  Parallelism parallel;  ///< the whole layout (its tp and dp_attention are the fields above)
  Speculation mtp;       ///< multi-token prediction (depth 0: off)
};

/// A costed step and what it was asked.
struct StepResult {
  StepInputs inputs;
  StepCost cost;
  StepTotals totals;
};

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
