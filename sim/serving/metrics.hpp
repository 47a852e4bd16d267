#pragma once
/// Serving metrics with vLLM's definitions (DESIGN.md §8; vLLM benchmarks/benchmark_serving.py):
/// TTFT = first token − arrival; TPOT = (E2E − TTFT) / (output tokens − 1); ITL = time between consecutive
/// tokens of a request; E2E = last token − arrival; queueing delay = first scheduled − arrival. Distributions
/// are LogHistograms (≤ 0.39% relative error), never stored samples. Goodput = completed requests per second
/// that meet every SLO. Also: per-request CSV rows (optional), a time series per replica, and step
/// statistics.
///
/// Steady state: distributions cover only the *measured* requests (a window of arrival indices that leaves
/// out a warm-up head and a drain tail, MeasureSpec); rates and time averages cover the matching time window,
/// taken as differences of running totals snapshotted when the window's edge requests arrive (no per-step
/// work).
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
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

/// "No samples": metrics without data are NaN in typed results (never 0), written as an empty CSV cell,
/// JSON null and "—" in Markdown.
inline constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

/// The latencies an SLO can bound.
enum class SloMetric { kTtft, kTpot, kItl, kE2e };
[[nodiscard]] std::string_view to_string(SloMetric m);

/// A percentile target: the `percentile`-th percentile of `metric` over the measured requests must not exceed
/// `target_ps`.
struct PercentileSlo {
  SloMetric metric = SloMetric::kTtft;
  int percentile = 99;  ///< 50, 90, 95 or 99
  TimePs target_ps = 0;
  /// "ttft_p99".
  [[nodiscard]] std::string name() const;
};

/// Service-level objectives. The per-request thresholds (0 = none) define goodput, as vLLM's `--goodput`
/// does; the percentile targets define the run's pass/fail verdict.
struct SloSpec {
  TimePs ttft_ps = 0;                      ///< per request
  TimePs tpot_ps = 0;                      ///< per request
  TimePs e2e_ps = 0;                       ///< per request
  std::vector<PercentileSlo> percentiles;  ///< sorted by (metric, percentile), no duplicates
};

enum class SloStatus {
  kMet,        ///< measured ≤ target
  kMissed,     ///< measured > target
  kNoSamples,  ///< nothing to measure (no measured request completed, or only single-token outputs for TPOT)
};
[[nodiscard]] std::string_view to_string(SloStatus s);

/// The verdict on one percentile target. The measured percentile comes from a LogHistogram: within
/// LogHistogram::kRelativeError (0.39%) of the exact one, so margins that small are within resolution.
struct SloVerdict {
  PercentileSlo slo;
  std::uint64_t samples = 0;
  double target_s = 0;
  double measured_s = kNoValue;       ///< NaN with no samples
  double margin_s = kNoValue;         ///< target − measured (positive: headroom)
  double margin_fraction = kNoValue;  ///< (target − measured) / target
  SloStatus status = SloStatus::kNoSamples;
};

/// The verdict on `slo` from the distribution `h` of its metric (ps samples).
[[nodiscard]] SloVerdict judge_slo(const PercentileSlo& slo, const LogHistogram& h);

/// Percentile summary of one distribution, seconds; NaN (never 0) when count is 0.
struct Distribution {
  std::uint64_t count = 0;
  double mean_s = kNoValue, p50_s = kNoValue, p90_s = kNoValue, p99_s = kNoValue, max_s = kNoValue;
};

/// The requests a summary measures, as a range of arrival indices (0-based, in arrival order) out of `total`.
struct RequestWindow {
  std::uint64_t first = 0;  ///< requests before it are warm-up
  std::uint64_t end = 0;    ///< requests from it on are drain (exclusive end)
  std::uint64_t total = 0;  ///< requests the source issues in all
  [[nodiscard]] bool contains(std::uint64_t id) const { return id >= first && id < end; }
};

/// A share of a run's requests: a fraction of them, or a count.
struct RequestShare {
  double fraction = 0.0;    ///< in [0, 1); used when count < 0
  std::int64_t count = -1;  ///< ≥ 0: this many requests
  /// Requests out of `total`: the count (at most total), or fraction × total rounded to the nearest.
  [[nodiscard]] std::uint64_t of(std::uint64_t total) const;
};

/// Which requests the summary measures. Requests are taken in arrival order; the first `warmup` (the system
/// filling from empty: they see shorter queues than the steady state) and the last `drain` (no arrivals
/// behind them, and the run's tail of completions) are left out. Queueing-simulation practice; vLLM's
/// benchmark_serving measures everything, which `warmup: 0%, drain: 0%` reproduces.
struct MeasureSpec {
  RequestShare warmup{0.1, -1};
  RequestShare drain{0.1, -1};
  /// Overload when the served rate falls short of the accepted arrival rate, or the requests in system grow,
  /// by more than this fraction of the arrival rate (sim/serving/README.md, "Overload").
  double overload_tolerance = 0.05;
};

/// The window of arrival indices `spec` measures out of `total` requests; InputError when warm-up and drain
/// leave no request.
[[nodiscard]] RequestWindow measurement_window(const MeasureSpec& spec, std::uint64_t total);

/// Running totals of a run at one moment; a window's figures are the difference of two of these.
struct RunTotals {
  TimePs at_ps = -1;  ///< −1: the moment was never reached
  std::int64_t arrived = 0, rejected = 0, completed = 0, good = 0, output_tokens = 0, prompt_tokens = 0;
  std::int64_t steps = 0, preemptions = 0;
  TimePs busy_ps = 0;
  double batch_weighted = 0;  ///< Σ batch × step duration (ps)
  double kv_weighted = 0;     ///< Σ KV used fraction × step duration (ps)
  double area = 0;            ///< ∫ requests in system dt (request·ps)
  [[nodiscard]] bool reached() const { return at_ps >= 0; }
};

/// ∫ (requests in system) dt in equal bins from t = 0, for the overload trend test. When a time falls past
/// kMaxBins bins, neighbouring bins merge and the width doubles, so a run of any length keeps between
/// kMaxBins / 2 and kMaxBins bins for O(1) amortized work per arrival or completion.
class InSystemSeries {
 public:
  static constexpr std::size_t kMaxBins = 4096;
  /// Adds `level` requests over [from, to).
  void add(TimePs from, TimePs to, std::int64_t level);
  [[nodiscard]] TimePs bin_ps() const { return bin_ps_; }
  /// ∫ requests in system dt over bin k (request·ps); 0 past the last bin written.
  [[nodiscard]] double area(std::size_t k) const { return k < bins_.size() ? bins_[k] : 0.0; }
  /// Least-squares slope of the mean requests in system per bin against time, over the bins lying wholly in
  /// [from, to]; requests per second. NaN with fewer than kMinBins such bins.
  [[nodiscard]] double slope_per_s(TimePs from, TimePs to) const;
  static constexpr std::size_t kMinBins = 8;

 private:
  TimePs bin_ps_ = kPsPerSecond / 1000;  ///< 1 ms to start
  std::vector<double> bins_;
};

/// One row of the time series: one replica over one interval [start, start + interval).
struct TimeBucket {
  std::int64_t interval = 0;  ///< index k of the interval [k × interval, (k + 1) × interval)
  std::int64_t steps = 0;
  TimePs busy_ps = 0;
  std::int64_t batch_sum = 0;   ///< Σ sequences per step
  std::int64_t tokens_sum = 0;  ///< Σ batched tokens per step
  double kv_used_weighted = 0;  ///< Σ used-fraction × step duration (ps)
  double kv_used_max = 0;       ///< fraction
  std::int64_t sampled = 0;     ///< tokens emitted
  std::int64_t preemptions = 0;
  std::int64_t waiting_last = 0;
  std::int64_t running_last = 0;
};

/// timeseries.csv's rows from a run's sparse time series (ServeMetrics::buckets(), ServeResult::buckets: per
/// replica, the active intervals in time order): one row per (interval, replica) with a step or a preemption,
/// by interval then replica, handed to `each` in tables of at most `max_rows` rows (the same columns every
/// time; no call when there is no row; `each` may move the table away), so that a long series is written
/// without holding its whole table.
void timeseries_tables(const std::vector<std::vector<TimeBucket>>& series, TimePs interval_ps,
                       std::size_t max_rows, const std::function<void(Table&)>& each);
/// All of those rows in one table (the columns alone when there is none).
[[nodiscard]] Table timeseries_table(const std::vector<std::vector<TimeBucket>>& series, TimePs interval_ps);

enum class LoadVerdict {
  kStable,         ///< served keeps up with the arrivals and the backlog does not grow
  kOverloaded,     ///< served falls short of the arrivals, or the backlog grows, beyond the tolerance
  kNotApplicable,  ///< a closed loop: its arrivals wait for completions, so its backlog is bounded
  kNoData,         ///< nothing to judge: no measured request was accepted, or none completed
};
[[nodiscard]] std::string_view to_string(LoadVerdict v);

/// The overload verdict, judged over the second half of the measured arrivals: from the arrival of the middle
/// measured request to the arrival that ends the window (the first drained request; the last request when
/// there is no drain, since the drain after the last arrival would hide a backlog). The first half is left to
/// the backlog to settle after the warm-up, so that a run that merely started empty is not called overloaded.
struct OverloadVerdict {
  LoadVerdict verdict = LoadVerdict::kNoData;
  double span_start_s = kNoValue;        ///< the judged span, from the arrival of the middle measured request
  double span_end_s = kNoValue;          ///< ... to the arrival that ends the measured arrivals
  double span_s = kNoValue;              ///< length of the judged span
  double arrival_rate_per_s = kNoValue;  ///< requests arriving in the span per second
  double accepted_rate_per_s = kNoValue;  ///< ... less those rejected (can never fit)
  double served_rate_per_s = kNoValue;    ///< completions in the span per second
  double shortfall = kNoValue;            ///< 1 − served / accepted
  double backlog_slope_per_s = kNoValue;  ///< least-squares trend of requests in system (NaN: span too short)
  double backlog_growth = kNoValue;       ///< slope × span: requests the backlog gained over the span
  double tolerance = 0.05;
  std::string reason;  ///< one plain sentence
};

class ServeMetrics;
/// The overload verdict of a finished run (ServeMetrics::finish called). Overloaded when, over the judged
/// span, completions fall short of the accepted arrivals by more than `tolerance` of them, or the
/// least-squares trend of requests in system rises faster than `tolerance` × the accepted arrival rate — and,
/// either way, by more than chance: the unserved requests (or the backlog's growth over the span) must exceed
/// 3·√(2L + 1), L the mean requests in system over the span (a stable backlog wanders by about √L).
/// `closed_loop`: kNotApplicable unless there is no data. kNoData also when the span holds fewer than
/// kMinJudgedArrivals.
[[nodiscard]] OverloadVerdict judge_overload(const ServeMetrics& m, double tolerance, bool closed_loop);
inline constexpr std::int64_t kMinJudgedArrivals = 20;

class ServeMetrics {
 public:
  ServeMetrics(int replicas, int gpus_per_replica, SloSpec slo, bool per_request_csv,
               TimePs timeseries_interval_ps, RequestWindow window);

  /// Request `id` (its arrival index) arrives.
  void on_arrival(TimePs now, std::uint64_t id);
  void on_rejected(const RequestRecord& r, TimePs now);
  void on_completed(const RequestRecord& r, TimePs now);
  /// A measured request is scheduled for the first time after waiting `queue_ps`.
  void on_first_scheduled(TimePs queue_ps) { queue_.add(queue_ps); }
  /// `count` inter-token latencies of `itl_ps` each, of measured requests.
  void add_itl(TimePs itl_ps, std::uint64_t count) { itl_.add(itl_ps, count); }
  void on_preemption(int replica, TimePs now);
  /// A step of `duration` starting at `start` with `mix`; KV use after its allocations; queue lengths; the
  /// tokens it emits and the tokens it processes (mix.sampled and mix.tokens() without MTP; with MTP each
  /// decode emits 1 + accepted and processes 1 + depth).
  void on_step(int replica, TimePs start, TimePs duration, const StepMix& mix, std::int64_t used_blocks,
               std::int64_t total_blocks, std::int64_t waiting, std::int64_t running, std::int64_t emitted,
               std::int64_t batched_tokens);
  /// Closes the books at `end` (integrates requests in system up to then); the in-flight requests' rows
  /// and any rows still buffered go to the sink, when there is one.
  void finish(TimePs end, const std::vector<RequestRecord>& in_flight);

  /// Hands the per-request CSV (header, then one row per request as it ends) to `sink` in blocks of at least
  /// `block_bytes` (the last one shorter) as the run produces it, instead of keeping it: memory stays flat in
  /// the number of requests. Set before the first request; the rows are the same bytes either way.
  void set_csv_sink(std::function<void(std::string_view)> sink, std::size_t block_bytes);

  /// Whether request `id` is measured (its arrival index lies in the window).
  [[nodiscard]] bool measured(std::uint64_t id) const { return window_.contains(id); }
  [[nodiscard]] const RequestWindow& window() const { return window_; }

  // Results. Distributions hold measured requests only; counts below are of the whole run.
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
  /// The per-request CSV kept in memory ("" without per_request_csv; with a sink, only rows not yet handed
  /// to it: none after finish).
  [[nodiscard]] const std::string& requests_csv() const { return csv_; }
  /// The same, moved out.
  [[nodiscard]] std::string take_requests_csv() { return std::move(csv_); }
  /// The reason the first rejected request was rejected ("" when none was).
  [[nodiscard]] const std::string& first_rejection() const { return first_rejection_; }
  /// Measured requests: arrived, rejected, completed, and completed meeting every per-request SLO.
  [[nodiscard]] std::int64_t measured_arrived() const { return measured_arrived_; }
  [[nodiscard]] std::int64_t measured_rejected() const { return measured_rejected_; }
  [[nodiscard]] std::int64_t measured_completed() const { return measured_completed_; }
  [[nodiscard]] std::int64_t measured_good() const { return measured_good_; }
  /// Totals when the first measured request arrived (time 0 without warm-up).
  [[nodiscard]] const RunTotals& window_start() const { return window_start_; }
  /// Totals when the first drained request arrived (the end of the run without drain).
  [[nodiscard]] const RunTotals& window_end() const { return window_end_; }
  /// Totals when the middle measured request arrived (the start of the span the overload verdict judges).
  [[nodiscard]] const RunTotals& judged_start() const { return judged_start_; }
  /// Totals at the end of the measured arrivals: = window_end() with a drain, else when the last request
  /// arrived (the drain after it would hide an overload).
  [[nodiscard]] const RunTotals& arrivals_end() const { return arrivals_end_; }
  [[nodiscard]] const InSystemSeries& in_system_series() const { return series_in_system_; }
  /// Time series: one row per (interval, replica) with any activity.
  [[nodiscard]] Table timeseries_table() const;
  /// The same series, typed: per replica, the intervals with any activity in time order (sparse, so a tiny
  /// interval costs memory per step, not per interval).
  [[nodiscard]] const std::vector<std::vector<TimeBucket>>& buckets() const { return series_; }
  /// The same, moved out (at the end of a run).
  [[nodiscard]] std::vector<std::vector<TimeBucket>> take_buckets() { return std::move(series_); }
  [[nodiscard]] TimePs interval_ps() const { return interval_ps_; }

  /// Summary of one distribution in seconds.
  [[nodiscard]] static Distribution summarize(const LogHistogram& h);

 private:
  void integrate(TimePs now);
  void append_csv(const RequestRecord& r);
  /// Hands the buffered rows to the sink (nothing without one).
  void flush_csv();
  [[nodiscard]] RunTotals totals(TimePs at) const;
  /// The bucket of `replica` for the interval holding `at` (created when new).
  TimeBucket& bucket(int replica, TimePs at);

  int replicas_;
  SloSpec slo_;
  RequestWindow window_;
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
  std::function<void(std::string_view)> csv_sink_;  ///< empty: keep csv_ whole
  std::size_t csv_block_bytes_ = 0;
  std::vector<std::vector<TimeBucket>> series_;  ///< [replica][active intervals, in time order]
  std::string first_rejection_;
  std::int64_t measured_arrived_ = 0, measured_rejected_ = 0, measured_completed_ = 0, measured_good_ = 0;
  RunTotals window_start_, judged_start_, window_end_, arrivals_end_;
  InSystemSeries series_in_system_;
};

}  // namespace mlasim
