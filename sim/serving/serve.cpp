#include "sim/serving/serve.hpp"

#include <fmt/format.h>

#include <memory>
#include <variant>

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

struct ArrivalEvent {
  TraceRequest request;
  std::uint64_t id;
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
        metrics_(spec.replicas, spec.tp, spec.slo, spec.per_request_csv, spec.timeseries_interval_ps) {
    if (spec.replicas < 1) throw InputError("replicas must be at least 1");
    if (spec.tp < 1) throw InputError("tp must be at least 1");
    cap_ = serve_capacity(spec);
    StepTimeSource* st = options.step_time;
    if (!st) {
      owned_step_time_ = std::make_unique<ModelStepTime>(
          spec.model, DeviceModel(spec.hardware, spec.device_mode, spec.launch), spec.precision,
          Parallelism{spec.tp, spec.dp_attention}, spec.mla_mode, spec.host_overhead_s);
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
      for (int i = 0; i < spec_.workload.concurrency && !source_.exhausted(); ++i) issue(0);
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
    metrics_.on_arrival(now);
    Replica& r = *replicas_[route()];
    if (r.enqueue(e.id, e.request, now)) {
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
  void issue(TimePs now) {
    const TraceRequest req = source_.next(now);
    if (req.arrival_ps < now) throw InternalError("request arrives in the past");
    sim_.schedule(req.arrival_ps - now, ArrivalEvent{req, next_id_++});
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
    s.name = spec_.name;
    s.model = spec_.model.name;
    s.variant = spec_.variant;
    s.hardware = spec_.hardware.name;
    s.tp = spec_.tp;
    s.dp_attention = spec_.dp_attention;
    s.replicas = spec_.replicas;
    s.router = std::string(to_string(spec_.router));
    s.arrival = std::string(to_string(w.arrival));
    s.rate_per_s = w.arrival == ArrivalKind::kPoisson ? w.rate_per_s : 0.0;
    s.concurrency = w.arrival == ArrivalKind::kClosedLoop ? w.concurrency : 0;
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
    const double dur = s.duration_s > 0 ? s.duration_s : 1.0;
    const double gpus = static_cast<double>(spec_.tp) * spec_.replicas;
    s.requests_per_s = static_cast<double>(s.completed) / dur;
    s.output_tokens_per_s = static_cast<double>(s.output_tokens) / dur;
    s.output_tokens_per_s_per_gpu = s.output_tokens_per_s / gpus;
    s.total_tokens_per_s = static_cast<double>(s.output_tokens + s.prompt_tokens) / dur;
    s.goodput_requests_per_s = static_cast<double>(s.good) / dur;
    s.slo_attainment = s.completed > 0 ? static_cast<double>(s.good) / static_cast<double>(s.completed) : 0.0;
    s.ttft = ServeMetrics::summarize(metrics_.ttft());
    s.tpot = ServeMetrics::summarize(metrics_.tpot());
    s.itl = ServeMetrics::summarize(metrics_.itl());
    s.e2e = ServeMetrics::summarize(metrics_.e2e());
    s.queue = ServeMetrics::summarize(metrics_.queue());
    s.output_tokens_per_s_per_user = s.tpot.mean_s > 0 ? 1.0 / s.tpot.mean_s : 0.0;
    s.step_min_s = ps_to_seconds(metrics_.min_step_ps());
    s.step_max_s = ps_to_seconds(metrics_.max_step_ps());
    s.step_mean_s = s.steps > 0 ? ps_to_seconds(metrics_.busy_ps()) / static_cast<double>(s.steps) : 0.0;
    const double busy = static_cast<double>(metrics_.busy_ps());
    s.mean_batch_size = busy > 0 ? metrics_.batch_time_weighted() / busy : 0.0;
    s.max_batch_size = metrics_.max_batch();
    s.mean_kv_usage = busy > 0 ? metrics_.kv_time_weighted() / busy : 0.0;
    s.max_kv_usage = metrics_.kv_max();
    s.mean_requests_in_system =
        metrics_.end_ps() > 0 ? metrics_.in_system_area() / static_cast<double>(metrics_.end_ps()) : 0.0;
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

}  // namespace

ServeResult run_serve(const ServeSpec& spec, const ServeRunOptions& options) {
  ServeRun run(spec, options);
  return run.run();
}

}  // namespace mlasim
