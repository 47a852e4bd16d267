// mlasim plan with the real serving simulation (sim/plan/plan.hpp): on a small space the search's answer is
// the exhaustive grid's, the cheapest deployment meets every SLO when rerun as a serve experiment, layouts
// that cannot fit (or exceed the budget) are never simulated, costs are GPUs × price by hand, and a plan
// nothing satisfies says so.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include "reports/plan_report.hpp"
#include "sim/plan/plan.hpp"
#include "tests/spec_fixtures.hpp"

using namespace mlasim;

namespace {

/// Llama-3-8B at 150 req/s (256 in / 128 out), TTFT p99 ≤ 300 ms and TPOT p99 ≤ 20 ms, on H100 (4.916 USD/h)
/// or H200 (5.408 USD/h), TP 1 or 2, within 8 GPUs.
PlanSpec small_plan() {
  PlanSpec p;
  p.name = "small";
  p.source = "test_plan_run.cpp";
  p.models = {test::llama3_8b()};
  p.variants = {VariantSpec{}};
  p.gpus = {{test::h100(), 4.916}, {test::h200(), 5.408}};
  p.tp = {1, 2};
  p.dp_attention = {false};
  p.weights = {Dtype::kBf16};
  p.kv_cache = {Dtype::kBf16};
  p.max_num_seqs = {256};
  p.max_num_batched_tokens = {8192};
  p.policies = {SchedulerPolicy::kVllm};
  p.max_gpus = 8;
  p.requests_per_replica = 800;
  p.base.device_mode = DeviceMode::kDatasheet;
  p.base.workload.arrival = ArrivalKind::kPoisson;
  p.base.workload.rate_per_s = 150.0;
  p.base.workload.seed = 5;
  p.base.workload.prompt = LengthSpec::fixed(256);
  p.base.workload.output = LengthSpec::fixed(128);
  p.base.slo.percentiles = {{SloMetric::kTtft, 99, seconds_to_ps(0.3)},
                            {SloMetric::kTpot, 99, seconds_to_ps(0.02)}};
  return p;
}

}  // namespace

TEST_CASE(
    "the plan's fewest replicas are the exhaustive grid's, and its cheapest deployment the grid's cheapest") {
  const PlanSpec spec = small_plan();
  const PlanResult r = run_plan(spec);
  REQUIRE(r.layouts.size() == 4);
  double cheapest_usd = std::numeric_limits<double>::infinity();
  int answers = 0;
  for (std::size_t i = 0; i < r.layouts.size(); ++i) {
    const LayoutOutcome& o = r.layouts[i];
    INFO(o.layout.describe() << ": " << o.reason);
    REQUIRE((o.status == LayoutStatus::kOk || o.status == LayoutStatus::kSloUnmet));
    // Every replica count the budget allows, in order: the first that meets the SLOs.
    int first = -1;
    for (int n = 1; n <= spec.max_gpus / o.layout.tp && first < 0; ++n) {
      if (run_serve(plan_serve_spec(spec, o.layout, n, r.target_rate_per_s)).summary.meets_slos()) first = n;
    }
    if (first < 0) {
      CHECK(o.status == LayoutStatus::kSloUnmet);
      continue;
    }
    ++answers;
    REQUIRE(o.at_target.has_value());
    CHECK(o.at_target->replicas == first);
    cheapest_usd = std::min(cheapest_usd, first * o.layout.tp * o.layout.gpu.price_per_gpu_hour);
  }
  CHECK(answers >= 2);  // the space is not trivial: more than one layout has an answer
  REQUIRE(r.cheapest() != nullptr);
  CHECK(r.cheapest()->cost.usd_per_hour == Approx(cheapest_usd));
  // Some layout needs more than one replica (the search had something to find).
  bool several = false;
  for (const LayoutOutcome& o : r.layouts) several = several || (o.at_target && o.at_target->replicas > 1);
  CHECK(several);
}

TEST_CASE("the cheapest deployment meets every SLO when rerun as a serve experiment, with the same figures") {
  const PlanSpec spec = small_plan();
  const PlanResult r = run_plan(spec);
  const LayoutOutcome* best = r.cheapest();
  REQUIRE(best != nullptr);
  const ServeResult rerun = run_serve(plan_serve_spec(spec, best->layout, best->at_target->replicas, 150.0));
  CHECK(rerun.summary.meets_slos());
  CHECK(rerun.summary.overload.verdict == LoadVerdict::kStable);
  CHECK(rerun.summary.rejected == 0);
  REQUIRE(rerun.summary.slo_verdicts.size() == 2);
  for (const SloVerdict& v : rerun.summary.slo_verdicts) {
    CHECK(v.status == SloStatus::kMet);
    CHECK(v.measured_s <= v.target_s);
  }
  CHECK(rerun.summary.ttft.p99_s == best->at_target_summary->ttft.p99_s);
  CHECK(rerun.summary.tpot.p99_s == best->at_target_summary->tpot.p99_s);
}

TEST_CASE("cost and throughput of the chosen deployment, by hand") {
  const PlanSpec spec = small_plan();
  const PlanResult r = run_plan(spec);
  const LayoutOutcome* best = r.cheapest();
  REQUIRE(best != nullptr);
  const int gpus = best->at_target->replicas * best->layout.tp;
  // A stable deployment serves what arrives: 150 req/s × 128 output tokens = 19,200 tokens/s, and with the
  // 256-token prompts 150 × 384 = 57,600 tokens/s in all.
  CHECK(best->at_target->output_tokens_per_s == Approx(19200.0));
  CHECK(best->at_target->total_tokens_per_s == Approx(57600.0));
  CHECK(best->at_target->tokens_per_s_per_gpu == Approx(19200.0 / gpus));
  CHECK(best->cost.gpus == gpus);
  CHECK(best->cost.usd_per_hour == Approx(gpus * best->layout.gpu.price_per_gpu_hour));
  // An hour serves 19,200 × 3600 = 69.12 M output tokens and 57,600 × 3600 = 207.36 M tokens in all.
  CHECK(best->cost.usd_per_million_output_tokens ==
        Approx(gpus * best->layout.gpu.price_per_gpu_hour / 69.12));
  CHECK(best->cost.usd_per_million_total_tokens ==
        Approx(gpus * best->layout.gpu.price_per_gpu_hour / 207.36));
  // The ranking is by USD per hour.
  for (std::size_t k = 1; k < r.ranking.size(); ++k) {
    CHECK(r.layouts[r.ranking[k - 1]].cost.usd_per_hour <= r.layouts[r.ranking[k]].cost.usd_per_hour);
  }
}

TEST_CASE("layouts that cannot fit or exceed the budget are never simulated") {
  PlanSpec spec = small_plan();
  // A 20 GB GPU cannot hold Llama-3-8B's 16 GB of bf16 weights beside its workspace at TP 1 (0.9 × 20 = 18 GB
  // usable); at TP 2 (8 GB per GPU) it can.
  HardwareSpec small = test::h100();
  small.id = "small-gpu";
  small.name = "Small GPU";
  small.hbm_bytes = 20e9;
  spec.gpus = {{small, 1.0}};
  spec.tp = {1, 2, 16};
  spec.max_gpus = 8;
  int simulations_seen = 0;
  std::size_t layouts_done = 0, layouts_total = 0;
  const PlanResult r = run_plan(spec, [&](int sims, std::size_t done, std::size_t total) {
    simulations_seen = sims;
    layouts_done = done;
    layouts_total = total;
  });
  REQUIRE(r.layouts.size() == 3);
  CHECK(r.layouts[0].status == LayoutStatus::kDoesNotFit);
  CHECK(r.layouts[0].simulations == 0);
  CHECK_FALSE(r.layouts[0].reason.empty());
  CHECK(r.layouts[2].status == LayoutStatus::kOverBudget);  // TP 16 > 8 GPUs
  CHECK(r.layouts[2].simulations == 0);
  CHECK(r.not_simulated == 2);
  for (const PlanTrial& t : r.trials) CHECK(t.layout == 1);
  // The last progress report: every layout done, the simulations kept.
  CHECK(layouts_done == 3);
  CHECK(layouts_total == 3);
  CHECK(simulations_seen == r.simulations);
  CHECK(r.simulations == static_cast<int>(r.trials.size()));
}

TEST_CASE("a plan nothing satisfies says so plainly, with the closest miss") {
  PlanSpec spec = small_plan();
  spec.base.slo.percentiles = {
      {SloMetric::kTpot, 99, seconds_to_ps(0.0005)}};  // 0.5 ms per token: impossible
  spec.tp = {1};
  spec.gpus = {{test::h100(), 4.916}};
  spec.max_gpus = 2;
  const PlanResult r = run_plan(spec);
  CHECK(r.cheapest() == nullptr);
  REQUIRE(r.layouts.size() == 1);
  CHECK(r.layouts[0].status == LayoutStatus::kSloUnmet);
  CHECK(r.layouts[0].reason.find("tpot_p99") != std::string::npos);
  const std::string headline = plan_headline(spec, r);
  CHECK(headline.rfind("No deployment within the budget of 2 GPUs meets the SLOs", 0) == 0);
  CHECK(plan_markdown(spec, r).find("Cheapest:") == std::string::npos);  // no number posing as an answer
  CHECK(plan_json(spec, r).find("\"cheapest\": null") != std::string::npos);
}

TEST_CASE("a plan is deterministic: the same spec gives the same files") {
  const PlanSpec spec = small_plan();
  const PlanResult a = run_plan(spec);
  const PlanResult b = run_plan(spec);
  CHECK(plan_json(spec, a) == plan_json(spec, b));
  CHECK(plan_markdown(spec, a) == plan_markdown(spec, b));
}

TEST_CASE("the clipped mean of a length distribution") {
  CHECK(LengthSpec::fixed(300).expected() == 300.0);
  LengthSpec u;
  u.kind = LengthSpec::Kind::kUniform;
  u.min = 100;
  u.max = 301;
  CHECK(u.expected() == 200.5);
  LengthSpec h;
  h.kind = LengthSpec::Kind::kHistogram;
  h.bins = {{100, 1.0}, {1000, 3.0}};  // (100 + 3000) / 4
  CHECK(h.expected() == Approx(775.0));
  // Lognormal, clipping far away: median · e^{σ²/2} = 1000 · e^{0.125} = 1133.15 (rounding moves it < 0.5).
  LengthSpec l;
  l.kind = LengthSpec::Kind::kLognormal;
  l.median = 1000;
  l.sigma = 0.5;
  l.max = 1 << 30;
  CHECK(l.expected() == Approx(1133.148).margin(0.6));
  // Normal clipped at its mean from below: E[max(X, μ)] = μ + σ/√(2π) = 500 + 100 × 0.398942 = 539.894.
  LengthSpec n;
  n.kind = LengthSpec::Kind::kNormal;
  n.mean = 500;
  n.stddev = 100;
  n.min = 500;
  n.max = 1 << 30;
  CHECK(n.expected() == Approx(539.894).margin(0.6));
}

namespace {

/// The trials of a plan as text, field by field, for comparing runs.
std::string trials_text(const PlanResult& r) {
  std::string out;
  for (const PlanTrial& t : r.trials) {
    out += fmt::format("{} {} {} {} {} {} {} {}\n", t.layout, t.evaluation.replicas, t.evaluation.rate_per_s,
                       t.evaluation.meets_slos, t.evaluation.tokens_per_s_per_gpu, t.evaluation.detail,
                       t.summary.output_tokens_per_s, t.summary.completed);
  }
  return out;
}

}  // namespace

TEST_CASE("a plan on 3 threads equals the plan on 1: layouts, trials in the same order, ranking, front") {
  const PlanSpec spec = small_plan();
  const PlanResult one = run_plan(spec, PlanRunOptions{1, {}});
  const PlanResult three = run_plan(spec, PlanRunOptions{3, {}});
  REQUIRE(one.trials.size() > 4);
  CHECK(trials_text(one) == trials_text(three));
  CHECK(one.simulations == three.simulations);
  CHECK(one.ranking == three.ranking);
  CHECK(one.pareto == three.pareto);
  REQUIRE(one.layouts.size() == three.layouts.size());
  for (std::size_t i = 0; i < one.layouts.size(); ++i) {
    CHECK(one.layouts[i].status == three.layouts[i].status);
    CHECK(one.layouts[i].simulations == three.layouts[i].simulations);
    CHECK(one.layouts[i].cost.usd_per_hour == three.layouts[i].cost.usd_per_hour);
  }
}

TEST_CASE("a simulation both searches of a layout ask for is run and listed once, as one search would") {
  // One layout; the target rate set to the highest-rate search's first rate (1.5 × the analytic bound), so
  // the fewest-replicas search (starting at one replica) and the highest-rate search both ask for one replica
  // at that rate.
  PlanSpec spec = small_plan();
  spec.gpus = {{test::h100(), 4.916}};
  spec.tp = {1};
  const double bound = run_plan(spec).layouts.at(0).max_requests_per_s_bound;
  REQUIRE(bound > 0.0);
  spec.base.workload.rate_per_s = 1.5 * bound;
  for (const int jobs : {1, 2}) {
    const PlanResult r = run_plan(spec, PlanRunOptions{jobs, {}});
    INFO("jobs " << jobs);
    REQUIRE(r.trials.size() >= 2);
    CHECK(r.trials[0].evaluation.replicas == 1);
    CHECK(r.trials[0].evaluation.rate_per_s == spec.base.workload.rate_per_s);
    std::set<std::pair<int, double>> distinct;
    for (const PlanTrial& t : r.trials) distinct.emplace(t.evaluation.replicas, t.evaluation.rate_per_s);
    CHECK(distinct.size() == r.trials.size());
    CHECK(r.simulations == static_cast<int>(r.trials.size()));
    CHECK(r.layouts[0].simulations == r.simulations);
    REQUIRE(r.layouts[0].one_replica_max.has_value());
  }
}
