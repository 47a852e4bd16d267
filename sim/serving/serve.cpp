#include "sim/serving/serve.hpp"

#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <optional>
#include <queue>
#include <variant>

#include "sim/cost.hpp"
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
  return model_step_time(spec, spec.parallel, spec.mtp);
}

/// The step-time cache of a serving run: at most this many mixes (about 100 bytes each: 26 MB), cleared when
/// full. Fixed lengths repeat a few thousand mixes; varied loads and lengths make nearly every step new
/// (845,000 distinct mixes in a million requests of Llama-3-8B at 50 req/s), and ModelStepTime's own limit
/// (2^20, about 110 MB) would be most of a long run's memory.
constexpr std::size_t kServeStepCacheLimit = std::size_t{1} << 18U;

ModelStepTime model_step_time(const ServeSpec& spec, const Parallelism& parallel, const Speculation& mtp) {
  return ModelStepTime(spec.model, DeviceModel(spec.hardware, spec.device_mode, spec.launch), spec.precision,
                       parallel, spec.mla_mode, spec.host_overhead_s, mtp, kServeStepCacheLimit);
}

Capacity serve_capacity(const ServeSpec& spec) {
  return serve_capacity(spec, spec.parallel);
}

Capacity serve_capacity(const ServeSpec& spec, const Parallelism& parallel) {
  CapacityOptions opt = spec.capacity;
  opt.max_batched_tokens = spec.scheduler.max_num_batched_tokens;
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

/// The seed of replica `replica`'s MTP acceptance stream: apart from the arrival and length streams
/// (workload_spec.cpp) and from every other replica's, by a splitmix64 finalizer of the workload seed, a
/// stream tag and the replica.
std::uint64_t mtp_stream_seed(std::uint64_t seed, int replica) {
  std::uint64_t x = seed ^ 0x4D54505F41434350ULL;  // "MTP_ACCP"
  x += 0x9E3779B97F4A7C15ULL * (static_cast<std::uint64_t>(replica) + 1);
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// A request arrives; its id (= arrival index) is given when the event runs, so ids follow arrival order even
/// when a closed loop's staggered starts were issued ahead of earlier completions.
struct ArrivalEvent {
  TraceRequest request;
};
struct StepDoneEvent {
  int replica;
};
/// An idle replica starts its next step, after every request arriving at the same time has arrived (a
/// zero-delay event, re-queued while an arrival at this time is still queued), so that simultaneous arrivals
/// are batched together, as vLLM's engine loop does.
struct StartEvent {
  int replica;
};
/// Disaggregated runs: request `handoff`'s KV has reached the decode pool.
struct TransferDoneEvent {
  int prefill_replica;
  Handoff handoff;
};
using ServeEvent = std::variant<ArrivalEvent, StepDoneEvent, StartEvent, TransferDoneEvent>;

class ServeRun {
 public:
  ServeRun(const ServeSpec& spec, const ServeRunOptions& options)
      : spec_(spec),
        source_(spec.workload),
        sim_(spec.limits),
        metrics_(spec.disaggregated
                     ? spec.disaggregated->prefill_replicas + spec.disaggregated->decode_replicas
                     : spec.replicas,
                 spec.parallel.gpus(), spec.slo, spec.per_request_csv, spec.timeseries_interval_ps,
                 measurement_window(spec.measure, static_cast<std::uint64_t>(source_.total()))) {
    if (spec.disaggregated) {
      check_disaggregated(*spec.disaggregated);
    } else {
      if (spec.replicas < 1 || spec.replicas > kMaxReplicas)
        throw InputError(fmt::format("replicas must be 1 .. {}, got {}", kMaxReplicas, spec.replicas));
      check_parallelism(spec.parallel);
    }
    check_speculation(spec.mtp);
    if (options.requests_csv_sink)
      metrics_.set_csv_sink(options.requests_csv_sink, options.requests_csv_block_bytes);
    const WorkloadSpec& w = spec.workload;
    if (w.num_requests < 1 || w.num_requests > kMaxRequests)
      throw InputError(fmt::format("requests must be 1 .. {}, got {}", kMaxRequests, w.num_requests));
    if (w.arrival == ArrivalKind::kClosedLoop && (w.concurrency < 1 || w.concurrency > kMaxConcurrency))
      throw InputError(fmt::format("concurrency must be 1 .. {}, got {}", kMaxConcurrency, w.concurrency));
    if (w.arrival == ArrivalKind::kPoisson &&
        !(w.rate_per_s >= kMinPoissonRatePerS && std::isfinite(w.rate_per_s))) {
      throw InputError(
          fmt::format("rate {:g} req/s: the mean gap between arrivals would exceed the 64-bit "
                      "picosecond clock (the rate must be at least {:.3g} req/s)",
                      w.rate_per_s, kMinPoissonRatePerS));
    }
    for (const PercentileSlo& slo : spec.slo.percentiles) {
      if (!(slo.percentile > 0 && slo.percentile < 100) || slo.target_ps <= 0) {
        throw InputError(
            fmt::format("SLO {}: the percentile must be in (0, 100) and the target positive", slo.name()));
      }
    }
    if (!(spec.measure.overload_tolerance > 0.0 && spec.measure.overload_tolerance < 1.0)) {
      throw InputError("measure.overload_tolerance must be between 0 and 1");
    }
    if (spec.disaggregated) {
      build_disaggregated(*spec.disaggregated, options);
      return;
    }
    cap_ = serve_capacity(spec);
    StepTimeSource* st = options.step_time;
    if (!st) {
      owned_step_time_ = std::make_unique<ModelStepTime>(model_step_time(spec));
      st = owned_step_time_.get();
    }
    prefill_count_ = spec.replicas;
    replicas_.reserve(static_cast<std::size_t>(spec.replicas));
    start_pending_.assign(static_cast<std::size_t>(spec.replicas), false);
    for (int i = 0; i < spec.replicas; ++i) {
      replicas_.push_back(std::make_unique<Replica>(
          i, spec.scheduler, cap_.kv_blocks(), cap_.block_size, cap_.kv_window_tokens, *st, metrics_,
          options.observer, spec.check_invariants, spec.mtp, mtp_stream_seed(spec.workload.seed, i)));
      replicas_.back()->set_grouped_decodes(spec.grouped_decodes);
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
    StopReason why =
        sim_.run([this](const ServeEvent& e) { std::visit(*this, e); }, [this] { return pending(); });
    if (clock_ended_) why = StopReason::kTimeLimit;
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
    pending_arrivals_.pop();  // this one (arrivals run in time order: it is the earliest queued)
    const bool accepted = r.enqueue(id, e.request, now);
    if (!accepted && spec_.workload.arrival == ArrivalKind::kClosedLoop && !source_.exhausted()) {
      issue(now);  // the user's slot is free again
    }
    if (spec_.workload.arrival != ArrivalKind::kClosedLoop && !source_.exhausted()) issue(now);
    if (accepted) request_start(r);
  }

  void operator()(const StepDoneEvent& e) {
    const TimePs now = sim_.now();
    Replica& r = *replicas_[static_cast<std::size_t>(e.replica)];
    const int finished = r.finish_step(now);
    if (spec_.workload.arrival == ArrivalKind::kClosedLoop) {
      for (int i = 0; i < finished && !source_.exhausted(); ++i) issue(now);
    }
    if (spec_.disaggregated && e.replica < prefill_count_) {
      for (const Handoff& h : r.take_handoffs()) transfer(e.replica, h, now);
    }
    request_start(r);
  }

  void operator()(const TransferDoneEvent& e) {
    const TimePs now = sim_.now();
    Replica& p = *replicas_[static_cast<std::size_t>(e.prefill_replica)];
    p.release(e.handoff);  // the prefill replica's blocks are free again
    request_start(p);
    Replica& d = *replicas_[route_decode()];
    d.enqueue_decode(e.handoff, now);
    request_start(d);
  }

  void operator()(const StartEvent& e) {
    const TimePs now = sim_.now();
    Replica& r = *replicas_[static_cast<std::size_t>(e.replica)];
    if (!pending_arrivals_.empty() && pending_arrivals_.top() == now) {
      sim_.schedule(0, StartEvent{e.replica});  // behind the arrivals still queued at this time
      return;
    }
    start_pending_[static_cast<std::size_t>(e.replica)] = false;
    start(r, now);
  }

 private:
  /// Draws the next request; a closed loop's arrives at `at` (now, or a client's staggered start).
  void issue(TimePs at) {
    const std::optional<TraceRequest> req = source_.next(at);
    if (!req) return;  // the arrivals ran past the clock (reported as not arrived)
    const TimePs now = sim_.now();
    if (req->arrival_ps < now) throw InternalError("request arrives in the past");
    sim_.schedule(req->arrival_ps - now, ArrivalEvent{*req});
    pending_arrivals_.push(req->arrival_ps);
  }

  /// Starts `r`'s next step through a StartEvent at the current time, unless it is busy or one is queued.
  void request_start(Replica& r) {
    const auto i = static_cast<std::size_t>(r.index());
    if (r.busy() || start_pending_[i]) return;
    start_pending_[i] = true;
    sim_.schedule(0, StartEvent{r.index()});
  }

  void start(Replica& r, TimePs now) {
    if (r.busy()) return;
    if (const auto d = r.start_step(now)) {
      if (!checked_add(now, *d)) {
        // The step would end beyond the 64-bit clock: the run ends here, as at a time limit.
        clock_ended_ = true;
        sim_.stop();
        return;
      }
      sim_.schedule(*d, StepDoneEvent{r.index()});
    }
  }

  /// A replica of the prefill pool (every replica when the run is not disaggregated).
  std::size_t route() { return route_over(0, static_cast<std::size_t>(prefill_count_), rr_); }
  /// A replica of the decode pool, by the same policy.
  std::size_t route_decode() {
    return route_over(static_cast<std::size_t>(prefill_count_), replicas_.size(), rr_decode_);
  }
  std::size_t route_over(std::size_t first, std::size_t end, std::uint64_t& rr) {
    const std::size_t n = end - first;
    if (n == 1) return first;
    if (spec_.router == RouterPolicy::kRoundRobin) return first + static_cast<std::size_t>(rr++ % n);
    std::size_t best = first;
    for (std::size_t i = first + 1; i < end; ++i) {
      if (replicas_[i]->outstanding() < replicas_[best]->outstanding()) best = i;
    }
    return best;
  }

  static void check_disaggregated(const DisaggregatedSpec& d) {
    for (const auto& [what, n] : {std::pair{"prefill", d.prefill_replicas}, {"decode", d.decode_replicas}}) {
      if (n < 1 || n > kMaxReplicas)
        throw InputError(
            fmt::format("disaggregated {} replicas must be 1 .. {}, got {}", what, kMaxReplicas, n));
    }
    check_parallelism(d.prefill);
    check_parallelism(d.decode);
    if (!(d.kv_bandwidth_bytes_per_s > 0 && std::isfinite(d.kv_bandwidth_bytes_per_s)) ||
        !(d.kv_latency_s >= 0 && std::isfinite(d.kv_latency_s))) {
      throw InputError(fmt::format(
          "the KV transfer needs a positive bandwidth and a latency >= 0, got {:g} B/s and {:g} s",
          d.kv_bandwidth_bytes_per_s, d.kv_latency_s));
    }
  }

  /// The prefill pool (replicas 0 .. P − 1, without MTP) and the decode pool (P .. P + D − 1, with the run's
  /// MTP), each with its layout's step time and KV blocks.
  void build_disaggregated(const DisaggregatedSpec& d, const ServeRunOptions& options) {
    cap_ = serve_capacity(spec_, d.prefill);
    decode_cap_ = serve_capacity(spec_, d.decode);
    if (decode_cap_.block_size != cap_.block_size) throw InternalError("the pools' block sizes differ");
    StepTimeSource* pst = options.step_time;
    if (!pst) {
      owned_step_time_ = std::make_unique<ModelStepTime>(model_step_time(spec_, d.prefill, Speculation{}));
      pst = owned_step_time_.get();
    }
    StepTimeSource* dst = options.decode_step_time ? options.decode_step_time : options.step_time;
    if (!dst) {
      owned_decode_step_time_ = std::make_unique<ModelStepTime>(model_step_time(spec_, d.decode, spec_.mtp));
      dst = owned_decode_step_time_.get();
    }
    kv_bytes_per_token_ = kv_bytes_per_token(spec_.model, spec_.precision.kv_cache);
    prefill_count_ = d.prefill_replicas;
    const int n = d.prefill_replicas + d.decode_replicas;
    replicas_.reserve(static_cast<std::size_t>(n));
    start_pending_.assign(static_cast<std::size_t>(n), false);
    for (int i = 0; i < n; ++i) {
      const bool prefill = i < prefill_count_;
      const Capacity& cap = prefill ? cap_ : decode_cap_;
      replicas_.push_back(std::make_unique<Replica>(
          i, spec_.scheduler, cap.kv_blocks(), cap.block_size, cap.kv_window_tokens, prefill ? *pst : *dst,
          metrics_, options.observer, spec_.check_invariants, prefill ? Speculation{} : spec_.mtp,
          mtp_stream_seed(spec_.workload.seed, i)));
      replicas_.back()->set_grouped_decodes(spec_.grouped_decodes);
      replicas_.back()->set_role(prefill ? ReplicaRole::kPrefill : ReplicaRole::kDecode,
                                 prefill ? decode_cap_.kv_blocks() : 0);
    }
  }

  /// Sends handed-off request `h`'s KV from prefill replica `from`: latency + prompt × bytes per token /
  /// bandwidth, independent of every other transfer.
  void transfer(int from, const Handoff& h, TimePs now) {
    const DisaggregatedSpec& d = *spec_.disaggregated;
    const double bytes = kv_bytes_per_token_ * static_cast<double>(h.prompt);
    const std::optional<TimePs> t = try_seconds_to_ps(d.kv_latency_s + bytes / d.kv_bandwidth_bytes_per_s);
    if (!t || !checked_add(now, *t)) {
      clock_ended_ = true;  // beyond the 64-bit clock: the run ends here, as at a time limit
      sim_.stop();
      return;
    }
    ++kv_transfers_;
    kv_transfer_tokens_ += h.prompt;
    kv_transfer_s_ += ps_to_seconds(*t);
    sim_.schedule(*t, TransferDoneEvent{from, h});
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

  /// The run's result; moves the per-request CSV out of the metrics (called once, at the end).
  ServeResult result(StopReason why) {
    ServeResult out;
    ServeSummary& s = out.summary;
    const WorkloadSpec& w = spec_.workload;
    const bool closed = w.arrival == ArrivalKind::kClosedLoop;
    s.name = spec_.name;
    s.model = spec_.model.name;
    s.variant = spec_.variant;
    s.hardware = spec_.hardware.name;
    s.tp = spec_.parallel.tp;
    s.dp_attention = spec_.parallel.dp_attention;
    s.replicas = spec_.replicas;
    s.gpus = spec_.parallel.gpus() * spec_.replicas;
    if (const auto& d = spec_.disaggregated) {
      // tp and dp_attention describe the decode pool; replicas counts both pools.
      s.disaggregated = true;
      s.tp = d->decode.tp;
      s.dp_attention = d->decode.dp_attention;
      s.replicas = d->prefill_replicas + d->decode_replicas;
      s.prefill_replicas = d->prefill_replicas;
      s.prefill_tp = d->prefill.tp;
      s.decode_replicas = d->decode_replicas;
      s.decode_tp = d->decode.tp;
      s.gpus = d->prefill_replicas * d->prefill.gpus() + d->decode_replicas * d->decode.gpus();
      s.kv_blocks_per_decode_replica = decode_cap_.kv_blocks();
      s.kv_transfers = kv_transfers_;
      s.kv_transfer_bytes = kv_bytes_per_token_ * static_cast<double>(kv_transfer_tokens_);
      s.kv_transfer_time_s = kv_transfer_s_;
    }
    s.router = std::string(to_string(spec_.router));
    s.arrival = std::string(to_string(w.arrival));
    s.scheduler_policy = std::string(to_string(spec_.scheduler.policy));
    s.rate_per_s = w.arrival == ArrivalKind::kPoisson ? w.rate_per_s : 0.0;
    s.concurrency = closed ? w.concurrency : 0;
    s.stop_reason = std::string(to_string(why));
    s.not_arrived = source_.total() - metrics_.arrived();
    s.arrivals_beyond_clock = source_.beyond_clock();
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
      const double gpus = static_cast<double>(s.gpus);
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
    if (spec_.hardware.price_per_gpu_hour) {
      const DeploymentCost cost = deployment_cost(s.gpus, *spec_.hardware.price_per_gpu_hour,
                                                  s.output_tokens_per_s, s.total_tokens_per_s);
      s.price_per_gpu_hour = *spec_.hardware.price_per_gpu_hour;
      s.usd_per_hour = cost.usd_per_hour;
      s.usd_per_million_output_tokens = cost.usd_per_million_output_tokens;
      s.usd_per_million_total_tokens = cost.usd_per_million_total_tokens;
    }
    out.quantiles.levels = latency_quantile_levels();
    const auto quantiles = [&](const LogHistogram& h) {
      if (h.count() == 0) return std::vector<double>(out.quantiles.levels.size(), kNoValue);
      std::vector<double> q = h.percentiles(out.quantiles.levels);
      for (double& v : q) v /= static_cast<double>(kPsPerSecond);
      return q;
    };
    out.quantiles.ttft_s = quantiles(metrics_.ttft());
    out.quantiles.tpot_s = quantiles(metrics_.tpot());
    out.quantiles.e2e_s = quantiles(metrics_.e2e());
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

    out.requests_csv = metrics_.take_requests_csv();
    out.buckets = metrics_.take_buckets();
    out.timeseries_interval_ps = metrics_.interval_ps();
    out.in_system_area_ps = metrics_.in_system_area();
    out.end_ps = metrics_.end_ps();
    for (const auto& r : replicas_) out.grouped_steps += r->grouped_steps();
    return out;
  }

  const ServeSpec& spec_;
  RequestSource source_;
  Simulator<ServeEvent> sim_;
  ServeMetrics metrics_;
  Capacity cap_;         ///< every replica's, or the prefill pool's
  Capacity decode_cap_;  ///< disaggregated: the decode pool's
  std::unique_ptr<StepTimeSource> owned_step_time_;
  std::unique_ptr<StepTimeSource> owned_decode_step_time_;
  int prefill_count_ =
      0;  ///< replicas 0 .. prefill_count_ − 1 take arrivals (all of them unless disaggregated)
  std::uint64_t rr_decode_ = 0;
  double kv_bytes_per_token_ = 0;
  std::int64_t kv_transfers_ = 0, kv_transfer_tokens_ = 0;
  double kv_transfer_s_ = 0;  ///< summed over transfers
  std::vector<std::unique_ptr<Replica>> replicas_;
  std::uint64_t next_id_ = 0;
  std::uint64_t rr_ = 0;
  bool clock_ended_ = false;
  std::vector<bool> start_pending_;  ///< per replica: a StartEvent is queued
  /// Times of the arrival events still queued (earliest on top).
  std::priority_queue<TimePs, std::vector<TimePs>, std::greater<>> pending_arrivals_;
};

}  // namespace

Table timeseries_table(const ServeResult& r) {
  return timeseries_table(r.buckets, r.timeseries_interval_ps);
}

const std::vector<double>& latency_quantile_levels() {
  static const std::vector<double> levels = [] {
    std::vector<double> l;
    for (int i = 1; i <= 199; ++i) l.push_back(0.5 * i);
    l.push_back(99.9);
    return l;
  }();
  return levels;
}

ServeResult run_serve(const ServeSpec& spec, const ServeRunOptions& options) {
  try {
    ServeRun run(spec, options);
    return run.run();
  } catch (const InputError& e) {
    // A spec-level problem found while running (a step time the clock cannot hold, a limit): locate it at
    // the config file when nothing more precise is known.
    if (!e.where().file.empty() || spec.source.empty()) throw;
    throw InputError(SourceLocation{spec.source}, e.key_path(), e.message());
  }
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
  if (s.not_arrived > 0) {
    w.push_back(fmt::format(
        "{} of the {} configured requests never arrived: {}", s.not_arrived, s.not_arrived + s.arrived,
        s.arrivals_beyond_clock ? "the next arrival lay beyond the 64-bit picosecond clock (about 106 days)"
                                : fmt::format("the run stopped first ({})", s.stop_reason)));
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
