#pragma once
/// How one engine replica spreads a model over its GPUs (DESIGN.md §5 "Parallelism"): one value that travels
/// whole from the config to the step builder, the capacity model and the device model.
#include <string>

namespace mlasim {

/// Parallelism inside one engine replica.
struct Parallelism {
  /// The replica's GPUs. Without DP-attention the attention heads are split tp ways; without expert
  /// parallelism the FFN and experts are split tp ways by columns; two all-reduces per layer.
  int tp = 1;
  /// DP-attention (as SGLang and DeepSeek serve MLA): attention runs data-parallel over the tp ranks —
  /// attention weights replicated, each rank attends to (and caches the KV of) its own sequences — while the
  /// FFN stays tensor-parallel (tokens all-gathered before it, reduce-scattered after) or expert-parallel.
  bool dp_attention = false;
  /// Expert parallelism: the routed experts spread whole over `ep` GPUs, tokens sent to their experts by an
  /// all-to-all (dispatch) and back (combine), as DeepEP does. 1 = off. Today ep is 1 or tp: every GPU of the
  /// replica is an expert rank.
  int ep = 1;
  /// Redundant copies of routed experts (DeepSeek's EPLB places copies of hot experts), spread with the rest.
  int redundant_experts = 0;
  /// Routed tokens on the busiest expert-parallel GPU over the mean. 0 = the expected maximum under uniform
  /// routing (expected_max_load_factor); a balancer such as EPLB brings it towards 1.
  double expert_imbalance = 0.0;
  /// Micro-batches: 1 runs the step's ops back to back; 2 splits the batch in two whose communication runs
  /// while the other computes (DeepSeek's and SGLang's two-batch overlap).
  int micro_batches = 1;
  /// Pipeline stages: the layers split into `pp` consecutive stages of tp GPUs each (tp·pp GPUs in the
  /// replica); the batch runs as pp micro-batches in flight, one per stage, as vLLM's pipeline-parallel
  /// virtual engines do. 1 = off.
  int pp = 1;
  /// Each tensor-parallel all-reduce runs under the GEMM that produces it (fused GEMM + all-reduce kernels:
  /// TensorRT-LLM's, or Flux's and NCCL user-buffer overlap): the pair takes the longer of the two, not the
  /// sum. Off by default: vLLM and SGLang run them back to back.
  bool fuse_allreduce = false;

  /// The replica's GPUs: tp per stage × pp stages.
  [[nodiscard]] int gpus() const { return tp * pp; }
  /// Ranks the attention is split across by sequence (tp with DP-attention, else 1).
  [[nodiscard]] int attention_dp() const { return dp_attention ? tp : 1; }
  /// Ranks the attention heads are split across (1 with DP-attention, else tp).
  [[nodiscard]] int attention_tp() const { return dp_attention ? 1 : tp; }
  /// Ranks the routed experts' columns are split across (1 under expert parallelism, else tp).
  [[nodiscard]] int expert_tp() const { return ep > 1 ? 1 : tp; }
  /// DP-attention with expert parallelism is DeepSeek's decode layout (V3/R1 inference system overview:
  /// "Routed Expert EP144, MLA/Shared Expert DP144"): everything but the routed experts runs data-parallel —
  /// each GPU holds the dense FFN layers, embedding and LM head whole and runs them on its own tokens, with
  /// no collective but the experts' all-to-all.
  [[nodiscard]] bool data_parallel_dense() const { return dp_attention && ep > 1 && tp > 1; }
  /// Ranks the dense FFN, the embedding and the LM head are split across (1 when data_parallel_dense, else
  /// tp).
  [[nodiscard]] int dense_tp() const { return data_parallel_dense() ? 1 : tp; }
  /// "TP8", "TP8 + DP-attention + EP8 + 2 micro-batches", "TP8 + PP2", "TP8 (all-reduce fused)".
  [[nodiscard]] std::string describe() const;
};

/// Checks a layout on its own (not against a model). Throws InputError keyed by the option at fault
/// ("tp", "ep", "micro_batches", "redundant_experts", "expert_imbalance", "pp").
void check_parallelism(const Parallelism& parallel);

}  // namespace mlasim
