#include "reports/serve_shard.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace mlasim {

using json = nlohmann::ordered_json;

namespace {

// Every field, once: X(name) for each member, in declaration order.
// clang-format off
#define MLASIM_DISTRIBUTION_FIELDS(X) X(count) X(mean_s) X(p50_s) X(p90_s) X(p99_s) X(max_s)
#define MLASIM_SLO_VERDICT_FIELDS(X) X(samples) X(target_s) X(measured_s) X(margin_s) X(margin_fraction)
#define MLASIM_OVERLOAD_FIELDS(X)                                                                            \
  X(span_start_s) X(span_end_s) X(span_s) X(arrival_rate_per_s) X(accepted_rate_per_s) X(served_rate_per_s) \
  X(shortfall) X(backlog_slope_per_s) X(backlog_growth) X(tolerance) X(reason)
#define MLASIM_SUMMARY_FIELDS(X)                                                                             \
  X(name) X(model) X(variant) X(hardware) X(tp) X(replicas) X(dp_attention) X(router) X(arrival)             \
  X(scheduler_policy) X(rate_per_s) X(concurrency) X(stop_reason) X(not_arrived) X(arrivals_beyond_clock)    \
  X(arrived) X(completed) X(rejected) X(in_flight) X(good) X(preemptions) X(output_tokens) X(prompt_tokens)  \
  X(steps) X(events) X(block_size) X(kv_blocks_per_replica) X(duration_s) X(warmup_requests)                 \
  X(drain_requests) X(measured_requests) X(measured_completed) X(measured_rejected) X(measured_in_flight)    \
  X(window_start_s) X(window_end_s) X(offered_requests_per_s) X(requests_per_s) X(output_tokens_per_s)       \
  X(output_tokens_per_s_per_gpu) X(output_tokens_per_s_per_user) X(total_tokens_per_s)                       \
  X(goodput_requests_per_s) X(slo_attainment) X(step_min_s) X(step_mean_s) X(step_max_s) X(mean_batch_size) \
  X(max_batch_size) X(mean_kv_usage) X(max_kv_usage) X(mean_requests_in_system) X(disaggregated)            \
  X(prefill_replicas) X(prefill_tp) X(decode_replicas) X(decode_tp) X(kv_blocks_per_decode_replica)         \
  X(kv_transfers) X(kv_transfer_bytes) X(kv_transfer_time_s) X(gpus) X(price_per_gpu_hour) X(usd_per_hour)   \
  X(usd_per_million_output_tokens) X(usd_per_million_total_tokens) X(slos_met) X(first_rejection)
// clang-format on

template <class Enum>
Enum enum_of(const json& j, Enum last) {
  const int v = j.get<int>();
  if (v < 0 || v > static_cast<int>(last)) throw std::invalid_argument(fmt::format("{} is out of range", v));
  return static_cast<Enum>(v);
}

json distribution_json(const Distribution& d) {
  json j = json::object();
#define X(f) j[#f] = d.f;
  MLASIM_DISTRIBUTION_FIELDS(X)
#undef X
  return j;
}

Distribution distribution_of(const json& j) {
  Distribution d;
#define X(f) j.at(#f).get_to(d.f);
  MLASIM_DISTRIBUTION_FIELDS(X)
#undef X
  return d;
}

}  // namespace

json summary_json(const ServeSummary& s) {
  json j = json::object();
#define X(f) j[#f] = s.f;
  MLASIM_SUMMARY_FIELDS(X)
#undef X
  j["ttft"] = distribution_json(s.ttft);
  j["tpot"] = distribution_json(s.tpot);
  j["itl"] = distribution_json(s.itl);
  j["e2e"] = distribution_json(s.e2e);
  j["queue"] = distribution_json(s.queue);
  json verdicts = json::array();
  for (const SloVerdict& v : s.slo_verdicts) {
    json o = json::object();
    o["metric"] = static_cast<int>(v.slo.metric);
    o["percentile"] = v.slo.percentile;
    o["target_ps"] = v.slo.target_ps;
    o["status"] = static_cast<int>(v.status);
#define X(f) o[#f] = v.f;
    MLASIM_SLO_VERDICT_FIELDS(X)
#undef X
    verdicts.push_back(std::move(o));
  }
  j["slo_verdicts"] = std::move(verdicts);
  json o = json::object();
  o["verdict"] = static_cast<int>(s.overload.verdict);
#define X(f) o[#f] = s.overload.f;
  MLASIM_OVERLOAD_FIELDS(X)
#undef X
  j["overload"] = std::move(o);
  return j;
}

ServeSummary summary_of(const json& j) {
  ServeSummary s;
#define X(f) j.at(#f).get_to(s.f);
  MLASIM_SUMMARY_FIELDS(X)
#undef X
  s.ttft = distribution_of(j.at("ttft"));
  s.tpot = distribution_of(j.at("tpot"));
  s.itl = distribution_of(j.at("itl"));
  s.e2e = distribution_of(j.at("e2e"));
  s.queue = distribution_of(j.at("queue"));
  for (const json& o : j.at("slo_verdicts")) {
    SloVerdict v;
    v.slo.metric = enum_of(o.at("metric"), SloMetric::kE2e);
    v.slo.percentile = o.at("percentile").get<int>();
    v.slo.target_ps = o.at("target_ps").get<TimePs>();
    v.status = enum_of(o.at("status"), SloStatus::kNoSamples);
#define X(f) o.at(#f).get_to(v.f);
    MLASIM_SLO_VERDICT_FIELDS(X)
#undef X
    s.slo_verdicts.push_back(std::move(v));
  }
  const json& o = j.at("overload");
  s.overload.verdict = enum_of(o.at("verdict"), LoadVerdict::kNoData);
#define X(f) o.at(#f).get_to(s.overload.f);
  MLASIM_OVERLOAD_FIELDS(X)
#undef X
  return s;
}

namespace {

// clang-format off
#define MLASIM_PLAN_EVALUATION_FIELDS(X)                                                                      \
  X(replicas) X(rate_per_s) X(meets_slos) X(overloaded) X(output_tokens_per_s) X(total_tokens_per_s)         \
  X(tokens_per_s_per_gpu) X(tokens_per_s_per_user) X(worst_margin) X(detail)
// clang-format on

json evaluation_json(const PlanEvaluation& e) {
  json j = json::object();
#define X(f) j[#f] = e.f;
  MLASIM_PLAN_EVALUATION_FIELDS(X)
#undef X
  return j;
}

PlanEvaluation evaluation_of(const json& j) {
  PlanEvaluation e;
#define X(f) j.at(#f).get_to(e.f);
  MLASIM_PLAN_EVALUATION_FIELDS(X)
#undef X
  return e;
}

json optional_evaluation(const std::optional<PlanEvaluation>& e) {
  return e ? evaluation_json(*e) : json(nullptr);
}

std::optional<PlanEvaluation> optional_evaluation_of(const json& j) {
  return j.is_null() ? std::nullopt : std::optional<PlanEvaluation>(evaluation_of(j));
}

}  // namespace

json plan_run_json(const PlanLayoutRun& run) {
  const LayoutOutcome& o = run.outcome;
  json j = json::object();
  j["status"] = static_cast<int>(o.status);
  j["reason"] = o.reason;
  j["at_target"] = optional_evaluation(o.at_target);
  j["at_target_summary"] = o.at_target_summary ? summary_json(*o.at_target_summary) : json(nullptr);
  j["best_effort"] = optional_evaluation(o.best_effort);
  j["one_replica_max"] = optional_evaluation(o.one_replica_max);
  j["cost"] = json::array({o.cost.gpus, o.cost.usd_per_hour, o.cost.usd_per_million_output_tokens,
                           o.cost.usd_per_million_total_tokens});
  j["max_requests_per_s_bound"] = o.max_requests_per_s_bound;
  j["simulations"] = o.simulations;
  j["simulated"] = run.simulated;
  json trials = json::array();
  for (const PlanTrial& t : run.trials) {
    trials.push_back(json{{"layout", t.layout},
                          {"evaluation", evaluation_json(t.evaluation)},
                          {"summary", summary_json(t.summary)}});
  }
  j["trials"] = std::move(trials);
  json points = json::array();
  for (const PlanPoint& p : run.points) {
    points.push_back(
        json::array({p.layout, p.at_target, p.point.tokens_per_s_per_gpu, p.point.tokens_per_s_per_user}));
  }
  j["points"] = std::move(points);
  return j;
}

PlanLayoutRun plan_run_of(const json& j) {
  PlanLayoutRun run;
  LayoutOutcome& o = run.outcome;
  o.status = enum_of(j.at("status"), LayoutStatus::kSloUnmet);
  o.reason = j.at("reason").get<std::string>();
  o.at_target = optional_evaluation_of(j.at("at_target"));
  if (!j.at("at_target_summary").is_null()) o.at_target_summary = summary_of(j.at("at_target_summary"));
  o.best_effort = optional_evaluation_of(j.at("best_effort"));
  o.one_replica_max = optional_evaluation_of(j.at("one_replica_max"));
  const json& c = j.at("cost");
  if (!c.is_array() || c.size() != 4) throw std::invalid_argument("cost: expected an array of 4 values");
  o.cost = DeploymentCost{c[0].get<int>(), c[1].get<double>(), c[2].get<double>(), c[3].get<double>()};
  o.max_requests_per_s_bound = j.at("max_requests_per_s_bound").get<double>();
  o.simulations = j.at("simulations").get<int>();
  run.simulated = j.at("simulated").get<bool>();
  for (const json& t : j.at("trials")) {
    run.trials.push_back(
        {t.at("layout").get<std::size_t>(), evaluation_of(t.at("evaluation")), summary_of(t.at("summary"))});
  }
  for (const json& p : j.at("points")) {
    if (!p.is_array() || p.size() != 4) throw std::invalid_argument("points: expected arrays of 4 values");
    run.points.push_back(
        {p[0].get<std::size_t>(), p[1].get<bool>(), {p[2].get<double>(), p[3].get<double>()}});
  }
  return run;
}

}  // namespace mlasim
