#include "sim/sweep/sweep.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <tuple>

#include "sim/error.hpp"
#include "sim/parallel.hpp"

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

SweepPosition sweep_position(const SweepSpec& s, std::size_t index) {
  SweepPosition p;
  const auto next = [&](std::size_t axis) {
    const std::size_t at = index % axis;
    index /= axis;
    return at;
  };
  p.s_q = next(s.s_q.size());
  p.context = next(s.context.size());
  p.batch = next(s.batch.size());
  p.dp = next(s.dp_attention.size());
  p.tp = next(s.tp.size());
  p.hardware = next(s.hardware.size());
  p.variant = next(s.variants.size());
  p.model = index;
  return p;
}

namespace {

/// What every point of one layout (model, variant, GPU, tp, dp_attention) shares: its capacity is computed
/// once, not per point.
struct SweepLayout {
  const ModelSpec* model = nullptr;  ///< the variant applied; owned by run_sweep_points
  Precision precision;
  double kv_per_token = 0.0;  ///< whole model
  double weights = 0.0;       ///< whole model
  Parallelism parallel;
  std::string invalid;  ///< why the capacity, and so every point of this layout, is invalid
  Capacity cap;
  /// Why no step of this layout can be costed (its MTP, or expert parallelism on a dense model): every costed
  /// point is invalid, with the capacity computed.
  std::string step_invalid;
  PreparedLayout prepared;  ///< when invalid and step_invalid are empty
};

/// Points per layout: the batch, context and s_q axes, the fastest-varying.
std::size_t points_per_layout(const SweepSpec& s) {
  return s.batch.size() * s.context.size() * s.s_q.size();
}

/// One point, costed, into `p` (a default SweepPoint). `at` is the layout's position in the grid (its batch,
/// context and s_q positions unset); `shape` is scratch reused between the points of one thread.
void evaluate_sweep_point(const SweepSpec& spec, const SweepLayout& layout, SweepPosition at,
                          std::size_t in_layout, StepShape& shape, SweepPoint& p) {
  at.s_q = in_layout % spec.s_q.size();
  in_layout /= spec.s_q.size();
  at.context = in_layout % spec.context.size();
  at.batch = in_layout / spec.context.size();
  p.model = static_cast<std::uint32_t>(at.model);
  p.variant = static_cast<std::uint32_t>(at.variant);
  p.hardware = static_cast<std::uint32_t>(at.hardware);
  p.tp_index = static_cast<std::uint32_t>(at.tp);
  p.dp_index = static_cast<std::uint32_t>(at.dp);
  p.batch_index = static_cast<std::uint32_t>(at.batch);
  p.context_index = static_cast<std::uint32_t>(at.context);
  p.s_q_index = static_cast<std::uint32_t>(at.s_q);
  p.tp = spec.tp[at.tp];
  p.dp_attention = spec.dp_attention[at.dp];
  p.attention = layout.model->attention.kind;
  const BatchChoice choice = spec.batch[at.batch];
  p.batch_is_max = choice.is_max;
  p.context = spec.context[at.context];
  p.s_q = spec.s_q[at.s_q];

  const std::string& invalid = layout.invalid;
  const Capacity& cap = layout.cap;
  const std::int64_t conc = invalid.empty() ? max_concurrency(cap, p.context) : 0;
  // With MTP a step verifies 1 + depth tokens per sequence: the token budget counts them.
  const int step_tokens = spec.mtp.enabled() ? 1 + spec.mtp.depth : p.s_q;
  p.batch = choice.is_max ? max_batch(conc, spec.capacity.max_batched_tokens, step_tokens) : choice.sequences;
  p.status = PointStatus::kInvalid;
  if (!invalid.empty()) p.invalid_reason = invalid;
  // The step's evaluation: all zeros where it is not costed.
  const StepEvaluation eval = [&] {
    if (!invalid.empty()) return StepEvaluation{};
    if (p.batch == 0) {
      p.status = PointStatus::kDoesNotFit;  // `max` where not one sequence fits: nothing to cost
      return StepEvaluation{};
    }
    if (!layout.step_invalid.empty()) {
      p.invalid_reason = layout.step_invalid;
      return StepEvaluation{};
    }
    // One record for the batch's identical sequences: memory does not grow with the batch.
    shape.sequences.front() = SequenceWork{p.context, p.s_q, false, true, p.batch};
    shape.parallel = layout.parallel;
    shape.precision = layout.precision;
    try {
      StepEvaluation e = evaluate_step(layout.prepared, shape);
      p.status = e.status;
      p.attention_flops = e.cost.attention_flops;
      p.attention_bytes = e.cost.attention_bytes;
      p.attention_bound = e.cost.attention_bound;
      return e;
    } catch (const InputError& e) {
      p.invalid_reason = e.message();
      return StepEvaluation{};
    }
  }();
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
  p.kv_bytes_per_token = layout.kv_per_token;
  p.kv_bytes_per_token_per_gpu = invalid.empty() ? cap.kv_bytes_per_token_per_gpu : 0.0;
  p.kv_capacity_tokens = invalid.empty() ? cap.kv_capacity_tokens() : 0;
  p.max_concurrency = conc;
  p.weight_bytes = layout.weights;
  p.weight_bytes_per_gpu = invalid.empty() ? cap.weight_bytes_per_gpu : 0.0;
  for (const Provenance prov : kProvenances) p.time_share[static_cast<std::size_t>(prov)] = cost.share(prov);
  if (p.status == PointStatus::kOk) p.cost = eval.totals.cost;
}

}  // namespace

std::vector<SweepPoint> run_sweep_points(const SweepSpec& spec, const std::vector<std::size_t>& indices,
                                         const SweepRunOptions& options) {
  const std::size_t size = sweep_size(spec);
  if (size == 0) throw InputError(SourceLocation{spec.source}, "sweep", "the grid is empty");
  for (const std::size_t i : indices) {
    if (i >= size) throw InternalError(fmt::format("sweep point {} of a grid of {}", i, size));
  }
  const int jobs = options.jobs;

  std::vector<DeviceModel> devices;
  devices.reserve(spec.hardware.size());
  for (const HardwareSpec& hw : spec.hardware) devices.emplace_back(hw, spec.device_mode, spec.launch);

  // The layouts the points need, in grid order; each (model, variant) resolved once, in grid order too, so
  // that a variant that cannot apply fails with the same message whatever the indices and jobs.
  const std::size_t per_layout = points_per_layout(spec);
  std::vector<std::size_t> layout_ids;
  layout_ids.reserve(indices.size());
  for (const std::size_t i : indices) {
    if (layout_ids.empty() || layout_ids.back() != i / per_layout) layout_ids.push_back(i / per_layout);
  }
  std::sort(layout_ids.begin(), layout_ids.end());
  layout_ids.erase(std::unique(layout_ids.begin(), layout_ids.end()), layout_ids.end());
  const std::size_t layouts_per_variant = spec.hardware.size() * spec.tp.size() * spec.dp_attention.size();
  std::vector<std::size_t> variant_ids;  // model * variants.size() + variant
  for (const std::size_t l : layout_ids) {
    if (variant_ids.empty() || variant_ids.back() != l / layouts_per_variant)
      variant_ids.push_back(l / layouts_per_variant);
  }
  std::vector<ModelSpec> models;
  models.reserve(variant_ids.size());
  for (const std::size_t v : variant_ids) {
    models.push_back(
        apply_variant(spec.models[v / spec.variants.size()], spec.variants[v % spec.variants.size()]));
  }

  std::vector<SweepLayout> layouts(layout_ids.size());
  parallel_for(layout_ids.size(), jobs, [&](std::size_t k) {
    const SweepPosition at = sweep_position(spec, layout_ids[k] * per_layout);
    const std::size_t v = at.model * spec.variants.size() + at.variant;
    SweepLayout& l = layouts[k];
    l.model = &models[static_cast<std::size_t>(std::lower_bound(variant_ids.begin(), variant_ids.end(), v) -
                                               variant_ids.begin())];
    l.precision = spec.precision_for(spec.models[at.model]);
    l.kv_per_token = kv_bytes_per_token(*l.model, l.precision.kv_cache);
    l.weights = weight_bytes_total(*l.model, l.precision.weights);
    l.parallel = spec.parallel_at(spec.tp[at.tp], spec.dp_attention[at.dp]);
    try {
      check_parallelism(l.parallel);
      l.cap = compute_capacity(*l.model, spec.hardware[at.hardware], l.precision, l.parallel, spec.capacity);
    } catch (const InputError& e) {
      l.invalid = e.message();
      return;
    }
    StepShape shape;
    shape.parallel = l.parallel;
    shape.precision = l.precision;
    shape.mla_mode = spec.mla_mode;
    shape.mtp = spec.mtp;
    try {
      l.prepared = prepare_layout(*l.model, devices[at.hardware], shape, l.cap);
    } catch (const InputError& e) {
      l.step_invalid = e.message();
    }
  });

  // Copies of one default point: value-initializing each in place zeroes it first with `rep stos`, slow to
  // start for a few hundred bytes.
  std::vector<SweepPoint> points(indices.size(), SweepPoint{});
  ProgressCounter progress(indices.size(), options.progress);
  parallel_for_chunks(indices.size(), jobs, 0, [&](std::size_t begin, std::size_t end) {
    StepShape shape;
    shape.sequences.resize(1);
    shape.mla_mode = spec.mla_mode;
    shape.mtp = spec.mtp;
    std::size_t layout = layout_ids.size();  // the last point's, while the points stay in one layout
    SweepPosition at;
    for (std::size_t k = begin; k < end; ++k) {
      const std::size_t id = indices[k] / per_layout;
      if (layout == layout_ids.size() || layout_ids[layout] != id) {
        layout = static_cast<std::size_t>(std::lower_bound(layout_ids.begin(), layout_ids.end(), id) -
                                          layout_ids.begin());
        at = sweep_position(spec, id * per_layout);
      }
      evaluate_sweep_point(spec, layouts[layout], at, indices[k] % per_layout, shape, points[k]);
    }
    progress.add(end - begin);
  });
  progress.finish();
  return points;
}

std::vector<SweepPoint> run_sweep(const SweepSpec& spec, const SweepRunOptions& options) {
  std::vector<std::size_t> all(sweep_size(spec));
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  return run_sweep_points(spec, all, options);
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
