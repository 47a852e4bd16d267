#include "reports/step_report.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <limits>
#include <vector>

#include "models/workload.hpp"
#include "reports/json_output.hpp"
#include "reports/table_display.hpp"
#include "reports/table_writers.hpp"
#include "sim/units.hpp"

namespace mlasim {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

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
      fmt::format("{} USD per hour ({} GPU{} x {:g} USD per GPU-hour), {} USD per 1M output tokens",
                  readable_number(t.cost->usd_per_hour), t.gpus, t.gpus == 1 ? "" : "s",
                  *t.price_per_gpu_hour, readable_number(t.cost->usd_per_million_output_tokens));
  if (t.total_tokens_per_s != t.tokens_per_s)
    s += fmt::format(", {} per 1M tokens in total", readable_number(t.cost->usd_per_million_total_tokens));
  return s;
}

}  // namespace

Table step_ops_table(const StepCost& cost) {
  Table t({{"op", "the op, or `total` for the step"},
           {"class", "attention, gemm, communication, other; `total` for the step"},
           {"count", "launches per step"},
           {"flops", "all launches"},
           {"bytes", "HBM bytes, all launches"},
           {"comm_bytes", "collective message bytes, all launches (not HBM traffic)"},
           {"intensity", "FLOP per HBM byte"},
           {"time_s", "all launches"},
           {"share", "fraction of the step time"},
           {"bound", "what sets the op's time"},
           {"provenance", "where the op's time comes from"}});
  std::int64_t launches = 0;
  double comm_bytes = 0.0;
  for (const TimedOp& op : cost.ops) {
    t.add_row({std::string(op.op.name), std::string(to_string(op.op.op_class)), op.op.count, op.op.flops,
               op.op.bytes(), op.op.comm_bytes, op.op.intensity(), op.time.time_s,
               cost.serial_time_s > 0 ? op.time.time_s / cost.serial_time_s : 0.0,
               std::string(to_string(op.time.bound)), std::string(to_string(op.time.provenance))});
    launches += op.op.count;
    comm_bytes += op.op.comm_bytes;
  }
  // The step: sums of the rows above, and the step's time: their sum when ops run back to back, less with
  // two micro-batches overlapping communication with compute.
  t.add_row({std::string("total"), std::string("total"), launches, cost.flops, cost.bytes, comm_bytes,
             cost.bytes > 0.0 ? cost.flops / cost.bytes : 0.0, cost.step_time_s,
             cost.step_time_s > 0 ? 1.0 : 0.0, std::string(), std::string()});
  return t;
}

namespace {
/// The context column: the tokens of a uniform batch as an integer, as sweep.csv writes it (never `32k`).
Cell context_cell(const StepInputs& in) {
  if (in.contexts.empty()) return in.context;
  if (in.contexts.size() == 1) return in.contexts.front();
  std::string text;
  for (const std::int64_t c : in.contexts) text += (text.empty() ? "" : ";") + std::to_string(c);
  return text;
}
}  // namespace

Table step_totals_table(const StepResult& result, std::string_view status) {
  const StepInputs& in = result.inputs;
  const StepCost& cost = result.cost;
  const StepTotals& totals = result.totals;
  std::vector<Column> cols{{"model", ""},
                           {"variant", ""},
                           {"hardware", "GPU profile id"},
                           {"tp", ""},
                           {"dp_attention", ""},
                           {"batch", ""},
                           {"context", "tokens per sequence (a mixed batch: each length, `;`-separated)"},
                           {"s_q", ""},
                           {"mode", ""},
                           {"launch", ""},
                           {"weights_dtype", ""},
                           {"kv_dtype", ""},
                           {"mla_mode", ""},
                           {"ep", "expert-parallel degree (1: off)"},
                           {"micro_batches", "2: communication overlapped with the other micro-batch"},
                           {"pp", "pipeline stages (1: off)"},
                           {"mtp_depth", "draft tokens per step (0: no MTP)"},
                           {"status", "ok, batch-exceeds-capacity or does-not-fit"},
                           {"step_time_s", ""},
                           {"serial_time_s", "the ops back to back"},
                           {"attention_s", ""},
                           {"gemm_s", ""},
                           {"communication_s", ""},
                           {"other_s", ""},
                           {"flops", ""},
                           {"bytes", "HBM bytes"},
                           {"tokens", ""},
                           {"output_tokens", "positions sampled"},
                           {"emitted_tokens", "tokens emitted, in expectation (MTP: accepted drafts + 1)"},
                           {"tokens_per_s", ""},
                           {"tokens_per_s_per_gpu", ""},
                           {"tokens_per_s_per_user", ""},
                           {"total_tokens_per_s", ""},
                           {"gpus", ""},
                           {"price_per_gpu_hour", "USD; empty without a price"},
                           {"usd_per_hour", ""},
                           {"usd_per_million_output_tokens", ""},
                           {"usd_per_million_total_tokens", ""},
                           {"kv_bytes_per_token", "whole model"},
                           {"kv_bytes_per_token_per_gpu", ""},
                           {"kv_capacity_tokens", "in the replica"},
                           {"kv_blocks", "in the replica"},
                           {"block_size", "tokens per KV block"},
                           {"longest_context", ""},
                           {"max_concurrency", "sequences of longest_context that fit"},
                           {"weight_bytes", "whole model"},
                           {"weight_bytes_per_gpu", ""}};
  std::vector<Cell> row{in.model,
                        in.variant,
                        in.hardware,
                        std::int64_t{in.tp},
                        in.dp_attention,
                        std::int64_t{in.batch},
                        context_cell(in),
                        std::int64_t{in.s_q},
                        in.mode,
                        in.launch,
                        in.weights_dtype,
                        in.kv_dtype,
                        in.mla_mode,
                        std::int64_t{in.parallel.ep},
                        std::int64_t{in.parallel.micro_batches},
                        std::int64_t{in.parallel.pp},
                        std::int64_t{in.mtp.depth},
                        std::string(status),
                        totals.step_time_s,
                        totals.serial_time_s,
                        cost.attention_s,
                        cost.gemm_s,
                        cost.communication_s,
                        cost.other_s,
                        cost.flops,
                        cost.bytes,
                        cost.tokens,
                        cost.output_tokens,
                        cost.emitted_tokens,
                        totals.tokens_per_s,
                        totals.tokens_per_s_per_gpu,
                        totals.tokens_per_s_per_user,
                        totals.total_tokens_per_s,
                        std::int64_t{totals.gpus},
                        totals.price_per_gpu_hour.value_or(kNaN),
                        totals.cost ? totals.cost->usd_per_hour : kNaN,
                        totals.cost ? totals.cost->usd_per_million_output_tokens : kNaN,
                        totals.cost ? totals.cost->usd_per_million_total_tokens : kNaN,
                        totals.kv_bytes_per_token,
                        totals.kv_bytes_per_token_per_gpu,
                        totals.kv_capacity_tokens,
                        totals.kv_blocks,
                        std::int64_t{totals.block_size},
                        totals.longest_context,
                        totals.max_concurrency,
                        totals.weight_bytes,
                        totals.weight_bytes_per_gpu};
  for (const Provenance p : kProvenances) {
    cols.push_back({fmt::format("{}_share", to_string(p)), "fraction of the step time"});
    row.emplace_back(cost.share(p));
  }
  Table t(std::move(cols));
  t.add_row(std::move(row));
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
                                                         {"mla_mode", in.mla_mode},
                                                         {"ep", in.parallel.ep},
                                                         {"redundant_experts", in.parallel.redundant_experts},
                                                         {"expert_imbalance", in.parallel.expert_imbalance},
                                                         {"micro_batches", in.parallel.micro_batches},
                                                         {"pp", in.parallel.pp},
                                                         {"fuse_allreduce", in.parallel.fuse_allreduce},
                                                         {"mtp_depth", in.mtp.depth},
                                                         {"mtp_acceptance", in.mtp.acceptance}});
  j["status"] = std::string(status);
  nlohmann::ordered_json ops = nlohmann::ordered_json::array();
  for (const TimedOp& op : cost.ops) {
    ops.push_back({{"name", std::string(op.op.name)},
                   {"class", std::string(to_string(op.op.op_class))},
                   {"count", op.op.count},
                   {"flops", op.op.flops},
                   {"bytes", op.op.bytes()},
                   {"weight_bytes", op.op.weight_bytes},
                   {"kv_read_bytes", op.op.kv_read_bytes},
                   {"kv_write_bytes", op.op.kv_write_bytes},
                   {"activation_bytes", op.op.activation_bytes},
                   {"comm_bytes", op.op.comm_bytes},
                   {"comm_ranks", op.op.comm_ranks},
                   {"math_dtype", std::string(to_string(op.op.math))},
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
      {"serial_time_s", totals.serial_time_s},
      {"attention_s", cost.attention_s},
      {"gemm_s", cost.gemm_s},
      {"communication_s", cost.communication_s},
      {"other_s", cost.other_s},
      {"flops", cost.flops},
      {"bytes", cost.bytes},
      {"tokens", cost.tokens},
      {"output_tokens", cost.output_tokens},
      {"emitted_tokens", cost.emitted_tokens},
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
  const std::string mtp = in.mtp.enabled() ? fmt::format(", MTP depth {} (acceptance {})", in.mtp.depth,
                                                         fmt::join(in.mtp.acceptance, "/"))
                                           : std::string();
  out += fmt::format("{} on {} x {}, {} ({} mode, {} launches), batch {}, context {}, s_q {}{}\n\n", in.model,
                     in.parallel.gpus(), in.hardware_name, in.parallel.describe(), in.mode, in.launch,
                     in.batch, in.context, in.s_q, mtp);
  out += (markdown ? table_to_markdown(ops) : table_to_text(ops)) + "\n";
  const auto ms = [](double s) { return readable_number(s * 1e3, 4); };
  out += fmt::format(
      "step time            {} ms (attention {} ms, GEMMs {} ms, communication {} ms, other {} ms){}\n"
      "throughput           {} tokens/s ({} per GPU, {} per sequence)\n"
      "cost                 {}\n"
      "KV cache per token   {} whole model, {} per GPU\n"
      "KV capacity          {} tokens in the replica ({} blocks of {})\n"
      "max concurrency      {} sequences at {} tokens\n"
      "weights              {} total, {} per GPU\n"
      "time comes from      {}\n",
      ms(cost.step_time_s), ms(cost.attention_s), ms(cost.gemm_s), ms(cost.communication_s), ms(cost.other_s),
      cost.step_time_s != cost.serial_time_s
          ? fmt::format("\n                     the ops take {} ms back to back; {}", ms(cost.serial_time_s),
                        cost.step_time_s < cost.serial_time_s
                            ? "communication overlapped with compute"
                            : "the pipeline waits out its bubble (fewer micro-batches than stages)")
          : std::string(),
      readable_number(totals.tokens_per_s, 5), readable_number(totals.tokens_per_s_per_gpu, 5),
      readable_number(totals.tokens_per_s_per_user, 4), cost_text(totals),
      format_bytes_binary(totals.kv_bytes_per_token), format_bytes_binary(totals.kv_bytes_per_token_per_gpu),
      totals.kv_capacity_tokens, totals.kv_blocks, totals.block_size, totals.max_concurrency,
      totals.longest_context, format_si(totals.weight_bytes, "B"),
      format_si(totals.weight_bytes_per_gpu, "B"), provenance_summary(cost));
  return out;
}

}  // namespace mlasim
