#include "sim/serving/serve.hpp"

#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <variant>

#include "reports/table_writers.hpp"
#include "sim/error.hpp"
#include "sim/suggest.hpp"

namespace mlasim {

std::string_view to_string(RouterPolicy p) {
  switch (p) {
    case RouterPolicy::kRoundRobin:
      return "round_robin";
    case RouterPolicy::kLeastOutstanding:
      return "least_outstanding";
  }
  return "?";
}

RouterPolicy parse_router_policy(std::string_view text) {
  if (text == "round_robin") return RouterPolicy::kRoundRobin;
  if (text == "least_outstanding") return RouterPolicy::kLeastOutstanding;
  const std::vector<std::string> known{"round_robin", "least_outstanding"};
  throw InputError(fmt::format("unknown router `{}`{} (valid: round_robin, least_outstanding)", text,
                               did_you_mean(text, known)));
}

ModelStepTime model_step_time(const ServeSpec& spec) {
  return ModelStepTime(spec.model, DeviceModel(spec.hardware, spec.device_mode, spec.launch), spec.precision,
                       Parallelism{spec.tp, spec.dp_attention}, spec.mla_mode, spec.host_overhead_s);
}

Capacity serve_capacity(const ServeSpec& spec) {
  CapacityOptions opt = spec.capacity;
  opt.max_batched_tokens = spec.scheduler.max_num_batched_tokens;
  const Parallelism parallel{spec.tp, spec.dp_attention};
  // Under DP-attention the replica's blocks sit in tp per-GPU pools; the scheduler allocates from their sum
  // (a sequence's blocks are not pinned to one GPU here: per-pool fragmentation is not modelled).
  Capacity cap = compute_capacity(spec.model, spec.hardware, spec.precision, parallel, opt);
  if (spec.kv_blocks > 0) {
    cap.kv_pools = 1;
    cap.kv_blocks_per_pool = spec.kv_blocks;
  }
  if (!cap.fits()) {
    throw InputError(
        SourceLocation{spec.source}, "",
        explain_no_fit(spec.model, spec.hardware, spec.precision, parallel,
                       spec.workload.prompt.upper_bound() + spec.workload.output.upper_bound(), opt));
  }
  return cap;
}

namespace {

/// A request arrives; its id (= arrival index) is given when the event runs, so ids follow arrival order even
/// when a closed loop's staggered starts were issued ahead of earlier completions.
struct ArrivalEvent {
  TraceRequest request;
};
struct StepDoneEvent {
  int replica;
};
using ServeEvent = std::variant<ArrivalEvent, StepDoneEvent>;

class ServeRun {
 public:
  ServeRun(const ServeSpec& spec, const ServeRunOptions& options)
      : spec_(spec),
        source_(spec.workload),
        sim_(spec.limits),
        metrics_(spec.replicas, spec.tp, spec.slo, spec.per_request_csv, spec.timeseries_interval_ps,
                 measurement_window(spec.measure, static_cast<std::uint64_t>(source_.total()))) {
    if (spec.replicas < 1) throw InputError("replicas must be at least 1");
    if (spec.tp < 1) throw InputError("tp must be at least 1");
    for (const PercentileSlo& slo : spec.slo.percentiles) {
      if (!(slo.percentile > 0 && slo.percentile < 100) || slo.target_ps <= 0) {
        throw InputError(
            fmt::format("SLO {}: the percentile must be in (0, 100) and the target positive", slo.name()));
      }
    }
    if (!(spec.measure.overload_tolerance > 0.0 && spec.measure.overload_tolerance < 1.0)) {
      throw InputError("measure.overload_tolerance must be between 0 and 1");
    }
    cap_ = serve_capacity(spec);
    StepTimeSource* st = options.step_time;
    if (!st) {
      owned_step_time_ = std::make_unique<ModelStepTime>(model_step_time(spec));
      st = owned_step_time_.get();
    }
    replicas_.reserve(static_cast<std::size_t>(spec.replicas));
    for (int i = 0; i < spec.replicas; ++i) {
      replicas_.push_back(std::make_unique<Replica>(i, spec.scheduler, cap_.kv_blocks(), cap_.block_size, *st,
                                                    metrics_, options.observer, spec.check_invariants));
    }
  }

  ServeResult run() {
    const bool closed = spec_.workload.arrival == ArrivalKind::kClosedLoop;
    if (closed) {
      // Client i of C starts at i × ramp / C (all at 0 without a ramp).
      const auto clients = static_cast<TimePs>(spec_.workload.concurrency);
      for (TimePs i = 0; i < clients && !source_.exhausted(); ++i) {
        const TimePs ramp = spec_.workload.ramp_ps;  // ramp·i/C exactly, without overflow
        issue(ramp / clients * i + ramp % clients * i / clients);
      }
    } else if (!source_.exhausted()) {
      issue(0);
    }
    const StopReason why =
        sim_.run([this](const ServeEvent& e) { std::visit(*this, e); }, [this] { return pending(); });
    std::vector<RequestRecord> in_flight;
    for (const auto& r : replicas_) r->collect_in_flight(in_flight);
    metrics_.finish(sim_.now(), in_flight);
    return result(why);
  }

  void operator()(const ArrivalEvent& e) {
    const TimePs now = sim_.now();
    const std::uint64_t id = next_id_++;
    metrics_.on_arrival(now, id);
    Replica& r = *replicas_[route()];
    if (r.enqueue(id, e.request, now)) {
      start(r, now);
    } else if (spec_.workload.arrival == ArrivalKind::kClosedLoop && !source_.exhausted()) {
      issue(now);  // the user's slot is free again
    }
    if (spec_.workload.arrival != ArrivalKind::kClosedLoop && !source_.exhausted()) issue(now);
  }

  void operator()(const StepDoneEvent& e) {
    const TimePs now = sim_.now();
    Replica& r = *replicas_[static_cast<std::size_t>(e.replica)];
    const int finished = r.finish_step(now);
    if (spec_.workload.arrival == ArrivalKind::kClosedLoop) {
      for (int i = 0; i < finished && !source_.exhausted(); ++i) issue(now);
    }
    start(r, now);
  }

 private:
  /// Draws the next request; a closed loop's arrives at `at` (now, or a client's staggered start).
  void issue(TimePs at) {
    const TraceRequest req = source_.next(at);
    const TimePs now = sim_.now();
    if (req.arrival_ps < now) throw InternalError("request arrives in the past");
    sim_.schedule(req.arrival_ps - now, ArrivalEvent{req});
  }

  void start(Replica& r, TimePs now) {
    if (r.busy()) return;
    if (const auto d = r.start_step(now)) {
      sim_.schedule(*d, StepDoneEvent{r.index()});
    }
  }

  std::size_t route() {
    const std::size_t n = replicas_.size();
    if (n == 1) return 0;
    if (spec_.router == RouterPolicy::kRoundRobin) return static_cast<std::size_t>(rr_++ % n);
    std::size_t best = 0;
    for (std::size_t i = 1; i < n; ++i) {
      if (replicas_[i]->outstanding() < replicas_[best]->outstanding()) best = i;
    }
    return best;
  }

  std::string pending() const {
    std::string s;
    bool any = false;
    for (const auto& r : replicas_) {
      if (r->outstanding() > 0) any = true;
      s += r->describe();
    }
    return any ? s : std::string();
  }

  ServeResult result(StopReason why) const {
    ServeResult out;
    ServeSummary& s = out.summary;
    const WorkloadSpec& w = spec_.workload;
    const bool closed = w.arrival == ArrivalKind::kClosedLoop;
    s.name = spec_.name;
    s.model = spec_.model.name;
    s.variant = spec_.variant;
    s.hardware = spec_.hardware.name;
    s.tp = spec_.tp;
    s.dp_attention = spec_.dp_attention;
    s.replicas = spec_.replicas;
    s.router = std::string(to_string(spec_.router));
    s.arrival = std::string(to_string(w.arrival));
    s.scheduler_policy = std::string(to_string(spec_.scheduler.policy));
    s.rate_per_s = w.arrival == ArrivalKind::kPoisson ? w.rate_per_s : 0.0;
    s.concurrency = closed ? w.concurrency : 0;
    s.stop_reason = std::string(to_string(why));
    s.arrived = metrics_.arrived();
    s.completed = metrics_.completed();
    s.rejected = metrics_.rejected();
    s.in_flight = metrics_.in_flight();
    s.good = metrics_.good();
    s.preemptions = metrics_.preemptions();
    s.output_tokens = metrics_.output_tokens();
    s.prompt_tokens = metrics_.prompt_tokens();
    s.steps = metrics_.steps();
    s.events = static_cast<std::int64_t>(sim_.events_processed());
    s.block_size = cap_.block_size;
    s.kv_blocks_per_replica = cap_.kv_blocks();
    const TimePs end = metrics_.completed() > 0 ? metrics_.last_completion_ps() : metrics_.end_ps();
    s.duration_s = ps_to_seconds(end);

    // The measurement window: request-based figures from the measured requests, rates and time averages
    // from the differences of the running totals at the window's edges.
    const RequestWindow& win = metrics_.window();
    s.warmup_requests = static_cast<std::int64_t>(win.first);
    s.drain_requests = static_cast<std::int64_t>(win.total - win.end);
    s.measured_requests = metrics_.measured_arrived();
    s.measured_completed = metrics_.measured_completed();
    s.measured_rejected = metrics_.measured_rejected();
    s.measured_in_flight = s.measured_requests - s.measured_completed - s.measured_rejected;
    const RunTotals& a = metrics_.window_start();
    const RunTotals& b = metrics_.window_end();
    if (a.reached() && b.reached() && b.at_ps > a.at_ps) {
      s.window_start_s = ps_to_seconds(a.at_ps);
      s.window_end_s = ps_to_seconds(b.at_ps);
      const double span = ps_to_seconds(b.at_ps - a.at_ps);
      const double gpus = static_cast<double>(spec_.tp) * spec_.replicas;
      s.offered_requests_per_s = static_cast<double>(b.arrived - a.arrived) / span;
      s.requests_per_s = static_cast<double>(b.completed - a.completed) / span;
      s.output_tokens_per_s = static_cast<double>(b.output_tokens - a.output_tokens) / span;
      s.output_tokens_per_s_per_gpu = s.output_tokens_per_s / gpus;
      s.total_tokens_per_s =
          static_cast<double>(b.output_tokens - a.output_tokens + b.prompt_tokens - a.prompt_tokens) / span;
      s.goodput_requests_per_s = static_cast<double>(b.good - a.good) / span;
      s.mean_requests_in_system = (b.area - a.area) / static_cast<double>(b.at_ps - a.at_ps);
      const double busy = static_cast<double>(b.busy_ps - a.busy_ps);
      if (b.steps > a.steps)
        s.step_mean_s = ps_to_seconds(b.busy_ps - a.busy_ps) / static_cast<double>(b.steps - a.steps);
      if (busy > 0) {
        s.mean_batch_size = (b.batch_weighted - a.batch_weighted) / busy;
        s.mean_kv_usage = (b.kv_weighted - a.kv_weighted) / busy;
      }
    } else if (a.reached()) {
      s.window_start_s = ps_to_seconds(a.at_ps);
      s.window_end_s = ps_to_seconds(b.at_ps);
    }
    if (s.measured_completed > 0) {
      s.slo_attainment =
          static_cast<double>(metrics_.measured_good()) / static_cast<double>(s.measured_completed);
    }
    s.ttft = ServeMetrics::summarize(metrics_.ttft());
    s.tpot = ServeMetrics::summarize(metrics_.tpot());
    s.itl = ServeMetrics::summarize(metrics_.itl());
    s.e2e = ServeMetrics::summarize(metrics_.e2e());
    s.queue = ServeMetrics::summarize(metrics_.queue());
    s.output_tokens_per_s_per_user = s.tpot.count > 0 && s.tpot.mean_s > 0 ? 1.0 / s.tpot.mean_s : kNoValue;
    if (s.steps > 0) {
      s.step_min_s = ps_to_seconds(metrics_.min_step_ps());
      s.step_max_s = ps_to_seconds(metrics_.max_step_ps());
    }
    s.max_batch_size = metrics_.max_batch();
    s.max_kv_usage = metrics_.kv_max();

    // Verdicts.
    for (const PercentileSlo& slo : spec_.slo.percentiles) {
      const LogHistogram& h = slo.metric == SloMetric::kTtft   ? metrics_.ttft()
                              : slo.metric == SloMetric::kTpot ? metrics_.tpot()
                              : slo.metric == SloMetric::kItl  ? metrics_.itl()
                                                               : metrics_.e2e();
      s.slo_verdicts.push_back(judge_slo(slo, h));
      s.slos_met = s.slos_met && s.slo_verdicts.back().status == SloStatus::kMet;
    }
    s.overload = judge_overload(metrics_, spec_.measure.overload_tolerance, closed);
    s.first_rejection = metrics_.first_rejection();

    out.requests_csv = metrics_.requests_csv();
    out.timeseries = metrics_.timeseries_table();
    out.in_system_area_ps = metrics_.in_system_area();
    out.end_ps = metrics_.end_ps();
    return out;
  }

  const ServeSpec& spec_;
  RequestSource source_;
  Simulator<ServeEvent> sim_;
  ServeMetrics metrics_;
  Capacity cap_;
  std::unique_ptr<StepTimeSource> owned_step_time_;
  std::vector<std::unique_ptr<Replica>> replicas_;
  std::uint64_t next_id_ = 0;
  std::uint64_t rr_ = 0;
};

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

ServeResult run_serve(const ServeSpec& spec, const ServeRunOptions& options) {
  ServeRun run(spec, options);
  return run.run();
}

bool ServeSummary::meets_slos() const {
  const bool load_ok =
      overload.verdict == LoadVerdict::kStable || overload.verdict == LoadVerdict::kNotApplicable;
  return rejected == 0 && load_ok && measured_completed > 0 && slos_met;
}

std::vector<std::string> serve_warnings(const ServeSummary& s) {
  std::vector<std::string> w;
  if (s.rejected > 0) {
    w.push_back(fmt::format("{} of {} requests were rejected: they can never fit the KV cache (first: {})",
                            s.rejected, s.arrived, s.first_rejection));
  }
  switch (s.overload.verdict) {
    case LoadVerdict::kOverloaded:
      w.push_back(
          fmt::format("OVERLOADED: {}. Latencies grow with the length of the run: they are not steady-state "
                      "figures",
                      s.overload.reason));
      break;
    case LoadVerdict::kNoData:
      w.push_back(
          fmt::format("nothing measured: {}; throughput and latency figures are empty", s.overload.reason));
      break;
    case LoadVerdict::kStable:
    case LoadVerdict::kNotApplicable:
      break;
  }
  if (s.measured_in_flight > 0 && s.stop_reason != "drained") {
    w.push_back(
        fmt::format("{} measured requests were still in flight when the run stopped ({}): the latency "
                    "percentiles leave them out and understate the tail",
                    s.measured_in_flight, s.stop_reason));
  }
  for (const SloVerdict& v : s.slo_verdicts) {
    if (v.status == SloStatus::kMissed) {
      w.push_back(fmt::format("SLO {} missed: {:.4g} s measured, {:.4g} s target", v.slo.name(), v.measured_s,
                              v.target_s));
    } else if (v.status == SloStatus::kNoSamples) {
      w.push_back(fmt::format("SLO {} cannot be judged: no samples", v.slo.name()));
    }
  }
  return w;
}

}  // namespace mlasim

namespace mlasim {

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

void add_serve_outputs(OutputSet& out, const ServeResult& result) {
  const Table row = summary_row_table({result.summary});
  out.add("summary.csv", table_to_csv(with_missing_as(row, "")));
  out.add("summary.json", table_to_json(row));
  out.add("summary.md", "# Serving run `" + result.summary.name + "`\n\n" +
                            table_to_markdown(with_missing_as(summary_long_table(result.summary), "—")));
  out.add("timeseries.csv", table_to_csv(with_missing_as(result.timeseries, "")));
  if (!result.requests_csv.empty()) out.add("requests.csv", result.requests_csv);
}

Table with_missing_as(const Table& table, const std::string& missing) {
  Table t(table.columns());
  t.reserve(table.rows().size());
  for (const auto& row : table.rows()) {
    std::vector<Cell> r = row;
    for (Cell& c : r) {
      if (const auto* d = std::get_if<double>(&c); d && std::isnan(*d)) c = missing;
    }
    t.add_row(std::move(r));
  }
  return t;
}

}  // namespace mlasim
