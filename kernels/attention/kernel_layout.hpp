#pragma once
// Shared-memory layouts, copy assignments and cp.async pipeline indices of mla_decode.cu and gqa_decode.cu,
// written as constexpr functions that the kernels use and that the host tests
// (tests/test_attention_layout.cpp) check for every configuration of the measurement grid: alignment, bounds,
// coverage, bank conflicts, the cp.async group schedule and the barrier epochs between writes and reads of
// every shared buffer. Plain C++17 plus MLASIM_HD; no CUDA header.
#include <cstddef>

#include "kernels/attention/mma_layout.hpp"

namespace mlasim::attention::layout {

/// Tokens per KV-cache page (paging.hpp's kPageTokens; the tests check they agree).
inline constexpr int kPageTokens = 64;

/// A 16-byte copy of a [rows][width] tile: row and 8-element chunk of copy index c.
struct Chunk {
  int row;
  int chunk;
};

namespace mla {
inline constexpr int kDk = 576;       ///< K width: 512 latent + 64 rope
inline constexpr int kDv = 512;       ///< V width: the latent
inline constexpr int kTile = 32;      ///< tokens per KV tile
inline constexpr int kStages = 3;     ///< cp.async ring depth
inline constexpr int kThreads = 256;  ///< 8 warps
inline constexpr int kRows = 64;      ///< query rows per CTA (decode_kernels.cuh: kMlaRowsPerCta)
inline constexpr int kCtasPerSm = 1;  ///< resident CTAs per SM (shared-memory bound: kSmemBytes below)
/// CTAs that share one KV run: s_q·h_q query rows in blocks of kRows.
MLASIM_HD constexpr int row_blocks(int s_q, int h_q) {
  return (s_q * h_q + kRows - 1) / kRows;
}
inline constexpr int kStride = kDk + 8;  ///< +16 bytes per row: ldmatrix rows land in distinct banks
inline constexpr int kPStride = kTile + 8;
inline constexpr int kChunksPerRow = kDk / 8;  ///< 16-byte chunks per 576-value row
inline constexpr int kKvCopiesPerThread = kTile * kChunksPerRow / kThreads;

inline constexpr std::size_t kSmemQ = std::size_t(kRows) * kStride * 2;
inline constexpr std::size_t kSmemKv = std::size_t(kStages) * kTile * kStride * 2;
inline constexpr std::size_t kSmemP = std::size_t(kRows) * kPStride * 2;
inline constexpr std::size_t kSmemRed = std::size_t(4) * kRows * sizeof(float);  ///< max and sum, two halves
inline constexpr std::size_t kOffKv = kSmemQ;  ///< byte offsets of the regions
inline constexpr std::size_t kOffP = kOffKv + kSmemKv;
inline constexpr std::size_t kOffRed = kOffP + kSmemP;
inline constexpr std::size_t kSmemBytes = kOffRed + kSmemRed;

/// Copy index c (thread + j * kThreads) of a [rows][576] tile.
MLASIM_HD constexpr Chunk chunk_of(int c) {
  return {c / kChunksPerRow, c % kChunksPerRow};
}
/// Element offset of a chunk in a Q or KV tile (row stride kStride).
MLASIM_HD constexpr int chunk_elem(Chunk c) {
  return c.row * kStride + c.chunk * 8;
}
/// Element offset of ring stage `stage` inside the KV region.
MLASIM_HD constexpr int stage_elem(int stage) {
  return stage * kTile * kStride;
}
/// Ring stage holding tile `it` of a segment; the tile prefetched at iteration `it`.
MLASIM_HD constexpr int stage_of(int it) {
  return it % kStages;
}
MLASIM_HD constexpr int prefetch_tile(int it) {
  return it + kStages - 1;
}
/// Element offsets (lane's ldmatrix row address) of the operands, before the per-k-step advance of 16 values:
/// Q of slab `slab` (A), K of token half `half` within a tile (B, n-major), V rows of k-step `ks` and column
/// half `half` within a tile (B, transposed), P of slab `slab` (A).
MLASIM_HD constexpr int q_frag_elem(int slab, int lane) {
  return (slab * 16 + mma::ldsm_addr_a(lane).row) * kStride + mma::ldsm_addr_a(lane).col;
}
MLASIM_HD constexpr int k_frag_elem(int half, int lane) {
  return (half * 16 + mma::ldsm_addr_bk(lane).row) * kStride + mma::ldsm_addr_bk(lane).col;
}
MLASIM_HD constexpr int v_frag_elem(int ks, int half, int lane) {
  return (ks * 16 + mma::ldsm_addr_a(lane).row) * kStride + half * (kDv / 2) + mma::ldsm_addr_a(lane).col;
}
MLASIM_HD constexpr int p_frag_elem(int slab, int lane) {
  return (slab * 16 + mma::ldsm_addr_a(lane).row) * kPStride + mma::ldsm_addr_a(lane).col;
}
/// Element offset of P[row][col] (row within the 64-row block, col = token within the tile).
MLASIM_HD constexpr int p_elem(int row, int col) {
  return row * kPStride + col;
}
}  // namespace mla

namespace gqa {
inline constexpr int kWarps = 4;
inline constexpr int kThreads = 32 * kWarps;
inline constexpr int kTile = 16;   ///< tokens per warp tile
inline constexpr int kStages = 2;  ///< per-warp cp.async ring depth
inline constexpr int kRows = 16;   ///< query rows per CTA (decode_kernels.cuh: kGqaRowsPerCta)
/// Resident CTAs per SM (d = 128: 2, register bound; d = 64: 3, shared-memory bound).
MLASIM_HD constexpr int ctas_per_sm(int head_dim) {
  return head_dim == 128 ? 2 : 3;
}
/// CTAs that share one KV run: each KV head's s_q·(n_h / n_kv) query rows in blocks of kRows.
MLASIM_HD constexpr int row_blocks(int s_q, int n_h, int n_kv) {
  return n_kv * ((s_q * (n_h / n_kv) + kRows - 1) / kRows);
}

/// Shared memory of a CTA with `Stages`-deep per-warp rings (gqa_decode.cu: kStages; the deep variant,
/// gqa_decode_deep.cu: gqa_deep::Config<D>::kStages).
template <int D, int Stages = kStages>
struct Smem {
  static constexpr int kStride = D + 8;  ///< +16 bytes per row: conflict-free ldmatrix
  static constexpr int kChunks = D / 8;
  static constexpr int kCopiesPerLane = kTile * kChunks / 32;
  static constexpr std::size_t kQ = std::size_t(kRows) * kStride * 2;
  static constexpr std::size_t kTileBytes = std::size_t(kTile) * kStride * 2;
  static constexpr std::size_t kRing = std::size_t(kWarps) * Stages * 2 * kTileBytes;  ///< K and V per stage
  static constexpr std::size_t kMerge = std::size_t(kWarps) * kRows * D * sizeof(float);  ///< reuses the ring
  static constexpr std::size_t kRingOrMerge = kRing > kMerge ? kRing : kMerge;
  static constexpr std::size_t kStats = std::size_t(2) * kWarps * kRows * sizeof(float);
  static constexpr std::size_t kOffRing = kQ;  ///< byte offsets of the regions
  static constexpr std::size_t kOffStats = kQ + kRingOrMerge;
  static constexpr std::size_t kBytes = kOffStats + kStats;

  /// Element offset of warp `warp`'s K tile in stage `stage` (its V tile follows at + kTile * kStride).
  MLASIM_HD static constexpr int k_stage_elem(int warp, int stage) {
    return (warp * Stages + stage) * 2 * kTile * kStride;
  }
  MLASIM_HD static constexpr Chunk chunk_of(int c) { return {c / kChunks, c % kChunks}; }
  MLASIM_HD static constexpr int chunk_elem(Chunk c) { return c.row * kStride + c.chunk * 8; }
  /// ldmatrix row addresses (elements): Q (A operand) of k-step ks in the Q region; K (B, n-major) and V (B,
  /// transposed) relative to the warp's K or V tile, before the per-step advance of 16 values.
  MLASIM_HD static constexpr int q_frag_elem(int ks, int lane) {
    return mma::ldsm_addr_a(lane).row * kStride + ks * 16 + mma::ldsm_addr_a(lane).col;
  }
  MLASIM_HD static constexpr int k_frag_elem(int lane) {
    return mma::ldsm_addr_bk(lane).row * kStride + mma::ldsm_addr_bk(lane).col;
  }
  MLASIM_HD static constexpr int v_frag_elem(int lane) {
    return mma::ldsm_addr_a(lane).row * kStride + mma::ldsm_addr_a(lane).col;
  }
  /// Float offset of the merge area's (warp, row, col) inside the ring region.
  MLASIM_HD static constexpr int merge_elem(int warp, int row, int col) {
    return (warp * kRows + row) * D + col;
  }
};

/// Tiles of a segment of `n_tiles` that warp `warp` computes (tiles warp, warp + 4, ...).
MLASIM_HD constexpr int warp_tiles(int n_tiles, int warp) {
  return warp < n_tiles ? (n_tiles - warp + kWarps - 1) / kWarps : 0;
}
/// Segment tile index of the warp's it-th tile.
MLASIM_HD constexpr int warp_tile(int warp, int it) {
  return warp + kWarps * it;
}
MLASIM_HD constexpr int stage_of(int it) {
  return it % kStages;
}
MLASIM_HD constexpr int prefetch_tile(int it) {
  return it + kStages - 1;
}
}  // namespace gqa

/// The deep-prefetch GQA/MQA/MHA kernel (gqa_decode_deep.cu, variants gqa-d128-deep and gqa-d64-deep): gqa's
/// CTA (4 warps, 16 query rows of one KV head, 16-token tiles dealt round-robin to the warps, one ring per
/// warp, the same row blocks and merge) with rings 3 (d 128) or 4 (d 64) stages deep, so that 2 or 3 tiles
/// per warp are in flight while it computes one (gqa: 1), Q·K^T split over 4 accumulator chains (token halves
/// x k-step parity) instead of 2, and the Q load issued together with the ring's prologue.
namespace gqa_deep {
using gqa::kRows;
using gqa::kThreads;
using gqa::kTile;
using gqa::kWarps;
using gqa::warp_tile;
using gqa::warp_tiles;
/// CTAs that share one KV run (as gqa: the scheduler's row_blocks).
MLASIM_HD constexpr int row_blocks(int s_q, int n_h, int n_kv) {
  return gqa::row_blocks(s_q, n_h, n_kv);
}

/// The kernel uses Config<D> (ring depth 3 for d 128, 4 for d 64); the tests replay other depths too.
template <int D, int Stages = (D == 128 ? 3 : 4)>
struct Config {
  static_assert(D == 64 || D == 128, "head dim 64 or 128");
  static_assert(Stages >= 2, "a ring of at least 2 stages");
  /// Per-warp ring depth: d 128: 3 x 8,704 B per warp (2 CTAs/SM); d 64: 4 x 4,608 B (3 CTAs/SM).
  static constexpr int kStages = Stages;
  /// Resident CTAs per SM, shared-memory bound (the tests check kBytes against it); the kernel's
  /// __launch_bounds__ minimum and the scheduler's ctas_per_sm.
  static constexpr int kCtasPerSm = D == 128 ? 2 : 3;
  /// Independent Q·K^T accumulators per 16-token half: k-step ks goes to chain ks % kQkChains.
  static constexpr int kQkChains = 2;
  using Smem = gqa::Smem<D, kStages>;
  /// cp.async groups a warp waits down to inside the loop (tile `it` complete, the next kStages - 2 in
  /// flight).
  static constexpr int kWaitInLoop = kStages - 2;
  /// After the Q group and the kStages - 1 prologue groups: only Q (the oldest) must be complete.
  static constexpr int kWaitForQ = kStages - 1;

  /// Ring stage of a warp's it-th tile; the warp tile prefetched at iteration `it`.
  MLASIM_HD static constexpr int stage_of(int it) { return it % kStages; }
  MLASIM_HD static constexpr int prefetch_tile(int it) { return it + kStages - 1; }
};
}  // namespace gqa_deep

/// The wide GQA/MQA kernel for large query groups (gqa_decode_wide.cu, variant gqa-d64-wide): one CTA = 8
/// warps = one KV head x up to 128 query rows (warp w: rows 16w..16w+15, its own online softmax, no merge) x
/// one part; a KV tile of 32 tokens is copied once into a CTA-wide 8-stage ring and read by every
/// warp, so a group of 71 (Falcon) reads its KV once per 128 rows instead of once per 16 (gqa: 5 or 9 row
/// blocks).
namespace gqa_wide {
inline constexpr int kWarps = 8;
inline constexpr int kThreads = 32 * kWarps;
inline constexpr int kRows = 16 * kWarps;  ///< query rows per CTA
inline constexpr int kTile = 32;           ///< tokens per KV tile (half a page)
inline constexpr int kStages = 8;          ///< CTA-wide cp.async ring depth
inline constexpr int kCtasPerSm = 2;       ///< shared-memory and register bound (the tests check the first)
/// CTAs that share one KV run: each KV head's s_q·(n_h / n_kv) query rows in blocks of kRows.
MLASIM_HD constexpr int row_blocks(int s_q, int n_h, int n_kv) {
  return n_kv * ((s_q * (n_h / n_kv) + kRows - 1) / kRows);
}

template <int D, int Stages = kStages>
struct Smem {
  static constexpr int kStride = D + 8;  ///< +16 bytes per row: conflict-free ldmatrix
  static constexpr int kChunks = D / 8;  ///< 16-byte chunks per row
  /// K and V copies of a tile (kTile rows x kChunks, each for K and V) per thread.
  static constexpr int kCopiesPerThread = kTile * kChunks / kThreads;
  static constexpr std::size_t kQ = std::size_t(kRows) * kStride * 2;
  static constexpr std::size_t kTileBytes = std::size_t(kTile) * kStride * 2;  ///< K or V of one tile
  static constexpr std::size_t kRing = std::size_t(Stages) * 2 * kTileBytes;
  static constexpr std::size_t kOffRing = kQ;
  static constexpr std::size_t kBytes = kQ + kRing;

  /// Element offset (inside the ring) of stage `stage`'s K tile; its V tile follows at + kTile * kStride.
  MLASIM_HD static constexpr int k_stage_elem(int stage) { return stage * 2 * kTile * kStride; }
  /// Copy c (= thread + kThreads * j) of a tile: token row and 16-byte chunk.
  MLASIM_HD static constexpr Chunk chunk_of(int c) { return {c / kChunks, c % kChunks}; }
  MLASIM_HD static constexpr int chunk_elem(Chunk c) { return c.row * kStride + c.chunk * 8; }
  /// ldmatrix row addresses (elements): Q (A) of warp `warp`'s slab at k-step ks; K (B, n-major) of tokens
  /// 16·pair.. +16 and V (B, transposed) of tokens 16·kk.. +16, relative to the stage's K or V tile, before
  /// the advance of 16 values per k-step (K) or per 16 output columns (V).
  MLASIM_HD static constexpr int q_frag_elem(int warp, int ks, int lane) {
    return (warp * 16 + mma::ldsm_addr_a(lane).row) * kStride + ks * 16 + mma::ldsm_addr_a(lane).col;
  }
  MLASIM_HD static constexpr int k_frag_elem(int pair, int lane) {
    return (pair * 16 + mma::ldsm_addr_bk(lane).row) * kStride + mma::ldsm_addr_bk(lane).col;
  }
  MLASIM_HD static constexpr int v_frag_elem(int kk, int lane) {
    return (kk * 16 + mma::ldsm_addr_a(lane).row) * kStride + mma::ldsm_addr_a(lane).col;
  }
};

/// Ring stage of tile `it`, the tile prefetched at iteration `it`, and the cp.async groups waited down to in
/// the loop (tile `it` complete, the next Stages - 2 in flight) and before the Q fragments (after Q's group
/// and the Stages - 1 prologue groups: Q complete). The kernel uses kStages; the tests replay other depths.
template <int Stages = kStages>
MLASIM_HD constexpr int stage_of(int it) {
  return it % Stages;
}
template <int Stages = kStages>
MLASIM_HD constexpr int prefetch_tile(int it) {
  return it + Stages - 1;
}
template <int Stages = kStages>
inline constexpr int kWaitInLoop = Stages - 2;
template <int Stages = kStages>
inline constexpr int kWaitForQ = Stages - 1;
}  // namespace gqa_wide

}  // namespace mlasim::attention::layout
