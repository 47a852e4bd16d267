// The plan's search (sim/plan/search.hpp): cost arithmetic by hand, the replica search against an
// exhaustive grid, the rate bisection, and the Pareto front.
#include <catch2/catch.hpp>
#include <cmath>

#include "sim/plan/search.hpp"
#include "sim/random.hpp"

using namespace mlasim;

TEST_CASE("a deployment's cost: GPUs x price per hour, over the tokens that hour serves") {
  // 2 replicas of TP 8 at 5.408 USD per GPU-hour: 86.528 USD per hour. 10,000 output tokens/s is 36 million
  // an hour: 86.528 / 36 = 2.4036 USD per million; with 4 prompt tokens per output token, 50,000 total
  // tokens/s: 0.48071 USD per million.
  const DeploymentCost c = deployment_cost(16, 5.408, 10'000.0, 50'000.0);
  CHECK(c.gpus == 16);
  CHECK(c.usd_per_hour == Approx(86.528));
  CHECK(c.usd_per_million_output_tokens == Approx(86.528 / 36.0));
  CHECK(c.usd_per_million_total_tokens == Approx(86.528 / 180.0));
  CHECK(std::isnan(deployment_cost(8, 2.0, 0.0, 0.0).usd_per_million_output_tokens));
}

TEST_CASE(
    "the fewest replicas found by the search are the exhaustive grid's, in a logarithmic number of runs") {
  Rng rng(7);
  for (int trial = 0; trial < 500; ++trial) {
    const int lo = static_cast<int>(rng.uniform_int(1, 4));
    const int hi = lo + static_cast<int>(rng.uniform_int(0, 60));
    const int needed = static_cast<int>(rng.uniform_int(1, 70));  // replicas this layout needs at this rate
    const PlanEvaluator evaluate = [&](std::size_t, int replicas, double rate) {
      PlanEvaluation e;
      e.replicas = replicas;
      e.rate_per_s = rate;
      e.meets_slos = replicas >= needed;
      return e;
    };
    int exhaustive = -1;
    for (int r = lo; r <= hi && exhaustive < 0; ++r) {
      if (evaluate(0, r, 1.0).meets_slos) exhaustive = r;
    }
    int simulations = 0;
    const std::optional<PlanEvaluation> found = fewest_replicas(evaluate, 0, 1.0, lo, hi, &simulations);
    INFO("range [" << lo << ", " << hi << "], needs " << needed);
    const int log_range = static_cast<int>(std::ceil(std::log2(hi - lo + 1)));
    if (exhaustive < 0) {
      CHECK_FALSE(found.has_value());
      CHECK(simulations <= 2 + log_range);  // galloping to `hi`
    } else {
      REQUIRE(found.has_value());
      CHECK(found->replicas == exhaustive);
      if (exhaustive == lo) CHECK(simulations == 1);  // the lower bound is the answer: one run
      // Galloping up to the answer, then bisecting the last step: logarithmic in how far it lies above `lo`.
      const int log_distance = static_cast<int>(std::ceil(std::log2(exhaustive - lo + 1)));
      CHECK(simulations <= 2 + 2 * log_distance);
    }
  }
}

TEST_CASE("the highest sustainable rate is found to within the tolerance, never above the true limit") {
  for (const double limit : {0.37, 3.0, 12.5, 99.0}) {
    const PlanEvaluator evaluate = [&](std::size_t, int, double rate) {
      PlanEvaluation e;
      e.replicas = 1;
      e.rate_per_s = rate;
      e.meets_slos = rate <= limit;
      return e;
    };
    int simulations = 0;
    const auto found = highest_rate(evaluate, 0, 100.0, 0.02, &simulations);
    REQUIRE(found.has_value());
    CHECK(found->rate_per_s <= limit);
    CHECK(found->rate_per_s >= limit / 1.02);
    CHECK(simulations < 20);
  }
  const PlanEvaluator never = [](std::size_t, int, double) { return PlanEvaluation{}; };
  int simulations = 0;
  CHECK_FALSE(highest_rate(never, 0, 100.0, 0.02, &simulations).has_value());
}

TEST_CASE("the Pareto front keeps the points no other beats on both axes") {
  // (per GPU, per user): b beats a; c and d trade off; e equals c and comes later (dropped); f is dominated.
  const std::vector<TradeoffPoint> points = {{100, 10}, {120, 12}, {300, 8}, {50, 40}, {300, 8}, {40, 30}};
  CHECK(pareto_front(points) == std::vector<std::size_t>{2, 1, 3});
}
