#include "reports/step_report.hpp"

#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "models/workload.hpp"
#include "reports/json_output.hpp"
#include "reports/table_writers.hpp"
#include "sim/units.hpp"

namespace mlasim {

namespace {

/// "measured 12%, interpolated 40%, extrapolated 8%, analytic 40%" (kinds with no time left out).
std::string provenance_summary(const StepCost& cost) {
  std::vector<std::string> parts;
  for (const Provenance p : kProvenances) {
    if (cost.share(p) > 0.0) parts.push_back(fmt::format("{} {:.0f}%", to_string(p), 100.0 * cost.share(p)));
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

// A JSON number, or null when there is none (no price) or it is NaN (no tokens).
nlohmann::ordered_json or_null(std::optional<double> v) {
  if (!v || std::isnan(*v)) return nullptr;
  return *v;
}
nlohmann::ordered_json or_null(const std::optional<DeploymentCost>& cost, double DeploymentCost::*field) {
  return cost ? or_null(std::optional<double>((*cost).*field)) : nlohmann::ordered_json(nullptr);
}

// "43.26 USD per hour (8 GPUs x 5.408 USD per GPU-hour), 1.202 USD per 1M output tokens", or why there is no
// cost.
std::string cost_text(const StepTotals& t) {
  if (!t.cost) return "no price in the profile (price_per_gpu_hour)";
  std::string s =
      fmt::format("{:.4g} USD per hour ({} GPU{} x {:g} USD per GPU-hour), {:.4g} USD per 1M output tokens",
                  t.cost->usd_per_hour, t.gpus, t.gpus == 1 ? "" : "s", *t.price_per_gpu_hour,
                  t.cost->usd_per_million_output_tokens);
  if (t.total_tokens_per_s != t.tokens_per_s)
    s += fmt::format(", {:.4g} per 1M tokens in total", t.cost->usd_per_million_total_tokens);
  return s;
}

}  // namespace

StepTotals step_totals(const StepCost& cost, const Capacity& cap, const ModelSpec& model,
                       const Precision& precision, int tp, int s_q, std::int64_t longest_context,
                       std::optional<double> price_per_gpu_hour) {
  StepTotals t;
  t.step_time_s = cost.step_time_s;
  t.tokens_per_s = double(cost.output_tokens) / cost.step_time_s;
  t.tokens_per_s_per_gpu = t.tokens_per_s / tp;
  t.tokens_per_s_per_user = double(s_q) / cost.step_time_s;
  t.total_tokens_per_s = double(cost.tokens) / cost.step_time_s;
  t.gpus = tp;
  t.price_per_gpu_hour = price_per_gpu_hour;
  if (price_per_gpu_hour)
    t.cost = deployment_cost(tp, *price_per_gpu_hour, t.tokens_per_s, t.total_tokens_per_s);
  t.kv_bytes_per_token = kv_bytes_per_token(model, precision.kv_cache);
  t.kv_bytes_per_token_per_gpu = cap.kv_bytes_per_token_per_gpu;
  t.kv_capacity_tokens = cap.kv_capacity_tokens();
  t.kv_blocks = cap.kv_blocks();
  t.block_size = cap.block_size;
  t.longest_context = longest_context;
  t.max_concurrency = max_concurrency(cap, longest_context);
  t.weight_bytes = weight_bytes_total(model, precision.weights);
  t.weight_bytes_per_gpu = cap.weight_bytes_per_gpu;
  return t;
}

Table step_ops_table(const StepCost& cost) {
  Table t({{"op", ""},
           {"class", ""},
           {"count", "launches per step"},
           {"flops", "all launches"},
           {"bytes", "HBM bytes, all launches"},
           {"intensity", "FLOP/byte"},
           {"time_us", "all launches"},
           {"share", "fraction of the step"},
           {"bound", ""},
           {"provenance", ""}});
  for (const TimedOp& op : cost.ops) {
    const bool comm = op.op.op_class == OpClass::kCommunication;
    t.add_row({op.op.name, std::string(to_string(op.op.op_class)), op.op.count, op.op.flops,
               comm ? op.op.comm_bytes : op.op.bytes(), op.op.intensity(), op.time.time_s * 1e6,
               cost.step_time_s > 0 ? op.time.time_s / cost.step_time_s : 0.0,
               std::string(to_string(op.time.bound)), std::string(to_string(op.time.provenance))});
  }
  return t;
}

nlohmann::ordered_json step_json(const StepResult& result, std::string_view status) {
  const StepInputs& in = result.inputs;
  const StepCost& cost = result.cost;
  const StepTotals& totals = result.totals;
  nlohmann::ordered_json j = json_envelope(kStepSchema, {{"model", in.model},
                                                         {"variant", in.variant},
                                                         {"hardware", in.hardware},
                                                         {"tp", in.tp},
                                                         {"dp_attention", in.dp_attention},
                                                         {"batch", in.batch},
                                                         {"contexts", in.contexts},
                                                         {"s_q", in.s_q},
                                                         {"mode", in.mode},
                                                         {"launch", in.launch},
                                                         {"weights_dtype", in.weights_dtype},
                                                         {"kv_dtype", in.kv_dtype},
                                                         {"mla_mode", in.mla_mode}});
  j["status"] = std::string(status);
  nlohmann::ordered_json ops = nlohmann::ordered_json::array();
  for (const TimedOp& op : cost.ops) {
    ops.push_back({{"name", op.op.name},
                   {"class", std::string(to_string(op.op.op_class))},
                   {"count", op.op.count},
                   {"flops", op.op.flops},
                   {"bytes", op.op.bytes()},
                   {"weight_bytes", op.op.weight_bytes},
                   {"kv_read_bytes", op.op.kv_read_bytes},
                   {"kv_write_bytes", op.op.kv_write_bytes},
                   {"activation_bytes", op.op.activation_bytes},
                   {"comm_bytes", op.op.comm_bytes},
                   {"intensity", op.op.intensity()},
                   {"time_s", op.time.time_s},
                   {"compute_s", op.time.compute_s},
                   {"memory_s", op.time.memory_s},
                   {"launch_s", op.time.launch_s},
                   {"fixed_s", op.time.fixed_s},
                   {"network_s", op.time.network_s},
                   {"bound", std::string(to_string(op.time.bound))},
                   {"provenance", std::string(to_string(op.time.provenance))}});
  }
  j["ops"] = std::move(ops);
  j["totals"] = {
      {"step_time_s", totals.step_time_s},
      {"attention_s", cost.attention_s},
      {"gemm_s", cost.gemm_s},
      {"communication_s", cost.communication_s},
      {"other_s", cost.other_s},
      {"flops", cost.flops},
      {"bytes", cost.bytes},
      {"tokens", cost.tokens},
      {"output_tokens", cost.output_tokens},
      {"tokens_per_s", totals.tokens_per_s},
      {"tokens_per_s_per_gpu", totals.tokens_per_s_per_gpu},
      {"tokens_per_s_per_user", totals.tokens_per_s_per_user},
      {"total_tokens_per_s", totals.total_tokens_per_s},
      {"gpus", totals.gpus},
      {"price_per_gpu_hour", or_null(totals.price_per_gpu_hour)},
      {"usd_per_hour", or_null(totals.cost, &DeploymentCost::usd_per_hour)},
      {"usd_per_million_output_tokens", or_null(totals.cost, &DeploymentCost::usd_per_million_output_tokens)},
      {"usd_per_million_total_tokens", or_null(totals.cost, &DeploymentCost::usd_per_million_total_tokens)},
      {"kv_bytes_per_token", totals.kv_bytes_per_token},
      {"kv_bytes_per_token_per_gpu", totals.kv_bytes_per_token_per_gpu},
      {"kv_capacity_tokens", totals.kv_capacity_tokens},
      {"max_concurrency", totals.max_concurrency},
      {"weight_bytes", totals.weight_bytes},
      {"weight_bytes_per_gpu", totals.weight_bytes_per_gpu}};
  nlohmann::ordered_json shares;
  for (const Provenance p : kProvenances) shares[std::string(to_string(p))] = cost.share(p);
  j["totals"]["time_share_by_provenance"] = std::move(shares);
  return j;
}

std::string step_text(const StepResult& result, bool markdown) {
  const StepInputs& in = result.inputs;
  const StepCost& cost = result.cost;
  const StepTotals& totals = result.totals;
  const Table ops = step_ops_table(cost);
  std::string out = markdown ? "### " : "";
  out += fmt::format("{} on {} x {}{} ({} mode, {} launches), batch {}, context {}, s_q {}\n\n", in.model,
                     in.tp, in.hardware_name, in.dp_attention ? " with DP-attention" : "", in.mode, in.launch,
                     in.batch, in.context, in.s_q);
  out += (markdown ? table_to_markdown(ops) : table_to_text(ops)) + "\n";
  out += fmt::format(
      "step time            {:.4g} ms (attention {:.3g} ms, GEMMs {:.3g} ms, communication {:.3g} ms, "
      "other {:.3g} ms)\n"
      "throughput           {:.5g} tokens/s ({:.5g} per GPU, {:.4g} per sequence)\n"
      "cost                 {}\n"
      "KV cache per token   {} whole model, {} per GPU\n"
      "KV capacity          {} tokens in the replica ({} blocks of {})\n"
      "max concurrency      {} sequences at {} tokens\n"
      "weights              {} total, {} per GPU\n"
      "time comes from      {}\n",
      cost.step_time_s * 1e3, cost.attention_s * 1e3, cost.gemm_s * 1e3, cost.communication_s * 1e3,
      cost.other_s * 1e3, totals.tokens_per_s, totals.tokens_per_s_per_gpu, totals.tokens_per_s_per_user,
      cost_text(totals), format_bytes_binary(totals.kv_bytes_per_token),
      format_bytes_binary(totals.kv_bytes_per_token_per_gpu), totals.kv_capacity_tokens, totals.kv_blocks,
      totals.block_size, totals.max_concurrency, totals.longest_context, format_si(totals.weight_bytes, "B"),
      format_si(totals.weight_bytes_per_gpu, "B"), provenance_summary(cost));
  return out;
}

}  // namespace mlasim
