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
           {"rejected", "requests that can never fit"},
           {"offered_requests_per_s", "arrivals per second in the measurement window"},
           {"overload", "load verdict: stable, overloaded, not_applicable or no_data"},
           {"slos_met", "every percentile SLO met (empty when none is set)"},
           {"meets_slos", "nothing rejected, load stable, something measured, every percentile SLO met"}});
  for (const ServeSummary& s : rows) {
    t.add_row({s.rate_per_s,
               std::int64_t{s.concurrency},
               s.requests_per_s,
               s.output_tokens_per_s,
               s.output_tokens_per_s_per_gpu,
               s.output_tokens_per_s_per_user,
               s.ttft.p50_s,
               s.ttft.p99_s,
               s.tpot.p50_s,
               s.tpot.p99_s,
               s.e2e.p99_s,
               s.goodput_requests_per_s,
               s.mean_batch_size,
               s.max_kv_usage,
               s.preemptions,
               s.rejected,
               s.offered_requests_per_s,
               std::string(to_string(s.overload.verdict)),
               std::string(s.slo_verdicts.empty() ? ""
                           : s.slos_met           ? "true"
                                                  : "false"),
               std::string(s.meets_slos() ? "true" : "false")});
  }
  return t;
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
