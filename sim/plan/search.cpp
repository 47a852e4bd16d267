#include "sim/plan/search.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "sim/error.hpp"

namespace mlasim {

std::optional<PlanEvaluation> fewest_replicas(const PlanEvaluator& evaluate, std::size_t layout,
                                              double rate_per_s, int lo, int hi, int* simulations,
                                              PlanEvaluation* last) {
  if (lo < 1 || hi < lo) return std::nullopt;
  const auto run = [&](int replicas) {
    ++*simulations;
    return evaluate(layout, replicas, rate_per_s);
  };
  // `lo` is the analytic lower bound, usually the answer or close to it: try it first, then gallop upwards
  // (lo + 1, lo + 3, lo + 7, ...) so that an answer near the bound costs few (and small) simulations.
  PlanEvaluation e = run(lo);
  if (e.meets_slos) return e;
  int failing = lo;  // invariant: `failing` misses the SLOs (so does every count below it)
  int step = 1;
  PlanEvaluation best;
  int passing = -1;
  while (passing < 0) {
    const int next = failing >= hi - step ? hi : failing + step;
    e = run(next);
    if (e.meets_slos) {
      passing = next;
      best = std::move(e);
    } else {
      if (next == hi) {
        if (last != nullptr) *last = std::move(e);
        return std::nullopt;
      }
      failing = next;
      step *= 2;
    }
  }
  // Invariant: `failing` misses, `passing` meets; bisect between them.
  while (passing - failing > 1) {
    const int mid = failing + (passing - failing) / 2;
    e = run(mid);
    if (e.meets_slos) {
      passing = mid;
      best = std::move(e);
    } else {
      failing = mid;
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
