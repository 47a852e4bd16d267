#pragma once
/// The report of `mlasim plan` (DESIGN.md §10 "Plan"): the cheapest deployment that meets the SLOs, the
/// alternatives, the Pareto front of tokens/s per GPU against tokens/s per user, and what became of every
/// layout of the search space. Pure rendering of the typed PlanSpec and PlanResult: same plan, same bytes;
/// the caller writes the files through OutputSet.
#include <string>
#include <vector>

#include "reports/chart.hpp"
#include "reports/html.hpp"
#include "sim/output.hpp"
#include "sim/plan/plan.hpp"
#include "sim/table.hpp"

namespace mlasim {

/// One row per layout, in search-space order: the layout, its status and reason, and for a layout that meets
/// the SLOs its replicas, GPUs, cost, throughput, p99 latencies, worst SLO margin and rank; for every
/// simulated layout the highest rate one replica sustains and the analytic estimate the search started from.
[[nodiscard]] Table plan_layouts_table(const PlanResult& result);

/// The cheapest deployments, cheapest first (rank, layout, replicas, GPUs, USD/h, USD per 1M output and total
/// tokens, tokens/s per GPU and per user, TTFT and TPOT p99, worst margin); at most `top` + 1 rows.
[[nodiscard]] Table plan_ranking_table(const PlanResult& result, int top);

/// The Pareto front: tokens/s per GPU descending, with the layout and whether the point is the target-rate
/// deployment or one replica at its highest rate.
[[nodiscard]] Table plan_pareto_table(const PlanResult& result);

/// Every simulation the search ran, in order: layout, replicas, rate, verdict, throughput, p99 latencies.
[[nodiscard]] Table plan_trials_table(const PlanResult& result);

/// The answer in a few lines: the cheapest deployment and its cost, or plainly that none meets the SLOs
/// within the budget (and the closest miss). What `mlasim plan` prints.
[[nodiscard]] std::string plan_headline(const PlanSpec& spec, const PlanResult& result);

/// summary.md: the question, the headline, the cheapest deployment's SLO margins, the alternatives, the
/// Pareto front, and the layouts not simulated or missing the SLOs, with why.
[[nodiscard]] std::string plan_markdown(const PlanSpec& spec, const PlanResult& result);

/// plan.json: {name, source, target_rate_per_s, max_gpus, simulations, not_simulated, cheapest (a layouts row
/// or null), ranking, pareto, layouts, trials}. Base SI units; NaN as null.
[[nodiscard]] std::string plan_json(const PlanSpec& spec, const PlanResult& result);

/// The charts: the Pareto front (every SLO-meeting point, the front as a line, the chosen deployment marked),
/// and per percentile target the measured percentile against the rate per replica for every simulated layout,
/// the target a horizontal line.
[[nodiscard]] std::vector<ScatterChart> plan_charts(const PlanSpec& spec, const PlanResult& result);

/// report.html and charts/NAME.{dat,gp}; the charts rendered when `charts` is set and gnuplot is there.
[[nodiscard]] ReportFiles build_plan_report(const PlanSpec& spec, const PlanResult& result, bool charts);

/// Every file of a plan: summary.md, plan.json, layouts.csv, ranking.csv, pareto.csv, trials.csv, report.html
/// and the charts. Returns the charts' note (empty when drawn).
std::string add_plan_outputs(OutputSet& out, const PlanSpec& spec, const PlanResult& result, bool charts);

}  // namespace mlasim
