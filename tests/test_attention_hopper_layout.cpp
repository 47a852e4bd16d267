// Host replay of the sm_90a MLA decode kernel (kernels/attention/mla_decode_sm90a.cu), which has never run on
// a GPU. kernels/attention/hopper_layout.hpp holds every address, descriptor, TMA coordinate and mbarrier
// parity the kernel uses; this file models, from the PTX ISA, what the hardware does with them and checks:
//   - TMA (tile mode, 128-byte swizzle) writes box element (row, col) where the model says, and what wgmma
//     reads through a matrix descriptor (K-major and MN-major canonical layouts, 128-byte swizzle on the
//     shared address) is exactly Q[r][k], K[t][k], V[t][n] and P[r][t] for every k-step of both consumers;
//   - the accumulator fragments (m64n32, m64n256) cover their tiles once and agree with mma.m16n8's;
//   - shared-memory regions disjoint, inside the 227 KiB limit, swizzled ones 1024-byte aligned;
//   - the pipeline (producer thread, 8 consumer warps, TMA landing at random times) under random
//   interleavings:
//     mbarrier phases (parity waits never pass on a stale or future phase), stage and Q reuse only after
//     every consumer warp released them, expect_tx bytes = the bytes of the boxes issued, no deadlock, and
//     the consumer named barriers order P, the row maxima / sums and the zeroed V rows;
//   - over the measurement grid (kernels/attention/bench_grid.hpp) with the real schedules: TMA coordinates
//     inside the tensors, masked and zeroed rows exactly the tokens past each segment's end.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/attention/bench_grid.hpp"
#include "kernels/attention/hopper_layout.hpp"
#include "kernels/attention/mma_layout.hpp"
#include "kernels/attention/paging.hpp"
#include "kernels/attention/reference.hpp"
#include "kernels/attention/schedule.hpp"

using namespace mlasim::attention;

// REQUIRE for the hot loops (millions of checks): counts nothing when it holds.
#define FAST_REQUIRE(cond)    \
  do {                        \
    if (!(cond)) FAIL(#cond); \
  } while (0)

namespace H = mlasim::attention::hopper;

namespace {

constexpr std::uint32_t kMaxSmemPerBlock = 232448;  // sm_90 opt-in maximum (227 KiB)

// ---------------------------------------------------------------------------------------------------------
// Hardware models (PTX ISA), written independently of hopper_layout.hpp.

namespace hw {

/// 128-byte swizzle (PTX "Tensor copy: swizzle modes"; wgmma "Swizzle<3,4,3>" on byte addresses): within each
/// 1024-byte span, the 16-byte chunk index (address bits 4..6) is XORed with the 128-byte row index (bits
/// 7..9).
std::uint32_t swizzle(std::uint32_t addr) {
  const std::uint32_t row = (addr / 128) % 8;
  const std::uint32_t chunk = (addr / 16) % 8;
  return addr - chunk * 16 + ((chunk ^ row) * 16);
}

/// TMA tile mode: the box [d2][d1][d0] (d0 innermost, elements of 2 bytes) is stored densely in that order
/// from `dst`, then swizzled. Returns the shared address of box element (i0, i1, i2).
std::uint32_t tma_dst(std::uint32_t dst, int box0, int box1, int i0, int i1, int i2) {
  return swizzle(dst + static_cast<std::uint32_t>(((i2 * box1 + i1) * box0 + i0) * 2));
}

struct Desc {
  std::uint32_t start, lbo, sbo;
  int base_offset, mode;
};
/// Matrix descriptor format: bits 0-13 start >> 4, 16-29 LBO >> 4, 32-45 SBO >> 4, 49-51 base offset,
/// 62-63 swizzle mode (1 = 128 B).
Desc decode(std::uint64_t d) {
  return {static_cast<std::uint32_t>(d & 0x3FFF) << 4, static_cast<std::uint32_t>((d >> 16) & 0x3FFF) << 4,
          static_cast<std::uint32_t>((d >> 32) & 0x3FFF) << 4, static_cast<int>((d >> 49) & 7),
          static_cast<int>(d >> 62)};
}
/// Shared address wgmma reads for element (mn, k) of a bf16 operand (T = 8 elements per 16 bytes) in the
/// 128-byte-swizzle canonical layouts:
///   K-major  ((8,m),(T,2k)):((8T,SBO),(1,T))      MN-major ((T,8,m),(8,k)):((1,T,LBO),(8T,SBO))
/// (element strides; LBO/SBO in bytes), then the swizzle on the address.
std::uint32_t wgmma_addr(const Desc& d, bool k_major, int mn, int k) {
  if (d.mode != 1 || d.base_offset != 0) throw std::logic_error("descriptor: not 128-byte swizzle, base 0");
  std::uint32_t byte = 0;
  if (k_major) {
    byte = static_cast<std::uint32_t>((mn % 8) * 64 * 2 + (k % 8) * 2 + (k / 8) * 8 * 2) +
           static_cast<std::uint32_t>(mn / 8) * d.sbo;
  } else {
    byte = static_cast<std::uint32_t>((mn % 8) * 2 + ((mn / 8) % 8) * 8 * 2 + (k % 8) * 64 * 2) +
           static_cast<std::uint32_t>(mn / 64) * d.lbo + static_cast<std::uint32_t>(k / 8) * d.sbo;
  }
  return swizzle(d.start + byte);
}

/// wgmma.m64nNk16 accumulator D (PTX figure "WGMMA .m64nNk16 register fragment layout for accumulator"): warp
/// w of the warpgroup holds rows 16w..16w+15; per 8-column block the layout of mma.m16n8's C fragment.
mlasim::attention::mma::Coord acc(int t, int i) {
  const mlasim::attention::mma::Coord c = mlasim::attention::mma::c_frag(t % 32, i % 4);
  return {16 * (t / 32) + c.row, 8 * (i / 4) + c.col};
}

}  // namespace hw

// ---------------------------------------------------------------------------------------------------------
// Shared memory as tagged bf16 elements.

constexpr std::uint64_t kUnset = ~0ull;
constexpr std::uint64_t kZero = 0;
std::uint64_t tag_q(int seq, int row, int col) {
  return (1ull << 60) | (std::uint64_t(seq) << 36) | (std::uint64_t(row) << 16) | std::uint64_t(col);
}
std::uint64_t tag_kv(long long grow, int col) {
  return (2ull << 60) | (std::uint64_t(grow) << 16) | std::uint64_t(col);
}
std::uint64_t tag_p(int row, int tok) {
  return (3ull << 60) | (std::uint64_t(row) << 16) | std::uint64_t(tok);
}

struct Smem {
  std::uint32_t base;  // the kernel's aligned base (absolute shared address)
  std::vector<std::uint64_t> elem;
  explicit Smem(std::uint32_t b) : base(b), elem((b + H::kSmemBytes) / 2, kUnset) {}
  std::uint64_t& at(std::uint32_t addr) {  // plain checks: called ~10^8 times
    if (addr % 2 != 0 || addr < base || addr >= base + H::kSmemBytes)
      throw std::logic_error("shared address " + std::to_string(addr) + " misaligned or outside the layout");
    return elem[addr / 2];
  }
};

/// TMA of Q's 9 boxes for (seq, row_base) from a [batch][rows_per_seq][576] tensor: rows past rows_per_seq
/// are out of bounds and filled with zeros.
void tma_q(Smem& sm, int seq, int row_base, int rows_per_seq, int batch) {
  for (int box = 0; box < H::kBoxesK; ++box) {
    const H::Coord3 c = H::q_tma_coord(seq, row_base, box);
    REQUIRE(c.c0 >= 0);
    REQUIRE(c.c0 + H::kBoxCols <= H::kDk);  // columns never out of bounds
    REQUIRE(c.c1 >= 0);
    REQUIRE(c.c1 < rows_per_seq);  // the box starts inside the sequence's rows
    REQUIRE(c.c2 >= 0);
    REQUIRE(c.c2 < batch);
    for (int r = 0; r < H::kBoxRows; ++r) {
      for (int col = 0; col < H::kBoxCols; ++col) {
        const std::uint32_t a = hw::tma_dst(sm.base + H::q_box(box), H::kBoxCols, H::kBoxRows, col, r, 0);
        sm.at(a) = c.c1 + r < rows_per_seq ? tag_q(c.c2, c.c1 + r, c.c0 + col) : kZero;
      }
    }
  }
}

/// TMA of a KV tile (one page) into a stage from the [pages * 64][576] tensor.
void tma_kv(Smem& sm, int stage, int page, int num_pages) {
  for (int box = 0; box < H::kBoxesK; ++box) {
    const H::Coord2 c = H::kv_tma_coord(page, box);
    REQUIRE(c.c0 >= 0);
    REQUIRE(c.c0 + H::kBoxCols <= H::kDk);
    REQUIRE(c.c1 >= 0);
    REQUIRE(c.c1 + H::kBoxRows <= num_pages * H::kTile);  // never out of bounds: no zero fill relied on
    for (int r = 0; r < H::kBoxRows; ++r) {
      for (int col = 0; col < H::kBoxCols; ++col) {
        sm.at(hw::tma_dst(sm.base + H::kv_box(stage, box), H::kBoxCols, H::kBoxRows, col, r, 0)) =
            tag_kv(c.c1 + r, c.c0 + col);
      }
    }
  }
}

hw::Desc desc_of(std::uint32_t start, bool k_major) {
  return hw::decode(k_major ? H::make_desc(start, H::kLboKMajor, H::kSboKMajor)
                            : H::make_desc(start, H::kLboV, H::kSboV));
}

/// What Q·K^T of consumer c reads (A = Q, B = K) must be Q[row_base + m][16 ks + k] (0 past the rows) and
/// K[page row 32c + n][16 ks + k].
void check_s_reads(Smem& sm, int stage, int page, int seq, int row_base, int rows_per_seq) {
  for (int c = 0; c < H::kConsumers; ++c) {
    for (int ks = 0; ks < H::kStepsS; ++ks) {
      const hw::Desc da = desc_of(sm.base + H::q_desc_start(ks), true);
      const hw::Desc db = desc_of(sm.base + H::k_desc_start(stage, c, ks), true);
      for (int k = 0; k < 16; ++k) {
        for (int m = 0; m < 64; ++m) {
          const std::uint64_t want =
              row_base + m < rows_per_seq ? tag_q(seq, row_base + m, 16 * ks + k) : kZero;
          if (sm.at(hw::wgmma_addr(da, true, m, k)) != want) {
            FAIL("Q read: c " << c << " ks " << ks << " m " << m << " k " << k);
          }
        }
        for (int n = 0; n < H::kTokensPerConsumer; ++n) {
          const std::uint64_t want = tag_kv(page * 64LL + c * H::kTokensPerConsumer + n, 16 * ks + k);
          if (sm.at(hw::wgmma_addr(db, true, n, k)) != want) {
            FAIL("K read: c " << c << " ks " << ks << " n " << n << " k " << k);
          }
        }
      }
    }
  }
}

/// Consumer c's P·V reads: A = P[m][16 ks + k], B = V[token 16 ks + k][256 c + n] (0 for tokens >= nv).
void check_pv_reads(Smem& sm, int stage, int page, int nv) {
  for (int c = 0; c < H::kConsumers; ++c) {
    for (int ks = 0; ks < H::kStepsPv; ++ks) {
      const hw::Desc da = desc_of(sm.base + H::p_desc_start(ks), true);
      const hw::Desc db = desc_of(sm.base + H::v_desc_start(stage, c, ks), false);
      for (int k = 0; k < 16; ++k) {
        const int tok = 16 * ks + k;
        for (int m = 0; m < 64; ++m) {
          if (sm.at(hw::wgmma_addr(da, true, m, k)) != tag_p(m, tok)) {
            FAIL("P read: c " << c << " ks " << ks << " m " << m << " k " << k);
          }
        }
        for (int n = 0; n < H::kColsPerConsumer; ++n) {
          const std::uint64_t want =
              tok < nv ? tag_kv(page * 64LL + tok, c * H::kColsPerConsumer + n) : kZero;
          if (sm.at(hw::wgmma_addr(db, false, n, k)) != want) {
            FAIL("V read: c " << c << " ks " << ks << " n " << n << " k " << k << " nv " << nv);
          }
        }
      }
    }
  }
}

/// The consumers' P stores (4 bytes: two adjacent tokens of one row) from their S accumulators; each element
/// of the 64 x 64 P written exactly once.
void write_p(Smem& sm) {
  std::vector<int> hits(64 * 64, 0);
  for (int c = 0; c < H::kConsumers; ++c) {
    for (int t = 0; t < 128; ++t) {
      for (int i = 0; i < 16; i += 2) {
        const auto pc = H::acc_coord(t, i);
        const auto pc1 = H::acc_coord(t, i + 1);
        REQUIRE(pc1.row == pc.row);
        REQUIRE(pc1.col == pc.col + 1);
        const int tok = c * H::kTokensPerConsumer + pc.col;
        const std::uint32_t a = sm.base + H::p_elem(pc.row, tok);
        REQUIRE(a % 4 == 0);
        REQUIRE(a >= sm.base + H::kOffP);
        REQUIRE(a + 4 <= sm.base + H::kOffP + H::kBoxBytes);
        sm.at(a) = tag_p(pc.row, tok);
        sm.at(a + 2) = tag_p(pc.row, tok + 1);
        ++hits[static_cast<std::size_t>(pc.row * 64 + tok)];
        ++hits[static_cast<std::size_t>(pc.row * 64 + tok + 1)];
      }
    }
  }
  for (const int h : hits) REQUIRE(h == 1);
}

/// The consumers' zeroing of V rows [nv, 64) (after both consumers' S reads): 16-byte aligned chunks, inside
/// the consumer's own boxes, rows >= nv only, each chunk of those rows once.
void zero_v(Smem& sm, int stage, int nv) {
  if (nv >= H::kTile) return;
  for (int c = 0; c < H::kConsumers; ++c) {
    std::map<std::uint32_t, int> seen;
    for (int k = 0; k < H::zero_chunks(nv); ++k) {
      const std::uint32_t off = H::zero_chunk_offset(stage, c, nv, k);
      REQUIRE(off % 16 == 0);
      const std::uint32_t lo = H::kv_box(stage, c * 4), hi = H::kv_box(stage, c * 4 + 4);
      REQUIRE(off >= lo);
      REQUIRE(off + 16 <= hi);
      REQUIRE(static_cast<int>(((off - lo) % H::kBoxBytes) / 128) >= nv);
      REQUIRE(++seen[off] == 1);
      for (std::uint32_t b = 0; b < 16; b += 2) sm.at(sm.base + off + b) = kZero;
    }
    REQUIRE(static_cast<int>(seen.size()) == (H::kTile - nv) * 8 * 4);
  }
}

}  // namespace

TEST_CASE("hopper layout: regions disjoint, aligned, inside the 227 KiB limit; descriptors encode") {
  struct Region {
    std::uint32_t off, bytes, align;
  };
  std::vector<Region> regions{{H::kOffQ, H::kRowBlockBytes, 1024}};
  for (int s = 0; s < H::kStages; ++s) regions.push_back({H::kv_box(s, 0), H::kRowBlockBytes, 1024});
  regions.push_back({H::kOffP, static_cast<std::uint32_t>(H::kBoxBytes), 1024});
  regions.push_back({H::kOffMax, H::kConsumers * H::kRows * 4, 4});
  regions.push_back({H::kOffSum, H::kConsumers * H::kRows * 4, 4});
  regions.push_back({H::kOffBar, H::kNumBars * 8, 8});
  std::vector<int> owner(H::kSmemBytes, -1);
  for (std::size_t i = 0; i < regions.size(); ++i) {
    INFO("region " << i);
    REQUIRE(regions[i].off % regions[i].align == 0);
    REQUIRE(regions[i].off + regions[i].bytes <= H::kSmemBytes);
    for (std::uint32_t b = regions[i].off; b < regions[i].off + regions[i].bytes; ++b) {
      if (owner[b] != -1) FAIL("regions " << owner[b] << " and " << i << " overlap at byte " << b);
      owner[b] = static_cast<int>(i);
    }
  }
  for (int box = 0; box < H::kBoxesK; ++box) {
    CHECK(H::q_box(box) % 1024 == 0);
    for (int s = 0; s < H::kStages; ++s) CHECK(H::kv_box(s, box) % 1024 == 0);
  }
  // The aligned base: dynamic shared memory starts at least 16-byte aligned, so up to 1008 bytes are skipped.
  CHECK(H::kSmemAlloc >= H::kSmemBytes + 1024 - 16);
  CHECK(H::kSmemAlloc <= kMaxSmemPerBlock);
  CHECK(static_cast<long long>(H::kSmemAlloc) * H::kCtasPerSm <= 233472 - 1024 * H::kCtasPerSm);
  // Each full barrier expects the bytes of the 9 boxes issued against it.
  CHECK(H::kTxKv == static_cast<std::uint32_t>(H::kBoxesK * H::kBoxRows * H::kBoxCols * 2));
  CHECK(H::kTxQ == static_cast<std::uint32_t>(H::kBoxesK * H::kBoxRows * H::kBoxCols * 2));
  CHECK(H::kTxKv < (1u << 20));  // mbarrier tx-count range
  // Descriptor fields round-trip for every start address the kernel forms, at any aligned base that fits.
  for (std::uint32_t base = 0; base + H::kSmemBytes <= kMaxSmemPerBlock; base += 1024) {
    std::vector<std::uint32_t> starts;
    for (int ks = 0; ks < H::kStepsS; ++ks) starts.push_back(base + H::q_desc_start(ks));
    for (int s = 0; s < H::kStages; ++s) {
      for (int c = 0; c < H::kConsumers; ++c) {
        for (int ks = 0; ks < H::kStepsS; ++ks) starts.push_back(base + H::k_desc_start(s, c, ks));
        for (int ks = 0; ks < H::kStepsPv; ++ks) starts.push_back(base + H::v_desc_start(s, c, ks));
      }
    }
    for (int ks = 0; ks < H::kStepsPv; ++ks) starts.push_back(base + H::p_desc_start(ks));
    for (const std::uint32_t st : starts) {
      REQUIRE(st % 16 == 0);
      REQUIRE(st < (1u << 18));
      const hw::Desc d = hw::decode(H::make_desc(st, H::kLboV, H::kSboV));
      REQUIRE(d.start == st);
      REQUIRE(d.lbo == H::kLboV);
      REQUIRE(d.sbo == H::kSboV);
      REQUIRE(d.mode == 1);
      REQUIRE(d.base_offset == 0);
    }
  }
  // The register budget setmaxnreg redistributes, and the scheduler's constants.
  CHECK(H::kThreads == 384);
  CHECK(H::row_blocks(1, 16) == 1);
  CHECK(H::row_blocks(2, 128) == 4);
  CHECK(H::row_blocks(2, 40) == 2);
}

TEST_CASE("hopper accumulators: m64n32 and m64n256 fragments cover their tiles once, as the PTX figure") {
  for (const int n : {32, 256}) {
    std::vector<int> hits(static_cast<std::size_t>(64 * n), 0);
    for (int t = 0; t < 128; ++t) {
      for (int i = 0; i < n / 2; ++i) {
        const auto c = H::acc_coord(t, i);
        const auto want = hw::acc(t, i);
        REQUIRE(c.row == want.row);
        REQUIRE(c.col == want.col);
        REQUIRE(c.row < 64);
        REQUIRE(c.col < n);
        ++hits[static_cast<std::size_t>(c.row * n + c.col)];
        // The kernel's row of register i: r_lo = acc(t, 0), r_hi = acc(t, 2), chosen by (i >> 1) & 1.
        REQUIRE(c.row == (((i >> 1) & 1) != 0 ? H::acc_coord(t, 2).row : H::acc_coord(t, 0).row));
        // The epilogue's column of register i: acc(t, 0).col + 8 (i / 4) + (i & 1).
        REQUIRE(c.col == H::acc_coord(t, 0).col + 8 * (i / 4) + (i & 1));
      }
    }
    for (const int h : hits) REQUIRE(h == 1);
  }
}

TEST_CASE("hopper TMA + wgmma model: S reads Q and K, P·V reads P and V, zeroed rows, at two bases") {
  for (const std::uint32_t base : {0u, 3u * 1024u}) {
    // Q for every count of valid rows a row block can have (the grid's h_q·s_q and odd ones).
    struct QCase {
      int rows_per_seq, row_base, batch, seq;
    };
    std::vector<QCase> qcases;
    for (const int rows : {16, 24, 32, 40, 48, 64, 80, 128, 256}) {
      for (int rb = 0; rb < rows; rb += 64) qcases.push_back({rows, rb, 3, 2});
    }
    for (const QCase& q : qcases) {
      INFO("base " << base << " rows_per_seq " << q.rows_per_seq << " row_base " << q.row_base);
      Smem sm(base);
      tma_q(sm, q.seq, q.row_base, q.rows_per_seq, q.batch);
      const int num_pages = 40;
      for (int stage = 0; stage < H::kStages; ++stage) {
        const int page = stage == 0 ? 0 : num_pages - 1;
        tma_kv(sm, stage, page, num_pages);
        check_s_reads(sm, stage, page, q.seq, q.row_base, q.rows_per_seq);
      }
    }
    // P·V, with every count of valid rows in the last tile.
    for (int nv = 1; nv <= H::kTile; ++nv) {
      INFO("base " << base << " nv " << nv);
      Smem sm(base);
      for (int stage = 0; stage < H::kStages; ++stage) {
        const int page = 7 + stage;
        tma_kv(sm, stage, page, 20);
        write_p(sm);
        zero_v(sm, stage, nv);
        check_pv_reads(sm, stage, page, nv);
        // Zeroing never touched the rope columns (box 8) nor the rows < nv of any box.
        for (int r = 0; r < 64; ++r) {
          for (int col = 0; col < 64; ++col) {
            const auto v = sm.at(hw::tma_dst(base + H::kv_box(stage, 8), 64, 64, col, r, 0));
            if (v != tag_kv(page * 64LL + r, 512 + col))
              FAIL("rope column changed: row " << r << " col " << col);
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Pipeline replay: the producer thread and the 8 consumer warps as the kernel orders their steps, the TMA
// copies landing at random later times, random interleavings.

namespace {

struct Barrier {
  int count = 0;      // arrivals per phase
  int pending = 0;    // arrivals left in the current phase
  long long tx = 0;   // transaction bytes outstanding
  int completed = 0;  // phases completed
  void init(int c) { count = pending = c; }
  void maybe_complete() {
    if (pending == 0 && tx == 0) {
      ++completed;
      pending = count;
    }
  }
  /// try_wait.parity: passes while the current phase's parity differs from `parity`.
  [[nodiscard]] bool passes(int parity) const { return (completed & 1) != parity; }
};

struct Copy {
  int bar;
  int bytes;
  int stage;  // -1: Q
  int box;
  int tag;  // KV: content_tag(segment, tile in the segment); Q: the segment
};

enum class Op {
  kWait,
  kExpectTx,
  kTma,
  kArrive,
  kReadQ,
  kReadStageS,
  kReadStagePv,
  kBar,
  kWriteP,
  kZeroV,
  kWriteSum,
  kReadSum,
  kEnd
};

/// What a stage holds: tile `tile` of the CTA's segment `seg`.
int content_tag(int seg, int tile) {
  return seg * 1000000 + tile;
}

struct Step {
  Op op;
  int bar = 0;     // mbarrier or named barrier id
  int parity = 0;  // for waits
  int phase = 0;   // the phase a wait means (its completion) / a tile or segment index
  int stage = -1;
  int box = 0;
  int bytes = 0;
  int content = 0;  // KV copies and reads: content_tag of the tile
};

/// The producer thread's program, from the kernel's loop and hopper_layout.hpp.
std::vector<Step> producer_program(const std::vector<int>& tiles) {
  std::vector<Step> p;
  int it = 0;
  for (int si = 0; si < static_cast<int>(tiles.size()); ++si) {
    const int n = tiles[static_cast<std::size_t>(si)];
    for (int op = 0; op <= n; ++op) {
      const int tile = H::producer_op_tile(op);
      if (tile < 0) {
        if (si > 0) p.push_back({Op::kWait, H::kBarQEmpty, H::q_empty_parity(si), si - 1});
        p.push_back({Op::kExpectTx, H::kBarQFull, 0, si, -1, 0, static_cast<int>(H::kTxQ)});
        for (int box = 0; box < H::kBoxesK; ++box)
          p.push_back({Op::kTma, H::kBarQFull, 0, si, -1, box, H::kBoxRows * H::kBoxCols * 2});
      } else {
        const int s = H::stage_of(it);
        if (H::producer_waits_empty(it))
          p.push_back({Op::kWait, H::bar_empty(s), H::empty_parity(it), it / H::kStages - 1});
        p.push_back({Op::kExpectTx, H::bar_full(s), 0, it, s, 0, static_cast<int>(H::kTxKv)});
        for (int box = 0; box < H::kBoxesK; ++box)
          p.push_back({Op::kTma, H::bar_full(s), 0, it, s, box, H::kBoxRows * H::kBoxCols * 2,
                       content_tag(si, tile)});
        ++it;
      }
    }
  }
  p.push_back({Op::kEnd});
  return p;
}

/// A consumer warp's program (tile sizes only matter for the last tile's zeroing: `partial` marks it).
std::vector<Step> consumer_program(const std::vector<int>& tiles, const std::vector<bool>& partial_last) {
  std::vector<Step> p;
  int it = 0;
  for (int si = 0; si < static_cast<int>(tiles.size()); ++si) {
    const int n = tiles[static_cast<std::size_t>(si)];
    p.push_back({Op::kWait, H::kBarQFull, H::q_full_parity(si), si});
    for (int tile = 0; tile < n; ++tile, ++it) {
      const int s = H::stage_of(it);
      p.push_back({Op::kWait, H::bar_full(s), H::full_parity(it), it / H::kStages});
      p.push_back({Op::kReadQ, 0, 0, si});
      p.push_back({Op::kReadStageS, 0, 0, it, s, 0, 0, content_tag(si, tile)});
      if (tile == n - 1) p.push_back({Op::kArrive, H::kBarQEmpty, 0, si});
      p.push_back({Op::kBar, 1, 0, it});  // row maxima published (written with the S step, read after)
      p.push_back({Op::kWriteP, 0, 0, it, s});
      if (tile == n - 1 && partial_last[static_cast<std::size_t>(si)]) p.push_back({Op::kZeroV, 0, 0, it, s});
      p.push_back({Op::kBar, 2, 0, it});
      p.push_back({Op::kReadStagePv, 0, 0, it, s, 0, 0, content_tag(si, tile)});
      p.push_back({Op::kArrive, H::bar_empty(s), 0, it});
    }
    p.push_back({Op::kWriteSum, 0, 0, si});
    p.push_back({Op::kBar, 3, 0, si});  // row sums exchanged
    p.push_back({Op::kReadSum, 0, 0, si});
  }
  p.push_back({Op::kEnd});
  return p;
}

/// Runs one interleaving; returns an empty string or the first violation.
std::string run_pipeline(const std::vector<int>& tiles, const std::vector<bool>& partial_last,
                         std::uint64_t seed) {
  constexpr int kWarps = H::kConsumerWarps;
  std::mt19937_64 rng(seed);
  std::vector<Barrier> bars(H::kNumBars);
  for (int s = 0; s < H::kStages; ++s) {
    bars[static_cast<std::size_t>(H::bar_full(s))].init(H::kFullArrivals);
    bars[static_cast<std::size_t>(H::bar_empty(s))].init(H::kEmptyArrivals);
  }
  bars[H::kBarQFull].init(H::kFullArrivals);
  bars[H::kBarQEmpty].init(H::kEmptyArrivals);
  std::vector<std::vector<Step>> prog{producer_program(tiles)};
  for (int w = 0; w < kWarps; ++w) prog.push_back(consumer_program(tiles, partial_last));
  std::vector<std::size_t> pc(prog.size(), 0);
  std::vector<Copy> in_flight;
  // Contents: stage box -> global tile, Q box -> segment (-1: nothing yet).
  std::vector<std::vector<int>> stage_tile(H::kStages, std::vector<int>(H::kBoxesK, -1));
  std::vector<int> q_seg(H::kBoxesK, -1);
  // Per warp progress: last tile whose stage it released / finished reading in S / in P·V, last Q released.
  std::vector<int> released(kWarps, -1), s_done(kWarps, -1), pv_done(kWarps, -1), q_released(kWarps, -1);
  std::vector<int> bar_done(kWarps, -1);  // last tile at whose barrier 2 the warp arrived
  std::vector<int> sum_read(kWarps, -1);  // last segment whose row sums the warp read
  std::vector<int> sum_written(kWarps, -1), p_written(kWarps, -1);
  // Named barriers: arrivals at the current instance of each id.
  std::map<int, int> named_arrived;
  std::map<int, int> named_generation;
  std::vector<int> waiting_gen(kWarps, -1);
  long long expect_q = 0;

  auto fail = [&](const std::string& why) { return why + " (seed " + std::to_string(seed) + ")"; };
  for (long long guard = 0;; ++guard) {
    if (guard > 100000000) return fail("runaway");
    // Runnable actors: a producer or warp whose next step can proceed; plus landing copies.
    std::vector<int> runnable;
    for (std::size_t a = 0; a < prog.size(); ++a) {
      const Step& st = prog[a][pc[a]];
      if (st.op == Op::kEnd) continue;
      if (st.op == Op::kWait && !bars[static_cast<std::size_t>(st.bar)].passes(st.parity)) continue;
      if (st.op == Op::kBar && waiting_gen[a - 1] >= 0 && named_generation[st.bar] == waiting_gen[a - 1])
        continue;  // arrived, waiting for the others
      runnable.push_back(static_cast<int>(a));
    }
    const int choices = static_cast<int>(runnable.size() + in_flight.size());
    if (choices == 0) {
      for (std::size_t a = 0; a < prog.size(); ++a)
        if (prog[a][pc[a]].op != Op::kEnd) return fail("deadlock: actor " + std::to_string(a) + " stuck");
      break;
    }
    const int pick = static_cast<int>(rng() % static_cast<std::uint64_t>(choices));
    if (pick >= static_cast<int>(runnable.size())) {  // a TMA copy lands
      const std::size_t k = static_cast<std::size_t>(pick) - runnable.size();
      const Copy cp = in_flight[k];
      in_flight.erase(in_flight.begin() + static_cast<std::ptrdiff_t>(k));
      if (cp.stage >= 0)
        stage_tile[static_cast<std::size_t>(cp.stage)][static_cast<std::size_t>(cp.box)] = cp.tag;
      else
        q_seg[static_cast<std::size_t>(cp.box)] = cp.tag;
      Barrier& b = bars[static_cast<std::size_t>(cp.bar)];
      b.tx -= cp.bytes;
      if (b.tx < 0) return fail("complete_tx beyond expect_tx on barrier " + std::to_string(cp.bar));
      b.maybe_complete();
      continue;
    }
    const auto a = static_cast<std::size_t>(runnable[static_cast<std::size_t>(pick)]);
    const Step st = prog[a][pc[a]];
    const int w = static_cast<int>(a) - 1;  // consumer warp, or -1 for the producer
    const auto uw = static_cast<std::size_t>(w);
    switch (st.op) {
      case Op::kWait: {
        const Barrier& b = bars[static_cast<std::size_t>(st.bar)];
        if (b.completed != st.phase + 1)
          return fail("wait on barrier " + std::to_string(st.bar) + " for phase " + std::to_string(st.phase) +
                      " passed with " + std::to_string(b.completed) + " phases completed");
        break;
      }
      case Op::kExpectTx: {
        Barrier& b = bars[static_cast<std::size_t>(st.bar)];
        b.tx += st.bytes;
        --b.pending;
        if (st.stage < 0) expect_q = st.bytes;
        b.maybe_complete();
        break;
      }
      case Op::kTma: {
        if (st.stage >= 0) {  // every warp must have released the tile this stage held before
          for (int v = 0; v < kWarps; ++v)
            if (released[static_cast<std::size_t>(v)] < st.phase - H::kStages)
              return fail("tile " + std::to_string(st.phase) + " overwrites stage " +
                          std::to_string(st.stage) + " before warp " + std::to_string(v) + " released tile " +
                          std::to_string(st.phase - H::kStages));
        } else {
          for (int v = 0; v < kWarps; ++v)
            if (q_released[static_cast<std::size_t>(v)] < st.phase - 1)
              return fail("Q of segment " + std::to_string(st.phase) + " loaded while warp " +
                          std::to_string(v) + " still reads Q");
        }
        in_flight.push_back({st.bar, st.bytes, st.stage, st.box, st.stage >= 0 ? st.content : st.phase});
        break;
      }
      case Op::kArrive: {
        Barrier& b = bars[static_cast<std::size_t>(st.bar)];
        if (b.pending <= 0) return fail("too many arrivals");
        --b.pending;
        b.maybe_complete();
        if (st.bar == H::kBarQEmpty)
          q_released[uw] = st.phase;
        else
          released[uw] = st.phase;
        break;
      }
      case Op::kReadQ:
        for (const int q : q_seg)
          if (q != st.phase)
            return fail("warp " + std::to_string(w) + " reads Q of segment " + std::to_string(q) + " in " +
                        std::to_string(st.phase));
        break;
      case Op::kReadStageS:
      case Op::kReadStagePv: {
        for (const int t : stage_tile[static_cast<std::size_t>(st.stage)])
          if (t != st.content)
            return fail("warp " + std::to_string(w) + " reads tile " + std::to_string(t) + " for tile " +
                        std::to_string(st.content) + " (segment * 10^6 + tile)");
        for (const Copy& cp : in_flight)
          if (cp.stage == st.stage) return fail("read of a stage with a copy still in flight");
        if (st.op == Op::kReadStageS) {
          // The row maxima are written with S: every warp must have read the previous tile's (barrier 2).
          for (int v = 0; v < kWarps; ++v)
            if (bar_done[static_cast<std::size_t>(v)] < st.phase - 1)
              return fail("row maxima overwritten while warp " + std::to_string(v) + " reads them");
          s_done[uw] = st.phase;
        } else {
          for (int v = 0; v < kWarps; ++v)
            if (p_written[static_cast<std::size_t>(v)] < st.phase)
              return fail("P·V reads P before warp " + std::to_string(v) + " wrote its part");
          pv_done[uw] = st.phase;
        }
        break;
      }
      case Op::kWriteP:
        for (int v = 0; v < kWarps; ++v)
          if (pv_done[static_cast<std::size_t>(v)] < st.phase - 1)
            return fail("P of tile " + std::to_string(st.phase) + " written while warp " + std::to_string(v) +
                        " reads the previous P");
        // The exponentials need both consumers' row maxima of this tile (written with S).
        for (int v = 0; v < kWarps; ++v)
          if (s_done[static_cast<std::size_t>(v)] < st.phase)
            return fail("row maxima read before warp " + std::to_string(v) + " wrote them");
        p_written[uw] = st.phase;
        break;
      case Op::kZeroV:
        for (int v = 0; v < kWarps; ++v)
          if (s_done[static_cast<std::size_t>(v)] < st.phase)
            return fail("V rows zeroed while warp " + std::to_string(v) + " computes S on them");
        break;
      case Op::kWriteSum:
        for (int v = 0; v < kWarps; ++v)
          if (sum_read[static_cast<std::size_t>(v)] < st.phase - 1)
            return fail("row sums of segment " + std::to_string(st.phase) + " written while warp " +
                        std::to_string(v) + " reads the previous ones");
        sum_written[uw] = st.phase;
        break;
      case Op::kReadSum:
        for (int v = 0; v < kWarps; ++v)
          if (sum_written[static_cast<std::size_t>(v)] < st.phase)
            return fail("row sums read before warp " + std::to_string(v) + " wrote them");
        sum_read[uw] = st.phase;
        break;
      case Op::kBar: {
        if (waiting_gen[uw] < 0) {  // arrive: this warp's reads before the barrier are done
          if (st.bar == 2) bar_done[uw] = st.phase;
          waiting_gen[uw] = named_generation[st.bar];
          if (++named_arrived[st.bar] == kWarps) {
            named_arrived[st.bar] = 0;
            ++named_generation[st.bar];
          }
          continue;  // not past it yet
        }
        waiting_gen[uw] = -1;  // released: generation moved on
        break;
      }
      case Op::kEnd:
        break;
    }
    ++pc[a];
  }
  (void)expect_q;
  return "";
}

}  // namespace

TEST_CASE("hopper pipeline: mbarrier phases, stage and Q reuse, tx bytes, named barriers, random orders") {
  const std::vector<std::vector<int>> runs{
      {1}, {2}, {3}, {1, 1, 1}, {5, 1, 2}, {1, 7}, {4, 4, 4}, {2, 1, 3, 1, 1}, {9}, {1, 2, 1, 2, 1, 2, 1}};
  for (const auto& tiles : runs) {
    std::vector<bool> partial(tiles.size(), true);
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
      const std::string err = run_pipeline(tiles, partial, seed);
      INFO("tiles " << tiles.size() << " first " << tiles[0] << ": " << err);
      REQUIRE(err.empty());
    }
  }
}

TEST_CASE(
    "hopper measurement grid: TMA coordinates in bounds, masked and zeroed rows, pipelines of real parts") {
  std::map<std::string, int> checked;
  for (const GridPoint& g : timing_grid(false)) {
    if (g.kernel != "mla") continue;
    const int h_q = g.shape.n_h;
    const auto lens = g.variable ? random_context_lens(g.batch, std::max(2, g.ctx / 2), g.ctx + g.ctx / 2,
                                                       static_cast<std::uint64_t>(g.batch * 131 + g.ctx))
                                 : std::vector<int>(static_cast<std::size_t>(g.batch), g.ctx);
    const PageTable pages = build_page_table(lens, kPageTokens, 5);
    ScheduleOptions opt;
    opt.num_sms = 132;
    opt.ctas_per_sm = H::kCtasPerSm;
    opt.row_blocks = H::row_blocks(g.s_q, h_q);
    const SplitSchedule s = make_split_schedule(lens, opt);
    INFO("B " << g.batch << " ctx " << g.ctx << " h_q " << h_q << " s_q " << g.s_q
              << (g.variable ? " variable" : ""));
    const int rows_per_seq = g.s_q * h_q;
    REQUIRE(s.num_parts <= 65535);
    REQUIRE(opt.row_blocks <= 65535);
    REQUIRE(static_cast<long long>(pages.num_pages) * H::kTile < (1LL << 31));  // TMA coordinates are int32
    // cuTensorMapEncodeTiled's documented requirements (cuda.h), for both maps; the KV map as the launcher
    // builds it with and without DecodeArgs::num_kv_pages.
    for (const H::MapShape& m : {H::q_map(rows_per_seq, g.batch), H::kv_map(pages.num_pages),
                                 H::kv_map(static_cast<long long>(g.batch) * pages.max_pages_per_seq)}) {
      REQUIRE((m.rank == 2 || m.rank == 3));
      for (int i = 0; i < m.rank; ++i) {
        REQUIRE(m.dims[i] >= 1);
        REQUIRE(m.dims[i] <= (1ull << 32));
        REQUIRE(m.box[i] >= 1);
        REQUIRE(m.box[i] <= 256);
      }
      REQUIRE(m.box[0] * 2 % 16 == 0);
      REQUIRE(m.box[0] * 2 <= 128);  // the inner box dimension fits the 128-byte swizzle span
      REQUIRE(m.dims[0] == static_cast<std::uint64_t>(H::kDk));
      REQUIRE(m.strides[0] == m.dims[0] * 2);  // rows packed: the cache and q layouts of decode_kernels.cuh
      for (int i = 0; i + 1 < m.rank; ++i) {
        REQUIRE(m.strides[i] % 16 == 0);
        REQUIRE(m.strides[i] < (1ull << 40));
        if (i > 0) REQUIRE(m.strides[i] == m.strides[i - 1] * m.dims[i]);
      }
      // A box lands as box[0] x box[1] x box[2] elements, what the barriers expect.
      REQUIRE(m.box[0] * m.box[1] * m.box[2] * 2 == static_cast<std::uint32_t>(H::kBoxBytes));
    }
    REQUIRE(H::kv_map(pages.num_pages).dims[1] <=
            H::kv_map(static_cast<long long>(g.batch) * pages.max_pages_per_seq).dims[1]);
    std::size_t longest = 0, most_segments = 0;
    int longest_tiles = -1, most_segments_count = -1;
    for (int part = 0; part < s.num_parts; ++part) {
      const int sb = s.part_segment_begin[static_cast<std::size_t>(part)];
      const int se = s.part_segment_begin[static_cast<std::size_t>(part) + 1];
      int tiles_in_part = 0;
      for (int seg = sb; seg < se; ++seg) {
        const auto u = static_cast<std::size_t>(seg);
        const int b = s.seg_seq[u], tb = s.seg_token_begin[u], te = s.seg_token_end[u];
        const int len = lens[static_cast<std::size_t>(b)];
        FAST_REQUIRE(tb % H::kTile == 0);
        const int n_tiles = (te - tb + H::kTile - 1) / H::kTile;
        tiles_in_part += n_tiles;
        for (int rb = 0; rb < opt.row_blocks; ++rb) {
          for (int box = 0; box < H::kBoxesK; ++box) {
            const H::Coord3 q = H::q_tma_coord(b, rb * H::kRows, box);
            FAST_REQUIRE(q.c1 < rows_per_seq);
            FAST_REQUIRE(q.c2 < g.batch);
          }
        }
        std::vector<int> issued(static_cast<std::size_t>(n_tiles), 0);
        for (int op = 0; op <= n_tiles; ++op) {
          const int tile = H::producer_op_tile(op);
          if (tile >= 0) {
            FAST_REQUIRE(tile < n_tiles);
            ++issued[static_cast<std::size_t>(tile)];
          }
        }
        for (const int k : issued) FAST_REQUIRE(k == 1);
        for (int tile = 0; tile < n_tiles; ++tile) {
          const int t0 = tb + tile * H::kTile;
          const int page = pages.block_table[static_cast<std::size_t>(b) *
                                                 static_cast<std::size_t>(pages.max_pages_per_seq) +
                                             static_cast<std::size_t>(tb / H::kTile + tile)];
          FAST_REQUIRE(page >= 0);
          FAST_REQUIRE(page == pages.page_of(b, t0));
          for (int box = 0; box < H::kBoxesK; ++box) {
            const H::Coord2 c = H::kv_tma_coord(page, box);
            FAST_REQUIRE(c.c0 + H::kBoxCols <= H::kDk);
            FAST_REQUIRE(c.c1 >= 0);
            FAST_REQUIRE(static_cast<long long>(c.c1) + H::kBoxRows <=
                         static_cast<long long>(pages.num_pages) * 64);
          }
          // Rows < nv: tokens of this segment (cached data); rows >= nv: past the segment, which happens only
          // at the sequence's end (splits end on page boundaries) and are masked and zeroed.
          const int nv = H::valid_rows(t0, te);
          FAST_REQUIRE(nv >= 1);
          for (int r = 0; r < H::kTile; ++r) FAST_REQUIRE((r < nv) == (t0 + r < te));
          if (nv < H::kTile) FAST_REQUIRE(te == len);
          // The causal limit: query row s·h_q + h sees tokens [0, len - s_q + s].
          for (int row = 0; row < rows_per_seq; row += std::max(1, h_q - 1)) {
            FAST_REQUIRE(H::visible_end(len, g.s_q, h_q, row) == len - g.s_q + row / h_q + 1);
          }
        }
      }
      if (tiles_in_part > longest_tiles) {
        longest_tiles = tiles_in_part;
        longest = static_cast<std::size_t>(part);
      }
      if (se - sb > most_segments_count) {
        most_segments_count = se - sb;
        most_segments = static_cast<std::size_t>(part);
      }
    }
    // Replay the pipeline of two real parts of this point: the part with the most tiles and one with many
    // segments.
    for (const std::size_t part : {longest, most_segments}) {
      std::vector<int> tiles;
      std::vector<bool> partial;
      for (int seg = s.part_segment_begin[part]; seg < s.part_segment_begin[part + 1]; ++seg) {
        const auto u = static_cast<std::size_t>(seg);
        tiles.push_back((s.seg_token_end[u] - s.seg_token_begin[u] + H::kTile - 1) / H::kTile);
        partial.push_back((s.seg_token_end[u] - s.seg_token_begin[u]) % H::kTile != 0);
      }
      const std::string err = run_pipeline(tiles, partial, 11 + part);
      INFO(err);
      REQUIRE(err.empty());
    }
    ++checked[g.variable ? "variable" : "uniform"];
  }
  CHECK(checked["uniform"] == 280);
  CHECK(checked["variable"] == 280);
}

TEST_CASE(
    "hopper kernel's algorithm (64-token tiles = pages, bf16 P, split-KV + combine) matches the reference") {
  // decode_emulated with 64-token tiles and one softmax state per row is the sm_90a kernel's arithmetic: the
  // two consumers' halves of S share one row maximum per tile (exchanged before the exponentials), so a tile
  // is one online-softmax step over 64 tokens; P is rounded to bf16 for P·V; sums stay fp32.
  const EmulationOptions tiling{.tile_tokens = H::kTile, .interleave = 1};
  const float scale = 1.0f / std::sqrt(192.0f);
  struct Case {
    std::vector<int> lens;
    int s_q, h_q, sms;
  };
  const std::vector<Case> cases{
      {{700}, 1, 16, 8},                 // one sequence split over 8 parts, last tile partial
      {{2, 100, 65, 1500}, 2, 16, 8},    // variable lengths, s_q 2: causal among the new tokens
      {{129, 64, 300}, 1, 128, 132},     // 2 row blocks
      {{3, 513, 64}, 2, 24, 4},          // rows not a multiple of 16
      {{1000, 2, 3, 4097}, 2, 64, 16},   // s_q 2 on 2- and 3-token sequences
      {{64 * 9, 64 * 3 + 1}, 1, 40, 5},  // page-exact and one-past lengths
  };
  for (const auto& c : cases) {
    const auto p = make_mla_problem(c.lens, c.s_q, c.h_q, scale, 91);
    const auto ref = decode_reference(p);
    ScheduleOptions opt;
    opt.num_sms = c.sms;
    opt.ctas_per_sm = H::kCtasPerSm;
    opt.row_blocks = H::row_blocks(c.s_q, c.h_q);
    const auto sched = make_split_schedule(c.lens, opt);
    for (const SplitSchedule& s : {sched, make_unsplit_schedule(c.lens)}) {
      const auto emu = decode_emulated(p, s, tiling);
      const double err = relative_l2_error(emu.out, ref.out);
      double lse_err = 0.0;
      for (std::size_t i = 0; i < ref.lse.size(); ++i)
        lse_err = std::max(lse_err, std::abs(static_cast<double>(emu.lse[i]) - ref.lse[i]));
      INFO("h_q " << c.h_q << " s_q " << c.s_q << " splits " << s.max_splits_per_seq << " err " << err
                  << " lse err " << lse_err);
      CHECK(err <= 1e-2);
      CHECK(lse_err < 1e-3);
    }
  }
}
