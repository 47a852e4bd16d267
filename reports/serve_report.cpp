#include "reports/serve_report.hpp"

#include <fmt/format.h>

#include <cctype>

#include "reports/table_writers.hpp"
#include "sim/serving/serve_sweep.hpp"

namespace mlasim {

namespace {

/// (column, description, value) triples of a summary, in report order.
struct Field {
  std::string name;
  std::string description;
  Cell value;
};

std::vector<Field> summary_fields(const ServeSummary& s) {
  std::vector<Field> f{
      {"name", "experiment", s.name},
      {"model", "model (with variant)", s.model},
      {"variant", "attention variant", s.variant},
      {"hardware", "GPU", s.hardware},
      {"tp", "GPUs per replica (tensor parallel)", std::int64_t{s.tp}},
      {"dp_attention", "attention data-parallel over the tp GPUs",
       std::string(s.dp_attention ? "true" : "false")},
      {"replicas", "data-parallel replicas", std::int64_t{s.replicas}},
      {"router", "router policy", s.router},
      {"scheduler_policy", "scheduler policy: vllm, no_evict or max_utilization", s.scheduler_policy},
      {"arrival", "arrival process", s.arrival},
      {"rate_per_s", "Poisson request rate (0 when not Poisson)", s.rate_per_s},
      {"concurrency", "closed-loop concurrency (0 when not closed loop)", std::int64_t{s.concurrency}},
      {"stop_reason", "why the run ended", s.stop_reason},
      {"arrived", "requests that arrived", s.arrived},
      {"completed", "requests completed", s.completed},
      {"rejected", "requests rejected (can never fit)", s.rejected},
      {"in_flight", "requests still waiting or running at the end", s.in_flight},
      {"duration_s", "from 0 to the last completion", s.duration_s},
      {"warmup_requests", "first requests (by arrival) left out of the measurement", s.warmup_requests},
      {"drain_requests", "last requests (by arrival) left out of the measurement", s.drain_requests},
      {"measured_requests", "requests measured (arrived inside the window)", s.measured_requests},
      {"measured_completed", "measured requests completed (the latency samples)", s.measured_completed},
      {"measured_rejected", "measured requests rejected", s.measured_rejected},
      {"measured_in_flight", "measured requests still in flight at the end (left out of latencies)",
       s.measured_in_flight},
      {"window_start_s",
       "measurement window start: arrival of the first measured request (0 without warm-up)",
       s.window_start_s},
      {"window_end_s",
       "measurement window end: arrival of the first drained request (end of run without drain)",
       s.window_end_s},
      {"offered_requests_per_s", "arrivals per second in the window", s.offered_requests_per_s},
      {"requests_per_s", "completed requests per second in the window", s.requests_per_s},
      {"output_tokens", "output tokens of completed requests", s.output_tokens},
      {"output_tokens_per_s", "output tokens per second in the window", s.output_tokens_per_s},
      {"output_tokens_per_s_per_gpu", "output tokens per second per GPU in the window",
       s.output_tokens_per_s_per_gpu},
      {"output_tokens_per_s_per_user", "1 / mean TPOT", s.output_tokens_per_s_per_user},
      {"total_tokens_per_s", "prompt + output tokens of completed requests per second in the window",
       s.total_tokens_per_s},
      {"price_per_gpu_hour", "USD per GPU-hour (the profile's price; empty without one)", s.price_per_gpu_hour},
      {"usd_per_hour", "USD per hour for replicas × tp GPUs", s.usd_per_hour},
      {"usd_per_million_output_tokens", "USD per 1M output tokens at the window's throughput",
       s.usd_per_million_output_tokens},
      {"usd_per_million_total_tokens", "USD per 1M prompt + output tokens at the window's throughput",
       s.usd_per_million_total_tokens},
      {"goodput_requests_per_s", "completed requests per second in the window meeting every per-request SLO",
       s.goodput_requests_per_s},
      {"slo_attainment", "fraction of measured completed requests meeting every per-request SLO",
       s.slo_attainment},
  };
  auto dist = [&f](const std::string& prefix, const std::string& what, const Distribution& d) {
    f.push_back({prefix + "_mean_s", what + ", mean", d.mean_s});
    f.push_back({prefix + "_p50_s", what + ", median", d.p50_s});
    f.push_back({prefix + "_p90_s", what + ", 90th percentile", d.p90_s});
    f.push_back({prefix + "_p99_s", what + ", 99th percentile", d.p99_s});
  };
  dist("ttft", "time to first token", s.ttft);
  dist("tpot", "time per output token, (E2E - TTFT)/(output - 1)", s.tpot);
  dist("itl", "inter-token latency", s.itl);
  dist("e2e", "end-to-end latency", s.e2e);
  dist("queue", "queueing delay (arrival to first scheduled)", s.queue);
  const std::vector<Field> rest{
      {"preemptions", "preemptions by recompute", s.preemptions},
      {"steps", "engine iterations", s.steps},
      {"step_min_s", "shortest iteration", s.step_min_s},
      {"step_mean_s", "mean iteration", s.step_mean_s},
      {"step_max_s", "longest iteration", s.step_max_s},
      {"mean_batch_size", "sequences per iteration, weighted by iteration time", s.mean_batch_size},
      {"max_batch_size", "most sequences in one iteration", s.max_batch_size},
      {"mean_kv_usage", "KV blocks in use / total, weighted by iteration time", s.mean_kv_usage},
      {"max_kv_usage", "KV blocks in use / total, max", s.max_kv_usage},
      {"kv_blocks_per_replica", "KV blocks per replica", s.kv_blocks_per_replica},
      {"block_size", "tokens per KV block", std::int64_t{s.block_size}},
      {"mean_requests_in_system", "time-averaged requests waiting or running (Little's L)",
       s.mean_requests_in_system},
      {"events", "events processed", s.events},
  };
  f.insert(f.end(), rest.begin(), rest.end());
  // Verdicts: load, then each percentile SLO (measured over the window's requests, from the log histogram:
  // within 0.39%), then the planner's overall test.
  const OverloadVerdict& o = s.overload;
  const std::vector<Field> load{
      {"overload", "load verdict: stable, overloaded, not_applicable (closed loop) or no_data",
       std::string(to_string(o.verdict))},
      {"overload_span_start_s", "overload judged from: arrival of the middle measured request",
       o.span_start_s},
      {"overload_span_end_s", "overload judged to: arrival ending the measured arrivals", o.span_end_s},
      {"overload_accepted_per_s", "accepted (not rejected) arrivals per second in the judged span",
       o.accepted_rate_per_s},
      {"overload_served_per_s", "completions per second in the judged span", o.served_rate_per_s},
      {"overload_shortfall", "1 - served / accepted (overloaded above the tolerance)", o.shortfall},
      {"overload_backlog_slope_per_s", "least-squares trend of requests in system in the judged span",
       o.backlog_slope_per_s},
      {"overload_backlog_growth", "trend x span: requests the backlog gained", o.backlog_growth},
      {"overload_tolerance", "tolerance, fraction of the accepted rate", o.tolerance},
      {"overload_reason", "the verdict in words", o.reason},
  };
  f.insert(f.end(), load.begin(), load.end());
  for (const SloVerdict& v : s.slo_verdicts) {
    const std::string n = "slo_" + v.slo.name();
    const std::string what = fmt::format("{} p{}", to_string(v.slo.metric), v.slo.percentile);
    f.push_back({n + "_target_s", what + " target", v.target_s});
    f.push_back({n + "_s", what + " measured (log histogram, within 0.39%)", v.measured_s});
    f.push_back({n + "_margin_s", what + " margin: target - measured", v.margin_s});
    f.push_back({n + "_margin", what + " margin as a fraction of the target", v.margin_fraction});
    f.push_back({n + "_met", what + ": met, missed or no_samples", std::string(to_string(v.status))});
  }
  f.push_back({"slos_met", "every percentile SLO met (\"\" when none is set)",
               std::string(s.slo_verdicts.empty() ? ""
                           : s.slos_met           ? "true"
                                                  : "false")});
  f.push_back({"meets_slos", "nothing rejected, load stable, something measured, every percentile SLO met",
               std::string(s.meets_slos() ? "true" : "false")});
  f.push_back({"rejection_reason", "why the first rejected request was rejected", s.first_rejection});
  return f;
}

}  // namespace

Table summary_row_table(const std::vector<ServeSummary>& rows) {
  if (rows.empty()) return Table{};
  std::vector<Column> cols;
  for (const Field& f : summary_fields(rows.front())) cols.push_back({f.name, f.description});
  Table t(std::move(cols));
  for (const ServeSummary& s : rows) {
    std::vector<Cell> row;
    for (Field& f : summary_fields(s)) row.push_back(std::move(f.value));
    t.add_row(std::move(row));
  }
  return t;
}

Table summary_long_table(const ServeSummary& s) {
  Table t({{"metric", "name"}, {"value", "value (base SI units: seconds, per second)"}, {"description", ""}});
  for (Field& f : summary_fields(s)) t.add_row({f.name, std::move(f.value), f.description});
  return t;
}

Table throughput_latency_table(const std::vector<ServeSummary>& rows) {
  Table t({{"rate_per_s", "offered Poisson rate (0 for a closed loop)"},
           {"concurrency", "closed-loop concurrency (0 for Poisson)"},
           {"requests_per_s", "completed requests per second"},
           {"output_tokens_per_s", "output tokens per second"},
           {"output_tokens_per_s_per_gpu", "per GPU"},
           {"output_tokens_per_s_per_user", "1 / mean TPOT"},
           {"usd_per_million_output_tokens", "USD per 1M output tokens (empty without a price)"},
           {"ttft_p50_s", "median TTFT"},
           {"ttft_p99_s", "99th percentile TTFT"},
           {"tpot_p50_s", "median TPOT"},
           {"tpot_p99_s", "99th percentile TPOT"},
           {"e2e_p99_s", "99th percentile end-to-end latency"},
           {"goodput_requests_per_s", "completed requests per second meeting every SLO"},
           {"mean_batch_size", "sequences per iteration (time-weighted)"},
           {"max_kv_usage", "peak fraction of KV blocks in use"},
           {"preemptions", "preemptions by recompute"},
           {"rejected", "requests that can never fit"},
           {"offered_requests_per_s", "arrivals per second in the measurement window"},
           {"overload", "load verdict: stable, overloaded, not_applicable or no_data"},
           {"slos_met", "every percentile SLO met (empty when none is set)"},
           {"meets_slos", "nothing rejected, load stable, something measured, every percentile SLO met"}});
  for (const ServeSummary& s : rows) {
    t.add_row({s.rate_per_s,
               std::int64_t{s.concurrency},
               s.requests_per_s,
               s.output_tokens_per_s,
               s.output_tokens_per_s_per_gpu,
               s.output_tokens_per_s_per_user,
               s.usd_per_million_output_tokens,
               s.ttft.p50_s,
               s.ttft.p99_s,
               s.tpot.p50_s,
               s.tpot.p99_s,
               s.e2e.p99_s,
               s.goodput_requests_per_s,
               s.mean_batch_size,
               s.max_kv_usage,
               s.preemptions,
               s.rejected,
               s.offered_requests_per_s,
               std::string(to_string(s.overload.verdict)),
               std::string(s.slo_verdicts.empty() ? ""
                           : s.slos_met           ? "true"
                                                  : "false"),
               std::string(s.meets_slos() ? "true" : "false")});
  }
  return t;
}

std::string serve_summary_markdown(const ServeSummary& s) {
  return "# Serving run `" + s.name + "`\n\n" + table_to_markdown(with_missing_as(summary_long_table(s), "—"));
}

std::string serve_sweep_markdown(const ServeSpec& spec, const std::vector<ServeSummary>& rows) {
  std::string onset = overload_onset_sentence(rows);
  if (!onset.empty()) onset = " " + std::string(1, static_cast<char>(std::toupper(onset[0]))) + onset.substr(1) + ".";
  return fmt::format("# Serve sweep `{}`\n\nConfig: `{}`. {} points.{}\n\n{}", spec.name, spec.source, rows.size(),
                     onset, table_to_markdown(with_missing_as(throughput_latency_table(rows), "—")));
}

void add_serve_outputs(OutputSet& out, const ServeResult& result) {
  const Table row = summary_row_table({result.summary});
  out.add("summary.csv", table_to_csv(with_missing_as(row, "")));
  out.add("summary.json", table_to_json(row));
  out.add("summary.md", serve_summary_markdown(result.summary));
  out.add("timeseries.csv", table_to_csv(with_missing_as(result.timeseries, "")));
  if (!result.requests_csv.empty()) out.add("requests.csv", result.requests_csv);
}

void add_serve_sweep_outputs(OutputSet& out, const ServeSpec& spec, const std::vector<ServeSummary>& rows) {
  const Table full = summary_row_table(rows);
  out.add("serve_sweep.csv", table_to_csv(with_missing_as(full, "")));
  out.add("serve_sweep.json", table_to_json(full));
  out.add("summary.md", serve_sweep_markdown(spec, rows));
}

}  // namespace mlasim
