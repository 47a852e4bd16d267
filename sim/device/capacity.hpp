#pragma once
/// Memory capacity (DESIGN.md §7): KV budget per GPU, paged KV blocks, max concurrency at a context length,
/// and — when the model does not fit — the numbers and the smallest TP that fits.
#include <cstdint>
#include <optional>
#include <string>

#include "models/model_spec.hpp"
#include "models/precision.hpp"
#include "models/workload.hpp"
#include "sim/device/hardware_spec.hpp"

namespace mlasim {

/// Knobs of the memory model; defaults follow vLLM.
struct CapacityOptions {
  double gpu_memory_utilization = 0.9;  ///< fraction of HBM the engine may use (vLLM's default)
  int block_size = 0;  ///< tokens per KV block; 0 = default (64 for MLA as FlashMLA, 16 else)
  std::int64_t max_batched_tokens = 8192;                   ///< sizes the activation workspace
  double runtime_reserve_bytes = 1.0 * 1024 * 1024 * 1024;  ///< CUDA context, library workspaces, graphs
};

/// The block size actually used for `model`.
[[nodiscard]] int effective_block_size(const ModelSpec& model, const CapacityOptions& opt);

struct Capacity {
  double hbm_bytes = 0;     ///< per GPU
  double usable_bytes = 0;  ///< HBM × utilisation
  double weight_bytes_per_gpu = 0;
  double activation_workspace_bytes = 0;
  double runtime_reserve_bytes = 0;
  double kv_budget_bytes = 0;  ///< may be negative: the model does not fit
  double kv_bytes_per_token_per_gpu = 0;
  int block_size = 0;
  /// Sliding-window attention: the most tokens a sequence keeps cached (the window); 0 = its whole context.
  std::int64_t kv_window_tokens = 0;
  /// Independent KV pools in the replica: 1 under plain TP (every GPU holds a slice of every block), tp under
  /// DP-attention (each GPU holds whole blocks of its own sequences; a sequence lives in one pool).
  int kv_pools = 1;
  std::int64_t kv_blocks_per_pool = 0;  ///< 0 when nothing fits
  /// Blocks the replica can allocate: kv_blocks_per_pool × kv_pools.
  [[nodiscard]] std::int64_t kv_blocks() const { return kv_blocks_per_pool * kv_pools; }
  /// Tokens the replica can cache: kv_blocks × block_size.
  [[nodiscard]] std::int64_t kv_capacity_tokens() const { return kv_blocks() * block_size; }
  [[nodiscard]] bool fits() const { return kv_blocks_per_pool > 0; }
};

/// The KV capacity of one engine replica (a TP group of `parallel.tp` GPUs).
[[nodiscard]] Capacity compute_capacity(const ModelSpec& model, const HardwareSpec& hw,
                                        const Precision& precision, const Parallelism& parallel,
                                        const CapacityOptions& opt = {});

/// Tokens a sequence of `context` tokens keeps in the KV cache: the context, capped at the sliding window.
[[nodiscard]] std::int64_t kv_cached_tokens(const Capacity& cap, std::int64_t context);

/// Sequences of `context` tokens the replica fits at once: pools × (blocks per pool / ceil(cached / block)),
/// cached = kv_cached_tokens(cap, context).
[[nodiscard]] std::int64_t max_concurrency(const Capacity& cap, std::int64_t context);

/// KV-cache bytes one GPU holds for one sequence of `context` tokens (all layers): the attended tokens (the
/// context capped at the sliding window) × kv_bytes_per_token_per_gpu.
[[nodiscard]] double kv_bytes_per_sequence_per_gpu(const ModelSpec& model, Dtype kv_dtype,
                                                   const Parallelism& parallel, std::int64_t context);

/// The smallest power-of-two TP (up to 64, dividing the attention heads unless DP-attention) at which at
/// least one sequence of `context` tokens fits; nullopt when none does.
[[nodiscard]] std::optional<int> smallest_fitting_tp(const ModelSpec& model, const HardwareSpec& hw,
                                                     const Precision& precision, std::int64_t context,
                                                     bool dp_attention = false,
                                                     const CapacityOptions& opt = {});

/// A multi-line explanation for a model that does not fit, with the numbers and the suggested TP.
[[nodiscard]] std::string explain_no_fit(const ModelSpec& model, const HardwareSpec& hw,
                                         const Precision& precision, const Parallelism& parallel,
                                         std::int64_t context, const CapacityOptions& opt = {});

}  // namespace mlasim
