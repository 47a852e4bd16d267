#include "sim/serving/workload_spec.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "sim/error.hpp"
#include "sim/output.hpp"
#include "sim/serving/csv_lines.hpp"

namespace mlasim {

std::string_view to_string(ArrivalKind k) {
  switch (k) {
    case ArrivalKind::kPoisson: return "poisson";
    case ArrivalKind::kClosedLoop: return "closed_loop";
    case ArrivalKind::kTrace: return "trace";
  }
  return "?";
}

std::vector<TraceRequest> load_trace(const std::filesystem::path& path) {
  const std::string text = read_text_file(path);
  std::vector<TraceRequest> out;
  for_each_csv_row(text, path.string(), 3, [&](const CsvRow& row) {
    const double t = row.real(0, "arrival_time_s");
    if (t < 0.0) row.fail(0, fmt::format("arrival time must be >= 0 s, got {}", t));
    TraceRequest r;
    r.arrival_ps = seconds_to_ps(t);
    r.prompt_tokens = row.integer(1, "prompt_tokens");
    r.output_tokens = row.integer(2, "output_tokens");
    if (r.prompt_tokens < 1) row.fail(1, fmt::format("prompt_tokens must be at least 1, got {}", r.prompt_tokens));
    if (r.output_tokens < 1) row.fail(2, fmt::format("output_tokens must be at least 1, got {}", r.output_tokens));
    if (!out.empty() && r.arrival_ps < out.back().arrival_ps) {
      row.fail(0, fmt::format("arrival times must not decrease ({} s after {} s)", t,
                              ps_to_seconds(out.back().arrival_ps)));
    }
    out.push_back(r);
  });
  if (out.empty()) throw InputError(SourceLocation{path.string()}, "", "trace has no requests");
  return out;
}

RequestSource::RequestSource(const WorkloadSpec& spec)
    : spec_(spec), arrival_rng_(spec.seed), length_rng_(spec.seed ^ 0x9E3779B97F4A7C15ULL) {
  total_ = spec.arrival == ArrivalKind::kTrace
               ? std::min<std::int64_t>(spec.num_requests, static_cast<std::int64_t>(spec.trace.size()))
               : spec.num_requests;
}

TraceRequest RequestSource::next(TimePs now_ps) {
  if (exhausted()) throw InternalError("request source exhausted");
  TraceRequest r;
  switch (spec_.arrival) {
    case ArrivalKind::kTrace: r = spec_.trace[static_cast<std::size_t>(issued_)]; break;
    case ArrivalKind::kPoisson:
      last_arrival_ps_ += seconds_to_ps(arrival_rng_.exponential(spec_.rate_per_s));
      r.arrival_ps = last_arrival_ps_;
      break;
    case ArrivalKind::kClosedLoop: r.arrival_ps = now_ps; break;
  }
  if (spec_.arrival != ArrivalKind::kTrace) {
    r.prompt_tokens = draw_length(spec_.prompt, length_rng_);
    r.output_tokens = draw_length(spec_.output, length_rng_);
  }
  ++issued_;
  return r;
}

}  // namespace mlasim
