#pragma once
/// The one step evaluator (DESIGN.md §2): model + hardware (a DeviceModel) + step shape (sequences, parallel
/// layout, precision, MLA form, MTP) + capacity options → a typed result: the ops with their times and
/// provenance, the totals, the KV capacity and the verdict. `step`, `sweep`, `serve` and the benches all
/// evaluate steps through here; nothing else calls build_step and cost_step.
#include <cstdint>
#include <optional>
#include <string_view>

#include "models/model_spec.hpp"
#include "models/workload.hpp"
#include "sim/cost.hpp"
#include "sim/device/capacity.hpp"
#include "sim/device/device_model.hpp"

namespace mlasim {

/// Whether a step can run, and whether its batch fits in the KV cache.
enum class PointStatus {
  kOk,                    ///< the batch fits in the KV cache at this context
  kBatchExceedsCapacity,  ///< at least one sequence fits, fewer than the batch; the step is costed anyway
  /// Not one sequence of this context fits; a batch of N is costed anyway, a `max` batch is not (batch 0).
  kDoesNotFit,
  kInvalid,  ///< the model cannot run this way (tp does not divide the heads, ...): not costed
};
/// "ok", "batch-exceeds-capacity", "does-not-fit", "invalid".
[[nodiscard]] std::string_view to_string(PointStatus status);

/// The headline numbers of a step beside its StepCost. Base SI units.
struct StepTotals {
  double step_time_s = 0;
  /// The ops back to back: step_time_s unless two micro-batches overlap communication with compute.
  double serial_time_s = 0;
  double tokens_per_s = 0;           ///< tokens the replica emits per second (with MTP: accepted ones)
  double tokens_per_s_per_gpu = 0;   ///< tokens_per_s / GPUs
  double tokens_per_s_per_user = 0;  ///< one sequence's emitted tokens per second
  double total_tokens_per_s = 0;     ///< every token the step processes, prompt and output, per second
  int gpus = 1;  ///< the replica's GPUs: tp × pp (DP-attention and EP split work over them)
  std::optional<double> price_per_gpu_hour;  ///< USD, from the profile; none when it has no price
  /// The replica's USD per hour and per 1M output (and total) tokens at this step's throughput; none
  /// without a price.
  std::optional<DeploymentCost> cost;
  double kv_bytes_per_token = 0;          ///< all layers, whole model
  double kv_bytes_per_token_per_gpu = 0;  ///< held by one GPU
  std::int64_t kv_capacity_tokens = 0;    ///< in the replica
  std::int64_t kv_blocks = 0;             ///< in the replica
  int block_size = 0;                     ///< tokens per KV block
  std::int64_t longest_context = 0;       ///< tokens: the context max_concurrency is counted at
  std::int64_t max_concurrency = 0;       ///< sequences of longest_context that fit
  double weight_bytes = 0;                ///< whole model
  double weight_bytes_per_gpu = 0;
};

/// A step evaluated.
struct StepEvaluation {
  StepCost cost;
  Capacity capacity;
  StepTotals totals;
  PointStatus status = PointStatus::kOk;
  std::int64_t sequences = 0;  ///< the batch
};

/// The totals of `cost`, a step of `shape` of `model` (already with its variant) on a replica of capacity
/// `cap`: throughputs from the emitted tokens, max concurrency at the step's longest context, the cost
/// through deployment_cost when `price_per_gpu_hour` (USD) is given.
[[nodiscard]] StepTotals step_totals(const StepCost& cost, const Capacity& cap, const ModelSpec& model,
                                     const StepShape& shape, std::optional<double> price_per_gpu_hour);

/// Evaluates one step of `model` (already with its variant) on `device` with the replica's capacity `cap`
/// (compute_capacity of the same model, precision and layout): costs it, and judges the batch against the
/// KV cache at the longest context of the step. Throws InputError when the model cannot run this way.
/// With OpDetail::kTotals the cost keeps no ops and the evaluation allocates nothing once the calling
/// thread has evaluated a step of as many ops (the op list is built in a per-thread buffer): the sweep's
/// points. Safe to call from several threads at once.
[[nodiscard]] StepEvaluation evaluate_step(const ModelSpec& model, const DeviceModel& device,
                                           const StepShape& shape, const Capacity& cap,
                                           OpDetail detail = OpDetail::kOps);
/// The same, computing the capacity with `opt`.
[[nodiscard]] StepEvaluation evaluate_step(const ModelSpec& model, const DeviceModel& device,
                                           const StepShape& shape, const CapacityOptions& opt = {});

/// What every step of one layout shares — model (with its variant), device, capacity, parallel layout,
/// precision, MLA form, MTP — checked and computed once (prepare_layout): a sweep evaluates its points
/// through it. Holds pointers to the model and the device, which must outlive it.
struct PreparedLayout {
  const ModelSpec* model = nullptr;
  const DeviceModel* device = nullptr;
  Capacity cap;
  double kv_bytes_per_token = 0.0;  ///< whole model, at the shape's KV-cache dtype
  double weight_bytes = 0.0;        ///< whole model, at the shape's weight dtype
};

/// Checks the layout of `shape` (check_step_layout: throws its InputError) and computes what its steps
/// share. `shape`'s sequences are not looked at.
[[nodiscard]] PreparedLayout prepare_layout(const ModelSpec& model, const DeviceModel& device,
                                            const StepShape& shape, const Capacity& cap);

/// evaluate_step(*layout.model, *layout.device, shape, layout.cap, OpDetail::kTotals) for a shape with the
/// layout's parallel layout, precision, MLA form and MTP: the same numbers, without the per-layout checks and
/// sums. Throws InputError for sequences the model cannot run (as build_step).
[[nodiscard]] StepEvaluation evaluate_step(const PreparedLayout& layout, const StepShape& shape);

/// The step's time only (no ops kept, no capacity; the op list in the per-thread buffer): the serving
/// simulator's per-iteration cost.
[[nodiscard]] double evaluate_step_time(const ModelSpec& model, const DeviceModel& device,
                                        const StepShape& shape);

}  // namespace mlasim
