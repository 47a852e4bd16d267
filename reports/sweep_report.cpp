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
#include "reports/pivot.hpp"
#include "reports/table_writers.hpp"
#include "sim/device/attention_kernel_model.hpp"
#include "sim/device/device_model.hpp"
#include "sim/error.hpp"

namespace mlasim {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Beyond this many batch sizes (or s_q values) a group shows three: the smallest, a middle one, the largest.
constexpr std::size_t kMaxShown = 3;
// Beyond this many (model, GPU, TP, DP-attention) groups only the first are charted; the tables have all.
constexpr std::size_t kMaxOuterGroups = 16;

std::vector<Column> sweep_columns() {
  return {
      {"model", "model card name"},
      {"variant", "attention variant requested (native = the card's own)"},
      {"attention", "attention kind evaluated: mha, gqa, mqa, mla"},
      {"hardware", "GPU profile id"},
      {"tp", "tensor-parallel degree"},
      {"dp_attention", "attention data-parallel over the TP ranks (true) or head-split (false)"},
      {"batch", "sequences in the step"},
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

Table sweep_table(const SweepSpec& spec, const std::vector<SweepPoint>& points) {
  Table table(sweep_columns());
  table.reserve(points.size());
  const std::string weights_dtype(to_string(spec.precision.weights));
  const std::string kv_dtype(to_string(spec.precision.kv_cache));
  const std::string mla_mode(to_string(spec.mla_mode));
  const std::string device_mode(to_string(spec.device_mode));
  const std::string launch(to_string(spec.launch));
  std::vector<std::string> variants;
  for (const VariantSpec& v : spec.variants) variants.push_back(v.to_string());
  for (const SweepPoint& p : points) {
    table.add_row({spec.models.at(p.model).name,
                   variants.at(p.variant),
                   std::string(to_string(p.attention)),
                   spec.hardware.at(p.hardware).id,
                   std::int64_t{p.tp},
                   std::string(p.dp_attention ? "true" : "false"),
                   std::int64_t{p.batch},
                   p.context,
                   std::int64_t{p.s_q},
                   weights_dtype,
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

std::string sweep_summary_markdown(const SweepSpec& spec, const Table& table) {
  std::string md = fmt::format(
      "# Sweep: {}\n\nConfig: `{}`. {} points; device mode {}, weights {}, KV cache {}.\n"
      "One table per model, GPU, TP, DP-attention, batch and s_q; columns are attention variants.\n\n",
      spec.name, spec.source, table.rows().size(), to_string(spec.device_mode),
      to_string(spec.precision.weights), to_string(spec.precision.kv_cache));
  const std::vector<std::string> groups{"model", "hardware", "tp", "dp_attention", "batch", "s_q"};
  md +=
      "## Status (ok; batch-exceeds-capacity: fewer sequences fit than the batch; does-not-fit: not even "
      "one)\n\n" +
      pivot_to_markdown(table, {{"model", "hardware", "tp", "dp_attention", "batch"},
                                "context",
                                "variant",
                                "status",
                                1.0,
                                "status",
                                4});
  md += "## Step time (ms)\n\n" +
        pivot_to_markdown(table, {groups, "context", "variant", "step_time_s", 1e3, "step time (ms)", 4});
  md += "## Output tokens/s per GPU\n\n" +
        pivot_to_markdown(table,
                          {groups, "context", "variant", "tokens_per_s_per_gpu", 1.0, "tokens/s per GPU", 4});
  md += "## Max concurrency (sequences that fit in the KV cache)\n\n" +
        pivot_to_markdown(table, {{"model", "hardware", "tp", "dp_attention"},
                                  "context",
                                  "variant",
                                  "max_concurrency",
                                  1.0,
                                  "max concurrency",
                                  6});
  md += "## KV cache per token, whole model (bytes)\n\n" +
        pivot_to_markdown(table,
                          {{"model"}, "hardware", "variant", "kv_bytes_per_token", 1.0, "KV bytes/token", 9});
  return md;
}

namespace {

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

std::string list_text(const std::vector<std::int64_t>& v) {
  return fmt::format("{}", fmt::join(v, ", "));
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

// A (model, GPU, TP, DP-attention) combination: positions in the spec's lists.
struct OuterGroup {
  std::size_t model = 0, hardware = 0, tp = 0, dp = 0;
};

// One chart, planned: its files and its caption; the SVG comes later (or not at all).
struct PlannedChart {
  std::string name, caption, dat, gp;
};

class ReportBuilder {
 public:
  ReportBuilder(const SweepSpec& spec, const std::vector<SweepPoint>& points) : spec_(spec), points_(points) {
    if (points.size() != sweep_size(spec)) {
      throw InternalError(
          fmt::format("sweep report: {} points for a grid of {}", points.size(), sweep_size(spec)));
    }
    for (std::size_t m = 0; m < spec.models.size(); ++m) {
      for (std::size_t h = 0; h < spec.hardware.size(); ++h) {
        for (std::size_t t = 0; t < spec.tp.size(); ++t) {
          for (std::size_t d = 0; d < spec.dp_attention.size(); ++d) groups_.push_back({m, h, t, d});
        }
      }
    }
    for (std::size_t v = 0; v < spec.variants.size(); ++v)
      variant_names_.push_back(spec.variants[v].to_string());
    batches_ = sorted_axis(spec.batch);
    s_qs_ = sorted_axis(spec.s_q);
    contexts_ = sorted_axis(spec.context);
    for (const auto& [c, i] : contexts_) {
      context_values_.push_back(static_cast<double>(c));
      context_ticks_.emplace_back(static_cast<double>(c), context_tick(static_cast<double>(c)));
    }
  }

  SweepReport build(const std::string& summary_markdown, bool charts) {
    HtmlPage page(fmt::format("mlasim sweep: {}", spec_.name));
    page.add_heading(1, fmt::format("Sweep: {}", spec_.name));
    page.add_facts(header_facts());

    // Plan every chart first, so that one gnuplot pass renders them all and the page knows what it got.
    std::vector<std::vector<std::size_t>> outer_charts;
    std::vector<std::vector<std::vector<std::size_t>>> inner_charts;
    const std::size_t n_outer = std::min(groups_.size(), kMaxOuterGroups);
    if (charts) {
      for (std::size_t gi = 0; gi < n_outer; ++gi) {
        outer_charts.push_back(plan_capacity_charts(groups_[gi]));
        inner_charts.emplace_back();
        for (const std::size_t batch : shown_subset_positions(batches_)) {
          for (const std::size_t s_q : shown_subset_positions(s_qs_)) {
            inner_charts.back().push_back(plan_step_charts(groups_[gi], batch, s_q));
          }
        }
      }
    }

    SweepReport report;
    std::vector<std::string> svgs(planned_.size());
    if (!charts) {
      report.note = "charts not drawn (--no-charts)";
    } else if (const std::optional<std::filesystem::path> gnuplot = find_gnuplot(); !gnuplot) {
      const char* env = std::getenv("MLASIM_GNUPLOT");
      report.note =
          env != nullptr && std::string(env) == "none"
              ? "charts not rendered: MLASIM_GNUPLOT=none (run the scripts in charts/ with gnuplot)"
              : "charts not rendered: gnuplot not found (install gnuplot-nox, or run the scripts in "
                "charts/)";
    } else {
      std::vector<GnuplotJob> jobs;
      std::vector<std::size_t> drawn;
      for (std::size_t i = 0; i < planned_.size(); ++i) {
        const PlannedChart& c = planned_[i];
        if (c.name.empty()) continue;
        jobs.push_back({c.name + ".gp", c.gp, {{c.name + ".dat", c.dat}}, c.name + ".svg"});
        drawn.push_back(i);
      }
      std::vector<std::string> rendered = run_gnuplot(*gnuplot, jobs);
      for (std::size_t k = 0; k < drawn.size(); ++k) svgs[drawn[k]] = std::move(rendered[k]);
    }
    for (const PlannedChart& c : planned_) {
      if (c.name.empty()) continue;
      report.files.emplace_back("charts/" + c.name + ".dat", c.dat);
      report.files.emplace_back("charts/" + c.name + ".gp", c.gp);
    }

    if (!report.note.empty()) page.add_note(report.note);
    page.add_paragraph(
        "Lines: one per attention variant, versus tokens of context per sequence. Filled markers: status ok; "
        "hollow markers: the batch does not fit in the KV cache at that context (batch-exceeds-capacity or "
        "does-not-fit) - the step is costed anyway. Points whose status is invalid are left out and listed. "
        "Every chart's data and gnuplot script are in charts/.");
    if (groups_.size() > n_outer) {
      page.add_note(
          fmt::format("Charts for the first {} of {} (model, GPU, TP, DP-attention) groups; the tables "
                      "below and sweep.csv have every point.",
                      n_outer, groups_.size()));
    }

    if (charts) {
      page.add_heading(2, "Charts", "charts");
      std::vector<std::pair<std::string, std::string>> links;
      for (std::size_t gi = 0; gi < n_outer; ++gi) links.emplace_back(describe(groups_[gi]), anchor(gi));
      links.emplace_back("Tables", "tables");
      page.add_links(links);
      const std::vector<std::int64_t> all_batches = values(batches_), all_s_qs = values(s_qs_);
      const std::vector<std::int64_t> batches = shown_subset(all_batches), s_qs = shown_subset(all_s_qs);
      for (std::size_t gi = 0; gi < n_outer; ++gi) {
        const OuterGroup& g = groups_[gi];
        page.add_heading(2, describe(g), anchor(gi));
        if (batches.size() < all_batches.size()) {
          page.add_note(
              fmt::format("Showing batch {} of the {} batch sizes swept ({}): the smallest, a middle "
                          "and the largest.",
                          list_text(batches), all_batches.size(), list_text(all_batches)));
        }
        if (s_qs.size() < all_s_qs.size()) {
          page.add_note(fmt::format("Showing s_q {} of {} values swept ({}).", list_text(s_qs),
                                    all_s_qs.size(), list_text(all_s_qs)));
        }
        for (const std::string& n : invalid_notes(g)) page.add_note(n);
        page.add_figures(figures(outer_charts[gi], svgs));
        std::size_t k = 0;
        for (const std::int64_t batch : batches) {
          for (const std::int64_t s_q : s_qs) {
            page.add_heading(3, fmt::format("batch {}, s_q {}", batch, s_q));
            page.add_figures(figures(inner_charts[gi][k++], svgs));
          }
        }
      }
    }

    page.add_heading(2, "Tables", "tables");
    // summary.md's tables; its title block repeats the header above.
    const std::size_t first_section = summary_markdown.find("\n## ");
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

  // Positions in the spec's list of the values shown_subset keeps.
  static std::vector<std::size_t> shown_subset_positions(const Axis1& axis) {
    std::vector<std::size_t> out;
    for (const std::int64_t v : shown_subset(values(axis))) {
      for (const auto& [value, i] : axis) {
        if (value == v) out.push_back(i);
      }
    }
    return out;
  }

  const SweepPoint& at(const OuterGroup& g, std::size_t variant, std::size_t batch, std::size_t context,
                       std::size_t s_q) const {
    return points_[sweep_index(spec_, g.model, variant, g.hardware, g.tp, g.dp, batch, context, s_q)];
  }

  static bool is_ok(const SweepPoint& p) { return p.status == PointStatus::kOk; }
  static bool is_invalid(const SweepPoint& p) { return p.status == PointStatus::kInvalid; }

  const HardwareSpec& hardware(const OuterGroup& g) const { return spec_.hardware[g.hardware]; }
  int tp(const OuterGroup& g) const { return spec_.tp[g.tp]; }
  bool dp(const OuterGroup& g) const { return spec_.dp_attention[g.dp]; }

  std::string describe(const OuterGroup& g) const {
    return fmt::format("{} on {} x{}, TP {}, DP-attention {}", spec_.models[g.model].name, hardware(g).name,
                       tp(g), tp(g), dp(g) ? "on" : "off");
  }

  static std::string anchor(std::size_t group_index) { return fmt::format("group-{}", group_index + 1); }

  std::string stem(const OuterGroup& g) const {
    return file_stem(
        fmt::format("{}_{}_tp{}_dp{}", spec_.models[g.model].name, hardware(g).id, tp(g), dp(g) ? 1 : 0));
  }

  std::vector<std::pair<std::string, std::string>> header_facts() const {
    std::map<std::string, std::size_t> by_status;
    for (const SweepPoint& p : points_) ++by_status[std::string(to_string(p.status))];
    std::vector<std::string> counts;
    for (const auto& [status, n] : by_status) counts.push_back(fmt::format("{} {}", n, status));
    std::vector<std::string> hw;
    for (const HardwareSpec& h : spec_.hardware) hw.push_back(fmt::format("{} ({})", h.name, h.id));
    std::vector<std::string> models;
    for (const ModelSpec& m : spec_.models) models.push_back(m.name);
    std::vector<std::string> dp;
    for (const bool d : spec_.dp_attention) dp.emplace_back(d ? "on" : "off");
    return {
        {"config", spec_.source},
        {"points", fmt::format("{} ({})", points_.size(), fmt::join(counts, ", "))},
        {"device mode", std::string(to_string(spec_.device_mode))},
        {"precision",
         fmt::format("weights {}, KV cache {}, activations {}", to_string(spec_.precision.weights),
                     to_string(spec_.precision.kv_cache), to_string(spec_.precision.activations))},
        {"MLA mode", std::string(to_string(spec_.mla_mode))},
        {"models", fmt::format("{}", fmt::join(models, ", "))},
        {"variants", fmt::format("{}", fmt::join(variant_names_, ", "))},
        {"hardware", fmt::format("{}", fmt::join(hw, ", "))},
        {"TP", fmt::format("{}", fmt::join(spec_.tp, ", "))},
        {"DP-attention", fmt::format("{}", fmt::join(dp, ", "))},
        {"batch", fmt::format("{}", fmt::join(spec_.batch, ", "))},
        {"context", fmt::format("{} values, {} to {} tokens", spec_.context.size(),
                                context_tick(static_cast<double>(spec_.context.front())),
                                context_tick(static_cast<double>(spec_.context.back())))},
        {"s_q", fmt::format("{}", fmt::join(spec_.s_q, ", "))},
    };
  }

  // One note per variant and reason of the group's invalid points, in the spec's order.
  std::vector<std::string> invalid_notes(const OuterGroup& g) const {
    std::set<std::string> seen;
    std::vector<std::string> notes;
    for (std::size_t v = 0; v < spec_.variants.size(); ++v) {
      for (std::size_t b = 0; b < spec_.batch.size(); ++b) {
        for (std::size_t c = 0; c < spec_.context.size(); ++c) {
          for (std::size_t s = 0; s < spec_.s_q.size(); ++s) {
            const SweepPoint& p = at(g, v, b, c, s);
            if (!is_invalid(p)) continue;
            const std::string note =
                fmt::format("No points for variant {}: {}", variant_names_[v], p.status_text());
            if (seen.insert(note).second) notes.push_back(note);
          }
        }
      }
    }
    return notes;
  }

  // Registers a chart; returns its index in planned_. A chart with nothing to draw (gnuplot would refuse it)
  // gets no files, only a caption saying so.
  template <class Chart>
  std::size_t plan(Chart chart, const std::string& caption) {
    if (!has_drawable_points(chart)) {
      planned_.push_back(
          {"", fmt::format("{}: not drawn, no point to plot. {}", chart.title, caption), "", ""});
      return planned_.size() - 1;
    }
    std::string name = chart.name;
    for (int n = 2; !names_.insert(name).second; ++n) name = fmt::format("{}-{}", chart.name, n);
    chart.name = name;
    planned_.push_back({name,
                        fmt::format("{} Data: charts/{}.dat, script: charts/{}.gp.", caption, name, name),
                        to_dat(chart), to_gnuplot(chart, name + ".dat")});
    return planned_.size() - 1;
  }

  LineChart versus_context(const std::string& name, const std::string& title, const std::string& y_label,
                           bool log_y) const {
    LineChart c;
    c.name = name;
    c.title = title;
    c.x = Axis{"context (tokens per sequence)", true, 2, context_ticks_, {}};
    c.y = Axis{y_label, log_y, 10, {}, {}};
    c.x_values = context_values_;
    return c;
  }

  // One series per variant: value(point) at each context; invalid points NaN, not-ok ones flagged.
  template <class Value>
  void add_variant_series(LineChart& chart, const OuterGroup& g, std::size_t batch, std::size_t s_q,
                          Value value, bool flags, bool dashed = false,
                          const std::string& suffix = "") const {
    for (std::size_t v = 0; v < variant_names_.size(); ++v) {
      Series s;
      s.title = variant_names_[v] + suffix;
      s.color = static_cast<int>(v);
      s.dashed = dashed;
      for (const auto& [context, c] : contexts_) {
        const SweepPoint& p = at(g, v, batch, c, s_q);
        const bool usable = !is_invalid(p);
        s.y.push_back(usable ? value(p) : kNaN);
        if (flags) s.flagged.push_back(usable && !is_ok(p));
      }
      chart.series.push_back(std::move(s));
    }
  }

  std::vector<std::size_t> plan_capacity_charts(const OuterGroup& g) {
    // Capacity does not depend on the batch: read it at the group's smallest batch and s_q.
    const std::size_t batch = batches_.front().second, s_q = s_qs_.front().second;
    const std::string what = describe(g);
    std::vector<std::size_t> out;
    LineChart conc = versus_context(stem(g) + "_max_concurrency", "max concurrency, " + what,
                                    "sequences that fit in the KV cache", true);
    add_variant_series(
        conc, g, batch, s_q, [](const SweepPoint& p) { return static_cast<double>(p.max_concurrency); },
        false);
    out.push_back(plan(conc,
                       "Max concurrency: sequences of that context whose KV cache fits beside the weights "
                       "(log scale; no point where not one fits)."));
    LineChart kv = versus_context(stem(g) + "_kv_bytes_per_token_per_gpu",
                                  "KV cache per token per GPU, " + what, "KV bytes per token per GPU", true);
    add_variant_series(
        kv, g, batch, s_q, [](const SweepPoint& p) { return p.kv_bytes_per_token_per_gpu; }, false);
    out.push_back(plan(kv, "KV cache bytes per token held by one GPU, all layers (log scale)."));
    return out;
  }

  std::vector<std::size_t> plan_step_charts(const OuterGroup& g, std::size_t batch_pos, std::size_t s_q_pos) {
    const int batch = spec_.batch[batch_pos], s_q = spec_.s_q[s_q_pos];
    const std::string what = fmt::format("{}, batch {}, s_q {}", describe(g), batch, s_q);
    const std::string base = fmt::format("{}_b{}_sq{}", stem(g), batch, s_q);
    const auto ms = [](double s) { return s > 0.0 ? s * 1e3 : kNaN; };
    std::vector<std::size_t> out;

    // Log y: MHA at long context would flatten every other line on a linear axis.
    LineChart step =
        versus_context(base + "_step_time", "step time, " + what, "time per decode step (ms)", true);
    step.y.format = "%g";
    add_variant_series(
        step, g, batch_pos, s_q_pos, [&](const SweepPoint& p) { return ms(p.step_time_s); }, true);
    add_variant_series(
        step, g, batch_pos, s_q_pos, [&](const SweepPoint& p) { return ms(p.attention_s); }, true, true,
        " attention");
    out.push_back(
        plan(step, "Step time (solid) and the part spent in attention cores (dashed), ms, log scale."));

    LineChart tps = versus_context(base + "_tokens_per_s_per_gpu", "output tokens/s per GPU, " + what,
                                   "output tokens/s per GPU", true);
    add_variant_series(
        tps, g, batch_pos, s_q_pos,
        [](const SweepPoint& p) { return p.tokens_per_s_per_gpu > 0.0 ? p.tokens_per_s_per_gpu : kNaN; },
        true);
    out.push_back(plan(tps, "Output tokens/s per GPU (log scale)."));

    std::string roofline_caption =
        "Attention cores on the roofline: one point per variant and context, achieved FLOP/s = "
        "attention FLOPs / attention time, intensity = attention FLOPs / attention HBM bytes. "
        "Dashed: datasheet ceilings; solid: the ceilings the model uses in this device mode.";
    if (shows_measured(hardware(g))) {
      roofline_caption +=
          " Measured: our decode kernels' calibration tables, one point per measured (batch, context) "
          "node of each uniform-length shape (FLOPs and bytes of one call over its median time); the "
          "solid measured ceiling is the copy probe's BW∞ under the best bf16 GEMM rate.";
    }
    out.push_back(plan(roofline(g, batch_pos, s_q_pos, base, what), roofline_caption));

    // Where the time goes, one stacked chart per variant.
    for (std::size_t v = 0; v < variant_names_.size(); ++v) {
      LineChart split = versus_context(base + "_step_split_" + file_stem(variant_names_[v]),
                                       "step time by op class, " + variant_names_[v] + ", " + what,
                                       "time per decode step (ms)", false);
      split.style = ChartStyle::kStackedArea;
      const std::pair<const char*, double SweepPoint::*> parts[] = {
          {"attention", &SweepPoint::attention_s},
          {"GEMM", &SweepPoint::gemm_s},
          {"communication", &SweepPoint::communication_s},
          {"other", &SweepPoint::other_s}};
      bool any_not_ok = false;
      for (std::size_t k = 0; k < std::size(parts); ++k) {
        Series s;
        s.title = parts[k].first;
        s.color = static_cast<int>(k);
        for (const auto& [context, c] : contexts_) {
          const SweepPoint& p = at(g, v, batch_pos, c, s_q_pos);
          const bool usable = !is_invalid(p);
          s.y.push_back(usable ? p.*parts[k].second * 1e3 : kNaN);
          any_not_ok = any_not_ok || (usable && !is_ok(p));
        }
        split.series.push_back(std::move(s));
      }
      out.push_back(
          plan(split, fmt::format("Step time of {} split by op class, stacked (ms).{}", variant_names_[v],
                                  any_not_ok ? " Some contexts do not fit the batch: see the step-time "
                                               "chart's hollow markers."
                                             : "")));
    }
    return out;
  }

  Roofline roofline(const OuterGroup& g, std::size_t batch, std::size_t s_q, const std::string& base,
                    const std::string& what) const {
    Roofline r;
    r.name = base + "_roofline";
    r.title = "attention roofline, " + what;
    const HardwareSpec& hw = hardware(g);
    const Dtype math = spec_.precision.kv_cache;  // attention runs in the KV cache's dtype (device_model.cpp)
    const DeviceModel device(hw, spec_.device_mode);
    r.ceilings.push_back({fmt::format("{} datasheet ({})", hw.name, to_string(math)), hw.peak_flops(math),
                          hw.hbm_bandwidth_bytes_per_s, true, 0});
    r.ceilings.push_back(
        {fmt::format("{} model ceiling ({})", hw.name,
                     spec_.device_mode == DeviceMode::kCalibrated ? "calibrated" : "datasheet x efficiency"),
         device.compute_flops_per_s(math), device.memory_bandwidth_bytes_per_s(), false, 0});
    for (std::size_t v = 0; v < variant_names_.size(); ++v) {
      RooflineSeries s;
      s.title = variant_names_[v];
      s.color = static_cast<int>(v);
      for (const auto& [context, c] : contexts_) {
        const SweepPoint& p = at(g, v, batch, c, s_q);
        if (is_invalid(p)) continue;
        s.intensity_flop_per_byte.push_back(p.attention_bytes > 0.0 ? p.attention_flops / p.attention_bytes
                                                                    : kNaN);
        s.achieved_flops_per_s.push_back(p.attention_s > 0.0 ? p.attention_flops / p.attention_s : kNaN);
        s.flagged.push_back(!is_ok(p));
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
      Ceiling measured{fmt::format("{} measured (copy BW∞, bf16 GEMM)", hw.name), peak->second,
                       ramp->bw_inf_bytes_per_s, false, 0};
      const auto same = std::find_if(r.ceilings.begin(), r.ceilings.end(), [&](const Ceiling& c) {
        return !c.dashed && c.peak_flops_per_s == measured.peak_flops_per_s &&
               c.bandwidth_bytes_per_s == measured.bandwidth_bytes_per_s;
      });
      if (same != r.ceilings.end()) {
        measured.label = fmt::format("{} measured = model ceiling", hw.name);
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
    for (const std::size_t i : charts) out.push_back({svgs[i], planned_[i].caption});
    return out;
  }

  const SweepSpec& spec_;
  const std::vector<SweepPoint>& points_;
  std::vector<OuterGroup> groups_;
  std::vector<std::string> variant_names_;  // in the spec's order: colour k is variant k on every chart
  Axis1 batches_, s_qs_, contexts_;         // sorted values, each with its position in the spec's list
  std::vector<double> context_values_;
  std::vector<std::pair<double, std::string>> context_ticks_;
  std::vector<PlannedChart> planned_;
  std::set<std::string> names_;
};

}  // namespace

SweepReport build_sweep_report(const SweepSpec& spec, const std::vector<SweepPoint>& points, bool charts) {
  const Table table = sweep_table(spec, points);
  SweepReport report;
  report.summary_markdown = sweep_summary_markdown(spec, table);
  ReportBuilder builder(spec, points);
  SweepReport page = builder.build(report.summary_markdown, charts);
  report.note = std::move(page.note);
  report.files.emplace_back("sweep.csv", table_to_csv(table));
  report.files.emplace_back("sweep.json", table_to_json(table));
  report.files.emplace_back("summary.md", report.summary_markdown);
  for (auto& f : page.files) report.files.push_back(std::move(f));
  return report;
}

}  // namespace mlasim
