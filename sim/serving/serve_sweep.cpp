#include "sim/serving/serve_sweep.hpp"

#include <fmt/format.h>

#include "sim/error.hpp"

namespace mlasim {

std::vector<ServeSummary> run_serve_sweep(const ServeConfig& config) {
  std::vector<ServeSummary> out;
  const ServeSweepSpec& sw = config.sweep;
  if (sw.axis == ServeSweepSpec::Axis::kNone) {
    out.push_back(run_serve(config.spec).summary);
    return out;
  }
  for (std::size_t i = 0; i < sw.size(); ++i) {
    ServeSpec spec = config.spec;
    spec.per_request_csv = false;  // a sweep reports summaries only
    if (sw.axis == ServeSweepSpec::Axis::kRate) {
      spec.workload.rate_per_s = sw.rates_per_s[i];
    } else {
      spec.workload.concurrency = static_cast<int>(sw.concurrency[i]);
    }
    out.push_back(run_serve(spec).summary);
  }
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
