#include "cli/sweep_report.hpp"

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
#include "sim/device/attention_kernel_model.hpp"
#include "sim/device/device_model.hpp"
#include "sim/error.hpp"

namespace mlasim::cli {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Beyond this many batch sizes (or s_q values) a group shows three: the smallest, a middle one, the largest.
constexpr std::size_t kMaxShown = 3;
// Beyond this many (model, GPU, TP, DP-attention) groups only the first are charted; the tables have all.
constexpr std::size_t kMaxOuterGroups = 16;

std::string text_of(const Cell& c) {
  if (const auto* i = std::get_if<std::int64_t>(&c)) return fmt::format("{}", *i);
  if (const auto* d = std::get_if<double>(&c)) return fmt::format("{}", *d);
  return std::get<std::string>(c);
}

double number_of(const Cell& c) {
  if (const auto* i = std::get_if<std::int64_t>(&c)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&c)) return *d;
  return kNaN;
}

// The sweep table's columns the report reads (sim/sweep/sweep.cpp names them).
struct Columns {
  explicit Columns(const Table& t)
      : model(t.column_index("model")),
        variant(t.column_index("variant")),
        hardware(t.column_index("hardware")),
        tp(t.column_index("tp")),
        dp(t.column_index("dp_attention")),
        batch(t.column_index("batch")),
        context(t.column_index("context")),
        s_q(t.column_index("s_q")),
        status(t.column_index("status")),
        step(t.column_index("step_time_s")),
        attention(t.column_index("attention_s")),
        gemm(t.column_index("gemm_s")),
        communication(t.column_index("communication_s")),
        other(t.column_index("other_s")),
        tokens_per_gpu(t.column_index("tokens_per_s_per_gpu")),
        concurrency(t.column_index("max_concurrency")),
        kv_per_gpu(t.column_index("kv_bytes_per_token_per_gpu")),
        attention_flops(t.column_index("attention_flops")),
        attention_bytes(t.column_index("attention_bytes")) {}
  std::size_t model, variant, hardware, tp, dp, batch, context, s_q, status, step, attention, gemm,
      communication, other, tokens_per_gpu, concurrency, kv_per_gpu, attention_flops, attention_bytes;
};

using Row = std::vector<Cell>;

// A (model, GPU, TP, DP-attention) combination, with the batches and s_q values it was run at.
struct OuterGroup {
  std::string key, model, hardware;
  std::int64_t tp = 0;
  bool dp = false;
  std::vector<std::int64_t> batches, s_qs;  // sorted
};

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

// One chart, planned: its files and its caption; the SVG comes later (or not at all).
struct PlannedChart {
  std::string name, caption, dat, gp;
};

class ReportBuilder {
 public:
  ReportBuilder(const SweepSpec& spec, const Table& table) : spec_(spec), table_(table), col_(table) {
    for (std::size_t r = 0; r < table.rows().size(); ++r) index_row(r);
    for (OuterGroup& g : groups_) {
      std::sort(g.batches.begin(), g.batches.end());
      std::sort(g.s_qs.begin(), g.s_qs.end());
    }
    std::sort(contexts_.begin(), contexts_.end());
    for (const double c : contexts_) context_ticks_.emplace_back(c, context_tick(c));
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
        for (const std::int64_t batch : shown_subset(groups_[gi].batches)) {
          for (const std::int64_t s_q : shown_subset(groups_[gi].s_qs)) {
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
      for (std::size_t gi = 0; gi < n_outer; ++gi) {
        const OuterGroup& g = groups_[gi];
        page.add_heading(2, describe(g), anchor(gi));
        const std::vector<std::int64_t> batches = shown_subset(g.batches), s_qs = shown_subset(g.s_qs);
        if (batches.size() < g.batches.size()) {
          page.add_note(
              fmt::format("Showing batch {} of the {} batch sizes swept ({}): the smallest, a middle "
                          "and the largest.",
                          list_text(batches), g.batches.size(), list_text(g.batches)));
        }
        if (s_qs.size() < g.s_qs.size()) {
          page.add_note(fmt::format("Showing s_q {} of {} values swept ({}).", list_text(s_qs), g.s_qs.size(),
                                    list_text(g.s_qs)));
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
  void index_row(std::size_t r) {
    const Row& row = table_.rows()[r];
    const std::string outer =
        fmt::format("{}\x1f{}\x1f{}\x1f{}", text_of(row[col_.model]), text_of(row[col_.hardware]),
                    text_of(row[col_.tp]), text_of(row[col_.dp]));
    auto it =
        std::find_if(groups_.begin(), groups_.end(), [&](const OuterGroup& g) { return g.key == outer; });
    if (it == groups_.end()) {
      OuterGroup g;
      g.key = outer;
      g.model = text_of(row[col_.model]);
      g.hardware = text_of(row[col_.hardware]);
      g.tp = static_cast<std::int64_t>(number_of(row[col_.tp]));
      g.dp = text_of(row[col_.dp]) == "true";
      groups_.push_back(g);
      it = groups_.end() - 1;
    }
    const auto batch = static_cast<std::int64_t>(number_of(row[col_.batch]));
    const auto s_q = static_cast<std::int64_t>(number_of(row[col_.s_q]));
    if (std::find(it->batches.begin(), it->batches.end(), batch) == it->batches.end())
      it->batches.push_back(batch);
    if (std::find(it->s_qs.begin(), it->s_qs.end(), s_q) == it->s_qs.end()) it->s_qs.push_back(s_q);
    const std::string variant = text_of(row[col_.variant]);
    if (std::find(variants_.begin(), variants_.end(), variant) == variants_.end())
      variants_.push_back(variant);
    const double context = number_of(row[col_.context]);
    if (std::find(contexts_.begin(), contexts_.end(), context) == contexts_.end())
      contexts_.push_back(context);
    rows_.emplace(point_key(outer, batch, s_q, variant, context), r);
  }

  static std::string point_key(const std::string& outer, std::int64_t batch, std::int64_t s_q,
                               const std::string& variant, double context) {
    return fmt::format("{}\x1f{}\x1f{}\x1f{}\x1f{}", outer, batch, s_q, variant, context);
  }

  const Row* find(const OuterGroup& g, std::int64_t batch, std::int64_t s_q, const std::string& variant,
                  double context) const {
    auto it = rows_.find(point_key(g.key, batch, s_q, variant, context));
    return it == rows_.end() ? nullptr : &table_.rows()[it->second];
  }

  bool is_ok(const Row& row) const { return std::get<std::string>(row[col_.status]) == "ok"; }
  bool is_invalid(const Row& row) const {
    return std::get<std::string>(row[col_.status]).rfind("invalid", 0) == 0;
  }

  const HardwareSpec* hardware(const std::string& id) const {
    for (const HardwareSpec& hw : spec_.hardware) {
      if (hw.id == id) return &hw;
    }
    return nullptr;
  }

  std::string describe(const OuterGroup& g) const {
    const HardwareSpec* hw = hardware(g.hardware);
    return fmt::format("{} on {} x{}, TP {}, DP-attention {}", g.model, hw != nullptr ? hw->name : g.hardware,
                       g.tp, g.tp, g.dp ? "on" : "off");
  }

  static std::string anchor(std::size_t group_index) { return fmt::format("group-{}", group_index + 1); }

  std::string stem(const OuterGroup& g) const {
    return file_stem(fmt::format("{}_{}_tp{}_dp{}", g.model, g.hardware, g.tp, g.dp ? 1 : 0));
  }

  std::vector<std::pair<std::string, std::string>> header_facts() const {
    std::map<std::string, std::size_t> by_status;
    for (const Row& row : table_.rows()) {
      std::string s = std::get<std::string>(row[col_.status]);
      if (s.rfind("invalid", 0) == 0) s = "invalid";
      ++by_status[s];
    }
    std::vector<std::string> counts;
    for (const auto& [status, n] : by_status) counts.push_back(fmt::format("{} {}", n, status));
    std::vector<std::string> hw;
    for (const HardwareSpec& h : spec_.hardware) hw.push_back(fmt::format("{} ({})", h.name, h.id));
    std::vector<std::string> variants;
    for (const VariantSpec& v : spec_.variants) variants.push_back(v.to_string());
    std::vector<std::string> models;
    for (const ModelSpec& m : spec_.models) models.push_back(m.name);
    std::vector<std::string> dp;
    for (const bool d : spec_.dp_attention) dp.emplace_back(d ? "on" : "off");
    return {
        {"config", spec_.source},
        {"points", fmt::format("{} ({})", table_.rows().size(), fmt::join(counts, ", "))},
        {"device mode", std::string(to_string(spec_.device_mode))},
        {"precision",
         fmt::format("weights {}, KV cache {}, activations {}", to_string(spec_.precision.weights),
                     to_string(spec_.precision.kv_cache), to_string(spec_.precision.activations))},
        {"MLA mode", std::string(to_string(spec_.mla_mode))},
        {"models", fmt::format("{}", fmt::join(models, ", "))},
        {"variants", fmt::format("{}", fmt::join(variants, ", "))},
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

  std::vector<std::string> invalid_notes(const OuterGroup& g) const {
    std::set<std::string> seen;
    std::vector<std::string> notes;
    for (const auto& [key, r] : rows_) {
      const Row& row = table_.rows()[r];
      if (key.rfind(g.key + "\x1f", 0) != 0 || !is_invalid(row)) continue;
      const std::string note = fmt::format("No points for variant {}: {}", text_of(row[col_.variant]),
                                           std::get<std::string>(row[col_.status]));
      if (seen.insert(note).second) notes.push_back(note);
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
    c.x_values = contexts_;
    return c;
  }

  // One series per variant: value(row) at each context; invalid or missing points NaN, not-ok ones flagged.
  template <class Value>
  void add_variant_series(LineChart& chart, const OuterGroup& g, std::int64_t batch, std::int64_t s_q,
                          Value value, bool flags, bool dashed = false,
                          const std::string& suffix = "") const {
    for (std::size_t v = 0; v < variants_.size(); ++v) {
      Series s;
      s.title = variants_[v] + suffix;
      s.color = static_cast<int>(v);
      s.dashed = dashed;
      for (const double context : contexts_) {
        const Row* row = find(g, batch, s_q, variants_[v], context);
        const bool usable = row != nullptr && !is_invalid(*row);
        s.y.push_back(usable ? value(*row) : kNaN);
        if (flags) s.flagged.push_back(usable && !is_ok(*row));
      }
      chart.series.push_back(std::move(s));
    }
  }

  std::vector<std::size_t> plan_capacity_charts(const OuterGroup& g) {
    // Capacity does not depend on the batch: read it at the group's first batch and s_q.
    const std::int64_t batch = g.batches.front(), s_q = g.s_qs.front();
    const std::string what = describe(g);
    std::vector<std::size_t> out;
    LineChart conc = versus_context(stem(g) + "_max_concurrency", "max concurrency, " + what,
                                    "sequences that fit in the KV cache", true);
    add_variant_series(
        conc, g, batch, s_q, [&](const Row& r) { return number_of(r[col_.concurrency]); }, false);
    out.push_back(plan(conc,
                       "Max concurrency: sequences of that context whose KV cache fits beside the weights "
                       "(log scale; no point where not one fits)."));
    LineChart kv = versus_context(stem(g) + "_kv_bytes_per_token_per_gpu",
                                  "KV cache per token per GPU, " + what, "KV bytes per token per GPU", true);
    add_variant_series(
        kv, g, batch, s_q, [&](const Row& r) { return number_of(r[col_.kv_per_gpu]); }, false);
    out.push_back(plan(kv, "KV cache bytes per token held by one GPU, all layers (log scale)."));
    return out;
  }

  std::vector<std::size_t> plan_step_charts(const OuterGroup& g, std::int64_t batch, std::int64_t s_q) {
    const std::string what = fmt::format("{}, batch {}, s_q {}", describe(g), batch, s_q);
    const std::string base = fmt::format("{}_b{}_sq{}", stem(g), batch, s_q);
    const auto ms = [](double s) { return s > 0.0 ? s * 1e3 : kNaN; };
    std::vector<std::size_t> out;

    // Log y: MHA at long context would flatten every other line on a linear axis.
    LineChart step =
        versus_context(base + "_step_time", "step time, " + what, "time per decode step (ms)", true);
    step.y.format = "%g";
    add_variant_series(
        step, g, batch, s_q, [&](const Row& r) { return ms(number_of(r[col_.step])); }, true);
    add_variant_series(
        step, g, batch, s_q, [&](const Row& r) { return ms(number_of(r[col_.attention])); }, true, true,
        " attention");
    out.push_back(
        plan(step, "Step time (solid) and the part spent in attention cores (dashed), ms, log scale."));

    LineChart tps = versus_context(base + "_tokens_per_s_per_gpu", "output tokens/s per GPU, " + what,
                                   "output tokens/s per GPU", true);
    add_variant_series(
        tps, g, batch, s_q,
        [&](const Row& r) {
          const double v = number_of(r[col_.tokens_per_gpu]);
          return v > 0.0 ? v : kNaN;
        },
        true);
    out.push_back(plan(tps, "Output tokens/s per GPU (log scale)."));

    std::string roofline_caption =
        "Attention cores on the roofline: one point per variant and context, achieved FLOP/s = "
        "attention FLOPs / attention time, intensity = attention FLOPs / attention HBM bytes. "
        "Dashed: datasheet ceilings; solid: the ceilings the model uses in this device mode.";
    if (const HardwareSpec* hw = hardware(g.hardware); hw != nullptr && shows_measured(*hw)) {
      roofline_caption +=
          " Measured: our decode kernels' calibration tables, one point per measured (batch, context) "
          "node of each uniform-length shape (FLOPs and bytes of one call over its median time); the "
          "solid measured ceiling is the copy probe's BW∞ under the best bf16 GEMM rate.";
    }
    out.push_back(plan(roofline(g, batch, s_q, base, what), roofline_caption));

    // Where the time goes, one stacked chart per variant.
    for (std::size_t v = 0; v < variants_.size(); ++v) {
      LineChart split = versus_context(base + "_step_split_" + file_stem(variants_[v]),
                                       "step time by op class, " + variants_[v] + ", " + what,
                                       "time per decode step (ms)", false);
      split.style = ChartStyle::kStackedArea;
      const std::pair<const char*, std::size_t> parts[] = {{"attention", col_.attention},
                                                           {"GEMM", col_.gemm},
                                                           {"communication", col_.communication},
                                                           {"other", col_.other}};
      bool any_not_ok = false;
      for (std::size_t p = 0; p < std::size(parts); ++p) {
        Series s;
        s.title = parts[p].first;
        s.color = static_cast<int>(p);
        for (const double context : contexts_) {
          const Row* row = find(g, batch, s_q, variants_[v], context);
          const bool usable = row != nullptr && !is_invalid(*row);
          s.y.push_back(usable ? number_of((*row)[parts[p].second]) * 1e3 : kNaN);
          any_not_ok = any_not_ok || (usable && !is_ok(*row));
        }
        split.series.push_back(std::move(s));
      }
      out.push_back(
          plan(split, fmt::format("Step time of {} split by op class, stacked (ms).{}", variants_[v],
                                  any_not_ok ? " Some contexts do not fit the batch: see the step-time "
                                               "chart's hollow markers."
                                             : "")));
    }
    return out;
  }

  Roofline roofline(const OuterGroup& g, std::int64_t batch, std::int64_t s_q, const std::string& base,
                    const std::string& what) const {
    Roofline r;
    r.name = base + "_roofline";
    r.title = "attention roofline, " + what;
    if (const HardwareSpec* hw = hardware(g.hardware)) {
      const Dtype math =
          spec_.precision.kv_cache;  // attention runs in the KV cache's dtype (device_model.cpp)
      const DeviceModel device(*hw, spec_.device_mode);
      r.ceilings.push_back({fmt::format("{} datasheet ({})", hw->name, to_string(math)), hw->peak_flops(math),
                            hw->hbm_bandwidth_bytes_per_s, true, 0});
      r.ceilings.push_back(
          {fmt::format(
               "{} model ceiling ({})", hw->name,
               spec_.device_mode == DeviceMode::kCalibrated ? "calibrated" : "datasheet x efficiency"),
           device.compute_flops_per_s(math), device.memory_bandwidth_bytes_per_s(), false, 0});
    }
    for (std::size_t v = 0; v < variants_.size(); ++v) {
      RooflineSeries s;
      s.title = variants_[v];
      s.color = static_cast<int>(v);
      for (const double context : contexts_) {
        const Row* row = find(g, batch, s_q, variants_[v], context);
        if (row == nullptr || is_invalid(*row)) continue;
        const double flops = number_of((*row)[col_.attention_flops]);
        const double bytes = number_of((*row)[col_.attention_bytes]);
        const double seconds = number_of((*row)[col_.attention]);
        s.intensity_flop_per_byte.push_back(bytes > 0.0 ? flops / bytes : kNaN);
        s.achieved_flops_per_s.push_back(seconds > 0.0 ? flops / seconds : kNaN);
        s.flagged.push_back(!is_ok(*row));
      }
      r.series.push_back(std::move(s));
    }
    if (const HardwareSpec* hw = hardware(g.hardware); hw != nullptr && shows_measured(*hw))
      add_measured(*hw, r);
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
    int color = static_cast<int>(variants_.size());
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
  const Table& table_;
  Columns col_;
  std::vector<OuterGroup> groups_;
  std::vector<std::string> variants_;  // in order of appearance: colour k is variant k on every chart
  std::vector<double> contexts_;       // sorted
  std::vector<std::pair<double, std::string>> context_ticks_;
  std::map<std::string, std::size_t> rows_;  // point key -> row index
  std::vector<PlannedChart> planned_;
  std::set<std::string> names_;
};

}  // namespace

SweepReport build_sweep_report(const SweepSpec& spec, const Table& table, const std::string& summary_markdown,
                               bool charts) {
  ReportBuilder builder(spec, table);
  return builder.build(summary_markdown, charts);
}

}  // namespace mlasim::cli
