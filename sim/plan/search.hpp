#pragma once
/// The search behind `mlasim plan` (DESIGN.md §10 "Plan"), independent of how a deployment is evaluated: the
/// fewest replicas of a layout that meet the SLOs at a target rate (a binary search, not a grid), the highest
/// rate one replica sustains under them (a bisection), what a deployment costs, and the Pareto front of
/// tokens/s per GPU against tokens/s per user. The evaluator is a function, so tests drive the search with
/// known answers and compare it with an exhaustive grid.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sim/cost.hpp"

namespace mlasim {

/// One simulated deployment of a layout: `replicas` copies serving `rate_per_s` requests per second.
struct PlanEvaluation {
  int replicas = 0;
  double rate_per_s = 0.0;
  bool meets_slos = false;  ///< every SLO target met (and not overloaded)
  bool overloaded = false;  ///< served rate short of the offered one, or the queue grows without bound
  double output_tokens_per_s = 0.0;    ///< all replicas
  double total_tokens_per_s = 0.0;     ///< prompt + output, all replicas
  double tokens_per_s_per_gpu = 0.0;   ///< output tokens
  double tokens_per_s_per_user = 0.0;  ///< output tokens per request while decoding (1 / mean TPOT)
  double worst_margin = 0.0;  ///< smallest (target − measured) / target over the SLOs; < 0 when one is missed
  std::string detail;         ///< which SLOs were measured at what (for reports)
};

/// Simulates `replicas` copies of layout number `layout` at `rate_per_s`.
using PlanEvaluator = std::function<PlanEvaluation(std::size_t layout, int replicas, double rate_per_s)>;

/// The fewest replicas in [lo, hi] whose evaluation at `rate_per_s` meets the SLOs (meeting them is monotone
/// in the replica count: more replicas share the same load): `lo` first, then galloping up (lo + 1, + 3, + 7,
/// ...) to a count that meets them, then bisection — O(log(answer − lo)) evaluations, one when `lo` is the
/// answer. nullopt when even `hi` does not; `last` then holds the evaluation at `hi`. Each evaluation is
/// counted in
/// `*simulations`.
[[nodiscard]] std::optional<PlanEvaluation> fewest_replicas(const PlanEvaluator& evaluate, std::size_t layout,
                                                            double rate_per_s, int lo, int hi,
                                                            int* simulations, PlanEvaluation* last = nullptr);

/// The highest rate in (0, hi_rate] at which one replica meets the SLOs, by bisection to within
/// `relative_tolerance` of the rate (meeting them is monotone in the rate). nullopt when even a rate four
/// decades below hi_rate fails.
[[nodiscard]] std::optional<PlanEvaluation> highest_rate(const PlanEvaluator& evaluate, std::size_t layout,
                                                         double hi_rate, double relative_tolerance,
                                                         int* simulations);

/// A point of the throughput trade-off.
struct TradeoffPoint {
  double tokens_per_s_per_gpu = 0.0;
  double tokens_per_s_per_user = 0.0;
};
/// Indices of the points no other point beats on both axes (ties on both keep the first), sorted by
/// tokens/s per GPU descending.
[[nodiscard]] std::vector<std::size_t> pareto_front(const std::vector<TradeoffPoint>& points);

}  // namespace mlasim
