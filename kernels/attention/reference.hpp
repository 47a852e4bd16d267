#pragma once
// CPU references for paged decode attention (double accumulation), the naive-vs-absorbed MLA identity, the
// split-KV combine math, and a CPU emulation of the GPU kernels' algorithm (tiles, online softmax in fp32
// with exp2, bf16 probabilities, split-KV partials and combine) that tests compare with the reference. Plain
// C++ (this header is C++17, the GPU program includes it): no CUDA header, no fmt; shared by the Catch2 tests
// and the GPU program.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/attention/paging.hpp"
#include "kernels/attention/schedule.hpp"

namespace mlasim::attention {

/// DeepSeek-V2/V3 MLA cache widths (DESIGN.md §5): latent d_c and shared rope key d_r.
inline constexpr int kMlaLatentDim = 512;
inline constexpr int kMlaRopeDim = 64;
inline constexpr int kMlaQkDim = kMlaLatentDim + kMlaRopeDim;  ///< 576: K is the whole cached row
inline constexpr int kMlaVDim = kMlaLatentDim;                 ///< 512: V is the latent part of the row

/// One decode step of attention over a paged cache, on the host. Values are floats that are exactly
/// representable in bf16 (they are what the GPU receives). MLA (absorbed) is the case n_kv_heads = 1,
/// d_qk = 576, d_v = 512, v_in_k = true. Query token s of sequence b (length L) sees tokens
/// [0, L - s_q + s] (causal among the s_q new tokens, which are the last s_q of the context).
struct DecodeProblem {
  int batch = 0;
  int s_q = 1;
  int n_q_heads = 0;
  int n_kv_heads = 1;
  int d_qk = 0;
  int d_v = 0;
  bool v_in_k = false;         ///< V is the first d_v values of each K row (MLA); `v` is then empty
  float softmax_scale = 1.0f;  ///< multiplies q·k before the softmax
  PageTable pages;
  std::vector<float> q;  ///< [batch][s_q][n_q_heads][d_qk]
  std::vector<float> k;  ///< [num_pages][page_tokens][n_kv_heads][d_qk]
  std::vector<float> v;  ///< [num_pages][page_tokens][n_kv_heads][d_v], empty when v_in_k

  [[nodiscard]] int group_size() const { return n_q_heads / n_kv_heads; }
  /// Query rows one KV head serves in one sequence: s_q x heads of the group, row = s * group +
  /// head_in_group.
  [[nodiscard]] int rows_per_kv_head() const { return s_q * group_size(); }
  [[nodiscard]] long long total_context() const;
  [[nodiscard]] std::size_t out_elements() const {
    return static_cast<std::size_t>(batch) * static_cast<std::size_t>(s_q) *
           static_cast<std::size_t>(n_q_heads) * static_cast<std::size_t>(d_v);
  }
};

/// Result of decode attention: out [batch][s_q][n_q_heads][d_v], lse [batch][s_q][n_q_heads] (natural log of
/// the softmax denominator sum_j exp(scale * q·k_j)).
template <class T>
struct DecodeOutput {
  std::vector<T> out;
  std::vector<T> lse;
};

/// Random MLA problem: h_q heads, s_q new tokens, bf16-exact values in [-1, 1) (never zeros), scattered
/// pages.
DecodeProblem make_mla_problem(const std::vector<int>& context_lens, int s_q, int h_q, float softmax_scale,
                               std::uint64_t seed);
/// Random MHA/GQA/MQA problem with separate paged K and V.
DecodeProblem make_gqa_problem(const std::vector<int>& context_lens, int s_q, int n_q_heads, int n_kv_heads,
                               int head_dim, float softmax_scale, std::uint64_t seed);
/// Writes NaN into every cache slot no sequence uses (the tail of each sequence's last page, and pages no
/// sequence owns), K and V alike: a real cache holds garbage there, and a kernel that reads those slots and
/// only masks the scores (0 x NaN = NaN in P·V) must fail its check. The reference never reads them.
/// Returns the number of token slots poisoned.
std::size_t poison_unused_slots(DecodeProblem& p);
/// Validates shapes and sizes; throws std::invalid_argument naming the bad field.
void validate_problem(const DecodeProblem& p);

/// Exact reference: double accumulation, two-pass softmax.
DecodeOutput<double> decode_reference(const DecodeProblem& p);

/// How the emulation mirrors a kernel's inner loop.
struct EmulationOptions {
  int tile_tokens = 64;  ///< tokens per KV tile (one online-softmax step)
  int interleave =
      1;  ///< independent softmax states per CTA taking tiles round-robin (warps), merged at the end
  /// Q·K^T accumulators per score (gqa_decode_deep.cu: 2): chain c sums the 16-feature k-steps ks with
  /// ks % qk_chains == c, in fp32, and the chains are added at the end (1: one running sum).
  int qk_chains = 1;
};

/// CPU emulation of the GPU algorithm with the given schedule: fp32 scores of bf16 inputs, exp2 online
/// softmax, probabilities rounded to bf16 before P·V, fp32 partials and LSE per split, fp32 combine, bf16
/// output.
DecodeOutput<float> decode_emulated(const DecodeProblem& p, const SplitSchedule& schedule,
                                    const EmulationOptions& opt);

/// Merges `splits` partial results of one query row: o_parts [splits][d_v] (each normalised by its own
/// denominator), lse_parts [splits] (natural log; -inf for a split that saw no visible token). Writes the
/// combined row into `out` and returns the combined lse. This is the math the combine kernel runs.
template <class T>
T combine_partials(const std::vector<T>& lse_parts, const std::vector<T>& o_parts, int d_v,
                   std::vector<T>& out) {
  const std::size_t splits = lse_parts.size();
  T max_lse = -std::numeric_limits<T>::infinity();
  for (const T v : lse_parts) max_lse = std::max(max_lse, v);
  for (int i = 0; i < d_v; ++i) out[static_cast<std::size_t>(i)] = T(0);
  if (!std::isfinite(max_lse)) return max_lse;
  T sum = T(0);
  for (std::size_t s = 0; s < splits; ++s) {
    const T w = std::exp(lse_parts[s] - max_lse);
    sum += w;
    for (int i = 0; i < d_v; ++i) {
      out[static_cast<std::size_t>(i)] +=
          w * o_parts[s * static_cast<std::size_t>(d_v) + static_cast<std::size_t>(i)];
    }
  }
  for (int i = 0; i < d_v; ++i) out[static_cast<std::size_t>(i)] /= sum;
  return max_lse + std::log(sum);
}

/// ||a - b||_2 / ||b||_2 (b is the reference); NaN anywhere gives +inf.
double relative_l2_error(const std::vector<float>& a, const std::vector<double>& b);

// ---- MLA: naive (up-projected) versus absorbed, one sequence, dense cache, double precision ----

/// Per-head up-projections of MLA: k_nope_h = W_UK[h] · c (d_n x d_c), v_h = W_UV[h] · c (d_v x d_c).
struct MlaWeights {
  int heads = 0;
  int d_c = 0;
  int d_r = 0;
  int d_n = 0;
  int d_v = 0;
  std::vector<double> w_uk;  ///< [heads][d_n][d_c]
  std::vector<double> w_uv;  ///< [heads][d_v][d_c]
};

/// Inputs of one sequence: q_nope [s_q][heads][d_n], q_rope [s_q][heads][d_r], latent [L][d_c], k_rope
/// [L][d_r].
struct MlaSequence {
  int s_q = 1;
  int length = 0;
  std::vector<double> q_nope;
  std::vector<double> q_rope;
  std::vector<double> latent;
  std::vector<double> k_rope;
};

/// Naive MLA: per head K = [W_UK·c ; k_rope], V = W_UV·c, then causal softmax attention. Out
/// [s_q][heads][d_v].
std::vector<double> mla_naive(const MlaWeights& w, const MlaSequence& x, double softmax_scale);
/// Absorbed MLA: q_abs = W_UK^T q_nope, attention over the shared latent row [c ; k_rope] with V = c (MQA
/// over one 576-wide head), then W_UV applied to the latent output. Out [s_q][heads][d_v]; equals mla_naive.
std::vector<double> mla_absorbed(const MlaWeights& w, const MlaSequence& x, double softmax_scale);

// ---- analytic work of one decode step (for the measurement CSVs, and for calibrated mode, which evaluates
// it between grid points: hence real-valued arguments) ----

/// FlashMLA's benchmark counting: FLOPs = 2·s_q·h_q·(576 + 512)·ΣL.
double mla_flops(double s_q, double h_q, double sum_context);
/// FlashMLA's benchmark counting: bytes = 2·(576·ΣL + B·s_q·h_q·(576 + 512)).
double mla_bytes(double batch, double s_q, double h_q, double sum_context);
/// DESIGN.md §5: FLOPs = 4·n_h·d·s_q·ΣL (QK and PV).
double gqa_flops(double s_q, double n_h, double d, double sum_context);
/// K and V read once (2·n_kv·d·2 bytes per token) plus Q read and O written in bf16.
double gqa_bytes(double batch, double s_q, double n_h, double n_kv, double d, double sum_context);

}  // namespace mlasim::attention
