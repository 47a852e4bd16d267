#include "sim/sweep/sweep.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <tuple>

#include "sim/error.hpp"

namespace mlasim {

std::string BatchChoice::to_string() const {
  return is_max ? "max" : fmt::format("{}", sequences);
}

namespace {

// The batch `max` resolves to: every sequence of this context that fits in the KV cache, but no more than the
// scheduler's token budget runs in one step (the activation workspace the capacity model reserves is sized
// for it).
int max_batch(std::int64_t concurrency, std::int64_t max_batched_tokens, int s_q) {
  const std::int64_t by_tokens = std::max<std::int64_t>(max_batched_tokens / s_q, 1);
  return static_cast<int>(std::min({concurrency, by_tokens, std::int64_t{std::numeric_limits<int>::max()}}));
}

}  // namespace

std::string SweepPoint::status_text() const {
  if (status == PointStatus::kInvalid) return "invalid: " + invalid_reason;
  return std::string(to_string(status));
}

std::string sweep_axes_text(const SweepSpec& s) {
  return fmt::format(
      "{} models × {} variants × {} hardware × {} tp × {} dp_attention × {} batch × {} context × {} sq",
      s.models.size(), s.variants.size(), s.hardware.size(), s.tp.size(), s.dp_attention.size(),
      s.batch.size(), s.context.size(), s.s_q.size());
}

std::optional<std::size_t> checked_sweep_size(const SweepSpec& s) {
  std::size_t n = 1;
  for (const std::size_t axis : {s.models.size(), s.variants.size(), s.hardware.size(), s.tp.size(),
                                 s.dp_attention.size(), s.batch.size(), s.context.size(), s.s_q.size()}) {
    if (__builtin_mul_overflow(n, axis, &n)) return std::nullopt;
  }
  return n;
}

std::size_t sweep_size(const SweepSpec& s) {
  const std::optional<std::size_t> n = checked_sweep_size(s);
  if (!n || *n > kMaxSweepGridPoints) {
    throw InputError(SourceLocation{s.source}, "sweep",
                     fmt::format("the grid has {} points ({}), more than the {} a sweep may have",
                                 n ? fmt::format("{}", *n) : std::string("over 2^64"), sweep_axes_text(s),
                                 kMaxSweepGridPoints));
  }
  return *n;
}

std::size_t sweep_index(const SweepSpec& s, std::size_t model, std::size_t variant, std::size_t hardware,
                        std::size_t tp, std::size_t dp, std::size_t batch, std::size_t context,
                        std::size_t s_q) {
  std::size_t i = model;
  i = i * s.variants.size() + variant;
  i = i * s.hardware.size() + hardware;
  i = i * s.tp.size() + tp;
  i = i * s.dp_attention.size() + dp;
  i = i * s.batch.size() + batch;
  i = i * s.context.size() + context;
  return i * s.s_q.size() + s_q;
}

std::vector<SweepPoint> run_sweep(const SweepSpec& spec) {
  if (sweep_size(spec) == 0) throw InputError(SourceLocation{spec.source}, "sweep", "the grid is empty");
  std::vector<SweepPoint> points;
  points.reserve(sweep_size(spec));

  std::vector<DeviceModel> devices;
  devices.reserve(spec.hardware.size());
  for (const HardwareSpec& hw : spec.hardware) devices.emplace_back(hw, spec.device_mode, spec.launch);

  StepShape shape;
  shape.mla_mode = spec.mla_mode;
  shape.mtp = spec.mtp;
  SweepPoint p;
  for (std::size_t mi = 0; mi < spec.models.size(); ++mi) {
    p.model = static_cast<std::uint32_t>(mi);
    const Precision precision = spec.precision_for(spec.models[mi]);
    shape.precision = precision;
    for (std::size_t vi = 0; vi < spec.variants.size(); ++vi) {
      p.variant = static_cast<std::uint32_t>(vi);
      const ModelSpec model = apply_variant(spec.models[mi], spec.variants[vi]);
      p.attention = model.attention.kind;
      const double kv_per_token = kv_bytes_per_token(model, precision.kv_cache);
      const double weights = weight_bytes_total(model, precision.weights);
      for (std::size_t hi = 0; hi < spec.hardware.size(); ++hi) {
        p.hardware = static_cast<std::uint32_t>(hi);
        const HardwareSpec& hw = spec.hardware[hi];
        const DeviceModel& device = devices[hi];
        for (std::size_t ti = 0; ti < spec.tp.size(); ++ti) {
          const int tp = spec.tp[ti];
          p.tp_index = static_cast<std::uint32_t>(ti);
          p.tp = tp;
          for (std::size_t di = 0; di < spec.dp_attention.size(); ++di) {
            const bool dp = spec.dp_attention[di];
            p.dp_index = static_cast<std::uint32_t>(di);
            p.dp_attention = dp;
            const Parallelism parallel = spec.parallel_at(tp, dp);
            std::string invalid;  // why the capacity, and so every point of this layout, is invalid
            Capacity cap;
            try {
              check_parallelism(parallel);
              cap = compute_capacity(model, hw, precision, parallel, spec.capacity);
            } catch (const InputError& e) {
              invalid = e.message();
            }
            for (std::size_t bi = 0; bi < spec.batch.size(); ++bi) {
              const BatchChoice choice = spec.batch[bi];
              p.batch_index = static_cast<std::uint32_t>(bi);
              p.batch_is_max = choice.is_max;
              for (std::size_t ci = 0; ci < spec.context.size(); ++ci) {
                const std::int64_t context = spec.context[ci];
                p.context_index = static_cast<std::uint32_t>(ci);
                p.context = context;
                const std::int64_t conc = invalid.empty() ? max_concurrency(cap, context) : 0;
                for (std::size_t si = 0; si < spec.s_q.size(); ++si) {
                  const int s_q = spec.s_q[si];
                  p.s_q_index = static_cast<std::uint32_t>(si);
                  p.s_q = s_q;
                  // With MTP a step verifies 1 + depth tokens per sequence: the token budget counts them.
                  const int step_tokens = spec.mtp.enabled() ? 1 + spec.mtp.depth : s_q;
                  p.batch = choice.is_max ? max_batch(conc, spec.capacity.max_batched_tokens, step_tokens)
                                          : choice.sequences;
                  p.status = PointStatus::kInvalid;
                  p.invalid_reason = invalid;
                  StepEvaluation eval;
                  p.attention_flops = 0;
                  p.attention_bytes = 0;
                  p.attention_bound.reset();
                  if (invalid.empty() && p.batch == 0) {
                    p.status =
                        PointStatus::kDoesNotFit;  // `max` where not one sequence fits: nothing to cost
                  } else if (invalid.empty()) {
                    // One record for the batch's identical sequences: memory does not grow with the batch.
                    shape.sequences.assign(1, SequenceWork{context, s_q, false, true, p.batch});
                    shape.parallel = parallel;
                    try {
                      eval = evaluate_step(model, device, shape, cap, OpDetail::kTotals);
                      p.status = eval.status;
                      p.attention_flops = eval.cost.attention_flops;
                      p.attention_bytes = eval.cost.attention_bytes;
                      p.attention_bound = eval.cost.attention_bound;
                    } catch (const InputError& e) {
                      p.invalid_reason = e.message();
                    }
                  }
                  const StepCost& cost = eval.cost;
                  const bool costed = cost.step_time_s > 0.0;
                  p.step_time_s = cost.step_time_s;
                  p.attention_s = cost.attention_s;
                  p.gemm_s = cost.gemm_s;
                  p.communication_s = cost.communication_s;
                  p.other_s = cost.other_s;
                  p.tokens_per_s = costed ? eval.totals.tokens_per_s : 0.0;
                  p.tokens_per_s_per_gpu = costed ? eval.totals.tokens_per_s_per_gpu : 0.0;
                  p.tokens_per_s_per_user = costed ? eval.totals.tokens_per_s_per_user : 0.0;
                  p.flops = cost.flops;
                  p.bytes = cost.bytes;
                  p.kv_bytes_per_token = kv_per_token;
                  p.kv_bytes_per_token_per_gpu = invalid.empty() ? cap.kv_bytes_per_token_per_gpu : 0.0;
                  p.kv_capacity_tokens = invalid.empty() ? cap.kv_capacity_tokens() : 0;
                  p.max_concurrency = conc;
                  p.weight_bytes = weights;
                  p.weight_bytes_per_gpu = invalid.empty() ? cap.weight_bytes_per_gpu : 0.0;
                  for (const Provenance prov : kProvenances)
                    p.time_share[static_cast<std::size_t>(prov)] = cost.share(prov);
                  p.cost.reset();
                  if (p.status == PointStatus::kOk) p.cost = eval.totals.cost;
                  points.push_back(p);
                }
              }
            }
          }
        }
      }
    }
  }
  return points;
}

std::vector<SweepHeadline> sweep_headline(const SweepSpec& spec, const std::vector<SweepPoint>& points) {
  if (points.size() != sweep_size(spec)) {
    throw InternalError(
        fmt::format("sweep headline: {} points for a grid of {}", points.size(), sweep_size(spec)));
  }
  std::vector<std::int64_t> contexts(spec.context.begin(), spec.context.end());
  std::sort(contexts.begin(), contexts.end());
  contexts.erase(std::unique(contexts.begin(), contexts.end()), contexts.end());
  const bool at_max =
      std::any_of(spec.batch.begin(), spec.batch.end(), [](BatchChoice b) { return b.is_max; });

  std::vector<SweepHeadline> out(spec.models.size());
  for (std::size_t m = 0; m < out.size(); ++m) {
    out[m].model = m;
    out[m].at_max = at_max;
    for (const std::int64_t c : contexts) out[m].rows.push_back(HeadlineRow{c, std::nullopt, std::nullopt});
  }
  const auto row_of = [&](const SweepPoint& p) -> HeadlineRow& {
    const auto it = std::lower_bound(contexts.begin(), contexts.end(), p.context);
    return out[p.model].rows[static_cast<std::size_t>(it - contexts.begin())];
  };

  // Without `max`: the capacity point of each configuration, s_q and context is its largest batch that fits.
  using Key = std::tuple<std::uint32_t, std::uint32_t, std::uint32_t, std::uint32_t, std::uint32_t,
                         std::uint32_t, std::uint32_t>;
  std::map<Key, std::size_t> largest_fitting;
  for (std::size_t i = 0; i < points.size(); ++i) {
    const SweepPoint& p = points[i];
    if (p.status == PointStatus::kInvalid || p.max_concurrency < 1) continue;
    HeadlineRow& row = row_of(p);
    // Most concurrent: more sequences, then fewer GPUs; the first in grid order otherwise.
    if (!row.most_concurrent ||
        std::pair(p.max_concurrency, -p.tp) >
            std::pair(points[*row.most_concurrent].max_concurrency, -points[*row.most_concurrent].tp)) {
      row.most_concurrent = i;
    }
    if (p.status != PointStatus::kOk) continue;
    if (at_max) {
      if (p.batch_is_max) {
        if (!row.fastest_at_capacity ||
            p.tokens_per_s_per_gpu > points[*row.fastest_at_capacity].tokens_per_s_per_gpu)
          row.fastest_at_capacity = i;
      }
      continue;
    }
    const Key key{p.model, p.variant, p.hardware, p.tp_index, p.dp_index, p.context_index, p.s_q_index};
    const auto [it, inserted] = largest_fitting.emplace(key, i);
    if (!inserted && p.batch > points[it->second].batch) it->second = i;
  }
  if (!at_max) {
    std::vector<std::size_t> candidates;
    for (const auto& [key, i] : largest_fitting) candidates.push_back(i);
    std::sort(candidates.begin(), candidates.end());  // grid order, so that ties go to the first
    for (const std::size_t i : candidates) {
      HeadlineRow& row = row_of(points[i]);
      if (!row.fastest_at_capacity ||
          points[i].tokens_per_s_per_gpu > points[*row.fastest_at_capacity].tokens_per_s_per_gpu)
        row.fastest_at_capacity = i;
    }
  }
  return out;
}

}  // namespace mlasim
