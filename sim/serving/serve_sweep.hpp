#pragma once
/// A serve sweep: the same experiment at several request rates (Poisson) or concurrencies (closed loop),
/// giving a throughput–latency curve (DESIGN.md §10 "Serving"; reports/serve_report.hpp renders it).
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sim/config/serve_config.hpp"
#include "sim/serving/serve.hpp"

namespace mlasim {

/// Runs completed so far and runs in all: called at most every 100 ms from one worker thread at a time
/// (under a mutex), and once at the end from the calling thread. Must not throw.
using ServeSweepProgress = std::function<void(std::size_t done, std::size_t total)>;

/// Runs `config.spec` once per sweep point, in grid order; one summary per point. Each point is seeded
/// identically, so points differ only in the swept quantity. The points run on up to `jobs` threads; the
/// summaries do not depend on it.
[[nodiscard]] std::vector<ServeSummary> run_serve_sweep(const ServeConfig& config, int jobs = 1,
                                                        const ServeSweepProgress& progress = {});

/// Runs [first, last) of the sweep (a shard's block): element k is run_serve_sweep's row first + k.
[[nodiscard]] std::vector<ServeSummary> run_serve_sweep_runs(const ServeConfig& config, std::size_t first,
                                                             std::size_t last, int jobs = 1,
                                                             const ServeSweepProgress& progress = {});

/// The number of runs of the sweep: its points, or 1 without a sweep.
[[nodiscard]] std::size_t serve_sweep_size(const ServeConfig& config);

/// The experiment of run `index` (below serve_sweep_size): the base with the swept quantity set and no
/// per-request CSV; the base itself without a sweep. run_serve_sweep's row `index` is run_serve of it.
[[nodiscard]] ServeSpec serve_sweep_spec(const ServeConfig& config, std::size_t index);

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
