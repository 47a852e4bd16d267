#pragma once
/// A serve sweep: the same experiment at several request rates (Poisson) or concurrencies (closed loop),
/// giving a throughput–latency curve (DESIGN.md §10 "Serving"; reports/serve_report.hpp renders it).
#include <vector>

#include "sim/config/serve_config.hpp"
#include "sim/serving/serve.hpp"

namespace mlasim {

/// Runs `config.spec` once per sweep point, in grid order; one summary per point. Each point is seeded
/// identically, so points differ only in the swept quantity.
[[nodiscard]] std::vector<ServeSummary> run_serve_sweep(const ServeConfig& config);

}  // namespace mlasim
