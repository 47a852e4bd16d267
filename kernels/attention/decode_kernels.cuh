#pragma once
// Host-callable launchers of the decode-attention kernels. Layouts (all row-major, bf16 unless noted):
//   MLA:  q [B][s_q][h_q][576], kv cache [pages][64][576] (K = row, V = row[0:512]), out [B][s_q][h_q][512],
//   GQA:  q [B][s_q][n_h][d], k and v caches [pages][64][n_kv][d], out [B][s_q][n_h][d],
//   lse [B][s_q][heads] fp32 (natural log), partials [segments][s_q * heads][d_v] fp32 + [segments][s_q *
//   heads].
// Query token s of a sequence of length L sees tokens [0, L - s_q + s] (the new tokens are the last s_q).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/attention/hopper_layout.hpp"
#include "kernels/attention/kernel_layout.hpp"

namespace mlasim::gpu {

/// The split-KV schedule on the device (see kernels/attention/schedule.hpp for the invariants).
struct DeviceSchedule {
  const int* part_segment_begin = nullptr;  ///< [num_parts + 1]
  const int* seg_seq = nullptr;             ///< [num_segments]
  const int* seg_token_begin = nullptr;
  const int* seg_token_end = nullptr;
  const int* seq_segment_begin = nullptr;  ///< [batch + 1]
  int num_parts = 0;
  int max_splits_per_seq = 1;  ///< 1: no combine pass needed
};

/// Inputs and outputs of one decode step; pointers are device memory.
struct DecodeArgs {
  const __nv_bfloat16* q = nullptr;
  const __nv_bfloat16* k = nullptr;   ///< MLA: the latent cache
  const __nv_bfloat16* v = nullptr;   ///< GQA only
  const int* block_table = nullptr;   ///< [B][max_pages_per_seq]
  const int* context_lens = nullptr;  ///< [B]
  int max_pages_per_seq = 0;
  /// Physical pages in the cache: the bound of the sm_90a MLA kernel's TMA tensor map (0: taken as batch x
  /// max_pages_per_seq, enough for any table whose page ids are distinct).
  int num_kv_pages = 0;
  int batch = 0;
  int s_q = 1;
  int n_q_heads = 0;
  int n_kv_heads = 1;
  int head_dim = 0;  ///< GQA: 64 or 128 (MLA: fixed 576/512)
  float softmax_scale = 1.0f;
  DeviceSchedule schedule;
  __nv_bfloat16* out = nullptr;
  float* lse = nullptr;
  float* part_o = nullptr;  ///< needed when schedule.max_splits_per_seq > 1
  float* part_lse = nullptr;
};

/// Launch shape of a decode call (for the CSVs).
struct LaunchInfo {
  int attention_ctas = 0;
  int combine_ctas = 0;
};

/// MLA: CTAs = ceil(s_q·h_q / 64) query-row blocks x schedule parts; 64 rows share one pass over each KV
/// tile.
inline constexpr int kMlaRowsPerCta = 64;
/// MLA kernel CTAs resident per SM (shared memory bound); the scheduler's ctas_per_sm.
inline constexpr int kMlaCtasPerSm = attention::layout::mla::kCtasPerSm;
/// GQA: CTAs = n_kv x ceil(s_q·group / 16) row blocks x parts; the 16 rows of a block share each KV tile.
inline constexpr int kGqaRowsPerCta = 16;
/// GQA kernel CTAs resident per SM (d = 128: 2, register bound; d = 64: 3, shared-memory bound).
inline constexpr int gqa_ctas_per_sm(int head_dim) {
  return attention::layout::gqa::ctas_per_sm(head_dim);
}

/// GQA deep-prefetch variants (gqa_decode_deep.cu: gqa-d128-deep, gqa-d64-deep): CTAs resident per SM (d =
/// 128: 2, d = 64: 3, shared-memory bound) and row blocks (as gqa: 16 rows per CTA); the scheduler's
/// ctas_per_sm and row_blocks.
inline constexpr int gqa_deep_ctas_per_sm(int head_dim) {
  return head_dim == 128 ? attention::layout::gqa_deep::Config<128>::kCtasPerSm
                         : attention::layout::gqa_deep::Config<64>::kCtasPerSm;
}
inline int gqa_deep_row_blocks(int s_q, int n_h, int n_kv) {
  return attention::layout::gqa_deep::row_blocks(s_q, n_h, n_kv);
}

/// GQA wide variant for large query groups (gqa_decode_wide.cu: gqa-d64-wide): 128 query rows per CTA, CTAs
/// resident per SM, row blocks; the scheduler's ctas_per_sm and row_blocks.
inline constexpr int kGqaWideRowsPerCta = attention::layout::gqa_wide::kRows;
inline constexpr int kGqaWideCtasPerSm = attention::layout::gqa_wide::kCtasPerSm;
inline int gqa_wide_row_blocks(int s_q, int n_h, int n_kv) {
  return attention::layout::gqa_wide::row_blocks(s_q, n_h, n_kv);
}

/// Row blocks per part the scheduler must know about (ScheduleOptions::row_blocks).
inline int mla_row_blocks(int s_q, int h_q) {
  return attention::layout::mla::row_blocks(s_q, h_q);
}
inline int gqa_row_blocks(int s_q, int n_h, int n_kv) {
  return attention::layout::gqa::row_blocks(s_q, n_h, n_kv);
}

/// Enqueues the split-KV combine pass (combine.cu) when any sequence has more than one split; returns its CTA
/// count (0 when skipped). rows_per_seq = s_q x query heads.
int launch_combine(const DecodeArgs& a, int rows_per_seq, int d_v, cudaStream_t stream);

/// Enqueues the MLA decode kernel and, when any sequence is split, the combine kernel.
LaunchInfo launch_mla_decode(const DecodeArgs& a, cudaStream_t stream);

/// sm_90a MLA kernel (mla_decode_sm90a.cu: wgmma + TMA + mbarriers, warp-specialised): 64 query rows per CTA,
/// as launch_mla_decode, so the same schedule (ScheduleOptions from these three) and the same combine.
inline constexpr int kMlaSm90aRowsPerCta = attention::hopper::kRows;
/// Resident CTAs per SM (shared-memory bound: ~226 KiB of the 227 KiB a block may take).
inline constexpr int kMlaSm90aCtasPerSm = attention::hopper::kCtasPerSm;
inline int mla_sm90a_row_blocks(int s_q, int h_q) {
  return attention::hopper::row_blocks(s_q, h_q);
}
/// True when this build holds the sm_90a kernel (nvcc knew sm_90a) and the current device is compute
/// capability 9.0 (H100, H200, GH200): the only GPUs that run sm_90a code.
bool mla_decode_sm90a_supported();
/// Enqueues the sm_90a MLA kernel and, when any sequence is split, the combine kernel: exactly the semantics
/// and layouts of launch_mla_decode (q and cache must be 16-byte aligned: cudaMalloc'd). Throws
/// std::runtime_error when !mla_decode_sm90a_supported() or the driver cannot encode the tensor maps.
LaunchInfo launch_mla_decode_sm90a(const DecodeArgs& a, cudaStream_t stream);
/// Enqueues the GQA decode kernel (head_dim 64 or 128) and, when needed, the combine kernel.
LaunchInfo launch_gqa_decode(const DecodeArgs& a, cudaStream_t stream);
/// The deep-prefetch GQA kernel (gqa_decode_deep.cu), one launcher per head dim (variants gqa-d128-deep and
/// gqa-d64-deep); schedule with gqa_deep_ctas_per_sm(d) and gqa_deep_row_blocks. Exits 2 on another head_dim.
LaunchInfo launch_gqa_decode_d128_deep(const DecodeArgs& a, cudaStream_t stream);
LaunchInfo launch_gqa_decode_d64_deep(const DecodeArgs& a, cudaStream_t stream);
/// The wide GQA kernel (gqa_decode_wide.cu, variant gqa-d64-wide; head_dim 64 only, exits 2 otherwise):
/// schedule with kGqaWideCtasPerSm and gqa_wide_row_blocks.
LaunchInfo launch_gqa_decode_d64_wide(const DecodeArgs& a, cudaStream_t stream);

}  // namespace mlasim::gpu
