#pragma once
/// A serve sweep: the same experiment at several request rates (Poisson) or concurrencies (closed loop),
/// giving a throughput–latency curve (DESIGN.md §10 "Serving"; reports/serve_report.hpp renders it).
#include <optional>
#include <string>
#include <vector>

#include "sim/config/serve_config.hpp"
#include "sim/serving/serve.hpp"

namespace mlasim {

/// Runs `config.spec` once per sweep point, in grid order; one summary per point. Each point is seeded
/// identically, so points differ only in the swept quantity.
[[nodiscard]] std::vector<ServeSummary> run_serve_sweep(const ServeConfig& config);

/// Where overload starts in a rate sweep: the lowest swept rate judged overloaded, and the highest rate below
/// it judged stable. Both absent when the rows are not a Poisson rate sweep or no point was judged.
struct OverloadOnset {
  std::optional<double> first_overloaded_rate_per_s;
  std::optional<double> last_stable_rate_per_s;  ///< the highest stable rate below the first overloaded one
};
[[nodiscard]] OverloadOnset overload_onset(const std::vector<ServeSummary>& rows);

/// One sentence about the onset for the sweep report and stderr, e.g. "overload starts at 40 req/s (the
/// lowest swept rate judged overloaded; 20 req/s is the highest stable rate below it)". "" for a concurrency
/// sweep.
[[nodiscard]] std::string overload_onset_sentence(const std::vector<ServeSummary>& rows);

}  // namespace mlasim
