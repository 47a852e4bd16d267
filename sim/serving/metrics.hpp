#pragma once
/// Serving metrics with vLLM's definitions (DESIGN.md §8; vLLM benchmarks/benchmark_serving.py):
/// TTFT = first token − arrival; TPOT = (E2E − TTFT) / (output tokens − 1); ITL = time between consecutive
/// tokens of a request; E2E = last token − arrival; queueing delay = first scheduled − arrival. Distributions
/// are LogHistograms (≤ 0.39% relative error), never stored samples. Goodput = completed requests per second
/// that meet every SLO. Also: per-request CSV rows (optional), a time series per replica, and step statistics.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/serving/histogram.hpp"
#include "sim/serving/step_time.hpp"
#include "sim/table.hpp"
#include "sim/time.hpp"

namespace mlasim {

enum class RequestStatus { kCompleted, kRejected, kInFlight };
[[nodiscard]] std::string_view to_string(RequestStatus s);

/// Everything known about one request when it ends (or when the run stops with it in flight).
struct RequestRecord {
  std::uint64_t id = 0;
  int replica = 0;
  RequestStatus status = RequestStatus::kInFlight;
  TimePs arrival_ps = 0;
  TimePs first_scheduled_ps = -1;  ///< −1: never scheduled
  TimePs first_token_ps = -1;      ///< −1: no token yet
  TimePs finish_ps = -1;           ///< −1: not finished
  std::int64_t prompt_tokens = 0;
  std::int64_t output_tokens = 0;     ///< requested
  std::int64_t generated_tokens = 0;  ///< emitted so far
  int preemptions = 0;
  std::string reason;  ///< why it was rejected

  [[nodiscard]] TimePs ttft_ps() const { return first_token_ps - arrival_ps; }
  [[nodiscard]] TimePs e2e_ps() const { return finish_ps - arrival_ps; }
  /// (E2E − TTFT) / (output − 1), ps; 0 for single-token outputs (vLLM excludes them from TPOT).
  [[nodiscard]] double tpot_ps() const;
};

/// Service-level objectives; 0 = no limit.
struct SloSpec {
  TimePs ttft_ps = 0;
  TimePs tpot_ps = 0;
  TimePs e2e_ps = 0;
};

/// Percentile summary of one distribution, seconds.
struct Distribution {
  std::uint64_t count = 0;
  double mean_s = 0, p50_s = 0, p90_s = 0, p99_s = 0, max_s = 0;
};

/// One row of the time series: one replica over one interval [start, start + interval).
struct TimeBucket {
  std::int64_t steps = 0;
  TimePs busy_ps = 0;
  std::int64_t batch_sum = 0;          ///< Σ sequences per step
  std::int64_t tokens_sum = 0;         ///< Σ batched tokens per step
  double kv_used_weighted = 0;         ///< Σ used-fraction × step duration (ps)
  double kv_used_max = 0;              ///< fraction
  std::int64_t sampled = 0;            ///< tokens emitted
  std::int64_t preemptions = 0;
  std::int64_t waiting_last = 0;
  std::int64_t running_last = 0;
};

class ServeMetrics {
 public:
  ServeMetrics(int replicas, int gpus_per_replica, SloSpec slo, bool per_request_csv, TimePs timeseries_interval_ps);

  void on_arrival(TimePs now);
  void on_rejected(const RequestRecord& r, TimePs now);
  void on_completed(const RequestRecord& r, TimePs now);
  void on_first_scheduled(TimePs queue_ps) { queue_.add(queue_ps); }
  /// `count` inter-token latencies of `itl_ps` each.
  void add_itl(TimePs itl_ps, std::uint64_t count) { itl_.add(itl_ps, count); }
  void on_preemption(int replica, TimePs now);
  /// A step of `duration` starting at `start` with `mix`; KV use after its allocations; queue lengths.
  void on_step(int replica, TimePs start, TimePs duration, const StepMix& mix, std::int64_t used_blocks,
               std::int64_t total_blocks, std::int64_t waiting, std::int64_t running);
  /// Closes the books at `end` (integrates requests in system up to then).
  void finish(TimePs end, const std::vector<RequestRecord>& in_flight);

  // Results.
  [[nodiscard]] const LogHistogram& ttft() const { return ttft_; }
  [[nodiscard]] const LogHistogram& tpot() const { return tpot_; }
  [[nodiscard]] const LogHistogram& itl() const { return itl_; }
  [[nodiscard]] const LogHistogram& e2e() const { return e2e_; }
  [[nodiscard]] const LogHistogram& queue() const { return queue_; }
  [[nodiscard]] std::int64_t arrived() const { return arrived_; }
  [[nodiscard]] std::int64_t completed() const { return completed_; }
  [[nodiscard]] std::int64_t rejected() const { return rejected_; }
  [[nodiscard]] std::int64_t in_flight() const { return in_flight_; }
  [[nodiscard]] std::int64_t good() const { return good_; }
  [[nodiscard]] std::int64_t preemptions() const { return preemptions_; }
  [[nodiscard]] std::int64_t output_tokens() const { return output_tokens_; }  ///< of completed requests
  [[nodiscard]] std::int64_t prompt_tokens() const { return prompt_tokens_; }  ///< of completed requests
  [[nodiscard]] std::int64_t steps() const { return steps_; }
  [[nodiscard]] TimePs min_step_ps() const { return min_step_ps_; }
  [[nodiscard]] TimePs max_step_ps() const { return max_step_ps_; }
  [[nodiscard]] TimePs busy_ps() const { return busy_ps_; }
  [[nodiscard]] double batch_time_weighted() const { return batch_weighted_; }  ///< Σ batch × duration (ps)
  [[nodiscard]] std::int64_t max_batch() const { return max_batch_; }
  [[nodiscard]] double kv_time_weighted() const { return kv_weighted_; }  ///< Σ used fraction × duration (ps)
  [[nodiscard]] double kv_max() const { return kv_max_; }
  /// ∫ (requests in system) dt, request·ps — Little's L times the duration.
  [[nodiscard]] double in_system_area() const { return area_; }
  [[nodiscard]] TimePs end_ps() const { return end_ps_; }
  [[nodiscard]] TimePs last_completion_ps() const { return last_completion_ps_; }
  [[nodiscard]] const std::string& requests_csv() const { return csv_; }
  /// Time series: one row per (interval, replica) with any activity.
  [[nodiscard]] Table timeseries_table() const;

  /// Summary of one distribution in seconds.
  [[nodiscard]] static Distribution summarize(const LogHistogram& h);

 private:
  void integrate(TimePs now);
  void append_csv(const RequestRecord& r);

  int replicas_;
  SloSpec slo_;
  bool per_request_csv_;
  TimePs interval_ps_;
  LogHistogram ttft_, tpot_, itl_, e2e_, queue_;
  std::int64_t arrived_ = 0, completed_ = 0, rejected_ = 0, in_flight_ = 0, good_ = 0, preemptions_ = 0;
  std::int64_t output_tokens_ = 0, prompt_tokens_ = 0, steps_ = 0, max_batch_ = 0;
  TimePs min_step_ps_ = 0, max_step_ps_ = 0, busy_ps_ = 0, end_ps_ = 0, last_completion_ps_ = 0;
  double batch_weighted_ = 0, kv_weighted_ = 0, kv_max_ = 0;
  std::int64_t in_system_ = 0;
  TimePs last_change_ps_ = 0;
  double area_ = 0;
  std::string csv_;
  std::vector<std::vector<TimeBucket>> series_;  ///< [replica][interval]
};

}  // namespace mlasim
