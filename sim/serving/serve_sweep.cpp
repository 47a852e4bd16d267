#include "sim/serving/serve_sweep.hpp"

#include <fmt/format.h>

#include "sim/error.hpp"
#include "sim/parallel.hpp"

namespace mlasim {

std::size_t serve_sweep_size(const ServeConfig& config) {
  return config.sweep.axis == ServeSweepSpec::Axis::kNone ? 1 : config.sweep.size();
}

ServeSpec serve_sweep_spec(const ServeConfig& config, std::size_t index) {
  const ServeSweepSpec& sw = config.sweep;
  if (index >= serve_sweep_size(config)) {
    throw InternalError(fmt::format("serve sweep run {} of {}", index, serve_sweep_size(config)));
  }
  ServeSpec spec = config.spec;
  if (sw.axis == ServeSweepSpec::Axis::kNone) return spec;
  spec.per_request_csv = false;  // a sweep reports summaries only
  if (sw.axis == ServeSweepSpec::Axis::kRate) {
    spec.workload.rate_per_s = sw.rates_per_s[index];
  } else {
    spec.workload.concurrency = static_cast<int>(sw.concurrency[index]);
  }
  return spec;
}

std::vector<ServeSummary> run_serve_sweep(const ServeConfig& config, int jobs,
                                          const ServeSweepProgress& progress) {
  return run_serve_sweep_runs(config, 0, serve_sweep_size(config), jobs, progress);
}

std::vector<ServeSummary> run_serve_sweep_runs(const ServeConfig& config, std::size_t first, std::size_t last,
                                               int jobs, const ServeSweepProgress& progress) {
  if (first > last || last > serve_sweep_size(config)) {
    throw InternalError(
        fmt::format("serve sweep runs {} to {} of {}", first, last, serve_sweep_size(config)));
  }
  const std::size_t n = last - first;
  std::vector<ServeSummary> out(n);
  ProgressCounter counter(n, progress);
  parallel_for(n, jobs, [&](std::size_t i) {
    out[i] = run_serve(serve_sweep_spec(config, first + i)).summary;
    counter.add(1);
  });
  counter.finish();
  return out;
}

OverloadOnset overload_onset(const std::vector<ServeSummary>& rows) {
  OverloadOnset o;
  for (const ServeSummary& s : rows) {
    if (s.arrival != "poisson") return OverloadOnset{};
    if (s.overload.verdict == LoadVerdict::kOverloaded &&
        (!o.first_overloaded_rate_per_s || s.rate_per_s < *o.first_overloaded_rate_per_s)) {
      o.first_overloaded_rate_per_s = s.rate_per_s;
    }
  }
  for (const ServeSummary& s : rows) {
    const bool below = !o.first_overloaded_rate_per_s || s.rate_per_s < *o.first_overloaded_rate_per_s;
    if (s.overload.verdict == LoadVerdict::kStable && below &&
        (!o.last_stable_rate_per_s || s.rate_per_s > *o.last_stable_rate_per_s)) {
      o.last_stable_rate_per_s = s.rate_per_s;
    }
  }
  return o;
}

std::string overload_onset_sentence(const std::vector<ServeSummary>& rows) {
  if (rows.empty() || rows.front().arrival != "poisson") return "";
  const OverloadOnset o = overload_onset(rows);
  if (o.first_overloaded_rate_per_s) {
    return fmt::format(
        "overload starts at {:.4g} req/s (the lowest swept rate judged overloaded{})",
        *o.first_overloaded_rate_per_s,
        o.last_stable_rate_per_s
            ? fmt::format("; {:.4g} req/s is the highest stable rate below it", *o.last_stable_rate_per_s)
            : std::string("; no lower rate was judged stable"));
  }
  if (o.last_stable_rate_per_s) {
    return fmt::format("no swept rate is overloaded (stable up to {:.4g} req/s)", *o.last_stable_rate_per_s);
  }
  return "no swept rate could be judged (see each point's overload_reason)";
}

}  // namespace mlasim
