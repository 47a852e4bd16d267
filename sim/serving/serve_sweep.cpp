#include "sim/serving/serve_sweep.hpp"

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

}  // namespace mlasim
