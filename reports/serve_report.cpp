#include "reports/serve_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <utility>

#include "reports/gnuplot.hpp"
#include "reports/json_output.hpp"
#include "reports/table_display.hpp"
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

/// Every percentile SLO met: yes, no, or no answer when none is set.
Cell slos_met_cell(const ServeSummary& s) {
  if (s.slo_verdicts.empty()) return std::monostate{};
  return s.slos_met;
}

std::vector<Field> summary_fields(const ServeSummary& s) {
  std::vector<Field> f{
      {"name", "experiment", s.name},
      {"model", "model (with variant)", s.model},
      {"variant", "attention variant", s.variant},
      {"hardware", "GPU", s.hardware},
      {"tp", "GPUs per replica (tensor parallel)", std::int64_t{s.tp}},
      {"dp_attention", "attention data-parallel over the tp GPUs", s.dp_attention},
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
      {"not_arrived", "configured requests that never arrived (the run was cut first)", s.not_arrived},
      {"arrivals_beyond_clock", "the next arrival lay beyond the 64-bit picosecond clock (about 106 days)",
       s.arrivals_beyond_clock},
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
      {"price_per_gpu_hour", "USD per GPU-hour (the profile's price; empty without one)",
       s.price_per_gpu_hour},
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
  if (s.disaggregated) {
    // Only disaggregated runs carry these, so every other run's outputs stay as they were.
    const std::vector<Field> pd{
        {"prefill_replicas", "prefill replicas (disaggregated)", std::int64_t{s.prefill_replicas}},
        {"prefill_tp", "GPUs per prefill replica (tensor-parallel)", std::int64_t{s.prefill_tp}},
        {"decode_replicas", "decode replicas (disaggregated)", std::int64_t{s.decode_replicas}},
        {"decode_tp", "GPUs per decode replica (tensor-parallel)", std::int64_t{s.decode_tp}},
        {"gpus", "GPUs of the deployment: both pools", std::int64_t{s.gpus}},
        {"kv_blocks_per_decode_replica", "KV blocks per decode replica", s.kv_blocks_per_decode_replica},
        {"kv_transfers", "KV transfers from prefill to decode replicas", s.kv_transfers},
        {"kv_transfer_bytes", "KV bytes transferred, all transfers", s.kv_transfer_bytes},
        {"kv_transfer_time_s", "KV transfer time summed over transfers (they overlap)", s.kv_transfer_time_s},
    };
    f.insert(f.end(), pd.begin(), pd.end());
  }
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
  f.push_back({"slos_met", "every percentile SLO met (no value when none is set)", slos_met_cell(s)});
  f.push_back({"meets_slos", "nothing rejected, load stable, something measured, every percentile SLO met",
               s.meets_slos()});
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
  Table t({{"metric", "name"},
           {"value", "in the unit named beside the metric (summary.csv and .json: base SI units)"},
           {"description", ""}});
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
               slos_met_cell(s),
               s.meets_slos()});
  }
  return t;
}

std::string serve_summary_markdown(const ServeSummary& s) {
  return "# Serving run `" + s.name + "`\n\n" +
         table_to_markdown(with_missing_as(summary_long_table(s), "—"));
}

std::string serve_sweep_markdown(const ServeSpec& spec, const std::vector<ServeSummary>& rows) {
  std::string onset = overload_onset_sentence(rows);
  if (!onset.empty())
    onset = " " + std::string(1, static_cast<char>(std::toupper(onset[0]))) + onset.substr(1) + ".";
  return fmt::format("# Serve sweep `{}`\n\nConfig: `{}`. {} points.{}\n\n{}", spec.name, spec.source,
                     rows.size(), onset,
                     table_to_markdown(with_missing_as(throughput_latency_table(rows), "—")));
}

void add_serve_outputs(OutputSet& out, const ServeSpec& spec, const ServeResult& result) {
  const Table row = summary_row_table({result.summary});
  out.add("summary.csv", table_to_csv(with_missing_as(row, "")));
  nlohmann::ordered_json json =
      json_envelope(kServeSummarySchema, config_file_json(spec.source, spec.config_json, spec.cli_overrides));
  json["summary"] = row_json(row, 0);
  out.add("summary.json", json_text(json));
  out.add("summary.md", serve_summary_markdown(result.summary));
  OutputStream& series = out.stream("timeseries.csv");
  write_timeseries_csv(result, [&series](std::string_view text) { series.write(text); });
  if (!result.requests_csv.empty()) out.add("requests.csv", result.requests_csv);
}

void write_timeseries_csv(const ServeResult& result, const std::function<void(std::string_view)>& sink,
                          std::size_t rows) {
  bool header = true;
  timeseries_tables(result.buckets, result.timeseries_interval_ps, rows, [&](Table& slice) {
    // Every slice has the same columns: the header line once, then each slice's rows.
    sink(table_to_csv(with_missing_as(std::move(slice), ""), header));
    header = false;
  });
  if (header) sink(table_to_csv(timeseries_table(result)));  // no row: the header alone
}

void add_serve_sweep_outputs(OutputSet& out, const ServeSpec& spec, const std::vector<ServeSummary>& rows) {
  const Table full = summary_row_table(rows);
  out.add("serve_sweep.csv", table_to_csv(with_missing_as(full, "")));
  nlohmann::ordered_json json =
      json_envelope(kServeSweepSchema, config_file_json(spec.source, spec.config_json, spec.cli_overrides));
  json["points"] = rows_json(full);
  out.add("serve_sweep.json", json_text(json));
  out.add("summary.md", serve_sweep_markdown(spec, rows));
}

Table slo_verdict_table(const ServeSummary& s) {
  Table t({{"slo", "metric and percentile"},
           {"target_s", "the percentile must not exceed this"},
           {"measured_s", "the percentile over the measured requests (empty: no samples)"},
           {"margin_s", "target − measured (positive: headroom)"},
           {"margin", "margin as a fraction of the target"},
           {"samples", "measured requests (or tokens, for ITL) behind the percentile"},
           {"status", "met, missed or no_samples"}});
  for (const SloVerdict& v : s.slo_verdicts) {
    t.add_row({v.slo.name(), v.target_s, v.measured_s, v.margin_s, v.margin_fraction,
               static_cast<std::int64_t>(v.samples), std::string(to_string(v.status))});
  }
  return t;
}

namespace {

constexpr double kMs = 1e3;
/// Points per timeline chart at most (about): longer runs merge intervals into wider points.
constexpr std::int64_t kMaxTimelinePoints = 2000;

/// The TTFT / TPOT / E2E quantiles of a result, by metric.
const std::vector<double>& quantiles_of(const LatencyQuantiles& q, SloMetric m) {
  switch (m) {
    case SloMetric::kTtft:
      return q.ttft_s;
    case SloMetric::kTpot:
      return q.tpot_s;
    default:
      return q.e2e_s;
  }
}

std::string metric_upper(SloMetric m) {
  std::string t(to_string(m));
  for (char& c : t) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return t;
}

std::string fmt_s(double seconds) {
  if (std::isnan(seconds)) return "—";
  return seconds < 1.0 ? readable_number(seconds * kMs) + " ms" : readable_number(seconds) + " s";
}

std::string slo_text(const std::vector<SloVerdict>& verdicts) {
  if (verdicts.empty()) return "none";
  std::vector<std::string> parts;
  for (const SloVerdict& v : verdicts) {
    parts.push_back(
        fmt::format("{} p{} ≤ {}", metric_upper(v.slo.metric), v.slo.percentile, fmt_s(v.target_s)));
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

std::string cost_text(const ServeSummary& s) {
  if (std::isnan(s.price_per_gpu_hour)) return "no price in the hardware profile";
  const int gpus = s.tp * s.replicas;
  return fmt::format(
      "{} GPU{} × {} USD/h = {:.2f} USD/h; {} per 1M output tokens, {} per 1M total tokens", gpus,
      gpus == 1 ? "" : "s", readable_number(s.price_per_gpu_hour), s.usd_per_hour,
      std::isnan(s.usd_per_million_output_tokens) ? std::string("—")
                                                  : readable_number(s.usd_per_million_output_tokens) + " USD",
      std::isnan(s.usd_per_million_total_tokens) ? std::string("—")
                                                 : readable_number(s.usd_per_million_total_tokens) + " USD");
}

std::string layout_text(const ServeSummary& s) {
  return fmt::format("{}{} on {} × {}, TP {}{}, {} replica{}, {} scheduler", s.model,
                     s.variant.empty() || s.variant == "native" ? "" : " (" + s.variant + ")",
                     s.tp * s.replicas, s.hardware, s.tp, s.dp_attention ? ", DP-attention" : "", s.replicas,
                     s.replicas == 1 ? "" : "s", s.scheduler_policy);
}

std::string verdict_text(const ServeSummary& s) {
  if (s.meets_slos()) return "meets every SLO: nothing rejected, load stable";
  std::vector<std::string> why;
  if (s.rejected > 0) why.push_back(fmt::format("{} requests rejected", s.rejected));
  if (s.overload.verdict == LoadVerdict::kOverloaded) why.push_back("overloaded");
  if (s.overload.verdict == LoadVerdict::kNoData) why.push_back("nothing measured");
  for (const SloVerdict& v : s.slo_verdicts) {
    if (v.status != SloStatus::kMet) why.push_back(fmt::format("{} {}", v.slo.name(), to_string(v.status)));
  }
  return fmt::format("does not meet its SLOs: {}", fmt::join(why, ", "));
}

}  // namespace

std::vector<ScatterChart> serve_latency_charts(const ServeResult& result) {
  const ServeSummary& s = result.summary;
  std::vector<ScatterChart> out;
  for (const SloMetric m : {SloMetric::kTtft, SloMetric::kTpot}) {
    const std::vector<double>& q = quantiles_of(result.quantiles, m);
    ScatterChart c;
    c.name = fmt::format("serve_{}_cdf", to_string(m));
    c.title = fmt::format("{} CDF", metric_upper(m));
    c.x.label = fmt::format("{} (ms)", metric_upper(m));
    c.x.log = wide_range(q);
    c.x.format = "%g";  // plain numbers: the unit is in the label
    c.y.label = "requests at or below (%)";
    c.key = "inside right bottom opaque font ',10'";
    c.y_headroom = false;
    ScatterSeries line;
    line.title = fmt::format("{} of {} measured requests", metric_upper(m),
                             m == SloMetric::kTtft ? s.ttft.count : s.tpot.count);
    line.connected = true;
    line.markers = false;
    for (std::size_t i = 0; i < q.size() && i < result.quantiles.levels.size(); ++i) {
      line.x.push_back(q[i] * kMs);
      line.y.push_back(result.quantiles.levels[i]);
    }
    c.series.push_back(std::move(line));
    for (const SloVerdict& v : s.slo_verdicts) {
      if (v.slo.metric != m) continue;
      c.lines.push_back({ReferenceLine::Kind::kVertical, v.target_s * kMs,
                         fmt::format("p{} target {}", v.slo.percentile, fmt_s(v.target_s)), false});
      c.lines.push_back({ReferenceLine::Kind::kHorizontal, static_cast<double>(v.slo.percentile),
                         fmt::format("{}th percentile", v.slo.percentile), true});
    }
    if (has_drawable_points(c)) out.push_back(std::move(c));
  }
  return out;
}

std::vector<LineChart> serve_timeline_charts(const ServeResult& result) {
  // The buckets are sparse (active intervals only): walk the union of the replicas' intervals in order.
  std::vector<std::int64_t> intervals;
  for (const auto& r : result.buckets) {
    for (const TimeBucket& b : r) intervals.push_back(b.interval);
  }
  std::sort(intervals.begin(), intervals.end());
  intervals.erase(std::unique(intervals.begin(), intervals.end()), intervals.end());
  if (intervals.empty() || result.timeseries_interval_ps <= 0) return {};
  // A point per `group` intervals, so that a chart has at most about kMaxTimelinePoints points: a long run
  // (days of simulated time at 1 s intervals) would otherwise draw an SVG of tens of MB. timeseries.csv keeps
  // every interval.
  const std::int64_t span = intervals.back() - intervals.front() + 1;
  const std::int64_t group = (span + kMaxTimelinePoints - 1) / kMaxTimelinePoints;
  std::vector<std::int64_t> points;
  for (const std::int64_t k : intervals) points.push_back(k / group);
  points.erase(std::unique(points.begin(), points.end()), points.end());
  const double point_s = static_cast<double>(group) * ps_to_seconds(result.timeseries_interval_ps);
  LineChart load;
  load.name = "serve_requests_over_time";
  load.title = "requests running and waiting";
  load.x.label = group > 1 ? fmt::format("time (s; a point per {})", fmt_s(point_s)) : "time (s)";
  load.y.label = "requests (all replicas)";
  load.y_from_zero = true;
  load.key = "inside left top";
  LineChart kv = load;
  kv.name = "serve_kv_over_time";
  kv.title = "KV cache in use";
  kv.y.label = "KV blocks in use (%)";
  Series running{"running (mean batch per step)", {}, {}, false, 0};
  const char* per = group > 1 ? "point" : "interval";
  Series waiting{fmt::format("waiting (at the {}'s last step)", per), {}, {}, false, 3};
  Series kv_mean{fmt::format("mean over the {}", per), {}, {}, false, 0};
  Series kv_max{fmt::format("max in the {}", per), {}, {}, true, 0};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::size_t> next(result.buckets.size(), 0);
  for (std::size_t i = 0; i < points.size(); ++i) {
    const std::int64_t g = points[i];
    if (i > 0 && points[i - 1] + 1 < g) {
      // An idle stretch: one empty point breaks the lines, as an idle interval did in a dense series.
      load.x_values.push_back((static_cast<double>(points[i - 1]) + 1.5) * point_s);
      for (Series* line : {&running, &waiting, &kv_mean, &kv_max}) line->y.push_back(nan);
    }
    load.x_values.push_back((static_cast<double>(g) + 0.5) * point_s);
    double batch = 0, queue = 0, kv_weighted = 0, busy = 0, kv_peak = 0;
    bool any = false;
    for (std::size_t r = 0; r < result.buckets.size(); ++r) {
      const auto& replica = result.buckets[r];
      std::int64_t steps = 0, batch_sum = 0, waiting_last = 0;
      for (std::size_t& j = next[r]; j < replica.size() && replica[j].interval / group == g; ++j) {
        const TimeBucket& b = replica[j];
        if (b.steps == 0) continue;
        steps += b.steps;
        batch_sum += b.batch_sum;
        waiting_last = b.waiting_last;
        kv_weighted += b.kv_used_weighted;
        busy += static_cast<double>(b.busy_ps);
        kv_peak = std::max(kv_peak, b.kv_used_max);
      }
      if (steps == 0) continue;
      any = true;
      batch += static_cast<double>(batch_sum) / static_cast<double>(steps);
      queue += static_cast<double>(waiting_last);
    }
    running.y.push_back(any ? batch : nan);
    waiting.y.push_back(any ? queue : nan);
    kv_mean.y.push_back(any && busy > 0 ? 100.0 * kv_weighted / busy : nan);
    kv_max.y.push_back(any ? 100.0 * kv_peak : nan);
  }
  kv.x_values = load.x_values;
  load.series = {std::move(running), std::move(waiting)};
  kv.series = {std::move(kv_mean), std::move(kv_max)};
  std::vector<LineChart> out;
  for (LineChart* c : {&load, &kv}) {
    if (has_drawable_points(*c)) out.push_back(std::move(*c));
  }
  return out;
}

std::vector<ScatterChart> serve_sweep_charts(const std::vector<ServeSummary>& rows) {
  std::vector<ScatterChart> out;
  if (rows.empty()) return out;
  for (const SloMetric m : {SloMetric::kTtft, SloMetric::kTpot}) {
    ScatterChart c;
    c.name = fmt::format("serve_sweep_{}", to_string(m));
    c.title = fmt::format("{} against throughput", metric_upper(m));
    c.x.label = "output tokens/s per GPU";
    c.y.label = fmt::format("{} (ms)", metric_upper(m));
    c.key = "inside left top opaque font ',10'";
    ScatterSeries p50{fmt::format("{} p50", metric_upper(m)), {}, {}, false, 0, true, true};
    ScatterSeries p99{fmt::format("{} p99", metric_upper(m)), {}, {}, false, 3, true, true};
    ScatterSeries over{"overloaded (not a steady state)", {}, {}, true, 7};
    std::vector<double> all;
    for (const ServeSummary& s : rows) {
      const Distribution& d = m == SloMetric::kTtft ? s.ttft : s.tpot;
      const double x = s.output_tokens_per_s_per_gpu;
      p50.x.push_back(x);
      p50.y.push_back(d.p50_s * kMs);
      p99.x.push_back(x);
      p99.y.push_back(d.p99_s * kMs);
      all.push_back(d.p50_s);
      all.push_back(d.p99_s);
      if (s.overload.verdict == LoadVerdict::kOverloaded) {
        over.x.push_back(x);
        over.y.push_back(d.p99_s * kMs);
      }
    }
    c.y.log = wide_range(all);
    c.y.format = "%g";
    c.series = {std::move(p50), std::move(p99)};
    if (!over.x.empty()) c.series.push_back(std::move(over));
    for (const SloVerdict& v : rows.front().slo_verdicts) {
      if (v.slo.metric != m) continue;
      c.lines.push_back({ReferenceLine::Kind::kHorizontal, v.target_s * kMs,
                         fmt::format("p{} target {}", v.slo.percentile, fmt_s(v.target_s)),
                         v.slo.percentile != 99});
    }
    if (has_drawable_points(c)) out.push_back(std::move(c));
  }
  return out;
}

ReportFiles build_serve_report(const ServeSpec& spec, const ServeResult& result, bool charts) {
  const ServeSummary& s = result.summary;
  const std::vector<ScatterChart> latency =
      charts ? serve_latency_charts(result) : std::vector<ScatterChart>{};
  const std::vector<LineChart> timeline = charts ? serve_timeline_charts(result) : std::vector<LineChart>{};
  std::vector<GnuplotJob> jobs;
  for (const ScatterChart& c : latency) jobs.push_back(gnuplot_job(c));
  for (const LineChart& c : timeline) jobs.push_back(gnuplot_job(c));
  ChartRendering rendered = render_charts(jobs, charts);

  ReportFiles out;
  out.note = rendered.note;
  HtmlPage page(fmt::format("mlasim serve: {}", s.name));
  page.add_heading(1, fmt::format("Serving run: {}", s.name));
  const std::string load =
      s.arrival == "poisson"       ? fmt::format("Poisson, {} req/s", readable_number(s.rate_per_s))
      : s.arrival == "closed_loop" ? fmt::format("closed loop, {} clients", s.concurrency)
                                   : fmt::format("trace {}", spec.workload.trace_source);
  page.add_facts(
      {{"config", spec.source},
       {"deployment", layout_text(s)},
       {"device model", std::string(to_string(spec.device_mode))},
       {"workload", fmt::format("{}; prompts {}, outputs {}", load, spec.workload.prompt.describe(),
                                spec.workload.output.describe())},
       {"measured",
        fmt::format("requests {}–{} of {} by arrival ({} warm-up, {} drain left out), "
                    "window {}–{} s",
                    s.warmup_requests + 1, s.arrived - s.drain_requests, s.arrived, s.warmup_requests,
                    s.drain_requests, readable_number(s.window_start_s), readable_number(s.window_end_s))},
       {"SLOs", slo_text(s.slo_verdicts)},
       {"verdict", verdict_text(s)},
       {"cost", cost_text(s)}});
  if (const std::vector<std::string> warnings = serve_warnings(s); !warnings.empty()) {
    page.add_banner("Read these figures with care", warnings);
  }
  if (!out.note.empty()) page.add_note(out.note);
  page.add_heading(2, "Headline", "headline");
  page.add_paragraph(
      fmt::format("{} requests/s served ({} offered); {} output tokens/s, {} per GPU, {} per user. "
                  "TTFT p50 {} / p99 {}; TPOT p50 {} / p99 {}.",
                  readable_number(s.requests_per_s), readable_number(s.offered_requests_per_s),
                  readable_number(s.output_tokens_per_s), readable_number(s.output_tokens_per_s_per_gpu),
                  readable_number(s.output_tokens_per_s_per_user), fmt_s(s.ttft.p50_s), fmt_s(s.ttft.p99_s),
                  fmt_s(s.tpot.p50_s), fmt_s(s.tpot.p99_s)));
  if (!s.slo_verdicts.empty()) {
    page.add_heading(2, "SLO verdicts", "slos");
    page.add_table(with_missing_as(slo_verdict_table(s), "—"));
  }
  if (!jobs.empty()) {
    page.add_heading(2, "Charts", "charts");
    std::vector<Figure> figures;
    std::size_t k = 0;
    for (const ScatterChart& c : latency) {
      figures.push_back(
          {rendered.svgs[k++],
           fmt::format("{}: the share of measured requests at or below each latency; a target is met "
                       "when the curve crosses its percentile's dashed line left of the target's "
                       "solid line. Data: charts/{}.dat.",
                       c.title, c.name),
           fmt::format("{} of {}", c.title, s.name)});
    }
    for (const LineChart& c : timeline) {
      figures.push_back({rendered.svgs[k++],
                         fmt::format("{} per {:.4g} s interval over the whole run (the measurement window is "
                                     "{:.4g}–{:.4g} s). Data: charts/{}.dat.",
                                     c.title, ps_to_seconds(result.timeseries_interval_ps), s.window_start_s,
                                     s.window_end_s, c.name),
                         fmt::format("{} over time, {}", c.title, s.name)});
    }
    page.add_figures(figures);
  }
  page.add_heading(2, "Summary", "summary");
  page.add_table(with_missing_as(summary_long_table(s), "—"));
  out.files.emplace_back("report.html", page.str());
  append_chart_files(out.files, jobs);
  return out;
}

ReportFiles build_serve_sweep_report(const ServeSpec& spec, const std::vector<ServeSummary>& rows,
                                     bool charts) {
  const std::vector<ScatterChart> planned = charts ? serve_sweep_charts(rows) : std::vector<ScatterChart>{};
  std::vector<GnuplotJob> jobs;
  for (const ScatterChart& c : planned) jobs.push_back(gnuplot_job(c));
  ChartRendering rendered = render_charts(jobs, charts);
  ReportFiles out;
  out.note = rendered.note;
  HtmlPage page(fmt::format("mlasim serve sweep: {}", spec.name));
  page.add_heading(1, fmt::format("Serve sweep: {}", spec.name));
  std::vector<std::pair<std::string, std::string>> facts{{"config", spec.source}};
  if (!rows.empty()) {
    facts.emplace_back("deployment", layout_text(rows.front()));
    facts.emplace_back("SLOs", slo_text(rows.front().slo_verdicts));
  }
  facts.emplace_back("points", fmt::format("{}", rows.size()));
  if (const std::string onset = overload_onset_sentence(rows); !onset.empty())
    facts.emplace_back("overload", onset);
  page.add_facts(facts);
  std::vector<std::string> over;
  for (const ServeSummary& s : rows) {
    if (s.meets_slos()) continue;
    const std::string at = s.arrival == "poisson" ? readable_number(s.rate_per_s) + " req/s"
                                                  : fmt::format("concurrency {}", s.concurrency);
    over.push_back(fmt::format("{}: {}", at, verdict_text(s)));
  }
  if (!over.empty()) page.add_banner("Points that do not meet the SLOs (hollow where overloaded)", over);
  if (!out.note.empty()) page.add_note(out.note);
  if (!planned.empty()) {
    page.add_heading(2, "Throughput against latency", "charts");
    std::vector<Figure> figures;
    for (std::size_t k = 0; k < planned.size(); ++k) {
      figures.push_back(
          {rendered.svgs[k],
           fmt::format("{}: one point per swept load, output tokens/s per GPU in the measurement "
                       "window; horizontal lines are the percentile targets. Data: charts/{}.dat.",
                       planned[k].title, planned[k].name),
           fmt::format("{}, {}", planned[k].title, spec.name)});
    }
    page.add_figures(figures);
  }
  page.add_heading(2, "Points", "points");
  page.add_table(with_missing_as(throughput_latency_table(rows), "—"));
  out.files.emplace_back("report.html", page.str());
  append_chart_files(out.files, jobs);
  return out;
}

}  // namespace mlasim
