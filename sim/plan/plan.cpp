#include "sim/plan/plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <tuple>

#include "models/workload.hpp"
#include "sim/device/capacity.hpp"
#include "sim/device/device_model.hpp"
#include "sim/error.hpp"
#include "sim/parallel.hpp"

namespace mlasim {

std::string_view to_string(LayoutStatus s) {
  switch (s) {
    case LayoutStatus::kOk:
      return "ok";
    case LayoutStatus::kDoesNotFit:
      return "does-not-fit";
    case LayoutStatus::kInvalid:
      return "invalid";
    case LayoutStatus::kOverBudget:
      return "over-budget";
    case LayoutStatus::kSloUnmet:
      return "slo-unmet";
  }
  return "?";
}

std::string PlanLayout::describe() const {
  return fmt::format("{} {} on {}, TP {}{}, {} weights, {} KV, {} seqs, {} batched tokens, {}", model,
                     variant, gpu.hw.id, tp, dp_attention ? ", DP-attention" : "",
                     to_string(precision.weights), to_string(precision.kv_cache), max_num_seqs,
                     max_num_batched_tokens, to_string(policy));
}

std::vector<PlanLayout> plan_layouts(const PlanSpec& spec) {
  std::vector<PlanLayout> out;
  for (const ModelSpec& model : spec.models) {
    for (const VariantSpec& variant : spec.variants) {
      for (const PlanGpu& gpu : spec.gpus) {
        for (const int tp : spec.tp) {
          for (const bool dp : spec.dp_attention) {
            if (dp && tp == 1) continue;  // DP-attention over one rank is plain TP 1: listed once
            const std::vector<Dtype> weights = spec.weights_given || !model.weights_dtype
                                                   ? spec.weights
                                                   : std::vector<Dtype>{*model.weights_dtype};
            for (const Dtype w : weights) {
              for (const Dtype kv : spec.kv_cache) {
                for (const int seqs : spec.max_num_seqs) {
                  for (const std::int64_t tokens : spec.max_num_batched_tokens) {
                    for (const SchedulerPolicy policy : spec.policies) {
                      PlanLayout l;
                      l.model = model.name;
                      l.variant = variant.to_string();
                      l.spec = model;  // the variant is applied when the layout is checked
                      l.gpu = gpu;
                      l.tp = tp;
                      l.dp_attention = dp;
                      l.precision = spec.base.precision;
                      l.precision.weights = w;
                      l.precision.kv_cache = kv;
                      l.max_num_seqs = seqs;
                      l.max_num_batched_tokens = tokens;
                      l.policy = policy;
                      out.push_back(std::move(l));
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  return out;
}

ServeSpec plan_serve_spec(const PlanSpec& spec, const PlanLayout& layout, int replicas, double rate_per_s) {
  ServeSpec s = spec.base;
  s.name = fmt::format("{} x{}", layout.describe(), replicas);
  s.model = layout.spec;
  s.variant = layout.variant;
  s.hardware = layout.gpu.hw;
  s.hardware.price_per_gpu_hour = layout.gpu.price_per_gpu_hour;
  s.parallel.tp = layout.tp;
  s.parallel.dp_attention = layout.dp_attention;
  s.precision = layout.precision;
  s.replicas = replicas;
  s.scheduler.max_num_seqs = layout.max_num_seqs;
  s.scheduler.max_num_batched_tokens = layout.max_num_batched_tokens;
  s.scheduler.policy = layout.policy;
  if (s.workload.arrival == ArrivalKind::kPoisson) {
    s.workload.rate_per_s = rate_per_s;
    s.workload.num_requests = std::max<std::int64_t>(1, spec.requests_per_replica) * replicas;
  }  // a trace keeps its own arrivals and count
  s.per_request_csv = false;
  return s;
}

namespace {

/// How far above the analytic estimate of one replica's highest rate the search starts.
constexpr double kBoundSlack = 1.5;

/// The layout's model with its variant applied, or why it cannot run.
std::optional<std::string> apply_layout_variant(PlanLayout& l, const VariantSpec& variant) {
  try {
    l.spec = apply_variant(l.spec, variant);
  } catch (const InputError& e) {
    return e.message();
  }
  return std::nullopt;
}

/// What the capacity filter and the rate estimate need of the workload's lengths.
struct LengthFacts {
  double mean_prompt = 0.0, mean_output = 0.0;
  std::int64_t longest = 0;  ///< the largest prompt + output a request can have
};

LengthFacts length_facts(const WorkloadSpec& w) {
  LengthFacts f;
  if (w.arrival == ArrivalKind::kTrace && !w.trace.empty()) {
    const auto n = std::min<std::size_t>(w.trace.size(),
                                         static_cast<std::size_t>(std::max<std::int64_t>(w.num_requests, 1)));
    for (std::size_t i = 0; i < n; ++i) {
      f.mean_prompt += static_cast<double>(w.trace[i].prompt_tokens);
      f.mean_output += static_cast<double>(w.trace[i].output_tokens);
      f.longest = std::max(f.longest, w.trace[i].prompt_tokens + w.trace[i].output_tokens);
    }
    f.mean_prompt /= static_cast<double>(n);
    f.mean_output /= static_cast<double>(n);
    return f;
  }
  f.mean_prompt = w.prompt.expected();
  f.mean_output = w.output.expected();
  f.longest = w.prompt.upper_bound() + w.output.upper_bound();
  return f;
}

/// A trace's mean arrival rate: its requests over the span from 0 to the last arrival.
double trace_rate_per_s(const WorkloadSpec& w) {
  const auto n = std::min<std::size_t>(w.trace.size(),
                                       static_cast<std::size_t>(std::max<std::int64_t>(w.num_requests, 1)));
  if (n == 0) return 0.0;
  const double span = ps_to_seconds(w.trace[n - 1].arrival_ps);
  return span > 0.0 ? static_cast<double>(n) / span : std::numeric_limits<double>::infinity();
}

/// One replica's analytic estimate of its highest rate, requests/s: decode at the largest batch that fits and
/// the scheduler admits, at the workload's mean context halfway through the output, every request needing its
/// mean output of steps. Prefill and queueing lower the real rate; the search starts kBoundSlack above it, so
/// that the estimate's own error (mean context for the mix, chunked prefill riding along) cannot cut it off.
double max_requests_per_s(const ServeSpec& serve, const PlanLayout& l, const Capacity& cap) {
  const LengthFacts f = length_facts(serve.workload);
  const double prompt = f.mean_prompt, output = std::max(f.mean_output, 1.0);
  const auto context = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(prompt + output / 2.0)));
  const std::int64_t fit = max_concurrency(cap, context);
  const int batch = static_cast<int>(std::clamp<std::int64_t>(std::min<std::int64_t>(fit, l.max_num_seqs), 1,
                                                              std::numeric_limits<int>::max()));
  const double step_s =
      ps_to_seconds(model_step_time(serve).reference_time(uniform_decode(batch, context).sequences));
  return double(batch) / step_s / output;
}

/// What the search needs of a run. A deployment that meets the SLOs is stable: in the long run it serves what
/// arrives, so its throughput is the rate × the mean lengths (exact), not the window's completions, which a
/// run of a few thousand requests biases low while the system fills (the warm-up is a share of the requests,
/// and a request of 1k output tokens stays in the system for tens of seconds). Other runs keep the measured
/// figures.
PlanEvaluation to_evaluation(const ServeSummary& s, int replicas, double rate, const LengthFacts& lengths,
                             int tp) {
  PlanEvaluation e;
  e.replicas = replicas;
  e.rate_per_s = rate;
  e.meets_slos = s.meets_slos();
  e.overloaded = s.overload.verdict == LoadVerdict::kOverloaded;
  e.output_tokens_per_s = s.output_tokens_per_s;
  e.total_tokens_per_s = s.total_tokens_per_s;
  e.tokens_per_s_per_gpu = s.output_tokens_per_s_per_gpu;
  if (e.meets_slos) {
    e.output_tokens_per_s = rate * lengths.mean_output;
    e.total_tokens_per_s = rate * (lengths.mean_prompt + lengths.mean_output);
    e.tokens_per_s_per_gpu = e.output_tokens_per_s / static_cast<double>(replicas * tp);
  }
  e.tokens_per_s_per_user = s.output_tokens_per_s_per_user;
  e.worst_margin = std::numeric_limits<double>::infinity();
  std::vector<std::string> parts;
  for (const SloVerdict& v : s.slo_verdicts) {
    e.worst_margin = std::min(e.worst_margin, std::isnan(v.margin_fraction) ? -1.0 : v.margin_fraction);
    parts.push_back(fmt::format("{} {:.4g} s (target {:.4g} s)", v.slo.name(), v.measured_s, v.target_s));
  }
  if (s.slo_verdicts.empty()) e.worst_margin = 0.0;
  if (e.overloaded) parts.push_back("overloaded");
  if (s.rejected > 0) parts.push_back(fmt::format("{} rejected", s.rejected));
  e.detail = fmt::format("{}", fmt::join(parts, ", "));
  return e;
}

}  // namespace

namespace {

/// What the search of one layout needs and shares with the others (read-only).
struct PlanContext {
  const PlanSpec& spec;
  double target_rate_per_s = 0.0;
  bool trace = false;
  LengthFacts lengths;
};

using LayoutRun = PlanLayoutRun;

/// A layout's two searches, independent of each other: the fewest replicas at the target rate, and one
/// replica's highest rate. Run apart (in parallel), then joined by join_searches.
enum class LayoutSearch { kAtTarget, kHighestRate };

/// One search of layout number `index` (`layout` as plan_layouts gave it, `variant` the one it asked for),
/// after the checks both share (the variant, the budget, the capacity model). `on_simulation` is called after
/// each simulation.
LayoutRun run_layout(const PlanContext& ctx, PlanLayout layout, const VariantSpec& variant, std::size_t index,
                     LayoutSearch search, const std::function<void()>& on_simulation) {
  const PlanSpec& spec = ctx.spec;
  LayoutRun run;
  LayoutOutcome& o = run.outcome;
  o.layout = std::move(layout);
  std::map<std::pair<int, double>, std::size_t> memo;  // → index into run.trials
  const PlanEvaluator evaluate = [&](std::size_t, int replicas, double rate) {
    const auto key = std::make_pair(replicas, rate);
    if (auto it = memo.find(key); it != memo.end()) return run.trials[it->second].evaluation;
    ServeResult r = run_serve(plan_serve_spec(spec, o.layout, replicas, rate));
    PlanEvaluation e = to_evaluation(r.summary, replicas, rate, ctx.lengths, o.layout.tp);
    memo.emplace(key, run.trials.size());
    run.trials.push_back({index, e, std::move(r.summary)});
    if (on_simulation) on_simulation();
    return e;
  };
  const auto finish = [&](LayoutStatus status, std::string reason) {
    o.status = status;
    // One line (for CSV cells and lists): explain_no_fit writes several.
    std::replace(reason.begin(), reason.end(), '\n', ' ');
    o.reason = std::move(reason);
    run.simulated = status == LayoutStatus::kOk || status == LayoutStatus::kSloUnmet;
  };
  if (const auto why = apply_layout_variant(o.layout, variant)) {
    finish(LayoutStatus::kInvalid, *why);
    return run;
  }
  if (o.layout.tp > spec.max_gpus) {
    finish(LayoutStatus::kOverBudget,
           fmt::format("one replica needs {} GPUs; the budget is {}", o.layout.tp, spec.max_gpus));
    return run;
  }
  // The capacity model first: a layout in which no request fits is never simulated.
  try {
    const ServeSpec probe = plan_serve_spec(spec, o.layout, 1, ctx.target_rate_per_s);
    CapacityOptions opt = probe.capacity;
    opt.max_batched_tokens = probe.scheduler.max_num_batched_tokens;
    const Parallelism& parallel = probe.parallel;
    const Capacity cap = compute_capacity(probe.model, probe.hardware, probe.precision, parallel, opt);
    const std::int64_t longest = ctx.lengths.longest;
    if (!cap.fits()) {
      finish(LayoutStatus::kDoesNotFit,
             explain_no_fit(probe.model, probe.hardware, probe.precision, parallel, longest, opt));
      return run;
    }
    if (max_concurrency(cap, longest) < 1) {
      finish(
          LayoutStatus::kDoesNotFit,
          fmt::format("the longest request ({} tokens) does not fit in the KV cache ({} tokens per replica)",
                      longest, cap.kv_capacity_tokens()));
      return run;
    }
    o.max_requests_per_s_bound = max_requests_per_s(probe, o.layout, cap);
  } catch (const InputError& e) {  // the model cannot run this way (TP not dividing the heads, ...)
    finish(LayoutStatus::kInvalid, e.message());
    return run;
  }
  const int hi = spec.max_gpus / o.layout.tp;
  // No fewer replicas than the target rate over one replica's ceiling can serve it.
  const double ceiling = kBoundSlack * o.max_requests_per_s_bound;
  const int lo = std::clamp(static_cast<int>(std::ceil(ctx.target_rate_per_s / ceiling - 1e-9)), 1, hi);
  int sims = 0;  // evaluations asked for; repeats come from the memo, so trials count the simulations
  run.simulated = true;
  if (search == LayoutSearch::kAtTarget) {
    PlanEvaluation last;
    o.at_target = fewest_replicas(evaluate, index, ctx.target_rate_per_s, lo, hi, &sims, &last);
    if (o.at_target) {
      o.at_target_summary = run.trials[memo.at({o.at_target->replicas, ctx.target_rate_per_s})].summary;
      o.cost = deployment_cost(o.at_target->replicas * o.layout.tp, o.layout.gpu.price_per_gpu_hour,
                               o.at_target->output_tokens_per_s, o.at_target->total_tokens_per_s);
      run.points.push_back(
          {index, true, {o.at_target->tokens_per_s_per_gpu, o.at_target->tokens_per_s_per_user}});
    } else {
      o.best_effort = last;
      finish(LayoutStatus::kSloUnmet,
             fmt::format("{} replicas ({} GPUs, the budget) miss the SLOs at {:g} req/s: {}", hi,
                         hi * o.layout.tp, ctx.target_rate_per_s, last.detail));
    }
  } else if (!ctx.trace) {
    // A trace keeps its own arrivals: one replica's highest rate is a question for Poisson arrivals only.
    o.one_replica_max = highest_rate(evaluate, index, ceiling, spec.rate_tolerance, &sims);
    if (o.one_replica_max) {
      run.points.push_back(
          {index,
           false,
           {o.one_replica_max->tokens_per_s_per_gpu, o.one_replica_max->tokens_per_s_per_user}});
    }
  }
  o.simulations = static_cast<int>(run.trials.size());
  return run;
}

/// The layout as one sequential search would have found it: the target search, then the highest-rate one,
/// sharing a memo. A simulation the highest-rate search repeats (one replica at the target rate) gives the
/// same result in both (runs are deterministic), so the searches take the same paths apart as together; the
/// repeat only leaves `trials`.
LayoutRun join_searches(LayoutRun at_target, LayoutRun highest) {
  LayoutRun out = std::move(at_target);
  out.outcome.one_replica_max = std::move(highest.outcome.one_replica_max);
  for (PlanTrial& t : highest.trials) {
    const bool repeat = std::any_of(out.trials.begin(), out.trials.end(), [&](const PlanTrial& u) {
      return u.evaluation.replicas == t.evaluation.replicas &&
             u.evaluation.rate_per_s == t.evaluation.rate_per_s;
    });
    if (!repeat) out.trials.push_back(std::move(t));
  }
  for (const PlanPoint& p : highest.points) out.points.push_back(p);
  out.outcome.simulations = static_cast<int>(out.trials.size());
  return out;
}

}  // namespace

PlanResult run_plan(const PlanSpec& spec, const PlanProgress& progress) {
  return run_plan(spec, PlanRunOptions{1, progress});
}

namespace {

void check_search_space(const PlanSpec& spec) {
  if (spec.models.empty() || spec.variants.empty() || spec.gpus.empty() || spec.tp.empty() ||
      spec.dp_attention.empty() || spec.weights.empty() || spec.kv_cache.empty() ||
      spec.max_num_seqs.empty() || spec.max_num_batched_tokens.empty() || spec.policies.empty()) {
    throw InputError(SourceLocation{spec.source}, "plan", "the search space is empty");
  }
}

bool is_trace(const PlanSpec& spec) {
  return spec.base.workload.arrival == ArrivalKind::kTrace;
}

double target_rate(const PlanSpec& spec) {
  return is_trace(spec) ? trace_rate_per_s(spec.base.workload) : spec.base.workload.rate_per_s;
}

// The variant each layout asked for, in the same order plan_layouts walks them.
std::vector<VariantSpec> variants_of(const PlanSpec& spec, const std::vector<PlanLayout>& layouts) {
  std::vector<VariantSpec> variant_of;
  for (std::size_t i = 0; i < layouts.size(); ++i) {
    for (const VariantSpec& v : spec.variants) {
      if (v.to_string() == layouts[i].variant) {
        variant_of.push_back(v);
        break;
      }
    }
  }
  return variant_of;
}

}  // namespace

std::size_t plan_size(const PlanSpec& spec) {
  check_search_space(spec);
  return plan_layouts(spec).size();
}

std::vector<PlanLayoutRun> run_plan_layouts(const PlanSpec& spec, std::size_t first, std::size_t last,
                                            const PlanRunOptions& options) {
  check_search_space(spec);
  const PlanContext ctx{spec, target_rate(spec), is_trace(spec), length_facts(spec.base.workload)};
  const std::vector<PlanLayout> layouts = plan_layouts(spec);
  if (first > last || last > layouts.size()) {
    throw InternalError(fmt::format("plan layouts {} to {} of {}", first, last, layouts.size()));
  }
  const std::vector<VariantSpec> variant_of = variants_of(spec, layouts);
  const std::size_t n = last - first;

  // Each search is sequential (each simulation decides the next); the layouts, and a layout's two searches,
  // are independent: they run in parallel and are joined in layout order, so the result does not depend on
  // options.jobs.
  std::atomic<int> simulations{0};
  ProgressCounter::Callback report;
  if (options.progress) {
    report = [&](std::size_t done, std::size_t total) { options.progress(simulations.load(), done, total); };
  }
  ProgressCounter counter(n, std::move(report));
  const std::function<void()> on_simulation = [&] {
    simulations.fetch_add(1, std::memory_order_relaxed);
    counter.add(0);
  };
  // Two tasks per layout (its two searches), joined per layout in layout order.
  std::vector<LayoutRun> searches(2 * n);
  std::vector<std::atomic<int>> searches_done(n);
  parallel_for(searches.size(), options.jobs, [&](std::size_t k) {
    const std::size_t i = first + k / 2;
    const LayoutSearch search = k % 2 == 0 ? LayoutSearch::kAtTarget : LayoutSearch::kHighestRate;
    searches[k] = run_layout(ctx, layouts[i], variant_of[i], i, search, on_simulation);
    if (searches_done[k / 2].fetch_add(1) == 1) counter.add(1);  // both searches of layout i are done
  });
  std::vector<LayoutRun> runs;
  runs.reserve(n);
  for (std::size_t k = 0; k < n; ++k) {
    runs.push_back(join_searches(std::move(searches[2 * k]), std::move(searches[2 * k + 1])));
  }
  // The last report counts the simulations kept (a search apart may repeat one the other ran; the count
  // while running includes it).
  if (options.progress) {
    int kept = 0;
    for (const LayoutRun& run : runs) kept += run.outcome.simulations;
    options.progress(kept, n, n);
  }
  return runs;
}

void restore_layouts(const PlanSpec& spec, std::vector<PlanLayoutRun>& runs) {
  const std::vector<PlanLayout> layouts = plan_layouts(spec);
  const std::vector<VariantSpec> variant_of = variants_of(spec, layouts);
  if (runs.size() != layouts.size()) {
    throw InternalError(fmt::format("{} layout runs for {} layouts", runs.size(), layouts.size()));
  }
  for (std::size_t i = 0; i < runs.size(); ++i) {
    runs[i].outcome.layout = layouts[i];
    (void)apply_layout_variant(runs[i].outcome.layout, variant_of[i]);  // as run_layout applied it
  }
}

PlanResult join_plan(const PlanSpec& spec, std::vector<PlanLayoutRun> runs) {
  PlanResult result;
  result.target_rate_per_s = target_rate(spec);
  result.layouts.reserve(runs.size());
  for (LayoutRun& run : runs) {
    if (!run.simulated) ++result.not_simulated;
    result.simulations += run.outcome.simulations;
    for (PlanTrial& t : run.trials) result.trials.push_back(std::move(t));
    for (const PlanPoint& p : run.points) result.points.push_back(p);
    result.layouts.push_back(std::move(run.outcome));
  }
  for (std::size_t i = 0; i < result.layouts.size(); ++i) {
    if (result.layouts[i].status == LayoutStatus::kOk) result.ranking.push_back(i);
  }
  std::stable_sort(result.ranking.begin(), result.ranking.end(), [&](std::size_t a, std::size_t b) {
    const DeploymentCost& ca = result.layouts[a].cost;
    const DeploymentCost& cb = result.layouts[b].cost;
    return std::tie(ca.usd_per_hour, ca.usd_per_million_output_tokens, ca.gpus) <
           std::tie(cb.usd_per_hour, cb.usd_per_million_output_tokens, cb.gpus);
  });
  std::vector<TradeoffPoint> tradeoff;
  for (const PlanPoint& p : result.points) tradeoff.push_back(p.point);
  result.pareto = pareto_front(tradeoff);
  return result;
}

PlanResult run_plan(const PlanSpec& spec, const PlanRunOptions& options) {
  return join_plan(spec, run_plan_layouts(spec, 0, plan_size(spec), options));
}

}  // namespace mlasim
