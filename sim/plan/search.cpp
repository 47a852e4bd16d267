#include "sim/plan/search.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "sim/error.hpp"

namespace mlasim {

DeploymentCost deployment_cost(int gpus, double price_per_gpu_hour, double output_tokens_per_s,
                               double total_tokens_per_s) {
  DeploymentCost c;
  c.gpus = gpus;
  c.usd_per_hour = gpus * price_per_gpu_hour;
  // An hour serves tokens/s × 3600 tokens; the price of a million of them is $/h ÷ (that / 1e6).
  const auto per_million = [&](double tokens_per_s) {
    return tokens_per_s > 0.0 ? c.usd_per_hour / (tokens_per_s * 3600.0) * 1e6
                              : std::numeric_limits<double>::quiet_NaN();
  };
  c.usd_per_million_output_tokens = per_million(output_tokens_per_s);
  c.usd_per_million_total_tokens = per_million(total_tokens_per_s);
  return c;
}

std::optional<PlanEvaluation> fewest_replicas(const PlanEvaluator& evaluate, std::size_t layout, double rate_per_s,
                                              int lo, int hi, int* simulations, PlanEvaluation* last) {
  if (lo < 1 || hi < lo) return std::nullopt;
  const auto run = [&](int replicas) {
    ++*simulations;
    return evaluate(layout, replicas, rate_per_s);
  };
  // The largest count first: when it fails, nothing in the range meets the SLOs.
  PlanEvaluation best = run(hi);
  if (last != nullptr) *last = best;
  if (!best.meets_slos) return std::nullopt;
  // Invariant: `hi` meets the SLOs (best is its evaluation); every count below `lo` fails.
  while (lo < hi) {
    const int mid = lo + (hi - lo) / 2;
    PlanEvaluation e = run(mid);
    if (e.meets_slos) {
      hi = mid;
      best = std::move(e);
    } else {
      lo = mid + 1;
    }
  }
  return best;
}

std::optional<PlanEvaluation> highest_rate(const PlanEvaluator& evaluate, std::size_t layout, double hi_rate,
                                           double relative_tolerance, int* simulations) {
  if (!(hi_rate > 0.0) || !(relative_tolerance > 0.0 && relative_tolerance < 1.0)) {
    throw InputError("highest_rate: the rate bound must be positive and the tolerance in (0, 1)");
  }
  const auto run = [&](double rate) {
    ++*simulations;
    return evaluate(layout, 1, rate);
  };
  PlanEvaluation top = run(hi_rate);
  if (top.meets_slos) return top;
  // Step down by factors of 8 to a rate that meets the SLOs (at most four decades below the bound).
  double hi = hi_rate;
  double lo = hi_rate / 8.0;
  PlanEvaluation best = run(lo);
  while (!best.meets_slos) {
    if (lo < hi_rate * 1e-4) return std::nullopt;
    hi = lo;
    lo /= 8.0;
    best = run(lo);
  }
  // Invariant: `lo` meets the SLOs, `hi` does not; stop when they are within the tolerance of each other.
  while (hi - lo > relative_tolerance * lo) {
    const double mid = std::sqrt(lo * hi);  // geometric: the bounds may span decades
    PlanEvaluation e = run(mid);
    if (e.meets_slos) {
      lo = mid;
      best = std::move(e);
    } else {
      hi = mid;
    }
  }
  return best;
}

std::vector<std::size_t> pareto_front(const std::vector<TradeoffPoint>& points) {
  std::vector<std::size_t> front;
  for (std::size_t i = 0; i < points.size(); ++i) {
    bool dominated = false;
    for (std::size_t j = 0; j < points.size() && !dominated; ++j) {
      if (j == i) continue;
      const bool no_worse = points[j].tokens_per_s_per_gpu >= points[i].tokens_per_s_per_gpu &&
                            points[j].tokens_per_s_per_user >= points[i].tokens_per_s_per_user;
      const bool better = points[j].tokens_per_s_per_gpu > points[i].tokens_per_s_per_gpu ||
                          points[j].tokens_per_s_per_user > points[i].tokens_per_s_per_user;
      // An equal point dominates only when it comes first, so one of a tie stays.
      dominated = no_worse && (better || j < i);
    }
    if (!dominated) front.push_back(i);
  }
  std::stable_sort(front.begin(), front.end(), [&](std::size_t a, std::size_t b) {
    return points[a].tokens_per_s_per_gpu > points[b].tokens_per_s_per_gpu;
  });
  return front;
}

}  // namespace mlasim
