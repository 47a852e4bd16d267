#pragma once
/// The reports of `mlasim serve` (DESIGN.md §8, §10): a run's summary as one wide row (sweeps stack these) or
/// as (metric, value, description) rows to read, the throughput–latency table of a serve sweep, and the files
/// both write. Pure rendering of the typed ServeResult / ServeSummary: same result, same bytes; the caller
/// writes the files through OutputSet.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "reports/chart.hpp"
#include "reports/html.hpp"
#include "sim/output.hpp"
#include "sim/serving/serve.hpp"
#include "sim/table.hpp"

namespace mlasim {

/// One row per summary: name, model, variant, hardware, tp, dp_attention, replicas, router, arrival, load,
/// counts, throughput, goodput, then mean/p50/p90/p99 of TTFT, TPOT, ITL, E2E and queueing, then the engine's
/// statistics. Base SI units.
[[nodiscard]] Table summary_row_table(const std::vector<ServeSummary>& rows);

/// The summary as (metric, value, description) rows, in summary_row_table's column order, values in base SI
/// units; Markdown and HTML show each row in its own unit (display_table: `ttft_p50 (ms)`).
[[nodiscard]] Table summary_long_table(const ServeSummary& s);

/// The headline columns of a serve sweep for reading: load, throughput, latency percentiles, goodput.
[[nodiscard]] Table throughput_latency_table(const std::vector<ServeSummary>& rows);

/// A run's summary.md: a title and summary_long_table.
[[nodiscard]] std::string serve_summary_markdown(const ServeSummary& s);

/// A serve sweep's summary.md: a title, the config, the number of points and throughput_latency_table.
[[nodiscard]] std::string serve_sweep_markdown(const ServeSpec& spec, const std::vector<ServeSummary>& rows);

/// Adds summary.{csv,json,md} (summary.json: the mlasim-serve-summary document), timeseries.csv (streamed:
/// write_timeseries_csv into OutputSet::stream) and (when the result holds it) requests.csv of one run to
/// `out`. A run that streamed requests.csv (ServeRunOptions::requests_csv_sink into OutputSet::stream) holds
/// none: the stream is already in `out`.
void add_serve_outputs(OutputSet& out, const ServeSpec& spec, const ServeResult& result);

/// timeseries.csv of a run — the bytes of table_to_csv(with_missing_as(timeseries_table(result), "")) —
/// handed to `sink` in pieces of at most `rows` rows, without holding the whole table or text (a long run at
/// a fine interval has millions of rows).
void write_timeseries_csv(const ServeResult& result, const std::function<void(std::string_view)>& sink,
                          std::size_t rows = 4096);

/// Adds serve_sweep.csv and serve_sweep.json (summary_row_table) and summary.md (serve_sweep_markdown).
void add_serve_sweep_outputs(OutputSet& out, const ServeSpec& spec, const std::vector<ServeSummary>& rows);

/// The percentile SLO verdicts of a run: slo (`ttft_p99`), target_s, measured_s, margin_s, margin (a fraction
/// of the target; positive: headroom), samples, status (met, missed, no_samples).
[[nodiscard]] Table slo_verdict_table(const ServeSummary& s);

/// The charts of one run: TTFT and TPOT CDFs of the measured requests (each percentile target a vertical line
/// at its target and a dashed horizontal one at its percentile), requests running and waiting over time, and
/// KV use over time (summed or averaged over the replicas).
[[nodiscard]] std::vector<ScatterChart> serve_latency_charts(const ServeResult& result);
[[nodiscard]] std::vector<LineChart> serve_timeline_charts(const ServeResult& result);

/// The charts of a serve sweep: TTFT and TPOT (p50 and p99) against output tokens/s per GPU, one point per
/// swept load, each percentile target a horizontal line; overloaded points hollow.
[[nodiscard]] std::vector<ScatterChart> serve_sweep_charts(const std::vector<ServeSummary>& rows);

/// report.html of one run (facts, warnings in a banner, SLO verdicts, cost, the charts, the summary) and
/// charts/NAME.{dat,gp}. Charts are rendered when `charts` is set and gnuplot is there (else the note says
/// why).
[[nodiscard]] ReportFiles build_serve_report(const ServeSpec& spec, const ServeResult& result, bool charts);

/// report.html of a serve sweep (the throughput–latency charts and table) and its charts.
[[nodiscard]] ReportFiles build_serve_sweep_report(const ServeSpec& spec,
                                                   const std::vector<ServeSummary>& rows, bool charts);

}  // namespace mlasim
