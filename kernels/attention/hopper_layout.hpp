#pragma once
// Shared-memory layout, TMA boxes, wgmma matrix descriptors, accumulator fragments and mbarrier phases of the
// sm_90a MLA decode kernel (mla_decode_sm90a.cu), as constexpr functions the kernel uses and the host test
// tests/test_attention_hopper_layout.cpp replays against its own model of what TMA writes and what wgmma
// reads (PTX ISA: "Tensor copy" swizzle modes, "Shared Memory Matrix Layout", "Matrix Descriptor Format",
// "Matrix Fragments for wgmma.mma_async.m64nNk16", mbarrier phases). Plain C++17 plus MLASIM_HD; no CUDA
// header.
//
// Layout: every operand lives in "boxes" of 64 rows x 64 bf16 columns (128 bytes a row, 8 KiB a box), stored
// with the 128-byte swizzle (the 16-byte chunk c of row r sits at chunk c ^ (r % 8); the pattern is anchored
// to 1024-byte boundaries of the shared address, so every box starts 1024-byte aligned). A 576-wide row
// (Q or a cached K/V row) is 9 boxes side by side (box j = columns 64j..64j+63); V = the first 8.
#include <cstddef>
#include <cstdint>

#include "kernels/attention/mma_layout.hpp"

namespace mlasim::attention::hopper {

inline constexpr int kDk = 576;      ///< K width (512 latent + 64 rope)
inline constexpr int kDv = 512;      ///< V width
inline constexpr int kTile = 64;     ///< KV tokens per tile = one page
inline constexpr int kRows = 64;     ///< query rows per CTA (one wgmma M)
inline constexpr int kBoxCols = 64;  ///< bf16 columns per box: 128 bytes, the swizzle span
inline constexpr int kBoxRows = 64;  ///< rows per box
inline constexpr int kBoxBytes = kBoxCols * kBoxRows * 2;  ///< 8 KiB
inline constexpr int kBoxesK = kDk / kBoxCols;             ///< 9 boxes per 576-wide row block
inline constexpr int kBoxesV = kDv / kBoxCols;             ///< 8: V is boxes 0..7
inline constexpr int kStages = 2;                          ///< KV ring depth
inline constexpr int kConsumers = 2;                       ///< consumer warpgroups
inline constexpr int kThreads = 128 * (1 + kConsumers);    ///< producer warpgroup + 2 consumer warpgroups
inline constexpr int kConsumerWarps = 4 * kConsumers;
inline constexpr int kTokensPerConsumer = kTile / kConsumers;  ///< S = Q·K^T: N = 32 tokens per warpgroup
inline constexpr int kColsPerConsumer = kDv / kConsumers;      ///< P·V: N = 256 output columns per warpgroup
inline constexpr int kCtasPerSm = 1;                           ///< shared-memory bound (kSmemAlloc)
inline constexpr int kProducerRegs = 40;                       ///< setmaxnreg.dec (producer warpgroup)
inline constexpr int kConsumerRegs = 232;                      ///< setmaxnreg.inc (consumer warpgroups)
static_assert(kProducerRegs * 128 + kConsumerRegs * 128 * kConsumers <= 65536, "register file");
static_assert(kProducerRegs % 8 == 0 && kConsumerRegs % 8 == 0, "setmaxnreg takes multiples of 8");

/// CTAs that share one KV run: s_q·h_q query rows in blocks of kRows (the scheduler's row_blocks).
MLASIM_HD constexpr int row_blocks(int s_q, int h_q) {
  return (s_q * h_q + kRows - 1) / kRows;
}

// ---- shared memory (byte offsets from a 1024-byte aligned base) ----
inline constexpr std::uint32_t kRowBlockBytes = std::uint32_t(kBoxesK) * kBoxBytes;  ///< 72 KiB: Q or a stage
inline constexpr std::uint32_t kOffQ = 0;
inline constexpr std::uint32_t kOffKv = kOffQ + kRowBlockBytes;
inline constexpr std::uint32_t kOffP =
    kOffKv + kStages * kRowBlockBytes;                       ///< P: one box (64 rows x 64 tokens)
inline constexpr std::uint32_t kOffMax = kOffP + kBoxBytes;  ///< float [kConsumers][kRows]
inline constexpr std::uint32_t kOffSum = kOffMax + kConsumers * kRows * 4;  ///< float [kConsumers][kRows]
inline constexpr std::uint32_t kOffBar = kOffSum + kConsumers * kRows * 4;  ///< mbarriers, 8 bytes each
/// mbarrier indices: full[stage], empty[stage], q_full, q_empty.
MLASIM_HD constexpr int bar_full(int stage) {
  return stage;
}
MLASIM_HD constexpr int bar_empty(int stage) {
  return kStages + stage;
}
inline constexpr int kBarQFull = 2 * kStages;
inline constexpr int kBarQEmpty = 2 * kStages + 1;
inline constexpr int kNumBars = 2 * kStages + 2;
inline constexpr std::uint32_t kSmemBytes = kOffBar + kNumBars * 8;
inline constexpr std::uint32_t kAlign = 1024;  ///< the 128-byte swizzle's pattern repeats every 1024 bytes
/// Dynamic shared memory asked for: the layout plus the slack to align the base up to 1024 bytes.
inline constexpr std::uint32_t kSmemAlloc = kSmemBytes + kAlign;

/// Byte offset of box `box` (0..8) of Q, and of KV stage `stage`.
MLASIM_HD constexpr std::uint32_t q_box(int box) {
  return kOffQ + std::uint32_t(box) * kBoxBytes;
}
MLASIM_HD constexpr std::uint32_t kv_box(int stage, int box) {
  return kOffKv + std::uint32_t(stage) * kRowBlockBytes + std::uint32_t(box) * kBoxBytes;
}

/// The 128-byte swizzle on a shared-memory byte address (bits [4,7) ^= bits [7,10)).
MLASIM_HD constexpr std::uint32_t swizzle128(std::uint32_t addr) {
  return addr ^ (((addr >> 7) & 7u) << 4);
}
/// Byte offset of element (row, col) of a box that starts at `box` (1024-aligned), as TMA stores it.
MLASIM_HD constexpr std::uint32_t box_elem(std::uint32_t box, int row, int col) {
  return swizzle128(box + std::uint32_t(row) * 128u + std::uint32_t(col) * 2u);
}
/// Byte offset of P[row][token] (the consumers' ordinary stores; wgmma reads it as a K-major A operand).
MLASIM_HD constexpr std::uint32_t p_elem(int row, int token) {
  return box_elem(kOffP, row, token);
}

// ---- TMA ----
/// KV cache as a 2-D tensor: dim 0 = the 576 columns, dim 1 = pages x 64 token rows. Box = 64 x 64.
/// Coordinates (innermost first) of box `box` of physical page `page`.
struct Coord2 {
  int c0;
  int c1;
};
MLASIM_HD constexpr Coord2 kv_tma_coord(int page, int box) {
  return {box * kBoxCols, page * kTile};
}
/// Q as a 3-D tensor: dim 0 = 576 columns, dim 1 = the s_q·h_q rows of a sequence, dim 2 = batch. Box =
/// 64 x 64 x 1; rows past s_q·h_q are out of bounds, which TMA fills with zeros.
struct Coord3 {
  int c0;
  int c1;
  int c2;
};
MLASIM_HD constexpr Coord3 q_tma_coord(int seq, int row_base, int box) {
  return {box * kBoxCols, row_base, seq};
}
/// The arguments of cuTensorMapEncodeTiled (bf16, no interleave, 128-byte swizzle): dims innermost first,
/// byte strides of dims 1.., box. Q: {576, s_q·h_q, batch}; KV: {576, pages x 64}.
struct MapShape {
  int rank;
  std::uint64_t dims[3];
  std::uint64_t strides[2];
  std::uint32_t box[3];
};
MLASIM_HD constexpr MapShape q_map(int rows_per_seq, int batch) {
  return {3,
          {std::uint64_t(kDk), std::uint64_t(rows_per_seq), std::uint64_t(batch)},
          {std::uint64_t(kDk) * 2, std::uint64_t(kDk) * 2 * std::uint64_t(rows_per_seq)},
          {std::uint32_t(kBoxCols), std::uint32_t(kBoxRows), 1}};
}
MLASIM_HD constexpr MapShape kv_map(long long pages) {
  return {2,
          {std::uint64_t(kDk), std::uint64_t(pages) * std::uint64_t(kTile), 1},
          {std::uint64_t(kDk) * 2, 0},
          {std::uint32_t(kBoxCols), std::uint32_t(kBoxRows), 1}};
}
/// Bytes each full barrier expects per phase (the boxes the producer issues against it).
inline constexpr std::uint32_t kTxKv = std::uint32_t(kBoxesK) * kBoxBytes;
inline constexpr std::uint32_t kTxQ = std::uint32_t(kBoxesK) * kBoxBytes;

// ---- wgmma matrix descriptors ----
/// Swizzle-mode field (bits 62-63) of a descriptor: 1 = 128-byte swizzle.
inline constexpr std::uint64_t kDescSwizzle128 = 1;
/// Descriptor of a shared-memory matrix: start address, leading and stride byte offsets (each >> 4 in 14
/// bits), base offset 0 (every swizzle atom starts on a 1024-byte boundary), 128-byte swizzle.
MLASIM_HD constexpr std::uint64_t make_desc(std::uint32_t start, std::uint32_t lbo, std::uint32_t sbo) {
  return std::uint64_t((start & 0x3FFFFu) >> 4) | (std::uint64_t((lbo & 0x3FFFFu) >> 4) << 16) |
         (std::uint64_t((sbo & 0x3FFFFu) >> 4) << 32) | (kDescSwizzle128 << 62);
}
/// K-major operands (Q, K, P): 8-row groups 1024 bytes apart (SBO); LBO unused with swizzling ("assumed 1":
/// encoded 16 bytes). The k-step (16 values = 32 bytes) advances the start address inside the 128-byte row.
inline constexpr std::uint32_t kSboKMajor = 1024;
inline constexpr std::uint32_t kLboKMajor = 16;
/// V as an MN-major (transposed) B operand: 64-column groups one box apart (LBO), 8-token groups 1024 bytes
/// apart (SBO).
inline constexpr std::uint32_t kLboV = kBoxBytes;
inline constexpr std::uint32_t kSboV = 1024;
/// Number of k-steps: S over the 576 columns (4 per box), P·V over the 64 tokens.
inline constexpr int kStepsS = kDk / 16;
inline constexpr int kStepsPv = kTile / 16;

/// Start address (relative to the aligned base) of A = Q for k-step ks of S.
MLASIM_HD constexpr std::uint32_t q_desc_start(int ks) {
  return q_box(ks / 4) + std::uint32_t(ks % 4) * 32u;
}
/// B = K (K-major, N = 32 tokens 32·wg..): rows 32·wg of box ks / 4 of the stage.
MLASIM_HD constexpr std::uint32_t k_desc_start(int stage, int wg, int ks) {
  return kv_box(stage, ks / 4) + std::uint32_t(wg * kTokensPerConsumer) * 128u + std::uint32_t(ks % 4) * 32u;
}
/// B = V (MN-major, N = 256 columns 256·wg.., i.e. boxes 4·wg..4·wg+3): tokens 16·ks.. of the stage.
MLASIM_HD constexpr std::uint32_t v_desc_start(int stage, int wg, int ks) {
  return kv_box(stage, wg * (kColsPerConsumer / kBoxCols)) + std::uint32_t(ks) * 16u * 128u;
}
/// A = P (K-major): tokens 16·ks.. of the P box.
MLASIM_HD constexpr std::uint32_t p_desc_start(int ks) {
  return kOffP + std::uint32_t(ks) * 32u;
}

// ---- accumulator fragments of wgmma.mma_async.m64nNk16 (fp32 D) ----
/// Register `i` (0..N/2-1) of thread `t` (0..127 in its warpgroup) holds D[row][col].
MLASIM_HD constexpr mma::Coord acc_coord(int t, int i) {
  return {16 * (t >> 5) + ((t & 31) >> 2) + 8 * ((i >> 1) & 1), 8 * (i >> 2) + 2 * (t & 3) + (i & 1)};
}

// ---- masking ----
/// KV rows of a tile (starting at token t0) that hold tokens of the segment [.., te): the rest is masked
/// (S = -inf) and its V rows are zeroed before P·V (the cache past a sequence may hold anything, NaN too).
MLASIM_HD constexpr int valid_rows(int t0, int te) {
  return te - t0 < kTile ? te - t0 : kTile;
}
/// Zeroing V rows [nv, 64) of consumer c's boxes (4c..4c+3) of a stage: 16-byte chunks, whole 128-byte rows
/// (so the swizzle does not matter); chunk k of zero_chunks(nv) -> its byte offset.
MLASIM_HD constexpr int zero_chunks(int nv) {
  return (kTile - nv) * 8 * (kColsPerConsumer / kBoxCols);
}
MLASIM_HD constexpr std::uint32_t zero_chunk_offset(int stage, int c, int nv, int k) {
  return kv_box(stage, c * (kColsPerConsumer / kBoxCols) + k / ((kTile - nv) * 8)) +
         std::uint32_t(nv + (k % ((kTile - nv) * 8)) / 8) * 128u + std::uint32_t(k % 8) * 16u;
}
/// Tokens < this bound are visible to query row `seq_row` (= s·h_q + h) of a sequence of length len.
MLASIM_HD constexpr int visible_end(int len, int s_q, int h_q, int seq_row) {
  return len - s_q + seq_row / h_q + 1;
}

// ---- pipeline: mbarrier phases ----
// The producer and every consumer walk the same segments and tiles; `it` counts KV tiles over the CTA's whole
// run (all its segments), `seg` counts its segments. A full barrier completes one phase per tile that uses
// its stage; an empty barrier one phase per release (kConsumerWarps arrivals). try_wait.parity(P) passes once
// the phase of parity P has completed (i.e. while the current phase's parity differs from P).
MLASIM_HD constexpr int stage_of(int it) {
  return it % kStages;
}
/// Parity the consumers wait on full[stage_of(it)] before reading tile `it`.
MLASIM_HD constexpr int full_parity(int it) {
  return (it / kStages) & 1;
}
/// Whether the producer must wait for the release of the stage before loading tile `it`, and the parity.
MLASIM_HD constexpr bool producer_waits_empty(int it) {
  return it >= kStages;
}
MLASIM_HD constexpr int empty_parity(int it) {
  return (it / kStages - 1) & 1;
}
/// Q: consumers wait q_full with parity seg & 1; the producer waits q_empty (released once per segment after
/// the last S of that segment) before loading the Q of segment seg >= 1, with parity (seg - 1) & 1.
MLASIM_HD constexpr int q_full_parity(int seg) {
  return seg & 1;
}
MLASIM_HD constexpr int q_empty_parity(int seg) {
  return (seg - 1) & 1;
}
/// Arrivals each barrier expects per phase: full / q_full one (the producer's arrive.expect_tx), empty /
/// q_empty one per consumer warp.
inline constexpr int kFullArrivals = 1;
inline constexpr int kEmptyArrivals = kConsumerWarps;
/// The producer's issue order inside a segment of n tiles: KV tile 0 first (its stage frees up before the
/// consumers release Q), then Q, then tiles 1..n-1. Step `op` in [0, n] -> tile index, or -1 for Q.
MLASIM_HD constexpr int producer_op_tile(int op) {
  return op == 0 ? 0 : op == 1 ? -1 : op - 1;
}

}  // namespace mlasim::attention::hopper
