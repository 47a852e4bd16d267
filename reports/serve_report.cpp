#include "reports/serve_report.hpp"

#include <fmt/format.h>

#include "reports/table_writers.hpp"

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
      {"arrival", "arrival process", s.arrival},
      {"rate_per_s", "Poisson request rate (0 when not Poisson)", s.rate_per_s},
      {"concurrency", "closed-loop concurrency (0 when not closed loop)", std::int64_t{s.concurrency}},
      {"stop_reason", "why the run ended", s.stop_reason},
      {"arrived", "requests that arrived", s.arrived},
      {"completed", "requests completed", s.completed},
      {"rejected", "requests rejected (can never fit)", s.rejected},
      {"in_flight", "requests still waiting or running at the end", s.in_flight},
      {"duration_s", "from 0 to the last completion", s.duration_s},
      {"requests_per_s", "completed requests per second", s.requests_per_s},
      {"output_tokens", "output tokens of completed requests", s.output_tokens},
      {"output_tokens_per_s", "output tokens per second", s.output_tokens_per_s},
      {"output_tokens_per_s_per_gpu", "output tokens per second per GPU", s.output_tokens_per_s_per_gpu},
      {"output_tokens_per_s_per_user", "1 / mean TPOT", s.output_tokens_per_s_per_user},
      {"total_tokens_per_s", "prompt + output tokens of completed requests per second", s.total_tokens_per_s},
      {"goodput_requests_per_s", "completed requests per second meeting every SLO", s.goodput_requests_per_s},
      {"slo_attainment", "fraction of completed requests meeting every SLO", s.slo_attainment},
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
           {"ttft_p50_s", "median TTFT"},
           {"ttft_p99_s", "99th percentile TTFT"},
           {"tpot_p50_s", "median TPOT"},
           {"tpot_p99_s", "99th percentile TPOT"},
           {"e2e_p99_s", "99th percentile end-to-end latency"},
           {"goodput_requests_per_s", "completed requests per second meeting every SLO"},
           {"mean_batch_size", "sequences per iteration (time-weighted)"},
           {"max_kv_usage", "peak fraction of KV blocks in use"},
           {"preemptions", "preemptions by recompute"},
           {"rejected", "requests that can never fit"}});
  for (const ServeSummary& s : rows) {
    t.add_row({s.rate_per_s, std::int64_t{s.concurrency}, s.requests_per_s, s.output_tokens_per_s,
               s.output_tokens_per_s_per_gpu, s.output_tokens_per_s_per_user, s.ttft.p50_s, s.ttft.p99_s,
               s.tpot.p50_s, s.tpot.p99_s, s.e2e.p99_s, s.goodput_requests_per_s, s.mean_batch_size,
               s.max_kv_usage, s.preemptions, s.rejected});
  }
  return t;
}

std::string serve_summary_markdown(const ServeSummary& s) {
  return "# Serving run `" + s.name + "`\n\n" + table_to_markdown(summary_long_table(s));
}

std::string serve_sweep_markdown(const ServeSpec& spec, const std::vector<ServeSummary>& rows) {
  return fmt::format("# Serve sweep `{}`\n\nConfig: `{}`. {} points.\n\n{}", spec.name, spec.source,
                     rows.size(), table_to_markdown(throughput_latency_table(rows)));
}

void add_serve_outputs(OutputSet& out, const ServeResult& result) {
  const Table row = summary_row_table({result.summary});
  out.add("summary.csv", table_to_csv(row));
  out.add("summary.json", table_to_json(row));
  out.add("summary.md", serve_summary_markdown(result.summary));
  out.add("timeseries.csv", table_to_csv(result.timeseries));
  if (!result.requests_csv.empty()) out.add("requests.csv", result.requests_csv);
}

void add_serve_sweep_outputs(OutputSet& out, const ServeSpec& spec, const std::vector<ServeSummary>& rows) {
  const Table full = summary_row_table(rows);
  out.add("serve_sweep.csv", table_to_csv(full));
  out.add("serve_sweep.json", table_to_json(full));
  out.add("summary.md", serve_sweep_markdown(spec, rows));
}

}  // namespace mlasim
