#include "sim/step/evaluate.hpp"

#include <algorithm>

namespace mlasim {

std::string_view to_string(PointStatus status) {
  switch (status) {
    case PointStatus::kOk:
      return "ok";
    case PointStatus::kBatchExceedsCapacity:
      return "batch-exceeds-capacity";
    case PointStatus::kDoesNotFit:
      return "does-not-fit";
    case PointStatus::kInvalid:
      return "invalid";
  }
  return "?";
}

namespace {

/// step_totals with the model's whole KV bytes per token and weight bytes given.
StepTotals totals_of(const StepCost& cost, const Capacity& cap, double kv_bytes_per_token_total,
                     double weight_bytes, const StepShape& shape, std::optional<double> price_per_gpu_hour) {
  StepTotals t;
  const int gpus = shape.parallel.gpus();
  std::int64_t sequences = 0;
  double prompt = 0.0;  // prompt tokens (prefill chunks); with MTP the rejected drafts are not tokens served
  for (const SequenceWork& w : shape.sequences) {
    sequences += w.count;
    if (w.prefill) prompt += double(w.count) * double(w.new_tokens);
    t.longest_context = std::max(t.longest_context, w.context_tokens);
  }
  t.step_time_s = cost.step_time_s;
  t.serial_time_s = cost.serial_time_s;
  t.tokens_per_s = cost.emitted_tokens / cost.step_time_s;
  t.tokens_per_s_per_gpu = t.tokens_per_s / gpus;
  t.tokens_per_s_per_user = sequences > 0 ? cost.emitted_tokens / double(sequences) / cost.step_time_s : 0.0;
  t.total_tokens_per_s = (prompt + cost.emitted_tokens) / cost.step_time_s;
  t.gpus = gpus;
  t.price_per_gpu_hour = price_per_gpu_hour;
  if (price_per_gpu_hour)
    t.cost = deployment_cost(gpus, *price_per_gpu_hour, t.tokens_per_s, t.total_tokens_per_s);
  t.kv_bytes_per_token = kv_bytes_per_token_total;
  t.kv_bytes_per_token_per_gpu = cap.kv_bytes_per_token_per_gpu;
  t.kv_capacity_tokens = cap.kv_capacity_tokens();
  t.kv_blocks = cap.kv_blocks();
  t.block_size = cap.block_size;
  t.max_concurrency = max_concurrency(cap, t.longest_context);
  t.weight_bytes = weight_bytes;
  t.weight_bytes_per_gpu = cap.weight_bytes_per_gpu;
  return t;
}

/// The verdict on a step of `sequences` sequences of which `fit` fit in the KV cache.
PointStatus status_of(std::int64_t fit, std::int64_t sequences) {
  return fit == 0          ? PointStatus::kDoesNotFit
         : fit < sequences ? PointStatus::kBatchExceedsCapacity
                           : PointStatus::kOk;
}

}  // namespace

StepTotals step_totals(const StepCost& cost, const Capacity& cap, const ModelSpec& model,
                       const StepShape& shape, std::optional<double> price_per_gpu_hour) {
  return totals_of(cost, cap, kv_bytes_per_token(model, shape.precision.kv_cache),
                   weight_bytes_total(model, shape.precision.weights), shape, price_per_gpu_hour);
}

namespace {

/// This thread's op list, reused step after step: a step's ops allocate only while the buffer grows.
StepWorkload& scratch_workload() {
  thread_local StepWorkload workload;
  return workload;
}

}  // namespace

StepEvaluation evaluate_step(const ModelSpec& model, const DeviceModel& device, const StepShape& shape,
                             const Capacity& cap, OpDetail detail) {
  StepEvaluation out;
  StepWorkload& workload = scratch_workload();
  build_step(model, shape, workload);
  out.sequences = workload.sequences;
  out.cost = cost_step(workload, device, detail);
  out.capacity = cap;
  out.totals = step_totals(out.cost, cap, model, shape, device.hardware().price_per_gpu_hour);
  out.status = status_of(out.totals.max_concurrency, out.sequences);
  return out;
}

PreparedLayout prepare_layout(const ModelSpec& model, const DeviceModel& device, const StepShape& shape,
                              const Capacity& cap) {
  check_step_layout(model, shape);
  PreparedLayout l;
  l.model = &model;
  l.device = &device;
  l.cap = cap;
  l.kv_bytes_per_token = kv_bytes_per_token(model, shape.precision.kv_cache);
  l.weight_bytes = weight_bytes_total(model, shape.precision.weights);
  return l;
}

StepEvaluation evaluate_step(const PreparedLayout& layout, const StepShape& shape) {
  StepEvaluation out;
  StepWorkload& workload = scratch_workload();
  build_step_of_checked_layout(*layout.model, shape, workload);
  out.sequences = workload.sequences;
  out.cost = cost_step(workload, *layout.device, OpDetail::kTotals);
  out.capacity = layout.cap;
  out.totals = totals_of(out.cost, layout.cap, layout.kv_bytes_per_token, layout.weight_bytes, shape,
                         layout.device->hardware().price_per_gpu_hour);
  out.status = status_of(out.totals.max_concurrency, out.sequences);
  return out;
}

StepEvaluation evaluate_step(const ModelSpec& model, const DeviceModel& device, const StepShape& shape,
                             const CapacityOptions& opt) {
  return evaluate_step(model, device, shape,
                       compute_capacity(model, device.hardware(), shape.precision, shape.parallel, opt));
}

double evaluate_step_time(const ModelSpec& model, const DeviceModel& device, const StepShape& shape) {
  StepWorkload& workload = scratch_workload();
  build_step(model, shape, workload);
  return step_time_s(workload, device);
}

}  // namespace mlasim
