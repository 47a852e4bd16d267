#include "sim/serving/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "sim/error.hpp"

namespace mlasim {

std::string_view to_string(RequestStatus s) {
  switch (s) {
    case RequestStatus::kCompleted: return "completed";
    case RequestStatus::kRejected: return "rejected";
    case RequestStatus::kInFlight: return "in_flight";
  }
  return "?";
}

double RequestRecord::tpot_ps() const {
  if (output_tokens <= 1 || finish_ps < 0) return 0.0;
  return static_cast<double>(e2e_ps() - ttft_ps()) / static_cast<double>(output_tokens - 1);
}

ServeMetrics::ServeMetrics(int replicas, int gpus_per_replica, SloSpec slo, bool per_request_csv,
                           TimePs timeseries_interval_ps)
    : replicas_(replicas),
      slo_(slo),
      per_request_csv_(per_request_csv),
      interval_ps_(timeseries_interval_ps > 0 ? timeseries_interval_ps : kPsPerSecond),
      series_(static_cast<std::size_t>(replicas)) {
  (void)gpus_per_replica;
  if (per_request_csv_) {
    csv_ =
        "request_id,replica,status,arrival_s,first_scheduled_s,first_token_s,finish_s,prompt_tokens,"
        "output_tokens,generated_tokens,preemptions,queue_s,ttft_s,tpot_s,e2e_s,reason\n";
  }
}

void ServeMetrics::integrate(TimePs now) {
  area_ += static_cast<double>(in_system_) * static_cast<double>(now - last_change_ps_);
  last_change_ps_ = now;
}

void ServeMetrics::on_arrival(TimePs now) {
  integrate(now);
  ++in_system_;
  ++arrived_;
}

void ServeMetrics::on_rejected(const RequestRecord& r, TimePs now) {
  integrate(now);
  --in_system_;
  ++rejected_;
  append_csv(r);
}

void ServeMetrics::on_completed(const RequestRecord& r, TimePs now) {
  integrate(now);
  --in_system_;
  ++completed_;
  last_completion_ps_ = now;
  output_tokens_ += r.output_tokens;
  prompt_tokens_ += r.prompt_tokens;
  const TimePs ttft = r.ttft_ps();
  const TimePs e2e = r.e2e_ps();
  ttft_.add(ttft);
  e2e_.add(e2e);
  const double tpot = r.tpot_ps();
  if (r.output_tokens > 1) tpot_.add(static_cast<std::int64_t>(tpot + 0.5));
  const bool ok = (slo_.ttft_ps == 0 || ttft <= slo_.ttft_ps) &&
                  (slo_.tpot_ps == 0 || tpot <= static_cast<double>(slo_.tpot_ps)) &&
                  (slo_.e2e_ps == 0 || e2e <= slo_.e2e_ps);
  if (ok) ++good_;
  append_csv(r);
}

void ServeMetrics::on_preemption(int replica, TimePs now) {
  ++preemptions_;
  auto& s = series_[static_cast<std::size_t>(replica)];
  const auto k = static_cast<std::size_t>(now / interval_ps_);
  if (s.size() <= k) s.resize(k + 1);
  ++s[k].preemptions;
}

void ServeMetrics::on_step(int replica, TimePs start, TimePs duration, const StepMix& mix, std::int64_t used_blocks,
                           std::int64_t total_blocks, std::int64_t waiting, std::int64_t running) {
  const std::int64_t batch = mix.sequences();
  if (steps_ == 0) {
    min_step_ps_ = max_step_ps_ = duration;
  } else {
    min_step_ps_ = std::min(min_step_ps_, duration);
    max_step_ps_ = std::max(max_step_ps_, duration);
  }
  ++steps_;
  busy_ps_ += duration;
  const double d = static_cast<double>(duration);
  const double kv = total_blocks > 0 ? static_cast<double>(used_blocks) / static_cast<double>(total_blocks) : 0.0;
  batch_weighted_ += static_cast<double>(batch) * d;
  kv_weighted_ += kv * d;
  max_batch_ = std::max(max_batch_, batch);
  kv_max_ = std::max(kv_max_, kv);

  auto& s = series_[static_cast<std::size_t>(replica)];
  const auto k = static_cast<std::size_t>(start / interval_ps_);
  if (s.size() <= k) s.resize(k + 1);
  TimeBucket& b = s[k];
  ++b.steps;
  b.busy_ps += duration;
  b.batch_sum += batch;
  b.tokens_sum += mix.tokens();
  b.kv_used_weighted += kv * d;
  b.kv_used_max = std::max(b.kv_used_max, kv);
  b.sampled += mix.sampled;
  b.waiting_last = waiting;
  b.running_last = running;
}

void ServeMetrics::finish(TimePs end, const std::vector<RequestRecord>& in_flight) {
  integrate(end);
  end_ps_ = end;
  in_flight_ = static_cast<std::int64_t>(in_flight.size());
  for (const RequestRecord& r : in_flight) append_csv(r);
}

void ServeMetrics::append_csv(const RequestRecord& r) {
  if (!per_request_csv_) return;
  auto secs = [](TimePs ps) { return ps < 0 ? std::string() : fmt::format("{}", ps_to_seconds(ps)); };
  const bool done = r.status == RequestStatus::kCompleted;
  fmt::format_to(std::back_inserter(csv_), "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", r.id, r.replica,
                 to_string(r.status), secs(r.arrival_ps), secs(r.first_scheduled_ps), secs(r.first_token_ps),
                 secs(r.finish_ps), r.prompt_tokens, r.output_tokens, r.generated_tokens, r.preemptions,
                 r.first_scheduled_ps < 0 ? std::string() : secs(r.first_scheduled_ps - r.arrival_ps),
                 r.first_token_ps < 0 ? std::string() : secs(r.ttft_ps()),
                 done && r.output_tokens > 1 ? fmt::format("{}", r.tpot_ps() / static_cast<double>(kPsPerSecond))
                                             : std::string(),
                 done ? secs(r.e2e_ps()) : std::string(), r.reason);
}

Distribution ServeMetrics::summarize(const LogHistogram& h) {
  Distribution d;
  const double s = static_cast<double>(kPsPerSecond);
  d.count = h.count();
  d.mean_s = h.mean() / s;
  d.p50_s = h.percentile(50) / s;
  d.p90_s = h.percentile(90) / s;
  d.p99_s = h.percentile(99) / s;
  d.max_s = static_cast<double>(h.max()) / s;
  return d;
}

Table ServeMetrics::timeseries_table() const {
  Table t({{"time_s", "start of the interval"},
           {"replica", "engine replica"},
           {"steps", "iterations started in the interval"},
           {"busy_fraction", "share of the interval spent in iterations (by start time)"},
           {"mean_batch_size", "sequences per iteration, mean"},
           {"mean_batched_tokens", "tokens per iteration, mean"},
           {"kv_usage", "KV blocks in use / total, mean weighted by iteration time"},
           {"kv_usage_max", "KV blocks in use / total, max"},
           {"waiting", "requests waiting at the last iteration"},
           {"running", "requests running at the last iteration"},
           {"output_tokens_per_s", "tokens emitted per second"},
           {"preemptions", "preemptions in the interval"}});
  const double interval_s = ps_to_seconds(interval_ps_);
  std::size_t intervals = 0;
  for (const auto& s : series_) intervals = std::max(intervals, s.size());
  for (std::size_t k = 0; k < intervals; ++k) {
    for (int r = 0; r < replicas_; ++r) {
      const auto& s = series_[static_cast<std::size_t>(r)];
      if (k >= s.size()) continue;
      const TimeBucket& b = s[k];
      if (b.steps == 0 && b.preemptions == 0) continue;
      const double steps = static_cast<double>(std::max<std::int64_t>(b.steps, 1));
      t.add_row({static_cast<double>(k) * interval_s, std::int64_t{r}, b.steps,
                 static_cast<double>(b.busy_ps) / static_cast<double>(interval_ps_),
                 static_cast<double>(b.batch_sum) / steps, static_cast<double>(b.tokens_sum) / steps,
                 b.busy_ps > 0 ? b.kv_used_weighted / static_cast<double>(b.busy_ps) : 0.0, b.kv_used_max,
                 b.waiting_last, b.running_last, static_cast<double>(b.sampled) / interval_s, b.preemptions});
    }
  }
  return t;
}

}  // namespace mlasim
