#include "reports/plan_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "reports/gnuplot.hpp"
#include "reports/json_output.hpp"
#include "reports/serve_report.hpp"
#include "reports/table_display.hpp"
#include "reports/table_writers.hpp"

namespace mlasim {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kMs = 1e3;

/// The rank (1 = cheapest) of each layout that meets the SLOs; 0 for the others.
std::vector<std::int64_t> ranks(const PlanResult& r) {
  std::vector<std::int64_t> out(r.layouts.size(), 0);
  for (std::size_t k = 0; k < r.ranking.size(); ++k) out[r.ranking[k]] = static_cast<std::int64_t>(k + 1);
  return out;
}

double p99_of(const std::optional<ServeSummary>& s, SloMetric m) {
  if (!s) return kNaN;
  return m == SloMetric::kTtft ? s->ttft.p99_s : s->tpot.p99_s;
}

std::string money(double usd) {
  return std::isnan(usd) ? "—" : fmt::format("{:.2f} USD", usd);
}
std::string money4(double usd) {
  return std::isnan(usd) ? "—" : readable_number(usd) + " USD";
}
std::string seconds_text(double s) {
  if (std::isnan(s)) return "—";
  return s < 1.0 ? readable_number(s * kMs) + " ms" : readable_number(s) + " s";
}

/// The layout in few words, naming only the dimensions the plan varies (and always the GPU and TP): chart
/// keys.
std::string short_label(const PlanSpec& spec, const PlanLayout& l) {
  std::string out;
  const auto add = [&out](const std::string& part) { out += (out.empty() ? "" : " ") + part; };
  if (spec.models.size() > 1) add(l.model);
  if (spec.variants.size() > 1) add(l.variant);
  add(l.gpu.hw.id);
  add(fmt::format("TP{}", l.tp));
  if (spec.dp_attention.size() > 1) add(l.dp_attention ? "DP-attn" : "no-DP");
  if (spec.weights.size() > 1) add(fmt::format("w:{}", to_string(l.precision.weights)));
  if (spec.kv_cache.size() > 1) add(fmt::format("kv:{}", to_string(l.precision.kv_cache)));
  if (spec.max_num_seqs.size() > 1) add(fmt::format("{}seq", l.max_num_seqs));
  if (spec.max_num_batched_tokens.size() > 1) add(fmt::format("{}tok", l.max_num_batched_tokens));
  if (spec.policies.size() > 1) add(std::string(to_string(l.policy)));
  return out;
}

std::string slo_list(const SloSpec& slo) {
  std::vector<std::string> parts;
  for (const PercentileSlo& p : slo.percentiles) {
    std::string metric(to_string(p.metric));
    for (char& c : metric) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    parts.push_back(
        fmt::format("{} p{} ≤ {}", metric, p.percentile, seconds_text(ps_to_seconds(p.target_ps))));
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

std::string workload_text(const PlanSpec& spec, const PlanResult& r) {
  const WorkloadSpec& w = spec.base.workload;
  if (w.arrival == ArrivalKind::kTrace) {
    return fmt::format("trace {} ({} requests, {} req/s on average)", w.trace_source, w.trace.size(),
                       readable_number(r.target_rate_per_s));
  }
  return fmt::format("Poisson {} req/s; prompts {}, outputs {}", readable_number(r.target_rate_per_s),
                     w.prompt.describe(), w.output.describe());
}

std::size_t count_status(const PlanResult& r, LayoutStatus s) {
  return static_cast<std::size_t>(std::count_if(r.layouts.begin(), r.layouts.end(),
                                                [s](const LayoutOutcome& o) { return o.status == s; }));
}

/// The headline's lines, trimmed, for a page (one paragraph or banner item each).
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    std::string line = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    const std::size_t first = line.find_first_not_of(' ');
    if (first != std::string::npos) out.push_back(line.substr(first));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

/// The cheapest deployments for reading on the page: short layout names, units in the headers, figures
/// rounded.
Table cost_display_table(const PlanSpec& spec, const PlanResult& result) {
  Table t({{"#", ""},
           {"layout", ""},
           {"replicas", ""},
           {"GPUs", ""},
           {"USD / hour", ""},
           {"USD / 1M output tokens", ""},
           {"USD / 1M total tokens", ""},
           {"output tok/s per GPU", ""},
           {"output tok/s per user", ""},
           {"TTFT p99", ""},
           {"TPOT p99", ""},
           {"worst SLO margin", ""}});
  const std::size_t n =
      std::min<std::size_t>(result.ranking.size(), static_cast<std::size_t>(std::max(spec.top, 0)) + 1);
  for (std::size_t k = 0; k < n; ++k) {
    const LayoutOutcome& o = result.layouts[result.ranking[k]];
    t.add_row({static_cast<std::int64_t>(k + 1), short_label(spec, o.layout),
               std::int64_t{o.at_target->replicas}, std::int64_t{o.cost.gpus},
               fmt::format("{:.2f}", o.cost.usd_per_hour),
               readable_number(o.cost.usd_per_million_output_tokens),
               readable_number(o.cost.usd_per_million_total_tokens),
               readable_number(o.at_target->tokens_per_s_per_gpu),
               readable_number(o.at_target->tokens_per_s_per_user),
               seconds_text(p99_of(o.at_target_summary, SloMetric::kTtft)),
               seconds_text(p99_of(o.at_target_summary, SloMetric::kTpot)),
               fmt::format("{:.1f}%", 100.0 * o.at_target->worst_margin)});
  }
  return t;
}

}  // namespace

Table plan_layouts_table(const PlanResult& result) {
  Table t({{"layout", "index in the search space"},
           {"model", "model card"},
           {"variant", "attention variant"},
           {"hardware", "GPU profile"},
           {"tp", "GPUs per replica"},
           {"dp_attention", "attention data-parallel over the replica's GPUs"},
           {"weights", "weight dtype"},
           {"kv_cache", "KV cache dtype"},
           {"max_num_seqs", "scheduler: sequences per iteration"},
           {"max_num_batched_tokens", "scheduler: tokens per iteration"},
           {"scheduler_policy", "vllm, no_evict or max_utilization"},
           {"status", "ok, does-not-fit, invalid, over-budget or slo-unmet"},
           {"reason", "why, for every status but ok"},
           {"rank", "1 = cheapest among the layouts that meet the SLOs (empty otherwise)"},
           {"replicas", "fewest replicas meeting every SLO at the target rate"},
           {"gpus", "replicas × tp"},
           {"price_per_gpu_hour", "USD"},
           {"usd_per_hour", "GPUs × price"},
           {"usd_per_million_output_tokens", "USD per 1M output tokens at the target rate"},
           {"usd_per_million_total_tokens", "USD per 1M prompt + output tokens at the target rate"},
           {"output_tokens_per_s_per_gpu", "at the target rate"},
           {"output_tokens_per_s_per_user", "1 / mean TPOT at the target rate"},
           {"ttft_p99_s", "at the target rate"},
           {"tpot_p99_s", "at the target rate"},
           {"worst_slo_margin", "smallest (target − measured) / target over the SLOs"},
           {"max_rate_per_replica", "highest rate (req/s) one replica sustains within the SLOs"},
           {"rate_estimate_per_replica", "analytic estimate of that rate the search started from"},
           {"simulations", "serving simulations run for this layout"}});
  const std::vector<std::int64_t> rank = ranks(result);
  for (std::size_t i = 0; i < result.layouts.size(); ++i) {
    const LayoutOutcome& o = result.layouts[i];
    const PlanLayout& l = o.layout;
    const bool ok = o.status == LayoutStatus::kOk && o.at_target.has_value();
    t.add_row({static_cast<std::int64_t>(i),
               l.model,
               l.variant,
               l.gpu.hw.id,
               std::int64_t{l.tp},
               l.dp_attention,
               std::string(to_string(l.precision.weights)),
               std::string(to_string(l.precision.kv_cache)),
               std::int64_t{l.max_num_seqs},
               l.max_num_batched_tokens,
               std::string(to_string(l.policy)),
               std::string(to_string(o.status)),
               o.reason,
               rank[i] > 0 ? Cell{rank[i]} : Cell{std::monostate{}},
               ok ? Cell{std::int64_t{o.at_target->replicas}} : Cell{std::monostate{}},
               ok ? Cell{std::int64_t{o.cost.gpus}} : Cell{std::monostate{}},
               l.gpu.price_per_gpu_hour,
               ok ? o.cost.usd_per_hour : kNaN,
               ok ? o.cost.usd_per_million_output_tokens : kNaN,
               ok ? o.cost.usd_per_million_total_tokens : kNaN,
               ok ? o.at_target->tokens_per_s_per_gpu : kNaN,
               ok ? o.at_target->tokens_per_s_per_user : kNaN,
               p99_of(o.at_target_summary, SloMetric::kTtft),
               p99_of(o.at_target_summary, SloMetric::kTpot),
               ok ? o.at_target->worst_margin : kNaN,
               o.one_replica_max ? o.one_replica_max->rate_per_s : kNaN,
               o.max_requests_per_s_bound > 0.0 ? o.max_requests_per_s_bound : kNaN,
               std::int64_t{o.simulations}});
  }
  return t;
}

Table plan_ranking_table(const PlanResult& result, int top) {
  Table t({{"rank", "1 = cheapest"},
           {"layout", "index in the search space (layouts.csv)"},
           {"description", "the deployment's layout"},
           {"replicas", ""},
           {"gpus", ""},
           {"usd_per_hour", ""},
           {"usd_per_million_output_tokens", ""},
           {"usd_per_million_total_tokens", ""},
           {"output_tokens_per_s_per_gpu", ""},
           {"output_tokens_per_s_per_user", ""},
           {"ttft_p99_s", ""},
           {"tpot_p99_s", ""},
           {"worst_slo_margin", "smallest (target − measured) / target"}});
  const std::size_t n =
      std::min<std::size_t>(result.ranking.size(), static_cast<std::size_t>(std::max(top, 0)) + 1);
  for (std::size_t k = 0; k < n; ++k) {
    const LayoutOutcome& o = result.layouts[result.ranking[k]];
    t.add_row({static_cast<std::int64_t>(k + 1), static_cast<std::int64_t>(result.ranking[k]),
               o.layout.describe(), std::int64_t{o.at_target->replicas}, std::int64_t{o.cost.gpus},
               o.cost.usd_per_hour, o.cost.usd_per_million_output_tokens, o.cost.usd_per_million_total_tokens,
               o.at_target->tokens_per_s_per_gpu, o.at_target->tokens_per_s_per_user,
               p99_of(o.at_target_summary, SloMetric::kTtft), p99_of(o.at_target_summary, SloMetric::kTpot),
               o.at_target->worst_margin});
  }
  return t;
}

Table plan_pareto_table(const PlanResult& result) {
  Table t({{"layout", "index in the search space (layouts.csv)"},
           {"description", "the deployment's layout"},
           {"point", "target-rate deployment, or one replica at its highest rate"},
           {"replicas", ""},
           {"rate_per_s", "requests per second of the point"},
           {"output_tokens_per_s_per_gpu", ""},
           {"output_tokens_per_s_per_user", ""}});
  for (const std::size_t k : result.pareto) {
    const PlanPoint& p = result.points[k];
    const LayoutOutcome& o = result.layouts[p.layout];
    const PlanEvaluation& e = p.at_target ? *o.at_target : *o.one_replica_max;
    t.add_row({static_cast<std::int64_t>(p.layout), o.layout.describe(),
               std::string(p.at_target ? "target rate" : "one replica, highest rate"),
               std::int64_t{e.replicas}, e.rate_per_s, p.point.tokens_per_s_per_gpu,
               p.point.tokens_per_s_per_user});
  }
  return t;
}

Table plan_trials_table(const PlanResult& result) {
  Table t({{"trial", "order run"},
           {"layout", "index in the search space"},
           {"replicas", ""},
           {"rate_per_s", "offered requests per second (all replicas)"},
           {"meets_slos", "nothing rejected, load stable, every percentile SLO met"},
           {"overload", "load verdict"},
           {"output_tokens_per_s_per_gpu", ""},
           {"output_tokens_per_s_per_user", ""},
           {"ttft_p99_s", ""},
           {"tpot_p99_s", ""},
           {"detail", "each SLO's measured percentile and target"}});
  for (std::size_t k = 0; k < result.trials.size(); ++k) {
    const PlanTrial& tr = result.trials[k];
    t.add_row({static_cast<std::int64_t>(k), static_cast<std::int64_t>(tr.layout),
               std::int64_t{tr.evaluation.replicas}, tr.evaluation.rate_per_s, tr.evaluation.meets_slos,
               std::string(to_string(tr.summary.overload.verdict)), tr.summary.output_tokens_per_s_per_gpu,
               tr.summary.output_tokens_per_s_per_user, tr.summary.ttft.p99_s, tr.summary.tpot.p99_s,
               tr.evaluation.detail});
  }
  return t;
}

std::string plan_headline(const PlanSpec& spec, const PlanResult& result) {
  const LayoutOutcome* best = result.cheapest();
  std::string out;
  if (best == nullptr) {
    out = fmt::format(
        "No deployment within the budget of {} GPUs meets the SLOs ({}) at {} req/s: of {} layouts, {} "
        "miss "
        "the SLOs even at the budget, {} do not fit, {} need more GPUs than the budget, {} are invalid.",
        spec.max_gpus, slo_list(spec.base.slo), readable_number(result.target_rate_per_s),
        result.layouts.size(), count_status(result, LayoutStatus::kSloUnmet),
        count_status(result, LayoutStatus::kDoesNotFit), count_status(result, LayoutStatus::kOverBudget),
        count_status(result, LayoutStatus::kInvalid));
    // The closest miss: the SLO-unmet layout whose best-effort deployment came nearest its targets.
    const LayoutOutcome* closest = nullptr;
    for (const LayoutOutcome& o : result.layouts) {
      if (o.status != LayoutStatus::kSloUnmet || !o.best_effort) continue;
      if (closest == nullptr || o.best_effort->worst_margin > closest->best_effort->worst_margin)
        closest = &o;
    }
    if (closest != nullptr)
      out += fmt::format("\nClosest: {}: {}.", closest->layout.describe(), closest->reason);
    return out + "\n";
  }
  const PlanEvaluation& e = *best->at_target;
  out = fmt::format(
      "Cheapest: {} replica{} of {} = {} GPUs, {} per hour.\n"
      "  {} per 1M output tokens, {} per 1M total tokens; {} output tokens/s per GPU, {} per user.\n",
      e.replicas, e.replicas == 1 ? "" : "s", best->layout.describe(), best->cost.gpus,
      money(best->cost.usd_per_hour), money4(best->cost.usd_per_million_output_tokens),
      money4(best->cost.usd_per_million_total_tokens), readable_number(e.tokens_per_s_per_gpu),
      readable_number(e.tokens_per_s_per_user));
  if (best->at_target_summary) {
    std::vector<std::string> parts;
    for (const SloVerdict& v : best->at_target_summary->slo_verdicts) {
      parts.push_back(fmt::format("{} {} (target {}, {:.0f}% headroom)", v.slo.name(),
                                  seconds_text(v.measured_s), seconds_text(v.target_s),
                                  100.0 * v.margin_fraction));
    }
    out += fmt::format("  {}.\n", fmt::join(parts, "; "));
  }
  return out;
}

std::string plan_markdown(const PlanSpec& spec, const PlanResult& result) {
  std::string md = fmt::format("# Plan `{}`\n\nConfig: `{}`.\n\n", spec.name, spec.source);
  md += fmt::format("- Workload: {}.\n- SLOs: {}.\n- Budget: at most {} GPUs.\n", workload_text(spec, result),
                    slo_list(spec.base.slo), spec.max_gpus);
  md += fmt::format(
      "- Search: {} layouts; {} not simulated (the capacity model, the budget or invalid); {} serving "
      "simulations of {} requests per replica.\n\n",
      result.layouts.size(), result.not_simulated, result.simulations, spec.requests_per_replica);
  md += "## Answer\n\n" + plan_headline(spec, result) + "\n";
  if (const LayoutOutcome* best = result.cheapest(); best != nullptr && best->at_target_summary) {
    md += "## SLO margins of the cheapest deployment\n\n";
    md += table_to_markdown(with_missing_as(slo_verdict_table(*best->at_target_summary), "—")) + "\n";
    md += "## Cheapest deployments\n\n";
    md += table_to_markdown(with_missing_as(plan_ranking_table(result, spec.top), "—")) + "\n";
  }
  if (!result.pareto.empty()) {
    md += "## Pareto front: tokens/s per GPU against tokens/s per user\n\n";
    md += table_to_markdown(with_missing_as(plan_pareto_table(result), "—")) + "\n";
  }
  std::string not_ok;
  for (const LayoutOutcome& o : result.layouts) {
    if (o.status == LayoutStatus::kOk) continue;
    not_ok += fmt::format("- {} — **{}**: {}\n", o.layout.describe(), to_string(o.status), o.reason);
  }
  if (!not_ok.empty()) md += "## Layouts without a deployment\n\n" + not_ok + "\n";
  return md;
}

std::string plan_json(const PlanSpec& spec, const PlanResult& result) {
  using nlohmann::ordered_json;
  ordered_json j =
      json_envelope(kPlanSchema, config_file_json(spec.source, spec.config_json, spec.cli_overrides));
  j["name"] = spec.name;
  j["target_rate_per_s"] = result.target_rate_per_s;
  j["max_gpus"] = spec.max_gpus;
  j["simulations"] = result.simulations;
  j["not_simulated"] = result.not_simulated;
  const ordered_json layouts = rows_json(plan_layouts_table(result));
  j["cheapest"] = result.ranking.empty() ? ordered_json(nullptr) : layouts.at(result.ranking.front());
  j["ranking"] = rows_json(plan_ranking_table(result, spec.top));
  j["pareto"] = rows_json(plan_pareto_table(result));
  j["layouts"] = layouts;
  j["trials"] = rows_json(plan_trials_table(result));
  return json_text(j);
}

std::vector<ScatterChart> plan_charts(const PlanSpec& spec, const PlanResult& result) {
  std::vector<ScatterChart> out;
  if (!result.points.empty()) {
    ScatterChart c;
    c.name = "plan_pareto";
    c.title = "tokens/s per GPU against tokens/s per user";
    c.x.label = "output tokens/s per user (1 / mean TPOT)";
    c.y.label = "output tokens/s per GPU";
    c.key = "inside right top opaque font ',10'";
    ScatterSeries all{"deployments meeting the SLOs", {}, {}, true, 7};
    ScatterSeries front{"Pareto front", {}, {}, false, 0, true, true};
    ScatterSeries chosen{"cheapest deployment", {}, {}, false, 3};
    chosen.large = true;
    for (const PlanPoint& p : result.points) {
      all.x.push_back(p.point.tokens_per_s_per_user);
      all.y.push_back(p.point.tokens_per_s_per_gpu);
    }
    std::vector<std::size_t> order = result.pareto;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return result.points[a].point.tokens_per_s_per_user < result.points[b].point.tokens_per_s_per_user;
    });
    for (const std::size_t k : order) {
      front.x.push_back(result.points[k].point.tokens_per_s_per_user);
      front.y.push_back(result.points[k].point.tokens_per_s_per_gpu);
    }
    if (!result.ranking.empty()) {
      const std::size_t best = result.ranking.front();
      for (const PlanPoint& p : result.points) {
        if (p.layout == best && p.at_target) {
          chosen.x.push_back(p.point.tokens_per_s_per_user);
          chosen.y.push_back(p.point.tokens_per_s_per_gpu);
        }
      }
    }
    c.series = {std::move(all), std::move(front)};
    if (!chosen.x.empty()) c.series.push_back(std::move(chosen));
    if (has_drawable_points(c)) out.push_back(std::move(c));
  }
  // Per percentile target: the measured percentile of one replica against its rate, per simulated layout.
  for (const PercentileSlo& slo : spec.base.slo.percentiles) {
    ScatterChart c;
    c.name = fmt::format("plan_{}", slo.name());
    std::string metric(to_string(slo.metric));
    for (char& ch : metric) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    c.title = fmt::format("{} p{} of one replica against its rate", metric, slo.percentile);
    c.x.label = "requests/s offered to one replica";
    c.y.label = fmt::format("{} p{} (ms)", metric, slo.percentile);
    c.y.format = "%g";
    c.key = "outside right top font ',9'";
    c.y_headroom = false;
    std::map<std::size_t, std::vector<std::pair<double, double>>> by_layout;
    for (const PlanTrial& tr : result.trials) {
      if (tr.evaluation.replicas != 1) continue;
      for (const SloVerdict& v : tr.summary.slo_verdicts) {
        if (v.slo.name() == slo.name())
          by_layout[tr.layout].emplace_back(tr.evaluation.rate_per_s, v.measured_s * kMs);
      }
    }
    std::vector<double> ys{ps_to_seconds(slo.target_ps) * kMs};
    for (const auto& [layout, pts] : by_layout) {
      for (const auto& pt : pts) ys.push_back(pt.second);
    }
    c.y.log = wide_range(ys);
    int color = 0;
    for (auto& [layout, pts] : by_layout) {
      std::sort(pts.begin(), pts.end());
      ScatterSeries s{
          short_label(spec, result.layouts[layout].layout), {}, {}, false, color++ % 10, true, true};
      for (const auto& [x, y] : pts) {
        s.x.push_back(x);
        s.y.push_back(y);
      }
      c.series.push_back(std::move(s));
    }
    c.lines.push_back({ReferenceLine::Kind::kHorizontal, ps_to_seconds(slo.target_ps) * kMs,
                       fmt::format("target {}", seconds_text(ps_to_seconds(slo.target_ps))), false});
    if (has_drawable_points(c)) out.push_back(std::move(c));
  }
  return out;
}

ReportFiles build_plan_report(const PlanSpec& spec, const PlanResult& result, bool charts) {
  const std::vector<ScatterChart> planned = charts ? plan_charts(spec, result) : std::vector<ScatterChart>{};
  std::vector<GnuplotJob> jobs;
  for (const ScatterChart& c : planned) {
    jobs.push_back(gnuplot_job(c));
  }
  ChartRendering rendered = render_charts(jobs, charts);
  ReportFiles out;
  out.note = rendered.note;
  HtmlPage page(fmt::format("mlasim plan: {}", spec.name));
  page.add_heading(1, fmt::format("Capacity plan: {}", spec.name));
  page.add_facts(
      {{"config", spec.source},
       {"workload", workload_text(spec, result)},
       {"SLOs", slo_list(spec.base.slo)},
       {"budget", fmt::format("at most {} GPUs", spec.max_gpus)},
       {"device model", std::string(to_string(spec.base.device_mode))},
       {"search", fmt::format("{} layouts, {} not simulated, {} simulations of {} requests per replica",
                              result.layouts.size(), result.not_simulated, result.simulations,
                              spec.requests_per_replica)}});
  const LayoutOutcome* best = result.cheapest();
  const std::vector<std::string> headline = lines_of(plan_headline(spec, result));
  if (best == nullptr) page.add_banner("No deployment meets the SLOs", headline);
  if (!out.note.empty()) page.add_note(out.note);
  page.add_heading(2, "Answer", "answer");
  for (const std::string& line : headline) page.add_paragraph(line);
  if (best != nullptr && best->at_target_summary) {
    page.add_heading(2, "SLO margins of the cheapest deployment", "margins");
    page.add_table(with_missing_as(slo_verdict_table(*best->at_target_summary), "—"));
    page.add_heading(2, "Cost of the cheapest deployments", "cost");
    page.add_table(cost_display_table(spec, result));
  }
  if (!planned.empty()) {
    page.add_heading(2, "Charts", "charts");
    std::vector<Figure> figures;
    for (std::size_t k = 0; k < planned.size(); ++k) {
      const std::string what =
          planned[k].name == "plan_pareto"
              ? "Every deployment the search found meeting the SLOs (hollow), at the target rate or one "
                "replica at "
                "its highest rate; the line joins the Pareto front (no other point beats it on both axes); "
                "the "
                "square is the cheapest deployment."
              : "The measured percentile of one replica at each rate the search tried, per layout; the "
                "horizontal "
                "line is the target. Where a line crosses it is the layout's highest rate.";
      figures.push_back({rendered.svgs[k], fmt::format("{} Data: charts/{}.dat.", what, planned[k].name),
                         fmt::format("{}, {}", planned[k].title, spec.name)});
    }
    page.add_figures(figures);
  }
  if (!result.pareto.empty()) {
    page.add_heading(2, "Pareto front", "pareto");
    page.add_table(with_missing_as(plan_pareto_table(result), "—"));
  }
  page.add_heading(2, "Every layout", "layouts");
  page.add_table(with_missing_as(plan_layouts_table(result), "—"));
  out.files.emplace_back("report.html", page.str());
  append_chart_files(out.files, jobs);
  return out;
}

std::string add_plan_outputs(OutputSet& out, const PlanSpec& spec, const PlanResult& result, bool charts) {
  out.add("summary.md", plan_markdown(spec, result));
  out.add("plan.json", plan_json(spec, result));
  out.add("layouts.csv", table_to_csv(with_missing_as(plan_layouts_table(result), "")));
  out.add("ranking.csv", table_to_csv(with_missing_as(plan_ranking_table(result, spec.top), "")));
  out.add("pareto.csv", table_to_csv(with_missing_as(plan_pareto_table(result), "")));
  out.add("trials.csv", table_to_csv(with_missing_as(plan_trials_table(result), "")));
  ReportFiles report = build_plan_report(spec, result, charts);
  for (auto& [name, content] : report.files) out.add(name, std::move(content));
  return report.note;
}

}  // namespace mlasim
