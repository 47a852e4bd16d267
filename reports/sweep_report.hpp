#pragma once
/// The report of `mlasim sweep` (DESIGN.md §10): the typed points of a sweep rendered as sweep.csv and
/// sweep.json (one tidy row per point), summary.md (pivoted tables to read), report.html and its charts. The
/// charts read the typed points; the tables go through the generic writers. Pure rendering: same points, same
/// bytes; the caller writes the files through OutputSet.
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "sim/sweep/sweep.hpp"
#include "sim/table.hpp"

namespace mlasim {

/// One row per point, in run_sweep's order: model, variant, attention, hardware, tp, dp_attention, batch,
/// batch_is_max, context, s_q, weights_dtype, kv_dtype, mla_mode, device_mode, launch, status, step_time_s,
/// attention_s, gemm_s, communication_s, other_s, tokens_per_s, tokens_per_s_per_gpu, tokens_per_s_per_user,
/// price_per_gpu_hour, usd_per_hour, usd_per_million_output_tokens, flops, bytes, attention_flops,
/// attention_bytes, attention_bound, kv_bytes_per_token, kv_bytes_per_token_per_gpu, kv_capacity_tokens,
/// max_concurrency, weight_bytes, weight_bytes_per_gpu, then the time shares measured, interpolated,
/// extrapolated, analytic. Base SI units, prices in USD; `status` as SweepPoint::status_text; `batch` the
/// resolved batch of a `max` point. The three price columns are NaN without a price, the two costs also when
/// the status is not ok: sweep.csv writes NaN empty (with_missing_as), sweep.json null.
[[nodiscard]] Table sweep_table(const SweepSpec& spec, std::span<const SweepPoint> points);

/// What keeps configurations (model, variant, GPU, TP, DP-attention) off the charts, one line each, in grid
/// order: "cannot run: REASON" (invalid), "does not fit at any context; the weights (...) leave no room for a
/// KV cache", "does not fit from 128k tokens of context on (...)". A (model, GPU, TP) group where no
/// configuration has room for a KV cache at all takes one line. Empty when everything fits.
[[nodiscard]] std::vector<std::string> configurations_that_do_not_fit(const SweepSpec& spec,
                                                                      const std::vector<SweepPoint>& points);

/// "DeepSeek-V3 native on h200 TP 8 DP-attn" (", s_q 2" added with `with_s_q`): a point's configuration in
/// the headline.
[[nodiscard]] std::string layout_text(const SweepSpec& spec, const SweepPoint& point, bool with_s_q);

/// The headline section of summary.md ("## Headline ..."): per model (a `###` heading when the sweep has
/// several), one row per context with sweep_headline's most concurrent configuration and its sequences, and
/// its fastest at capacity with the batch, tokens/s per GPU, tokens/s per user and, when a GPU of the sweep
/// has a price, USD per 1M output tokens ("no price" for one without); a paragraph says whether capacity
/// is batch `max` or the largest batch of the grid that fits.
[[nodiscard]] std::string sweep_headline_markdown(const SweepSpec& spec,
                                                  const std::vector<SweepPoint>& points);

/// What a report covers when its sweep was too large to tabulate whole (reports/sweep_output.hpp): the
/// report's spec and points are then a sub-grid of the whole sweep, and the page and summary say so.
struct SweepReportScope {
  const SweepSpec* whole = nullptr;                            ///< the sweep as run
  std::size_t points = 0;                                      ///< the whole sweep's points
  std::vector<std::pair<std::string, std::size_t>> by_status;  ///< its points per status, by status name
  std::string description;  ///< which values of which axes the sub-grid keeps, one sentence
};

/// summary.md: the title block, sweep_headline_markdown, configurations_that_do_not_fit as a list, then one
/// Markdown table per group and quantity (status, step time, tokens/s per GPU, USD per 1M output tokens when
/// priced, the batch `max` ran when the grid has one, max concurrency, KV bytes per token), contexts down,
/// variants across; a `max` batch is grouped as "batch max". `table` is sweep_table(spec, points).
/// With a `scope`, the title block gives the whole sweep's points and says which sub-grid the rest covers.
[[nodiscard]] std::string sweep_summary_markdown(const SweepSpec& spec, const std::vector<SweepPoint>& points,
                                                 const Table& table, const SweepReportScope* scope = nullptr);

/// Everything a sweep writes, rendered.
struct SweepReport {
  /// (file name relative to the output folder, content): sweep.csv, sweep.json, summary.md, report.html,
  /// then charts/NAME.dat and charts/NAME.gp per chart when charts were asked for.
  std::vector<std::pair<std::string, std::string>> files;
  std::string summary_markdown;  ///< summary.md, which `mlasim sweep` also prints
  std::string note;  ///< empty when the charts were drawn; else why not, one line (also on the page)
};

/// Renders every file. With `charts`, each chart's data and script, rendered to SVG by one run_gnuplot call
/// when there is a gnuplot (reports/gnuplot.hpp) and embedded in report.html; without gnuplot the page says
/// so and keeps its tables; up to `chart_processes` gnuplots draw them (the SVGs do not depend on it).
/// `points` must be run_sweep(spec)'s result. Throws InternalError when gnuplot fails on a script, or when
/// the points do not match the spec's grid.
[[nodiscard]] SweepReport build_sweep_report(const SweepSpec& spec, const std::vector<SweepPoint>& points,
                                             bool charts, int chart_processes = 1);

/// build_sweep_report without sweep.csv and sweep.json (written as the points come: sweep_output.hpp):
/// summary.md, report.html and the charts, of `spec`'s grid, which with a `scope` is a sub-grid of the whole
/// sweep.
[[nodiscard]] SweepReport build_sweep_pages(const SweepSpec& spec, const std::vector<SweepPoint>& points,
                                            bool charts, int chart_processes,
                                            const SweepReportScope* scope = nullptr);

}  // namespace mlasim
