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

Table throughput_latency_table(const std::vector<ServeSummary>& rows) {
  Table t({{"rate_per_s", "offered Poisson rate (0 for a closed loop)"},
           {"concurrency", "closed-loop concurrency (0 for Poisson)"},
           {"requests_per_s", "completed requests per second"},
           {"output_tokens_per_s", "output tokens per second"},
           {"output_tokens_per_s_per_gpu", "per GPU"},
           {"output_tokens_per_s_per_user", "1 / mean TPOT"},
           {"ttft_p50_s", "median TTFT"},
           {"ttft_p99_s", "99th percentile TTFT"},
           {"tpot_p50_s", "median TPOT"},
           {"tpot_p99_s", "99th percentile TPOT"},
           {"e2e_p99_s", "99th percentile end-to-end latency"},
           {"goodput_requests_per_s", "completed requests per second meeting every SLO"},
           {"mean_batch_size", "sequences per iteration (time-weighted)"},
           {"max_kv_usage", "peak fraction of KV blocks in use"},
           {"preemptions", "preemptions by recompute"},
           {"rejected", "requests that can never fit"}});
  for (const ServeSummary& s : rows) {
    t.add_row({s.rate_per_s, std::int64_t{s.concurrency}, s.requests_per_s, s.output_tokens_per_s,
               s.output_tokens_per_s_per_gpu, s.output_tokens_per_s_per_user, s.ttft.p50_s, s.ttft.p99_s,
               s.tpot.p50_s, s.tpot.p99_s, s.e2e.p99_s, s.goodput_requests_per_s, s.mean_batch_size, s.max_kv_usage,
               s.preemptions, s.rejected});
  }
  return t;
}

}  // namespace mlasim
