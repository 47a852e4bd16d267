#include "reports/sweep_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "reports/chart.hpp"
#include "reports/gnuplot.hpp"
#include "reports/html.hpp"
#include "reports/json_output.hpp"
#include "reports/pivot.hpp"
#include "reports/table_display.hpp"
#include "reports/table_writers.hpp"
#include "sim/device/attention_kernel_model.hpp"
#include "sim/device/device_model.hpp"
#include "sim/error.hpp"
#include "sim/units.hpp"

namespace mlasim {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Beyond this many batch sizes (or s_q values) a group shows three: the smallest, a middle one, the largest.
constexpr std::size_t kMaxShown = 3;
// Beyond this many (model, GPU, TP) groups only the first are charted; the tables have all.
constexpr std::size_t kMaxOuterGroups = 16;
// Text size of the charts (points on gnuplot's 800×480 canvas, shown about 620 px wide).
constexpr int kChartFontPoints = 14;
// The box at the top of report.html and the list at the top of summary.md.
constexpr const char* kNotChartedTitle = "Not charted: configurations that do not fit";
constexpr const char* kNotChartedWhy = "their rows stay in the tables and in sweep.csv";

// The smallest, a middle and the largest value when there are more than kMaxShown.
std::vector<std::int64_t> shown_subset(const std::vector<std::int64_t>& sorted) {
  if (sorted.size() <= kMaxShown) return sorted;
  return {sorted.front(), sorted[(sorted.size() - 1) / 2], sorted.back()};
}

std::string context_tick(double tokens) {
  const auto t = static_cast<std::int64_t>(tokens);
  if (t >= 1024 * 1024 && t % (1024 * 1024) == 0) return fmt::format("{}M", t / (1024 * 1024));
  if (t >= 1024 && t % 1024 == 0) return fmt::format("{}k", t / 1024);
  return fmt::format("{}", t);
}

std::string file_stem(const std::string& s) {
  std::string out;
  for (const char c : s) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-' || c == '.';
    out += keep ? c : '-';
  }
  return out;
}

// A number for a headline cell: whole above 1000, else three significant digits (2535, 20.1, 0.601).
std::string short_number(double v) {
  return readable_number(v, 3);
}

std::string list_text(const std::vector<std::int64_t>& v) {
  return fmt::format("{}", fmt::join(v, ", "));
}

// Explicit ticks for a chart's log y axis, so that more than one or two labels fall in the data's range:
// 1, 2 and 5 times each power of ten across the drawn values when they span at most three decades, the
// powers of ten alone beyond. Labels are plain numbers ("0.5", "2000"): the unit is in the axis label.
void set_log_y_ticks(LineChart& chart) {
  double lo = std::numeric_limits<double>::infinity(), hi = 0.0;
  for (const Series& s : chart.series) {
    for (const double y : s.y) {
      if (!(y > 0.0) || !std::isfinite(y)) continue;
      lo = std::min(lo, y);
      hi = std::max(hi, y);
    }
  }
  if (!(hi > 0.0)) return;
  const int first = static_cast<int>(std::floor(std::log10(lo)));
  const int last = static_cast<int>(std::ceil(std::log10(hi)));
  const bool fine = last - first <= 3;
  chart.y.ticks.clear();
  for (int d = first; d <= last; ++d) {
    for (const double m : {1.0, 2.0, 5.0}) {
      if (m > 1.0 && (!fine || d == last)) continue;
      const double v = m * std::pow(10.0, d);
      chart.y.ticks.emplace_back(v, v >= 1.0 ? fmt::format("{:.0f}", v) : fmt::format("{:g}", v));
    }
  }
}

// The sorted distinct values of a grid axis, each with the first position in the spec's list that holds it.
template <class T>
std::vector<std::pair<std::int64_t, std::size_t>> sorted_axis(const std::vector<T>& values) {
  std::vector<std::pair<std::int64_t, std::size_t>> out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto v = static_cast<std::int64_t>(values[i]);
    if (std::none_of(out.begin(), out.end(), [&](const auto& e) { return e.first == v; }))
      out.emplace_back(v, i);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Column> sweep_columns() {
  return {
      {"model", "model card name"},
      {"variant", "attention variant requested (native = the card's own)"},
      {"attention", "attention kind evaluated: mha, gqa, mqa, mla"},
      {"hardware", "GPU profile id"},
      {"tp", "tensor-parallel degree"},
      {"dp_attention", "attention data-parallel over the TP ranks (true) or head-split (false)"},
      {"batch",
       "sequences in the step (for batch max: the largest batch that fits at this point, 0 if none)"},
      {"batch_is_max", "true when the grid's `max` asked for this batch"},
      {"context", "tokens of context per sequence"},
      {"s_q", "new tokens per sequence per step"},
      {"weights_dtype", ""},
      {"kv_dtype", ""},
      {"mla_mode", ""},
      {"device_mode", ""},
      {"launch", "graph (CUDA-graph replay) or eager kernel launches"},
      {"status", "ok, does-not-fit, batch-exceeds-capacity, or invalid: reason"},
      {"step_time_s", "one decode step"},
      {"attention_s", "time in attention cores"},
      {"gemm_s", "time in GEMMs (projections, FFN, experts, LM head)"},
      {"communication_s", "time in collectives"},
      {"other_s", "norms, rope, KV append, embedding, sampling"},
      {"tokens_per_s", "output tokens/s of the TP group"},
      {"tokens_per_s_per_gpu", "output tokens/s per GPU"},
      {"tokens_per_s_per_user", "output tokens/s per sequence"},
      {"price_per_gpu_hour", "USD per GPU-hour from the GPU's profile; empty when it has none"},
      {"usd_per_hour",
       "USD per hour of the replica's tp GPUs; empty without a price or when the status is not ok"},
      {"usd_per_million_output_tokens", "USD per 1M output tokens at tokens_per_s; empty as usd_per_hour"},
      {"flops", "FLOPs of the step on one GPU"},
      {"bytes", "HBM bytes of the step on one GPU"},
      {"attention_flops", ""},
      {"attention_bytes", ""},
      {"attention_bound", "what bounds the attention core: memory, compute, launch"},
      {"kv_bytes_per_token", "KV cache per token, all layers, whole model"},
      {"kv_bytes_per_token_per_gpu", "KV cache per token held by one GPU"},
      {"kv_capacity_tokens", "KV tokens that fit in the replica (the TP group)"},
      {"max_concurrency", "sequences of this context that fit"},
      {"weight_bytes", "whole model"},
      {"weight_bytes_per_gpu", ""},
      {"measured_share", "fraction of the step time from measured points (calibrated mode)"},
      {"interpolated_share", "... interpolated between measured points"},
      {"extrapolated_share", "... extrapolated from measurements (outside the grid, or another shape)"},
      {"analytic_share", "... from formulas alone"},
  };
}

}  // namespace

Table sweep_table(const SweepSpec& spec, std::span<const SweepPoint> points) {
  Table table(sweep_columns());
  table.reserve(points.size());
  std::vector<std::string> weights_dtype;  // per model: the sweep's, or the model's stored dtype
  for (const ModelSpec& m : spec.models) weights_dtype.emplace_back(to_string(spec.precision_for(m).weights));
  const std::string kv_dtype(to_string(spec.precision.kv_cache));
  const std::string mla_mode(to_string(spec.mla_mode));
  const std::string device_mode(to_string(spec.device_mode));
  const std::string launch(to_string(spec.launch));
  std::vector<std::string> variants;
  for (const VariantSpec& v : spec.variants) variants.push_back(v.to_string());
  std::vector<double> prices;
  for (const HardwareSpec& hw : spec.hardware) prices.push_back(hw.price_per_gpu_hour.value_or(kNaN));
  for (const SweepPoint& p : points) {
    table.add_row({spec.models.at(p.model).name,
                   variants.at(p.variant),
                   std::string(to_string(p.attention)),
                   spec.hardware.at(p.hardware).id,
                   std::int64_t{p.tp},
                   p.dp_attention,
                   std::int64_t{p.batch},
                   p.batch_is_max,
                   p.context,
                   std::int64_t{p.s_q},
                   weights_dtype[p.model],
                   kv_dtype,
                   mla_mode,
                   device_mode,
                   launch,
                   p.status_text(),
                   p.step_time_s,
                   p.attention_s,
                   p.gemm_s,
                   p.communication_s,
                   p.other_s,
                   p.tokens_per_s,
                   p.tokens_per_s_per_gpu,
                   p.tokens_per_s_per_user,
                   prices[p.hardware],
                   p.cost ? p.cost->usd_per_hour : kNaN,
                   p.cost ? p.cost->usd_per_million_output_tokens : kNaN,
                   p.flops,
                   p.bytes,
                   p.attention_flops,
                   p.attention_bytes,
                   p.attention_bound ? std::string(to_string(*p.attention_bound)) : std::string("-"),
                   p.kv_bytes_per_token,
                   p.kv_bytes_per_token_per_gpu,
                   p.kv_capacity_tokens,
                   p.max_concurrency,
                   p.weight_bytes,
                   p.weight_bytes_per_gpu,
                   p.share(Provenance::kMeasured),
                   p.share(Provenance::kInterpolated),
                   p.share(Provenance::kExtrapolated),
                   p.share(Provenance::kAnalytic)});
  }
  return table;
}

std::vector<std::string> configurations_that_do_not_fit(const SweepSpec& spec,
                                                        const std::vector<SweepPoint>& points) {
  if (points.size() != sweep_size(spec)) {
    throw InternalError(
        fmt::format("sweep report: {} points for a grid of {}", points.size(), sweep_size(spec)));
  }
  const bool dp_varies =
      spec.dp_attention.size() > 1 ||
      std::any_of(spec.dp_attention.begin(), spec.dp_attention.end(), [](bool d) { return d; });
  // What keeps one configuration (model, variant, GPU, TP, DP-attention) off the charts.
  struct Verdict {
    std::string name;
    std::vector<std::string> invalid;     // distinct reasons, in grid order
    std::set<std::int64_t> contexts;      // where not one sequence fits
    std::int64_t kv_capacity_tokens = 0;  // of the replica
    double weight_bytes_per_gpu = 0;
    int tp = 1;
    bool dp = false;
    [[nodiscard]] bool off_charts() const { return !invalid.empty() || !contexts.empty(); }
  };
  std::set<std::int64_t> all_contexts(spec.context.begin(), spec.context.end());
  std::vector<std::string> lines;
  for (std::size_t m = 0; m < spec.models.size(); ++m) {
    for (std::size_t h = 0; h < spec.hardware.size(); ++h) {
      const HardwareSpec& hw = spec.hardware[h];
      for (std::size_t t = 0; t < spec.tp.size(); ++t) {
        const int tp = spec.tp[t];
        std::vector<Verdict> verdicts;
        for (std::size_t v = 0; v < spec.variants.size(); ++v) {
          for (std::size_t d = 0; d < spec.dp_attention.size(); ++d) {
            Verdict verdict;
            verdict.tp = tp;
            verdict.dp = spec.dp_attention[d];
            verdict.name = fmt::format(
                "{} {}, {} x{}, TP {}{}", spec.models[m].name, spec.variants[v].to_string(), hw.name, tp, tp,
                dp_varies ? (verdict.dp ? ", DP-attention on" : ", DP-attention off") : "");
            for (std::size_t b = 0; b < spec.batch.size(); ++b) {
              for (std::size_t c = 0; c < spec.context.size(); ++c) {
                for (std::size_t q = 0; q < spec.s_q.size(); ++q) {
                  const SweepPoint& p = points[sweep_index(spec, m, v, h, t, d, b, c, q)];
                  if (p.status == PointStatus::kInvalid) {
                    if (std::find(verdict.invalid.begin(), verdict.invalid.end(), p.invalid_reason) ==
                        verdict.invalid.end())
                      verdict.invalid.push_back(p.invalid_reason);
                  } else if (p.status == PointStatus::kDoesNotFit) {
                    verdict.contexts.insert(p.context);
                    verdict.kv_capacity_tokens = p.kv_capacity_tokens;
                    verdict.weight_bytes_per_gpu = p.weight_bytes_per_gpu;
                  }
                }
              }
            }
            verdicts.push_back(std::move(verdict));
          }
        }
        const auto no_kv_at_all = [&](const Verdict& v) {
          return v.invalid.empty() && v.contexts == all_contexts && v.kv_capacity_tokens == 0;
        };
        if (verdicts.size() > 1 && std::all_of(verdicts.begin(), verdicts.end(), no_kv_at_all)) {
          // The usual case of a GPU too small for the model: one line for the whole group.
          double lo = verdicts.front().weight_bytes_per_gpu, hi = lo;
          for (const Verdict& v : verdicts) {
            lo = std::min(lo, v.weight_bytes_per_gpu);
            hi = std::max(hi, v.weight_bytes_per_gpu);
          }
          lines.push_back(fmt::format(
              "{} on {} x{}, TP {}, every variant{}: does not fit at any context; the weights ({} per GPU) "
              "leave no room for a KV cache in {} of HBM",
              spec.models[m].name, hw.name, tp, tp, dp_varies ? ", DP-attention on and off" : "",
              lo == hi ? format_si(lo, "B") : format_si(lo, "B") + " to " + format_si(hi, "B"),
              format_si(hw.hbm_bytes, "B")));
          continue;
        }
        for (const Verdict& v : verdicts) {
          if (!v.off_charts()) continue;
          if (!v.invalid.empty()) {
            lines.push_back(fmt::format("{}: cannot run: {}", v.name, fmt::join(v.invalid, "; ")));
            continue;
          }
          const std::string kv =
              v.dp ? fmt::format("{} KV tokens in the replica, {} per GPU: a sequence lives on one GPU",
                                 v.kv_capacity_tokens, v.kv_capacity_tokens / v.tp)
                   : fmt::format("{} KV tokens in the replica", v.kv_capacity_tokens);
          if (v.contexts == all_contexts) {
            lines.push_back(
                v.kv_capacity_tokens == 0
                    ? fmt::format("{}: does not fit at any context; the weights ({} per GPU) leave no "
                                  "room for a KV cache in {} of HBM",
                                  v.name, format_si(v.weight_bytes_per_gpu, "B"),
                                  format_si(hw.hbm_bytes, "B"))
                    : fmt::format("{}: does not fit at any context ({})", v.name, kv));
            continue;
          }
          // Not fitting is monotone in the context: usually every context from one on.
          const std::int64_t first = *v.contexts.begin();
          const bool from_first = std::all_of(all_contexts.begin(), all_contexts.end(), [&](std::int64_t c) {
            return (c >= first) == (v.contexts.count(c) != 0);
          });
          std::vector<std::string> ticks;
          for (const std::int64_t c : v.contexts) ticks.push_back(context_tick(static_cast<double>(c)));
          lines.push_back(from_first ? fmt::format("{}: does not fit at {} tokens of context or more ({})",
                                                   v.name, context_tick(static_cast<double>(first)), kv)
                                     : fmt::format("{}: does not fit at context {} ({})", v.name,
                                                   fmt::join(ticks, ", "), kv));
        }
      }
    }
  }
  return lines;
}

std::string layout_text(const SweepSpec& spec, const SweepPoint& p, bool with_s_q) {
  std::string s = fmt::format("{} {} on {} TP {}{}", spec.models.at(p.model).name,
                              spec.variants.at(p.variant).to_string(), spec.hardware.at(p.hardware).id, p.tp,
                              p.dp_attention ? " DP-attn" : "");
  if (with_s_q) s += fmt::format(", s_q {}", p.s_q);
  return s;
}

std::string sweep_headline_markdown(const SweepSpec& spec, const std::vector<SweepPoint>& points) {
  const std::vector<SweepHeadline> headlines = sweep_headline(spec, points);
  const bool priced = std::any_of(spec.hardware.begin(), spec.hardware.end(),
                                  [](const HardwareSpec& hw) { return hw.price_per_gpu_hour.has_value(); });
  const bool several_s_q = spec.s_q.size() > 1;
  const bool at_max = !headlines.empty() && headlines.front().at_max;
  std::string md = "## Headline: the best configuration at each context\n\n";
  md += fmt::format(
      "Most concurrent: the most sequences of that context whose KV cache fits in one replica (its TP GPUs). "
      "Fastest at capacity: the most output tokens/s per GPU {}. Configurations that do not fit are left "
      "out.\n\n",
      at_max ? "at batch `max`, the largest batch that fits at that context"
             : "at the largest batch of the grid that fits at that context (the grid has no `max`: add it to "
               "`batch:` to run every configuration full)");
  for (const SweepHeadline& h : headlines) {
    if (spec.models.size() > 1) md += fmt::format("### {}\n\n", spec.models[h.model].name);
    md +=
        "| context | most concurrent | sequences | fastest per GPU at capacity | batch | tokens/s per GPU | "
        "tokens/s per user |";
    md += priced ? " USD per 1M output tokens |\n" : "\n";
    md += priced ? "|---|---|---|---|---|---|---|---|\n" : "|---|---|---|---|---|---|---|\n";
    for (const HeadlineRow& row : h.rows) {
      md += fmt::format("| {} |", context_tick(static_cast<double>(row.context)));
      if (row.most_concurrent) {
        const SweepPoint& p = points[*row.most_concurrent];
        md += fmt::format(" {} | {} |", layout_text(spec, p, false), p.max_concurrency);
      } else {
        md += " nothing fits | - |";
      }
      if (row.fastest_at_capacity) {
        const SweepPoint& p = points[*row.fastest_at_capacity];
        md += fmt::format(" {} | {} | {} | {} |", layout_text(spec, p, several_s_q), p.batch,
                          short_number(p.tokens_per_s_per_gpu), short_number(p.tokens_per_s_per_user));
        if (priced)
          md += p.cost ? fmt::format(" {} |", short_number(p.cost->usd_per_million_output_tokens))
                       : " no price |";
      } else {
        md += priced ? " nothing runs | - | - | - | - |" : " nothing runs | - | - | - |";
      }
      md += "\n";
    }
    md += "\n";
  }
  return md;
}

namespace {
/// The sweep's weight dtype in words: one dtype, or "as stored" with each model's when they differ.
std::string weights_in_words(const SweepSpec& spec) {
  std::vector<std::string> per_model;
  for (const ModelSpec& m : spec.models) {
    const std::string d(to_string(spec.precision_for(m).weights));
    if (std::find(per_model.begin(), per_model.end(), d) == per_model.end()) per_model.push_back(d);
  }
  if (per_model.size() == 1) return per_model.front();
  std::vector<std::string> each;
  for (const ModelSpec& m : spec.models)
    each.push_back(fmt::format("{} {}", m.name, to_string(spec.precision_for(m).weights)));
  return fmt::format("as each model stores them ({})", fmt::join(each, ", "));
}

// What a sub-grid report covers, for summary.md and report.html.
std::string scope_text(const SweepReportScope& scope, std::size_t shown) {
  return fmt::format(
      "**Too many points to tabulate: the headline, tables and charts cover a sub-grid of {} of the {} "
      "points** ({}). sweep.csv and sweep.json have every point.",
      shown, scope.points, scope.description);
}

}  // namespace

std::string sweep_summary_markdown(const SweepSpec& spec, const std::vector<SweepPoint>& points,
                                   const Table& table_in, const SweepReportScope* scope) {
  std::string md =
      fmt::format("# Sweep: {}\n\nConfig: `{}`. {} points; device mode {}, weights {}, KV cache {}.\n",
                  spec.name, spec.source, scope ? scope->points : table_in.rows().size(),
                  to_string(spec.device_mode), weights_in_words(spec), to_string(spec.precision.kv_cache));
  if (scope) md += "\n" + scope_text(*scope, table_in.rows().size()) + "\n\n";
  md += "One table per model, GPU, TP, DP-attention, batch and s_q; columns are attention variants.\n\n";
  md += sweep_headline_markdown(spec, points);
  const std::vector<std::string> off = configurations_that_do_not_fit(spec, points);
  if (!off.empty()) {
    md += fmt::format("**{}** ({})\n\n", kNotChartedTitle, kNotChartedWhy);
    for (const std::string& line : off) md += "- " + line + "\n";
    md += "\n";
  }
  // The pivots group a `max` batch as "max" (its resolved batch differs from cell to cell) and show a
  // missing number (a cost without a price) as "-".
  const std::size_t batch_col = table_in.column_index("batch");
  const std::size_t is_max_col = table_in.column_index("batch_is_max");
  Table table(table_in.columns()), at_max(table_in.columns());
  table.reserve(table_in.rows().size());
  const Table shown = with_missing_as(table_in, "-");
  for (std::vector<Cell> row : shown.rows()) {
    const bool is_max = std::get<bool>(row[is_max_col]);
    if (is_max) at_max.add_row(row);
    if (is_max) row[batch_col] = std::string("max");
    table.add_row(std::move(row));
  }
  const std::vector<std::string> groups{"model", "hardware", "tp", "dp_attention", "batch", "s_q"};
  md +=
      "## Status (ok; batch-exceeds-capacity: fewer sequences fit than the batch; does-not-fit: not even "
      "one)\n\n" +
      pivot_to_markdown(table, {{"model", "hardware", "tp", "dp_attention", "batch"},
                                "context",
                                "variant",
                                "status",
                                "status",
                                4});
  md += "## Step time\n\n" +
        pivot_to_markdown(table, {groups, "context", "variant", "step_time_s", "step time", 4});
  md +=
      "## Output tokens/s per GPU\n\n" +
      pivot_to_markdown(table, {groups, "context", "variant", "tokens_per_s_per_gpu", "tokens/s per GPU", 4});
  if (std::any_of(spec.hardware.begin(), spec.hardware.end(),
                  [](const HardwareSpec& hw) { return hw.price_per_gpu_hour.has_value(); })) {
    md +=
        "## USD per 1M output tokens (the replica's GPUs at their profile's price; - : no price, or the "
        "status is not ok)\n\n" +
        pivot_to_markdown(table, {groups, "context", "variant", "usd_per_million_output_tokens",
                                  "USD per 1M output tokens", 4});
  }
  if (!at_max.rows().empty()) {
    md += "## Batch `max` (the sequences it ran: those that fit, within the step's token budget)\n\n" +
          pivot_to_markdown(at_max, {{"model", "hardware", "tp", "dp_attention", "s_q"},
                                     "context",
                                     "variant",
                                     "batch",
                                     "batch max",
                                     6});
  }
  md += "## Max concurrency (sequences that fit in the KV cache)\n\n" +
        pivot_to_markdown(table, {{"model", "hardware", "tp", "dp_attention"},
                                  "context",
                                  "variant",
                                  "max_concurrency",
                                  "max concurrency",
                                  6});
  md += "## KV cache per token, whole model\n\n" +
        pivot_to_markdown(table,
                          {{"model"}, "hardware", "variant", "kv_bytes_per_token", "KV cache per token", 6});
  return md;
}

namespace {

// A (model, GPU, TP) combination: positions in the spec's lists. Its charts draw a line per variant and
// DP-attention setting.
struct OuterGroup {
  std::size_t model = 0, hardware = 0, tp = 0;
};

// One line on a chart: a variant with DP-attention off or on (positions in the spec's lists).
struct LineKey {
  std::size_t variant = 0, dp = 0;
};

// One chart, planned: its files, its name (the SVG's <title>) and its caption; the SVG comes later (or not).
struct PlannedChart {
  std::string name, title, caption, dat, gp;
};

class ReportBuilder {
 public:
  ReportBuilder(const SweepSpec& spec, const std::vector<SweepPoint>& points, const SweepReportScope* scope)
      : spec_(spec), points_(points), scope_(scope) {
    if (points.size() != sweep_size(spec)) {
      throw InternalError(
          fmt::format("sweep report: {} points for a grid of {}", points.size(), sweep_size(spec)));
    }
    for (std::size_t m = 0; m < spec.models.size(); ++m) {
      for (std::size_t h = 0; h < spec.hardware.size(); ++h) {
        for (std::size_t t = 0; t < spec.tp.size(); ++t) groups_.push_back({m, h, t});
      }
    }
    for (const VariantSpec& v : spec.variants) variant_names_.push_back(v.to_string());
    for (std::size_t v = 0; v < spec.variants.size(); ++v) {
      for (std::size_t d = 0; d < spec.dp_attention.size(); ++d) lines_.push_back({v, d});
    }
    both_dp_ = spec.dp_attention.size() > 1;
    std::vector<std::int64_t> counts;  // the batch axis's counts; `max` stands apart, charted last
    for (std::size_t i = 0; i < spec.batch.size(); ++i) {
      if (!spec.batch[i].is_max) {
        batches_.emplace_back(spec.batch[i].sequences, i);
      } else if (!max_batch_) {
        max_batch_ = i;
      }
    }
    std::stable_sort(batches_.begin(), batches_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    batches_.erase(std::unique(batches_.begin(), batches_.end(),
                               [](const auto& a, const auto& b) { return a.first == b.first; }),
                   batches_.end());
    s_qs_ = sorted_axis(spec.s_q);
    contexts_ = sorted_axis(spec.context);
    for (const auto& [c, i] : contexts_) {
      context_values_.push_back(static_cast<double>(c));
      context_ticks_.emplace_back(static_cast<double>(c), context_tick(static_cast<double>(c)));
    }
  }

  SweepReport build(const std::string& summary_markdown, bool charts, int chart_processes) {
    HtmlPage page(fmt::format("mlasim sweep: {}", spec_.name));
    page.add_heading(1, fmt::format("Sweep: {}", spec_.name));
    page.add_facts(header_facts());
    if (scope_) page.add_markdown(scope_text(*scope_, points_.size()));
    page.add_markdown(sweep_headline_markdown(spec_, points_));
    const std::vector<std::string> off = configurations_that_do_not_fit(spec_, points_);
    if (!off.empty()) page.add_banner(fmt::format("{} ({})", kNotChartedTitle, kNotChartedWhy), off);

    // Plan every chart first, so that one gnuplot pass renders them all and the page knows what it got.
    const std::size_t n_outer = std::min(groups_.size(), kMaxOuterGroups);
    std::vector<std::size_t> batches = shown_positions(batches_);
    const std::vector<std::size_t> s_qs = shown_positions(s_qs_);
    if (max_batch_) batches.push_back(*max_batch_);
    std::vector<std::vector<std::size_t>> outer_charts(n_outer);
    std::vector<std::vector<std::vector<std::size_t>>> inner_charts(n_outer);
    std::vector<std::vector<std::size_t>> overview_charts;  // per model and s_q shown: at capacity
    if (charts && max_batch_) {
      for (std::size_t m = 0; m < spec_.models.size(); ++m) {
        for (const std::size_t s_q : s_qs) overview_charts.push_back(plan_at_capacity_charts(m, s_q));
      }
    }
    if (charts) {
      for (std::size_t gi = 0; gi < n_outer; ++gi) {
        if (!has_charted_point(groups_[gi])) continue;
        outer_charts[gi] = plan_capacity_charts(groups_[gi]);
        for (const std::size_t batch : batches) {
          for (const std::size_t s_q : s_qs)
            inner_charts[gi].push_back(plan_step_charts(groups_[gi], batch, s_q));
        }
      }
    }

    SweepReport report;
    std::vector<GnuplotJob> jobs;
    std::vector<std::size_t> drawn;
    for (std::size_t i = 0; i < planned_.size(); ++i) {
      const PlannedChart& c = planned_[i];
      if (c.name.empty()) continue;
      jobs.push_back({c.name + ".gp", c.gp, {{c.name + ".dat", c.dat}}, c.name + ".svg"});
      drawn.push_back(i);
    }
    ChartRendering rendered = render_charts(jobs, charts, chart_processes);
    report.note = !charts || !jobs.empty() ? rendered.note : std::string();
    std::vector<std::string> svgs(planned_.size());
    for (std::size_t k = 0; k < drawn.size(); ++k) svgs[drawn[k]] = std::move(rendered.svgs[k]);
    append_chart_files(report.files, jobs);

    if (!report.note.empty()) page.add_note(report.note);
    page.add_paragraph(fmt::format(
        "Charts versus tokens of context per sequence, one line per attention variant{}. Filled markers: the "
        "batch fits in the KV cache; hollow markers: batch-exceeds-capacity, fewer sequences of that context "
        "fit than the batch (the step is costed anyway, as if it ran). Configurations that do not fit "
        "(does-not-fit: not one sequence; invalid) are not drawn: the box above names them and the tables "
        "keep their rows. Throughput axes are linear from 0, time, capacity and cost axes logarithmic.{} "
        "Every "
        "chart's data and gnuplot script are in charts/.",
        both_dp_ ? " and DP-attention setting (colour: variant; solid: DP-attention off, dashed: on)" : "",
        max_batch_
            ? " Batch max: at each context the largest batch that fits (the max concurrency, within the "
              "step's token budget), so it shrinks as context grows; \"At capacity\" compares every "
              "configuration that fits there."
            : ""));
    if (groups_.size() > n_outer) {
      page.add_note(
          fmt::format("Charts for the first {} of {} (model, GPU, TP) groups; the tables below and sweep.csv "
                      "have every point.",
                      n_outer, groups_.size()));
    }

    if (charts) {
      page.add_heading(2, "Charts", "charts");
      std::vector<std::pair<std::string, std::string>> links;
      if (max_batch_) links.emplace_back("At capacity (batch max)", "at-capacity");
      for (std::size_t gi = 0; gi < n_outer; ++gi) links.emplace_back(describe(groups_[gi]), anchor(gi));
      links.emplace_back("Tables", "tables");
      page.add_links(links);
      if (max_batch_) {
        page.add_heading(2, "At capacity (batch max)", "at-capacity");
        std::size_t k = 0;
        for (std::size_t m = 0; m < spec_.models.size(); ++m) {
          for (const std::size_t s_q : s_qs) {
            if (spec_.models.size() > 1 || s_qs.size() > 1) {
              page.add_heading(3, s_qs_.size() > 1
                                      ? fmt::format("{}, s_q {}", spec_.models[m].name, spec_.s_q[s_q])
                                      : spec_.models[m].name);
            }
            if (overview_charts[k].empty()) {
              page.add_note("Nothing to chart: no configuration of this model fits at any context.");
            }
            page.add_figures(figures(overview_charts[k++], svgs));
          }
        }
      }
      const std::vector<std::int64_t> all_batches = values(batches_), all_s_qs = values(s_qs_);
      const std::size_t batches_shown = shown_positions(batches_).size();
      for (std::size_t gi = 0; gi < n_outer; ++gi) {
        const OuterGroup& g = groups_[gi];
        page.add_heading(2, describe(g), anchor(gi));
        if (!has_charted_point(g)) {
          page.add_note(
              "Nothing to chart: no configuration of this group runs and fits (see the box at the top).");
          continue;
        }
        if (batches_shown < all_batches.size()) {
          page.add_note(
              fmt::format("Showing batch {} of the {} batch sizes swept ({}): the smallest, a middle "
                          "and the largest.",
                          list_text(shown_subset(all_batches)), all_batches.size(), list_text(all_batches)));
        }
        if (s_qs.size() < all_s_qs.size()) {
          page.add_note(fmt::format("Showing s_q {} of {} values swept ({}).",
                                    list_text(shown_subset(all_s_qs)), all_s_qs.size(), list_text(all_s_qs)));
        }
        page.add_figures(figures(outer_charts[gi], svgs));
        std::size_t k = 0;
        for (const std::size_t batch : batches) {
          for (const std::size_t s_q : s_qs) {
            page.add_heading(
                3, spec_.batch[batch].is_max
                       ? fmt::format("batch max (at capacity), s_q {}", spec_.s_q[s_q])
                       : fmt::format("batch {}, s_q {}", spec_.batch[batch].sequences, spec_.s_q[s_q]));
            page.add_figures(figures(inner_charts[gi][k++], svgs));
          }
        }
      }
    }

    page.add_heading(2, "Tables", "tables");
    // summary.md's tables; its title block, headline and list of what does not fit are at the top already.
    const std::size_t first_section = summary_markdown.find("\n## Status");
    page.add_markdown(
        first_section == std::string::npos ? summary_markdown : summary_markdown.substr(first_section + 1),
        1);
    report.files.insert(report.files.begin(), {"report.html", page.str()});
    return report;
  }

 private:
  using Axis1 = std::vector<std::pair<std::int64_t, std::size_t>>;

  static std::vector<std::int64_t> values(const Axis1& axis) {
    std::vector<std::int64_t> out;
    for (const auto& [v, i] : axis) out.push_back(v);
    return out;
  }

  // Positions in the spec's list of the values shown_subset keeps, in increasing value.
  static std::vector<std::size_t> shown_positions(const Axis1& axis) {
    std::vector<std::size_t> out;
    for (const std::int64_t v : shown_subset(values(axis))) {
      for (const auto& [value, i] : axis) {
        if (value == v) out.push_back(i);
      }
    }
    return out;
  }

  const SweepPoint& at(const OuterGroup& g, const LineKey& line, std::size_t batch, std::size_t context,
                       std::size_t s_q) const {
    return points_[sweep_index(spec_, g.model, line.variant, g.hardware, g.tp, line.dp, batch, context, s_q)];
  }

  // Drawn: the step can run (ok), or runs with fewer sequences than the batch (hollow). Not drawn: not one
  // sequence fits, or the layout is invalid.
  static bool charted(const SweepPoint& p) {
    return p.status == PointStatus::kOk || p.status == PointStatus::kBatchExceedsCapacity;
  }
  static bool hollow(const SweepPoint& p) { return p.status == PointStatus::kBatchExceedsCapacity; }

  bool has_charted_point(const OuterGroup& g) const {
    for (const LineKey& line : lines_) {
      for (std::size_t b = 0; b < spec_.batch.size(); ++b) {
        for (std::size_t c = 0; c < spec_.context.size(); ++c) {
          for (std::size_t s = 0; s < spec_.s_q.size(); ++s) {
            if (charted(at(g, line, b, c, s))) return true;
          }
        }
      }
    }
    return false;
  }

  const HardwareSpec& hardware(const OuterGroup& g) const { return spec_.hardware[g.hardware]; }
  int tp(const OuterGroup& g) const { return spec_.tp[g.tp]; }

  std::string describe(const OuterGroup& g) const {
    return fmt::format("{} on {} x{}, TP {}", spec_.models[g.model].name, hardware(g).name, tp(g), tp(g));
  }

  // "native", or "native, DP on" when the sweep has both settings.
  std::string line_title(const LineKey& line) const {
    if (!both_dp_) return variant_names_[line.variant];
    return variant_names_[line.variant] + (spec_.dp_attention[line.dp] ? ", DP on" : ", DP off");
  }
  bool dashed(const LineKey& line) const { return both_dp_ && spec_.dp_attention[line.dp]; }

  static std::string anchor(std::size_t group_index) { return fmt::format("group-{}", group_index + 1); }

  std::string stem(const OuterGroup& g) const {
    return file_stem(fmt::format("{}_{}_tp{}", spec_.models[g.model].name, hardware(g).id, tp(g)));
  }

  std::vector<std::pair<std::string, std::string>> header_facts() const {
    // The whole sweep's, also when the report covers a sub-grid of it.
    const SweepSpec& whole = scope_ ? *scope_->whole : spec_;
    std::vector<std::string> variants;
    for (const VariantSpec& v : whole.variants) variants.push_back(v.to_string());
    std::map<std::string, std::size_t> by_status;
    if (scope_) {
      for (const auto& [status, n] : scope_->by_status) by_status[status] += n;
    } else {
      for (const SweepPoint& p : points_) ++by_status[std::string(to_string(p.status))];
    }
    std::vector<std::string> counts;
    for (const auto& [status, n] : by_status) counts.push_back(fmt::format("{} {}", n, status));
    std::vector<std::string> hw;
    for (const HardwareSpec& h : whole.hardware) hw.push_back(fmt::format("{} ({})", h.name, h.id));
    std::vector<std::string> models;
    for (const ModelSpec& m : whole.models) models.push_back(m.name);
    std::vector<std::string> dp;
    for (const bool d : whole.dp_attention) dp.emplace_back(d ? "on" : "off");
    return {
        {"config", whole.source},
        {"points", fmt::format("{} ({})", scope_ ? scope_->points : points_.size(), fmt::join(counts, ", "))},
        {"device mode", std::string(to_string(whole.device_mode))},
        {"precision",
         fmt::format("weights {}, KV cache {}, activations {}", weights_in_words(whole),
                     to_string(whole.precision.kv_cache), to_string(whole.precision.activations))},
        {"MLA mode", std::string(to_string(whole.mla_mode))},
        {"models", fmt::format("{}", fmt::join(models, ", "))},
        {"variants", fmt::format("{}", fmt::join(variants, ", "))},
        {"hardware", fmt::format("{}", fmt::join(hw, ", "))},
        {"TP", fmt::format("{}", fmt::join(whole.tp, ", "))},
        {"DP-attention", fmt::format("{}", fmt::join(dp, ", "))},
        {"batch", batch_list_text(whole)},
        {"context", fmt::format("{} values, {} to {} tokens", whole.context.size(),
                                context_tick(static_cast<double>(whole.context.front())),
                                context_tick(static_cast<double>(whole.context.back())))},
        {"s_q", fmt::format("{}", fmt::join(whole.s_q, ", "))},
    };
  }

  // Registers a chart; returns its index in planned_. `name` names it for a reader (the SVG's <title>); a
  // chart with nothing to draw (gnuplot would refuse it) gets no files, only a caption saying so.
  template <class Chart>
  std::size_t plan(Chart chart, const std::string& name, const std::string& caption) {
    if (!has_drawable_points(chart)) {
      planned_.push_back(
          {"", name, fmt::format("{}: not drawn, no point to plot. {}", name, caption), "", ""});
      return planned_.size() - 1;
    }
    std::string file = chart.name;
    for (int n = 2; !names_.insert(file).second; ++n) file = fmt::format("{}-{}", chart.name, n);
    chart.name = file;
    planned_.push_back({file, name,
                        fmt::format("{} Data: charts/{}.dat, script: charts/{}.gp.", caption, file, file),
                        to_dat(chart), to_gnuplot(chart, file + ".dat")});
    return planned_.size() - 1;
  }

  // A chart versus context. Log axes get a plain tick format: gnuplot's default there is SI suffixes
  // (100m for 0.1), which a planner misreads.
  LineChart versus_context(const std::string& name, const std::string& title, const std::string& y_label,
                           bool log_y) const {
    LineChart c;
    c.name = name;
    c.title = title;
    c.x = Axis{"context (tokens per sequence)", true, 2, context_ticks_, {}};
    c.y = Axis{y_label, log_y, 10, {}, log_y ? "%g" : ""};
    c.x_values = context_values_;
    c.y_from_zero = !log_y;
    c.hollow_key = "hollow: batch > KV capacity";
    // Two or three charts share the page's width: larger text, and the key under the plot so that the plot
    // keeps the width.
    c.font_points = kChartFontPoints;
    c.key = "below";
    return c;
  }

  // One series per line (variant × DP-attention): value(point) at each context; points not charted NaN,
  // batch-exceeds-capacity ones hollow.
  template <class Value>
  void add_line_series(LineChart& chart, const OuterGroup& g, std::size_t batch, std::size_t s_q,
                       Value value) const {
    for (const LineKey& line : lines_) {
      Series s;
      s.title = line_title(line);
      s.color = static_cast<int>(line.variant);
      s.dashed = dashed(line);
      for (const auto& [context, c] : contexts_) {
        const SweepPoint& p = at(g, line, batch, c, s_q);
        const double y = charted(p) ? value(p) : kNaN;
        s.y.push_back(y > 0.0 ? y : kNaN);
        s.flagged.push_back(charted(p) && hollow(p));
      }
      chart.series.push_back(std::move(s));
    }
  }

  // "batch 32" (and ", s_q 2" when the sweep has several s_q): what the inner charts' titles add.
  std::string step_shape(std::size_t batch, std::size_t s_q) const {
    return s_qs_.size() > 1 ? fmt::format("batch {}, s_q {}", spec_.batch[batch].to_string(), spec_.s_q[s_q])
                            : fmt::format("batch {}", spec_.batch[batch].to_string());
  }

  static std::string batch_list_text(const SweepSpec& spec) {
    std::vector<std::string> parts;
    for (const BatchChoice& b : spec.batch) {
      parts.push_back(b.is_max ? "max (the largest batch that fits at each point)" : b.to_string());
    }
    return fmt::format("{}", fmt::join(parts, ", "));
  }

  std::string line_legend() const {
    return both_dp_ ? " Colour: variant; solid: DP-attention off, dashed: DP-attention on." : "";
  }

  // "At capacity": every configuration (variant, GPU, TP, DP-attention) of model `m` at batch max, one line
  // each: output tokens/s per GPU and per user, and USD per 1M output tokens for the priced GPUs. A
  // configuration that fits at no context has no line.
  std::vector<std::size_t> plan_at_capacity_charts(std::size_t m, std::size_t s_q_pos) {
    struct Line {
      Series series;
      std::vector<const SweepPoint*> points;  // per context (sorted); null where the max batch does not run
      bool priced = false;
    };
    std::vector<Line> lines;
    std::vector<std::tuple<std::size_t, std::size_t, std::size_t>> colours;  // (variant, GPU, TP) seen
    for (std::size_t v = 0; v < spec_.variants.size(); ++v) {
      for (std::size_t h = 0; h < spec_.hardware.size(); ++h) {
        for (std::size_t t = 0; t < spec_.tp.size(); ++t) {
          for (std::size_t d = 0; d < spec_.dp_attention.size(); ++d) {
            Line line;
            bool any = false;
            for (const auto& [context, c] : contexts_) {
              const SweepPoint& p = points_[sweep_index(spec_, m, v, h, t, d, *max_batch_, c, s_q_pos)];
              const bool runs = p.status == PointStatus::kOk;
              line.points.push_back(runs ? &p : nullptr);
              any = any || runs;
            }
            if (!any) continue;
            const auto key = std::make_tuple(v, h, std::size_t(spec_.tp[t]));
            auto it = std::find(colours.begin(), colours.end(), key);
            if (it == colours.end()) it = colours.insert(colours.end(), key);
            line.series.color = static_cast<int>(it - colours.begin());
            line.series.dashed = both_dp_ && spec_.dp_attention[d];
            line.series.title = fmt::format("{} on {} TP {}{}", variant_names_[v], spec_.hardware[h].id,
                                            spec_.tp[t], spec_.dp_attention[d] ? " DP-attn" : "");
            line.priced = spec_.hardware[h].price_per_gpu_hour.has_value();
            lines.push_back(std::move(line));
          }
        }
      }
    }
    std::vector<std::size_t> out;
    if (lines.empty()) return out;
    const std::string model = spec_.models[m].name;
    const std::string sq = s_qs_.size() > 1 ? fmt::format(", s_q {}", spec_.s_q[s_q_pos]) : "";
    const std::string base = file_stem(fmt::format("{}_at_capacity_sq{}", model, spec_.s_q[s_q_pos]));
    const std::string legend = fmt::format("Colour: variant, GPU and TP{}.",
                                           both_dp_ ? "; solid: DP-attention off, dashed: on" : "");
    const auto chart_of = [&](const std::string& name, const std::string& title, const std::string& y_label,
                              bool log_y, bool priced_only, auto value) {
      LineChart chart = versus_context(base + name, title + sq, y_label, log_y);
      for (const Line& line : lines) {
        if (priced_only && !line.priced) continue;
        Series s = line.series;
        for (const SweepPoint* p : line.points) s.y.push_back(p != nullptr ? value(*p) : kNaN);
        chart.series.push_back(std::move(s));
      }
      if (log_y) set_log_y_ticks(chart);
      return chart;
    };
    const std::string what = fmt::format("{}{}", model, sq);
    out.push_back(plan(
        chart_of("_tokens_per_s_per_gpu", "output tokens/s per GPU at capacity", "output tokens/s per GPU",
                 false, false, [](const SweepPoint& p) { return p.tokens_per_s_per_gpu; }),
        fmt::format("{}: output tokens/s per GPU at capacity", what),
        fmt::format("Output tokens/s per GPU at capacity, {}: each configuration at batch max, the "
                    "largest batch that fits at that context; a line stops where not one "
                    "sequence fits. {}",
                    what, legend)));
    out.push_back(plan(
        chart_of("_tokens_per_s_per_user", "output tokens/s per user at capacity", "output tokens/s per user",
                 false, false, [](const SweepPoint& p) { return p.tokens_per_s_per_user; }),
        fmt::format("{}: output tokens/s per user at capacity", what),
        fmt::format("Output tokens/s per user (one sequence) at capacity, {}: what each of the "
                    "most users that fit sees. {}",
                    what, legend)));
    if (std::any_of(lines.begin(), lines.end(), [](const Line& l) { return l.priced; })) {
      out.push_back(plan(
          chart_of("_usd_per_million_output_tokens", "USD per 1M output tokens at capacity",
                   "USD per 1M output tokens", true, true,
                   [](const SweepPoint& p) { return p.cost ? p.cost->usd_per_million_output_tokens : kNaN; }),
          fmt::format("{}: USD per 1M output tokens at capacity", what),
          fmt::format("USD per 1M output tokens at capacity (log scale), {}: the replica's GPUs at "
                      "their profile's price per GPU-hour over its output tokens at batch max; "
                      "GPUs without a price have no line. {}",
                      what, legend)));
    }
    return out;
  }

  std::vector<std::size_t> plan_capacity_charts(const OuterGroup& g) {
    // Capacity does not depend on the batch: read it at the smallest batch and s_q.
    const std::size_t batch = batches_.empty() ? *max_batch_ : batches_.front().second;
    const std::size_t s_q = s_qs_.front().second;
    const std::string what = describe(g);
    std::vector<std::size_t> out;
    LineChart conc = versus_context(stem(g) + "_max_concurrency", "max concurrency",
                                    "sequences that fit in the KV cache", true);
    add_line_series(conc, g, batch, s_q,
                    [](const SweepPoint& p) { return static_cast<double>(p.max_concurrency); });
    for (Series& s : conc.series) s.flagged.clear();  // capacity is the same whatever the batch
    set_log_y_ticks(conc);
    out.push_back(
        plan(conc, fmt::format("{}: max concurrency", what),
             fmt::format("Max concurrency, {}: sequences of that context whose KV cache fits beside the "
                         "weights (log scale).{}",
                         what, line_legend())));
    LineChart kv = versus_context(stem(g) + "_kv_bytes_per_token_per_gpu", "KV cache per token per GPU",
                                  "KV cache per token per GPU (KiB)", true);
    add_line_series(kv, g, batch, s_q,
                    [](const SweepPoint& p) { return p.kv_bytes_per_token_per_gpu / 1024.0; });
    for (Series& s : kv.series) s.flagged.clear();
    set_log_y_ticks(kv);
    out.push_back(plan(kv, fmt::format("{}: KV cache per token per GPU", what),
                       fmt::format("KV cache per token held by one GPU, all layers, KiB (log scale), {}.{}",
                                   what, line_legend())));
    return out;
  }

  std::vector<std::size_t> plan_step_charts(const OuterGroup& g, std::size_t batch_pos, std::size_t s_q_pos) {
    const std::string batch = spec_.batch[batch_pos].to_string();
    const int s_q = spec_.s_q[s_q_pos];
    const std::string shape = step_shape(batch_pos, s_q_pos);
    const std::string full =
        spec_.batch[batch_pos].is_max
            ? " Batch max: at each context the largest batch that fits (the max concurrency "
              "chart, within the step's token budget), so it shrinks as context grows."
            : "";
    const std::string what = fmt::format("{}, batch {}, s_q {}", describe(g), batch, s_q);
    const std::string base = fmt::format("{}_b{}_sq{}", stem(g), batch, s_q);
    std::vector<std::size_t> out;

    // Log y: MHA at long context would flatten every other line on a linear axis.
    LineChart step =
        versus_context(base + "_step_time", "step time, " + shape, "time per decode step (ms)", true);
    add_line_series(step, g, batch_pos, s_q_pos, [](const SweepPoint& p) { return p.step_time_s * 1e3; });
    set_log_y_ticks(step);
    out.push_back(
        plan(step, fmt::format("{}: step time", what),
             fmt::format("Time per decode step, ms (log scale), {}. The split by op class is in the "
                         "stacked charts below.{}{}",
                         what, full, line_legend())));

    LineChart per_gpu = versus_context(base + "_tokens_per_s_per_gpu", "output tokens/s per GPU, " + shape,
                                       "output tokens/s per GPU", false);
    add_line_series(per_gpu, g, batch_pos, s_q_pos,
                    [](const SweepPoint& p) { return p.tokens_per_s_per_gpu; });
    out.push_back(
        plan(per_gpu, fmt::format("{}: output tokens/s per GPU", what),
             fmt::format("Output tokens/s per GPU: the batch's tokens per step over the step time and "
                         "the {} GPUs, {}.{}{}",
                         tp(g), what, full, line_legend())));

    LineChart per_user = versus_context(base + "_tokens_per_s_per_user", "output tokens/s per user, " + shape,
                                        "output tokens/s per user", false);
    add_line_series(per_user, g, batch_pos, s_q_pos,
                    [](const SweepPoint& p) { return p.tokens_per_s_per_user; });
    out.push_back(plan(per_user, fmt::format("{}: output tokens/s per user", what),
                       fmt::format("Output tokens/s per user (one sequence): s_q over the step time, {}.{}{}",
                                   what, full, line_legend())));

    std::string roofline_caption = fmt::format(
        "Attention cores on the roofline, {}: one point per variant and context, achieved FLOP/s = "
        "attention FLOPs / attention time, intensity = attention FLOPs / attention HBM bytes. "
        "Dashed: datasheet ceilings; solid: the ceilings the model uses in this device mode.{}",
        what, both_dp_ ? " Circles: DP-attention off; triangles: on." : "");
    if (shows_measured(hardware(g))) {
      roofline_caption +=
          " Measured: our decode kernels' calibration tables, one point per measured (batch, context) "
          "node of each uniform-length shape (FLOPs and bytes of one call over its median time); the "
          "solid measured ceiling is the copy probe's BW∞ under the best bf16 GEMM rate.";
    }
    out.push_back(plan(roofline(g, batch_pos, s_q_pos, base, shape),
                       fmt::format("{}: attention roofline", what), roofline_caption));

    // Where the time goes, one stacked chart per line that has a point to draw.
    for (const LineKey& line : lines_) {
      const std::string line_name = line_title(line);
      std::string file = base + "_step_split_" + file_stem(variant_names_[line.variant]);
      if (both_dp_) file += spec_.dp_attention[line.dp] ? "_dp1" : "_dp0";
      LineChart split = versus_context(file, "time by op class: " + line_name + ", " + shape,
                                       "time per decode step (ms)", false);
      split.style = ChartStyle::kStackedArea;
      const std::pair<const char*, double SweepPoint::*> parts[] = {
          {"attention", &SweepPoint::attention_s},
          {"GEMM", &SweepPoint::gemm_s},
          {"communication", &SweepPoint::communication_s},
          {"other", &SweepPoint::other_s}};
      // Only the contexts where the step runs: gnuplot's filled areas do not survive a missing value (the
      // x range stays the other charts', from the ticks).
      split.x_values.clear();
      bool any_hollow = false;
      for (const auto& [context, c] : contexts_) {
        const SweepPoint& p = at(g, line, batch_pos, c, s_q_pos);
        if (!charted(p)) continue;
        split.x_values.push_back(static_cast<double>(context));
        any_hollow = any_hollow || hollow(p);
      }
      for (std::size_t k = 0; k < std::size(parts); ++k) {
        Series s;
        s.title = parts[k].first;
        s.color = static_cast<int>(k);
        for (const auto& [context, c] : contexts_) {
          const SweepPoint& p = at(g, line, batch_pos, c, s_q_pos);
          if (charted(p)) s.y.push_back(p.*parts[k].second * 1e3);
        }
        split.series.push_back(std::move(s));
      }
      if (split.x_values.empty()) continue;  // named in the box at the top
      out.push_back(
          plan(split, fmt::format("{}: time by op class, {}", what, line_name),
               fmt::format("Step time of {} split by op class, stacked (ms), {}.{}", line_name, what,
                           any_hollow ? " At some contexts fewer sequences fit than the batch: see the "
                                        "step-time chart's hollow markers."
                                      : "")));
    }
    return out;
  }

  Roofline roofline(const OuterGroup& g, std::size_t batch, std::size_t s_q, const std::string& base,
                    const std::string& shape) const {
    Roofline r;
    r.name = base + "_roofline";
    r.title = "attention roofline, " + shape;
    r.hollow_key = "hollow: batch > KV capacity";
    r.font_points = kChartFontPoints;
    r.key = "below width -8";  // gnuplot overestimates the labels' width: two columns instead of one
    const HardwareSpec& hw = hardware(g);
    const Dtype math = spec_.precision.kv_cache;  // attention runs in the KV cache's dtype (device_model.cpp)
    const DeviceModel device(hw, spec_.device_mode);
    // The GPU is in the section's heading and the caption: the key names only the kind of ceiling.
    r.ceilings.push_back({fmt::format("datasheet ({})", to_string(math)), hw.peak_flops(math),
                          hw.hbm_bandwidth_bytes_per_s, true, 0});
    r.ceilings.push_back(
        {fmt::format("model ceiling ({})",
                     spec_.device_mode == DeviceMode::kCalibrated ? "calibrated" : "datasheet x efficiency"),
         device.compute_flops_per_s(math), device.memory_bandwidth_bytes_per_s(), false, 0});
    for (const LineKey& line : lines_) {
      RooflineSeries s;
      s.title = line_title(line);
      s.color = static_cast<int>(line.variant);
      s.triangles = dashed(line);
      for (const auto& [context, c] : contexts_) {
        const SweepPoint& p = at(g, line, batch, c, s_q);
        if (!charted(p)) continue;
        s.intensity_flop_per_byte.push_back(p.attention_bytes > 0.0 ? p.attention_flops / p.attention_bytes
                                                                    : kNaN);
        s.achieved_flops_per_s.push_back(p.attention_s > 0.0 ? p.attention_flops / p.attention_s : kNaN);
        s.flagged.push_back(hollow(p));
      }
      r.series.push_back(std::move(s));
    }
    if (shows_measured(hw)) add_measured(hw, r);
    return r;
  }

  // DESIGN.md §10: measured kernel points beside the predicted ones, only in calibrated mode and only when
  // the profile has our kernels' tables; every other roofline stays as it was.
  bool shows_measured(const HardwareSpec& hw) const {
    if (spec_.device_mode != DeviceMode::kCalibrated) return false;
    const auto& tables = hw.calibration.attention;
    return std::any_of(tables.begin(), tables.end(),
                       [](const AttentionTable& t) { return !t.variable_lengths; });
  }

  // The measured ceiling (copy ramp's BW∞, best bf16 GEMM rate) and one series per kernel of the measured
  // table nodes. The sweep's solid model ceiling is dropped when it is the same roof, so that it is drawn
  // once.
  void add_measured(const HardwareSpec& hw, Roofline& r) const {
    const Calibration& cal = hw.calibration;
    const BandwidthRamp* ramp = cal.hbm_ramp();
    const auto peak = cal.gemm_peak_flops_per_s.find(Dtype::kBf16);
    if (ramp != nullptr && peak != cal.gemm_peak_flops_per_s.end() && peak->second > 0.0) {
      Ceiling measured{"measured (copy BW∞, bf16 GEMM)", peak->second, ramp->bw_inf_bytes_per_s, false, 0};
      const auto same = std::find_if(r.ceilings.begin(), r.ceilings.end(), [&](const Ceiling& c) {
        return !c.dashed && c.peak_flops_per_s == measured.peak_flops_per_s &&
               c.bandwidth_bytes_per_s == measured.bandwidth_bytes_per_s;
      });
      if (same != r.ceilings.end()) {
        measured.label = "measured = model ceiling";
        *same = measured;
      } else {
        measured.color = 1;
        r.ceilings.push_back(measured);
      }
    }
    // Drawn first, under the predicted points; coloured after the variants.
    int color = static_cast<int>(variant_names_.size());
    std::vector<RooflineSeries> measured_series;
    for (const AttentionKernel kernel : {AttentionKernel::kMla, AttentionKernel::kGqa}) {
      RooflineSeries s;
      s.title = fmt::format("measured: {} kernel", to_string(kernel));
      for (const AttentionTable& t : cal.attention) {
        if (t.kernel != kernel || t.variable_lengths) continue;
        for (std::size_t bi = 0; bi < t.batch.size(); ++bi) {
          for (std::size_t ci = 0; ci < t.context.size(); ++ci) {
            const double seconds = t.at(bi, ci);
            if (!(seconds > 0.0)) continue;  // NaN: not measured
            const KernelWork w =
                table_call_work(kernel, t.batch[bi], t.context[ci], t.s_q, t.n_h, t.n_kv, t.d);
            s.intensity_flop_per_byte.push_back(w.bytes > 0.0 ? w.flops / w.bytes : kNaN);
            s.achieved_flops_per_s.push_back(w.flops / seconds);
          }
        }
      }
      if (s.intensity_flop_per_byte.empty()) continue;
      s.color = color++;
      measured_series.push_back(std::move(s));
    }
    r.series.insert(r.series.begin(), measured_series.begin(), measured_series.end());
  }

  std::vector<Figure> figures(const std::vector<std::size_t>& charts,
                              const std::vector<std::string>& svgs) const {
    std::vector<Figure> out;
    for (const std::size_t i : charts) out.push_back({svgs[i], planned_[i].caption, planned_[i].title});
    return out;
  }

  const SweepSpec& spec_;
  const std::vector<SweepPoint>& points_;
  const SweepReportScope* scope_;  ///< when spec_ is a sub-grid of a larger sweep
  std::vector<OuterGroup> groups_;
  std::vector<std::string> variant_names_;  // in the spec's order: colour k is variant k on every chart
  std::vector<LineKey> lines_;              // variant-major: each variant with DP-attention off, then on
  bool both_dp_ = false;                    // the sweep has DP-attention off and on: lines say which
  Axis1 batches_, s_qs_, contexts_;         // sorted values, each with its position in the spec's list
  std::optional<std::size_t> max_batch_;    // the position of `max` in the spec's batch list
  std::vector<double> context_values_;
  std::vector<std::pair<double, std::string>> context_ticks_;
  std::vector<PlannedChart> planned_;
  std::set<std::string> names_;
};

}  // namespace

SweepReport build_sweep_pages(const SweepSpec& spec, const std::vector<SweepPoint>& points, bool charts,
                              int chart_processes, const SweepReportScope* scope) {
  const Table table = sweep_table(spec, points);
  SweepReport report;
  report.summary_markdown = sweep_summary_markdown(spec, points, table, scope);
  ReportBuilder builder(spec, points, scope);
  SweepReport page = builder.build(report.summary_markdown, charts, chart_processes);
  report.note = std::move(page.note);
  report.files.emplace_back("summary.md", report.summary_markdown);
  for (auto& f : page.files) report.files.push_back(std::move(f));
  return report;
}

SweepReport build_sweep_report(const SweepSpec& spec, const std::vector<SweepPoint>& points, bool charts,
                               int chart_processes) {
  const Table table = sweep_table(spec, points);
  SweepReport report = build_sweep_pages(spec, points, charts, chart_processes);
  std::vector<std::pair<std::string, std::string>> files;
  files.emplace_back("sweep.csv", table_to_csv(with_missing_as(table, "")));
  nlohmann::ordered_json json =
      json_envelope(kSweepSchema, config_file_json(spec.source, spec.config_json, spec.cli_overrides));
  json["points"] = rows_json(table);
  files.emplace_back("sweep.json", json_text(json));
  for (auto& f : report.files) files.push_back(std::move(f));
  report.files = std::move(files);
  return report;
}

}  // namespace mlasim
