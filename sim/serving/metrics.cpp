#include "sim/serving/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "sim/error.hpp"

namespace mlasim {

std::string_view to_string(RequestStatus s) {
  switch (s) {
    case RequestStatus::kCompleted:
      return "completed";
    case RequestStatus::kRejected:
      return "rejected";
    case RequestStatus::kInFlight:
      return "in_flight";
  }
  return "?";
}

std::string_view to_string(SloMetric m) {
  switch (m) {
    case SloMetric::kTtft:
      return "ttft";
    case SloMetric::kTpot:
      return "tpot";
    case SloMetric::kItl:
      return "itl";
    case SloMetric::kE2e:
      return "e2e";
  }
  return "?";
}

std::string_view to_string(SloStatus s) {
  switch (s) {
    case SloStatus::kMet:
      return "met";
    case SloStatus::kMissed:
      return "missed";
    case SloStatus::kNoSamples:
      return "no_samples";
  }
  return "?";
}

std::string PercentileSlo::name() const {
  return fmt::format("{}_p{}", to_string(metric), percentile);
}

SloVerdict judge_slo(const PercentileSlo& slo, const LogHistogram& h) {
  SloVerdict v;
  v.slo = slo;
  v.samples = h.count();
  v.target_s = ps_to_seconds(slo.target_ps);
  if (h.count() == 0) return v;  // kNoSamples, NaN figures
  v.measured_s = h.percentile(slo.percentile) / static_cast<double>(kPsPerSecond);
  v.margin_s = v.target_s - v.measured_s;
  v.margin_fraction = v.margin_s / v.target_s;
  v.status = v.measured_s <= v.target_s ? SloStatus::kMet : SloStatus::kMissed;
  return v;
}

void InSystemSeries::add(TimePs from, TimePs to, std::int64_t level) {
  if (to <= from) return;
  // Keep every time up to `to` within kMaxBins bins (even while the system is empty, so that the trend test
  // never walks more bins than that): merge neighbours, doubling the width.
  while (static_cast<std::size_t>((to - 1) / bin_ps_) >= kMaxBins) {
    const std::size_t n = bins_.size();
    for (std::size_t i = 0; i < (n + 1) / 2; ++i) {
      bins_[i] = bins_[2 * i] + (2 * i + 1 < n ? bins_[2 * i + 1] : 0.0);
    }
    bins_.resize((n + 1) / 2);
    bin_ps_ *= 2;
  }
  if (level == 0) return;
  const double lv = static_cast<double>(level);
  while (from < to) {
    const auto k = static_cast<std::size_t>(from / bin_ps_);
    if (bins_.size() <= k) bins_.resize(k + 1, 0.0);
    // The bin's end, (k + 1) × bin, can lie past the 64-bit clock near its end: compare what is left instead.
    const TimePs left_in_bin = bin_ps_ - from % bin_ps_;
    const TimePs stop = to - from <= left_in_bin ? to : from + left_in_bin;
    bins_[k] += lv * static_cast<double>(stop - from);
    from = stop;
  }
}

double InSystemSeries::slope_per_s(TimePs from, TimePs to) const {
  if (to <= from) return kNoValue;
  // Bins [k0, k1) lie wholly in [from, to].
  // (from + bin - 1) / bin would overflow near the clock's end.
  const auto k0 = static_cast<std::size_t>(from / bin_ps_ + (from % bin_ps_ != 0 ? 1 : 0));
  const auto k1 = static_cast<std::size_t>(to / bin_ps_);
  if (k1 < k0 + kMinBins) return kNoValue;
  const double n = static_cast<double>(k1 - k0);
  const double w = static_cast<double>(bin_ps_);
  // Ordinary least squares of y = mean requests in system over bin k against x = k (bin index).
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t k = k0; k < k1; ++k) {
    const double x = static_cast<double>(k - k0);
    const double y = area(k) / w;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const double slope_per_bin = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  return slope_per_bin / ps_to_seconds(bin_ps_);
}

std::uint64_t RequestShare::of(std::uint64_t total) const {
  if (count >= 0) return std::min(static_cast<std::uint64_t>(count), total);
  return static_cast<std::uint64_t>(std::llround(fraction * static_cast<double>(total)));
}

RequestWindow measurement_window(const MeasureSpec& spec, std::uint64_t total) {
  RequestWindow w;
  w.total = total;
  const std::uint64_t head = spec.warmup.of(total);
  const std::uint64_t tail = spec.drain.of(total);
  if (head + tail >= total) {
    throw InputError(
        fmt::format("warm-up ({} requests) and drain ({} requests) leave none of the {} requests "
                    "to measure",
                    head, tail, total));
  }
  w.first = head;
  w.end = total - tail;
  return w;
}

std::string_view to_string(LoadVerdict v) {
  switch (v) {
    case LoadVerdict::kStable:
      return "stable";
    case LoadVerdict::kOverloaded:
      return "overloaded";
    case LoadVerdict::kNotApplicable:
      return "not_applicable";
    case LoadVerdict::kNoData:
      return "no_data";
  }
  return "?";
}

OverloadVerdict judge_overload(const ServeMetrics& m, double tolerance, bool closed_loop) {
  OverloadVerdict v;
  v.tolerance = tolerance;
  if (m.measured_arrived() == 0) {
    v.reason = "no measured request arrived (the run stopped before the warm-up ended)";
    return v;
  }
  if (m.measured_rejected() == m.measured_arrived()) {
    v.reason = fmt::format("every measured request ({}) was rejected: none can ever fit the KV cache",
                           m.measured_arrived());
    return v;
  }
  const RunTotals& a = m.judged_start();
  const RunTotals& b = m.arrivals_end();
  if (a.reached() && b.reached() && b.at_ps > a.at_ps) {
    v.span_start_s = ps_to_seconds(a.at_ps);
    v.span_end_s = ps_to_seconds(b.at_ps);
    v.span_s = ps_to_seconds(b.at_ps - a.at_ps);
    const std::int64_t arrivals = b.arrived - a.arrived;
    const std::int64_t accepted = arrivals - (b.rejected - a.rejected);
    v.arrival_rate_per_s = static_cast<double>(arrivals) / v.span_s;
    v.accepted_rate_per_s = static_cast<double>(accepted) / v.span_s;
    v.served_rate_per_s = static_cast<double>(b.completed - a.completed) / v.span_s;
    if (accepted > 0) v.shortfall = 1.0 - v.served_rate_per_s / v.accepted_rate_per_s;
    v.backlog_slope_per_s = m.in_system_series().slope_per_s(a.at_ps, b.at_ps);
    v.backlog_growth = v.backlog_slope_per_s * v.span_s;
    if (closed_loop) {
      v.verdict = m.measured_completed() > 0 ? LoadVerdict::kNotApplicable : LoadVerdict::kNoData;
      v.reason =
          m.measured_completed() > 0
              ? "closed loop: each client waits for its reply, so the backlog is at most the concurrency"
              : "no measured request completed";
      return v;
    }
    if (accepted < kMinJudgedArrivals) {
      v.reason = fmt::format(
          "too few measured arrivals to judge the load ({} in the second half of the window; "
          "at least {})",
          accepted, kMinJudgedArrivals);
      return v;
    }
    // Beyond the tolerance, and beyond chance: in a stable system the requests in system fluctuate around
    // their mean L by about √L, so over the span the backlog can move by ~√(2L) with no trend (a short run at
    // a rate well inside capacity would otherwise read as overloaded). Three such deviations are needed.
    const double mean_in_system = (b.area - a.area) / static_cast<double>(b.at_ps - a.at_ps);
    const double noise = 3.0 * std::sqrt(2.0 * std::max(mean_in_system, 0.0) + 1.0);
    const double unserved = static_cast<double>(accepted - (b.completed - a.completed));
    const bool short_served = v.shortfall > tolerance && unserved > noise;
    const bool growing = std::isfinite(v.backlog_slope_per_s) &&
                         v.backlog_slope_per_s > tolerance * v.accepted_rate_per_s &&
                         v.backlog_growth > noise;
    const std::string trend =
        std::isfinite(v.backlog_slope_per_s)
            ? fmt::format("requests in system trending {:+.4g}/s", v.backlog_slope_per_s)
            : std::string("too short a span for a backlog trend");
    const std::string figures = fmt::format(
        "served {:.4g} of {:.4g} accepted req/s ({:.1f}% short; tolerance {:.1f}%), {}", v.served_rate_per_s,
        v.accepted_rate_per_s, 100.0 * v.shortfall, 100.0 * tolerance, trend);
    if (short_served || growing) {
      v.verdict = LoadVerdict::kOverloaded;
      v.reason = figures;
    } else if (m.measured_completed() == 0) {
      v.reason = "no measured request completed";
    } else {
      v.verdict = LoadVerdict::kStable;
      v.reason = figures;
    }
    return v;
  }
  v.reason = "the measured arrivals span no time to judge";
  return v;
}

double RequestRecord::tpot_ps() const {
  if (output_tokens <= 1 || finish_ps < 0) return 0.0;
  return static_cast<double>(e2e_ps() - ttft_ps()) / static_cast<double>(output_tokens - 1);
}

ServeMetrics::ServeMetrics(int replicas, int gpus_per_replica, SloSpec slo, bool per_request_csv,
                           TimePs timeseries_interval_ps, RequestWindow window)
    : replicas_(replicas),
      slo_(std::move(slo)),
      window_(window),
      per_request_csv_(per_request_csv),
      interval_ps_(timeseries_interval_ps > 0 ? timeseries_interval_ps : kPsPerSecond),
      series_(static_cast<std::size_t>(replicas)) {
  (void)gpus_per_replica;
  if (per_request_csv_) {
    csv_ =
        "request_id,replica,status,arrival_s,first_scheduled_s,first_token_s,finish_s,prompt_tokens,"
        "output_tokens,generated_tokens,preemptions,queue_s,ttft_s,tpot_s,e2e_s,measured,reason\n";
  }
  // Without warm-up the window opens at time 0 (the totals are all zero there).
  if (window_.first == 0) window_start_.at_ps = 0;
}

RunTotals ServeMetrics::totals(TimePs at) const {
  RunTotals t;
  t.at_ps = at;
  t.arrived = arrived_;
  t.rejected = rejected_;
  t.completed = completed_;
  t.good = good_;
  t.output_tokens = output_tokens_;
  t.prompt_tokens = prompt_tokens_;
  t.steps = steps_;
  t.preemptions = preemptions_;
  t.busy_ps = busy_ps_;
  t.batch_weighted = batch_weighted_;
  t.kv_weighted = kv_weighted_;
  t.area = area_;
  return t;
}

void ServeMetrics::integrate(TimePs now) {
  area_ += static_cast<double>(in_system_) * static_cast<double>(now - last_change_ps_);
  series_in_system_.add(last_change_ps_, now, in_system_);
  last_change_ps_ = now;
}

void ServeMetrics::on_arrival(TimePs now, std::uint64_t id) {
  integrate(now);
  // The window's edges are the arrivals of its first measured and first drained requests; totals are taken
  // before the edge request counts.
  if (id == window_.first && window_.first > 0) window_start_ = totals(now);
  if (id == window_.first + (window_.end - window_.first) / 2) judged_start_ = totals(now);
  if (id == window_.end && window_.end < window_.total) window_end_ = arrivals_end_ = totals(now);
  if (window_.end == window_.total && id + 1 == window_.total) arrivals_end_ = totals(now);
  ++in_system_;
  ++arrived_;
  if (window_.contains(id)) ++measured_arrived_;
}

void ServeMetrics::on_rejected(const RequestRecord& r, TimePs now) {
  integrate(now);
  --in_system_;
  ++rejected_;
  if (rejected_ == 1) first_rejection_ = r.reason;
  if (window_.contains(r.id)) ++measured_rejected_;
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
  const double tpot = r.tpot_ps();
  const bool ok = (slo_.ttft_ps == 0 || ttft <= slo_.ttft_ps) &&
                  (slo_.tpot_ps == 0 || tpot <= static_cast<double>(slo_.tpot_ps)) &&
                  (slo_.e2e_ps == 0 || e2e <= slo_.e2e_ps);
  if (ok) ++good_;
  if (window_.contains(r.id)) {
    ++measured_completed_;
    if (ok) ++measured_good_;
    ttft_.add(ttft);
    e2e_.add(e2e);
    if (r.output_tokens > 1) tpot_.add(static_cast<std::int64_t>(tpot + 0.5));
  }
  append_csv(r);
}

TimeBucket& ServeMetrics::bucket(int replica, TimePs at) {
  auto& s = series_[static_cast<std::size_t>(replica)];
  const std::int64_t k = at / interval_ps_;
  if (s.empty() || s.back().interval < k) {
    s.emplace_back().interval = k;
    return s.back();
  }
  if (s.back().interval == k) return s.back();
  // Events run in time order, so this is not expected; keep the order anyway.
  auto it = std::lower_bound(s.begin(), s.end(), k,
                             [](const TimeBucket& b, std::int64_t v) { return b.interval < v; });
  if (it == s.end() || it->interval != k) {
    it = s.insert(it, TimeBucket{});
    it->interval = k;
  }
  return *it;
}

void ServeMetrics::on_preemption(int replica, TimePs now) {
  ++preemptions_;
  ++bucket(replica, now).preemptions;
}

void ServeMetrics::on_step(int replica, TimePs start, TimePs duration, const StepMix& mix,
                           std::int64_t used_blocks, std::int64_t total_blocks, std::int64_t waiting,
                           std::int64_t running, std::int64_t emitted, std::int64_t batched_tokens) {
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
  const double kv =
      total_blocks > 0 ? static_cast<double>(used_blocks) / static_cast<double>(total_blocks) : 0.0;
  batch_weighted_ += static_cast<double>(batch) * d;
  kv_weighted_ += kv * d;
  max_batch_ = std::max(max_batch_, batch);
  kv_max_ = std::max(kv_max_, kv);

  TimeBucket& b = bucket(replica, start);
  ++b.steps;
  b.busy_ps += duration;
  b.batch_sum += batch;
  b.tokens_sum += batched_tokens;
  b.kv_used_weighted += kv * d;
  b.kv_used_max = std::max(b.kv_used_max, kv);
  b.sampled += emitted;
  b.waiting_last = waiting;
  b.running_last = running;
}

void ServeMetrics::finish(TimePs end, const std::vector<RequestRecord>& in_flight) {
  integrate(end);
  end_ps_ = end;
  // Edges never reached (no drain, or a run cut short by a limit) close at the end of the run.
  if (!window_end_.reached()) window_end_ = totals(end);
  if (!arrivals_end_.reached()) arrivals_end_ = totals(end);
  in_flight_ = static_cast<std::int64_t>(in_flight.size());
  for (const RequestRecord& r : in_flight) append_csv(r);
  if (csv_sink_) {
    flush_csv();
    std::string().swap(csv_);  // the block buffer is not needed any more
  }
}

void ServeMetrics::set_csv_sink(std::function<void(std::string_view)> sink, std::size_t block_bytes) {
  csv_sink_ = std::move(sink);
  csv_block_bytes_ = std::max<std::size_t>(block_bytes, 1);
  // A block is flushed once it holds block_bytes: room for that and one more row, so it never regrows.
  if (csv_sink_ && per_request_csv_) csv_.reserve(std::min<std::size_t>(csv_block_bytes_, 64U << 20U) + 4096);
}

void ServeMetrics::append_csv(const RequestRecord& r) {
  if (!per_request_csv_) return;
  // Written straight into the buffer, field by field: the same bytes as formatting each cell on its own
  // ("{}" of the seconds as a double; an empty cell for a time that is not known).
  auto out = std::back_inserter(csv_);
  const auto secs = [this, &out](TimePs ps) {
    if (ps >= 0) fmt::format_to(out, "{}", ps_to_seconds(ps));
    csv_.push_back(',');
  };
  fmt::format_to(out, "{},{},{},", r.id, r.replica, to_string(r.status));
  secs(r.arrival_ps);
  secs(r.first_scheduled_ps);
  secs(r.first_token_ps);
  secs(r.finish_ps);
  fmt::format_to(out, "{},{},{},{},", r.prompt_tokens, r.output_tokens, r.generated_tokens, r.preemptions);
  secs(r.first_scheduled_ps < 0 ? -1 : r.first_scheduled_ps - r.arrival_ps);
  secs(r.first_token_ps < 0 ? -1 : r.ttft_ps());
  const bool done = r.status == RequestStatus::kCompleted;
  if (done && r.output_tokens > 1) fmt::format_to(out, "{}", r.tpot_ps() / static_cast<double>(kPsPerSecond));
  csv_.push_back(',');
  secs(done ? r.e2e_ps() : -1);
  fmt::format_to(out, "{},{}\n", window_.contains(r.id) ? "true" : "false", r.reason);
  if (csv_sink_ && csv_.size() >= csv_block_bytes_) flush_csv();
}

void ServeMetrics::flush_csv() {
  if (!csv_sink_ || csv_.empty()) return;
  csv_sink_(csv_);
  csv_.clear();
}

Distribution ServeMetrics::summarize(const LogHistogram& h) {
  Distribution d;
  const double s = static_cast<double>(kPsPerSecond);
  d.count = h.count();
  if (d.count == 0) return d;  // NaN figures: no samples is not zero latency
  d.mean_s = h.mean() / s;
  static constexpr std::array<double, 3> kLevels{50, 90, 99};
  const std::vector<double> p = h.percentiles(kLevels);
  d.p50_s = p[0] / s;
  d.p90_s = p[1] / s;
  d.p99_s = p[2] / s;
  d.max_s = static_cast<double>(h.max()) / s;
  return d;
}

namespace {
Table timeseries_columns() {
  return Table({{"time_s", "start of the interval"},
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
}
}  // namespace

void timeseries_tables(const std::vector<std::vector<TimeBucket>>& series, TimePs interval_ps,
                       std::size_t max_rows, const std::function<void(Table&)>& each) {
  max_rows = std::max<std::size_t>(max_rows, 1);
  Table t = timeseries_columns();
  const double interval_s = ps_to_seconds(interval_ps);
  // Rows by interval, then replica: merge the replicas' sparse series.
  std::vector<std::size_t> next(series.size(), 0);
  while (true) {
    std::int64_t k = std::numeric_limits<std::int64_t>::max();
    for (std::size_t r = 0; r < series.size(); ++r) {
      if (next[r] < series[r].size()) k = std::min(k, series[r][next[r]].interval);
    }
    if (k == std::numeric_limits<std::int64_t>::max()) break;
    for (std::size_t r = 0; r < series.size(); ++r) {
      const auto& s = series[r];
      std::size_t& i = next[r];
      if (i >= s.size() || s[i].interval != k) continue;
      const TimeBucket& b = s[i++];
      if (b.steps == 0 && b.preemptions == 0) continue;
      // An interval with a preemption but no step start has no per-step means: NaN, not 0.
      const double steps = b.steps > 0 ? static_cast<double>(b.steps) : kNoValue;
      t.add_row({static_cast<double>(k) * interval_s, static_cast<std::int64_t>(r), b.steps,
                 static_cast<double>(b.busy_ps) / static_cast<double>(interval_ps),
                 static_cast<double>(b.batch_sum) / steps, static_cast<double>(b.tokens_sum) / steps,
                 b.busy_ps > 0 ? b.kv_used_weighted / static_cast<double>(b.busy_ps) : kNoValue,
                 b.kv_used_max, b.waiting_last, b.running_last, static_cast<double>(b.sampled) / interval_s,
                 b.preemptions});
      if (t.rows().size() >= max_rows) {
        each(t);
        t = timeseries_columns();
      }
    }
  }
  if (!t.rows().empty()) each(t);
}

Table timeseries_table(const std::vector<std::vector<TimeBucket>>& series, TimePs interval_ps) {
  Table whole = timeseries_columns();
  timeseries_tables(series, interval_ps, std::numeric_limits<std::size_t>::max(),
                    [&whole](Table& t) { whole = std::move(t); });
  return whole;
}

Table ServeMetrics::timeseries_table() const {
  return mlasim::timeseries_table(series_, interval_ps_);
}

}  // namespace mlasim
