// Host checks of the decode kernels' shared-memory layouts, copy assignments, ldmatrix addresses, cp.async
// group schedule and barrier placement (kernels/attention/kernel_layout.hpp holds the arithmetic the kernels
// use). The kernels have never run on a GPU; these tests replay their control flow (mirrored here phase by
// phase, barrier by barrier, with the kernels' own index functions) and check, for every shared-memory
// access:
//   - alignment (16 B for cp.async and ldmatrix rows) and bounds (no read of a row's padding columns);
//   - that every read sees the data it expects (the right tile of the right segment) and
//   - that no two accesses of different warps, one a write, touch the same bytes between the same two CTA
//     barriers (cp.async writes count from their issue until the wait_group that covers them), nor two of the
//     same warp between the same two warp barriers (__syncwarp / __syncthreads).
// Then the measurement grid's schedules: tiles inside one page, grid limits, 64-bit offsets, memory sizing.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "kernels/attention/kernel_layout.hpp"
#include "kernels/attention/paging.hpp"
#include "kernels/attention/schedule.hpp"

using namespace mlasim::attention;
namespace L = mlasim::attention::layout;

namespace {

constexpr std::size_t kMaxSmemPerBlock = 232448;  // sm_90 opt-in maximum (227 KiB)
constexpr std::size_t kSmemPerSm = 233472;        // sm_90: 228 KiB per SM, 1 KiB of it reserved per CTA
constexpr int kGranule = 16;                      // bytes; every access below is 16-byte granular (checked)

/// One shared-memory access of a warp: the 16-byte granules it touches, whether it writes, and the barrier
/// epochs (CTA-wide and warp-local) over which it may be in flight.
struct Access {
  int warp = 0;
  bool write = false;
  bool async = false;
  int cta0 = 0, cta1 = -1;  // cta1 = -1: an async write not yet waited for
  int warp0 = 0, warp1 = -1;
  std::vector<int> granules;  // sorted, unique
  std::string what;
};

class Sim {
 public:
  Sim(std::size_t smem_bytes, int warps)
      : label_(smem_bytes / kGranule, -1),
        warp_epoch_(static_cast<std::size_t>(warps), 0),
        groups_(static_cast<std::size_t>(warps)),
        open_(static_cast<std::size_t>(warps)),
        bytes_(smem_bytes) {}

  void barrier() {
    ++cta_epoch_;
    for (auto& e : warp_epoch_) ++e;
  }
  void syncwarp(int w) { ++warp_epoch_[static_cast<std::size_t>(w)]; }

  /// Byte range [b, b + n) as granules; checks alignment and bounds.
  std::vector<int> granules(std::size_t b, std::size_t n, const std::string& what) {
    if (b % kGranule != 0 || n % kGranule != 0 ||
        b + n > bytes_) {  // (checked in bulk: the replays are long)
      INFO(what << " at byte " << b << " size " << n);
      REQUIRE(b % kGranule == 0);
      REQUIRE(n % kGranule == 0);
      REQUIRE(b + n <= bytes_);
    }
    std::vector<int> g;
    for (std::size_t x = b; x < b + n; x += kGranule) g.push_back(static_cast<int>(x / kGranule));
    return g;
  }

  void read(int w, std::vector<int> g, int expect_label, const std::string& what) {
    normalize(g);
    for (const int x : g) {
      if (label_[static_cast<std::size_t>(x)] == expect_label) continue;
      INFO(what << ": warp " << w << " reads granule " << x << " holding label "
                << label_[static_cast<std::size_t>(x)] << ", expected " << expect_label);
      REQUIRE(label_[static_cast<std::size_t>(x)] == expect_label);
    }
    add(w, false, false, std::move(g), what);
  }
  void write(int w, std::vector<int> g, int label, const std::string& what) {
    normalize(g);
    for (const int x : g) label_[static_cast<std::size_t>(x)] = label;
    add(w, true, false, std::move(g), what);
  }
  /// cp.async: in flight until a wait_group of the issuing warp covers its group.
  void async_write(int w, std::vector<int> g, int label, const std::string& what) {
    normalize(g);
    for (const int x : g) label_[static_cast<std::size_t>(x)] = label;
    open_[static_cast<std::size_t>(w)].push_back(add(w, true, true, std::move(g), what));
  }
  void commit(int w) {
    groups_[static_cast<std::size_t>(w)].push_back(std::move(open_[static_cast<std::size_t>(w)]));
    open_[static_cast<std::size_t>(w)].clear();
  }
  void wait(int w, int n) {
    auto& gs = groups_[static_cast<std::size_t>(w)];
    while (static_cast<int>(gs.size()) > n) {
      for (const std::size_t i : gs.front()) {
        accesses_[i].cta1 = cta_epoch_;
        accesses_[i].warp1 = warp_epoch_[static_cast<std::size_t>(w)];
      }
      gs.erase(gs.begin());
    }
  }
  [[nodiscard]] int committed(int w) const {
    return static_cast<int>(groups_[static_cast<std::size_t>(w)].size());
  }

  /// Every copy waited for; no conflicting pair of accesses.
  void check() const {
    for (std::size_t w = 0; w < groups_.size(); ++w) {
      INFO("warp " << w);
      REQUIRE(groups_[w].empty());
      REQUIRE(open_[w].empty());
    }
    for (const auto& a : accesses_) {
      INFO(a.what);
      REQUIRE(a.cta1 >= a.cta0);
    }
    for (std::size_t i = 0; i < accesses_.size(); ++i) {
      const Access& a = accesses_[i];
      for (std::size_t j = i + 1; j < accesses_.size(); ++j) {
        const Access& b = accesses_[j];
        if (!a.write && !b.write) continue;
        const bool same = a.warp == b.warp;
        if (same && !a.async && !b.async && a.write && b.write)
          continue;  // lanes of one warp write disjoint words
        const bool overlap =
            same ? (a.warp0 <= b.warp1 && b.warp0 <= a.warp1) : (a.cta0 <= b.cta1 && b.cta0 <= a.cta1);
        if (!overlap) continue;
        std::vector<int> common;
        std::set_intersection(a.granules.begin(), a.granules.end(), b.granules.begin(), b.granules.end(),
                              std::back_inserter(common));
        if (common.empty()) continue;
        INFO("race: '" << a.what << "' (warp " << a.warp << ", epochs " << a.cta0 << ".." << a.cta1
                       << ") and '" << b.what << "' (warp " << b.warp << ", epochs " << b.cta0 << ".."
                       << b.cta1 << ") share " << common.size() << " granules");
        REQUIRE(common.empty());
      }
    }
  }

 private:
  static void normalize(std::vector<int>& g) {
    std::sort(g.begin(), g.end());
    g.erase(std::unique(g.begin(), g.end()), g.end());
  }
  std::size_t add(int w, bool write, bool async, std::vector<int> g, const std::string& what) {
    Access a;
    a.warp = w;
    a.write = write;
    a.async = async;
    a.cta0 = cta_epoch_;
    a.warp0 = warp_epoch_[static_cast<std::size_t>(w)];
    if (!async) {
      a.cta1 = a.cta0;
      a.warp1 = a.warp0;
    }
    a.granules = std::move(g);
    a.what = what;
    accesses_.push_back(std::move(a));
    return accesses_.size() - 1;
  }

  std::vector<int> label_;
  std::vector<int> warp_epoch_;
  std::vector<std::vector<std::vector<std::size_t>>> groups_;
  std::vector<std::vector<std::size_t>> open_;
  std::vector<Access> accesses_;
  std::size_t bytes_;
  int cta_epoch_ = 0;
};

int label_q(int seg) {
  return 1000000 * (seg + 1);
}
int label_tile(int seg, int tile) {
  return 1000000 * (seg + 1) + 1 + tile;
}
constexpr int kLabelCompute = 7;  // P, row maxima / sums, merge area: written and read, content not tracked

/// 16-byte-wide ldmatrix row of `lane` at element offset `elem` (bf16) of a region at `base` bytes; checks
/// the 8 values lie inside the valid columns [0, valid_cols) of a row of `stride` elements and rows <
/// max_rows.
std::size_t ldsm_row(std::size_t base, int elem, int stride, int valid_cols, int max_rows) {
  const int row = elem / stride;
  const int col = elem % stride;
  if (col % 8 != 0 || col + 8 > valid_cols || row >= max_rows) {
    INFO("ldmatrix row address elem " << elem << " (row " << row << ", col " << col << ")");
    REQUIRE(col % 8 == 0);
    REQUIRE(col + 8 <= valid_cols);
    REQUIRE(row < max_rows);
  }
  return base + static_cast<std::size_t>(elem) * 2;
}

/// Bank-conflict freedom of one ldmatrix phase: 8 rows of 16 bytes at distinct 4-bank groups.
void check_conflict_free(const std::vector<std::size_t>& row_bytes) {
  for (std::size_t m = 0; m < row_bytes.size(); m += 8) {
    std::set<std::size_t> banks;
    for (std::size_t i = m; i < m + 8; ++i) banks.insert((row_bytes[i] / 16) % 8);
    CHECK(banks.size() == 8);
  }
}

// ------------------------------------------------------------------ MLA

namespace M = L::mla;

/// Replays mla_decode_kernel on one CTA for segments of `seg_tiles` tiles; slabs < active_slabs do the math.
void simulate_mla(const std::vector<int>& seg_tiles, int active_slabs) {
  Sim sim(M::kSmemBytes, 8);
  auto tile_copy = [&](int warp, int stage, int seg, int tile) {
    std::vector<int> g;
    for (int lane = 0; lane < 32; ++lane) {
      const int tid = warp * 32 + lane;
      for (int j = 0; j < M::kKvCopiesPerThread; ++j) {
        const L::Chunk c = M::chunk_of(tid + j * M::kThreads);
        REQUIRE(c.row < M::kTile);
        REQUIRE(c.chunk * 8 + 8 <= M::kDk);
        const auto gg = sim.granules(M::kOffKv + 2 * std::size_t(M::stage_elem(stage) + M::chunk_elem(c)), 16,
                                     "kv cp.async");
        g.insert(g.end(), gg.begin(), gg.end());
      }
    }
    sim.async_write(warp, g, label_tile(seg, tile),
                    "KV tile " + std::to_string(tile) + " -> stage " + std::to_string(stage));
  };
  for (std::size_t si = 0; si < seg_tiles.size(); ++si) {
    const int seg = static_cast<int>(si);
    const int n = seg_tiles[si];
    sim.barrier();
    for (int w = 0; w < 8; ++w) {  // Q, in the first group with tile 0
      std::vector<int> g;
      for (int lane = 0; lane < 32; ++lane) {
        for (int c = w * 32 + lane; c < M::kRows * M::kChunksPerRow; c += M::kThreads) {
          const auto gg = sim.granules(2 * std::size_t(M::chunk_elem(M::chunk_of(c))), 16, "q cp.async");
          g.insert(g.end(), gg.begin(), gg.end());
        }
      }
      sim.async_write(w, g, label_q(seg), "Q");
    }
    for (int st = 0; st < M::kStages - 1; ++st) {
      for (int w = 0; w < 8; ++w) {
        if (st < n) tile_copy(w, M::stage_of(st), seg, st);
        sim.commit(w);
      }
    }
    for (int it = 0; it < n; ++it) {
      for (int w = 0; w < 8; ++w) sim.wait(w, M::kStages - 2);
      sim.barrier();
      const int nxt = M::prefetch_tile(it);
      for (int w = 0; w < 8; ++w) {
        if (nxt < n) tile_copy(w, M::stage_of(nxt), seg, nxt);
        sim.commit(w);
      }
      const std::size_t tile_base = M::kOffKv + 2 * std::size_t(M::stage_elem(M::stage_of(it)));
      for (int w = 0; w < 8; ++w) {
        const int slab = w >> 1, half = w & 1;
        if (slab >= active_slabs) continue;
        std::vector<int> gq, gk;
        for (int ks = 0; ks < M::kDk / 16; ++ks) {
          std::vector<std::size_t> rq, rk;
          for (int lane = 0; lane < 32; ++lane) {
            rq.push_back(ldsm_row(0, M::q_frag_elem(slab, lane) + ks * 16, M::kStride, M::kDk, M::kRows));
            rk.push_back(
                ldsm_row(tile_base, M::k_frag_elem(half, lane) + ks * 16, M::kStride, M::kDk, M::kTile));
          }
          check_conflict_free(rq);
          check_conflict_free(rk);
          for (const auto b : rq)
            for (const int x : sim.granules(b, 16, "Q ldmatrix")) gq.push_back(x);
          for (const auto b : rk)
            for (const int x : sim.granules(b, 16, "K ldmatrix")) gk.push_back(x);
        }
        sim.read(w, gq, label_q(seg), "Q frags");
        sim.read(w, gk, label_tile(seg, it), "K frags");
        std::vector<int> gm;  // row maxima of this half: rows slab*16 .. +16
        for (int x : sim.granules(M::kOffRed + 4 * std::size_t(half * M::kRows + slab * 16), 64, "s_max"))
          gm.push_back(x);
        sim.write(w, gm, kLabelCompute, "s_max write");
      }
      sim.barrier();
      for (int w = 0; w < 8; ++w) {
        const int slab = w >> 1, half = w & 1;
        if (slab >= active_slabs) continue;
        std::vector<int> gm, gs, gp;
        for (int h = 0; h < 2; ++h) {
          for (int x : sim.granules(M::kOffRed + 4 * std::size_t(h * M::kRows + slab * 16), 64, "s_max"))
            gm.push_back(x);
        }
        sim.read(w, gm, kLabelCompute, "s_max read");
        for (int lane = 0; lane < 32; ++lane) {
          for (int j = 0; j < 2; ++j) {
            const int col = half * 16 + j * 8 + 2 * (lane & 3);
            for (const int r : {slab * 16 + (lane >> 2), slab * 16 + (lane >> 2) + 8}) {
              const std::size_t byte = M::kOffP + 2 * std::size_t(M::p_elem(r, col));
              REQUIRE(byte % 4 == 0);
              REQUIRE(col + 2 <= M::kTile);
              gp.push_back(static_cast<int>(byte / kGranule));
            }
          }
        }
        sim.write(w, gp, kLabelCompute, "P write");
        for (int x : sim.granules(M::kOffRed + 4 * std::size_t(2 * M::kRows + half * M::kRows + slab * 16),
                                  64, "s_sum"))
          gs.push_back(x);
        sim.write(w, gs, kLabelCompute, "s_sum write");
      }
      sim.barrier();
      for (int w = 0; w < 8; ++w) {
        const int slab = w >> 1, half = w & 1;
        if (slab >= active_slabs) continue;
        std::vector<int> gs, gp, gv;
        for (int h = 0; h < 2; ++h) {
          for (int x : sim.granules(M::kOffRed + 4 * std::size_t(2 * M::kRows + h * M::kRows + slab * 16), 64,
                                    "s_sum"))
            gs.push_back(x);
        }
        sim.read(w, gs, kLabelCompute, "s_sum read");
        for (int ks = 0; ks < M::kTile / 16; ++ks) {
          std::vector<std::size_t> rp;
          for (int lane = 0; lane < 32; ++lane)
            rp.push_back(
                ldsm_row(M::kOffP, M::p_frag_elem(slab, lane) + ks * 16, M::kPStride, M::kTile, M::kRows));
          check_conflict_free(rp);
          for (const auto b : rp)
            for (const int x : sim.granules(b, 16, "P ldmatrix")) gp.push_back(x);
          for (int np = 0; np < 16; ++np) {
            std::vector<std::size_t> rv;
            for (int lane = 0; lane < 32; ++lane) {
              const int e = M::v_frag_elem(ks, half, lane) + np * 16;
              rv.push_back(ldsm_row(tile_base, e, M::kStride, M::kDv, M::kTile));
            }
            check_conflict_free(rv);
            for (const auto b : rv)
              for (const int x : sim.granules(b, 16, "V ldmatrix")) gv.push_back(x);
          }
        }
        sim.read(w, gp, kLabelCompute, "P read");
        sim.read(w, gv, label_tile(seg, it), "V frags");
      }
    }
    for (int w = 0; w < 8; ++w) sim.wait(w, 0);
  }
  sim.check();
}

// ------------------------------------------------------------------ GQA

template <int D>
void simulate_gqa(const std::vector<int>& seg_tiles) {
  using S = L::gqa::Smem<D>;
  namespace G = L::gqa;
  Sim sim(S::kBytes, G::kWarps);
  auto tile_copy = [&](int w, int stage, int seg, int tile) {
    std::vector<int> g;
    const int k_elem = S::k_stage_elem(w, stage);
    // The warp's ring stays inside its own quarter of the ring region.
    REQUIRE(std::size_t(2) * (k_elem + 2 * G::kTile * S::kStride) <=
            S::kRing * std::size_t(w + 1) / G::kWarps);
    REQUIRE(std::size_t(2) * k_elem >= S::kRing * std::size_t(w) / G::kWarps);
    for (int lane = 0; lane < 32; ++lane) {
      for (int j = 0; j < S::kCopiesPerLane; ++j) {
        const L::Chunk c = S::chunk_of(lane + 32 * j);
        REQUIRE(c.row < G::kTile);
        for (const int kv : {0, 1}) {
          const int e = k_elem + kv * G::kTile * S::kStride + S::chunk_elem(c);
          for (int x : sim.granules(S::kOffRing + 2 * std::size_t(e), 16, "kv cp.async")) g.push_back(x);
        }
      }
    }
    sim.async_write(w, g, label_tile(seg, tile), "KV tile " + std::to_string(tile));
  };
  for (std::size_t si = 0; si < seg_tiles.size(); ++si) {
    const int seg = static_cast<int>(si);
    const int n = seg_tiles[si];
    sim.barrier();
    for (int w = 0; w < G::kWarps; ++w) {
      std::vector<int> g;
      for (int lane = 0; lane < 32; ++lane) {
        for (int c = w * 32 + lane; c < G::kRows * (D / 8); c += G::kThreads) {
          for (int x : sim.granules(2 * std::size_t(S::chunk_elem(S::chunk_of(c))), 16, "q cp.async"))
            g.push_back(x);
        }
      }
      sim.async_write(w, g, label_q(seg), "Q");
      sim.commit(w);
      sim.wait(w, 0);
    }
    sim.barrier();
    for (int w = 0; w < G::kWarps; ++w) {
      std::vector<int> g;
      for (int ks = 0; ks < D / 16; ++ks) {
        std::vector<std::size_t> r;
        for (int lane = 0; lane < 32; ++lane)
          r.push_back(ldsm_row(0, S::q_frag_elem(ks, lane), S::kStride, D, G::kRows));
        check_conflict_free(r);
        for (const auto b : r)
          for (int x : sim.granules(b, 16, "Q ldmatrix")) g.push_back(x);
      }
      sim.read(w, g, label_q(seg), "Q frags");
    }
    // The warps run their loops independently (no CTA barrier inside).
    for (int w = 0; w < G::kWarps; ++w) {
      const int my = G::warp_tiles(n, w);
      // Tiles dealt round-robin cover the segment exactly once.
      for (int it = 0; it < my; ++it) REQUIRE(G::warp_tile(w, it) < n);
      REQUIRE((my == 0 || G::warp_tile(w, my) >= n));
      for (int st = 0; st < G::kStages - 1; ++st) {
        if (st < my) tile_copy(w, G::stage_of(st), seg, G::warp_tile(w, st));
        sim.commit(w);
      }
      for (int it = 0; it < my; ++it) {
        sim.wait(w, G::kStages - 2);
        sim.syncwarp(w);
        const int nxt = G::prefetch_tile(it);
        if (nxt < my) tile_copy(w, G::stage_of(nxt), seg, G::warp_tile(w, nxt));
        sim.commit(w);
        const int k_elem = S::k_stage_elem(w, G::stage_of(it));
        const std::size_t kb = S::kOffRing + 2 * std::size_t(k_elem);
        const std::size_t vb = kb + 2 * std::size_t(G::kTile) * S::kStride;
        std::vector<int> g;
        for (int ks = 0; ks < D / 16; ++ks) {
          std::vector<std::size_t> rk, rv;
          for (int lane = 0; lane < 32; ++lane) {
            rk.push_back(ldsm_row(kb, S::k_frag_elem(lane) + ks * 16, S::kStride, D, G::kTile));
            rv.push_back(ldsm_row(vb, S::v_frag_elem(lane) + ks * 16, S::kStride, D, G::kTile));
          }
          check_conflict_free(rk);
          check_conflict_free(rv);
          for (const auto b : rk)
            for (int x : sim.granules(b, 16, "K ldmatrix")) g.push_back(x);
          for (const auto b : rv)
            for (int x : sim.granules(b, 16, "V ldmatrix")) g.push_back(x);
        }
        sim.read(w, g, label_tile(seg, G::warp_tile(w, it)), "K/V frags");
      }
      sim.wait(w, 0);
    }
    sim.barrier();
    for (int w = 0; w < G::kWarps; ++w) {
      std::vector<int> gs, gm;
      for (const std::size_t off : {std::size_t(0), std::size_t(G::kWarps * G::kRows * 4)}) {
        for (int x : sim.granules(S::kOffStats + off + 4 * std::size_t(w * G::kRows), 64, "s_m/s_l"))
          gs.push_back(x);
      }
      sim.write(w, gs, kLabelCompute, "stats write");
      for (int r = 0; r < G::kRows; ++r) {
        for (int x :
             sim.granules(S::kOffRing + 4 * std::size_t(S::merge_elem(w, r, 0)), 4 * std::size_t(D), "merge"))
          gm.push_back(x);
      }
      REQUIRE(4 * std::size_t(S::merge_elem(w, G::kRows - 1, D)) <= S::kRingOrMerge);
      sim.write(w, gm, kLabelCompute, "merge write");
    }
    sim.barrier();
    for (int w = 0; w < G::kWarps;
         ++w) {  // each thread reads every warp's stats and merge rows of its outputs
      std::vector<int> g;
      for (int x : sim.granules(S::kOffStats, S::kStats, "stats")) g.push_back(x);
      for (int x : sim.granules(S::kOffRing, S::kMerge, "merge")) g.push_back(x);
      sim.read(w, g, kLabelCompute, "merge read");
    }
  }
  sim.check();
}

// ------------------------------------------------------------------ GQA deep (gqa_decode_deep.cu)

/// Replays gqa_decode_deep_kernel<D> on one CTA for segments of `seg_tiles` tiles: per segment a CTA barrier,
/// each thread's Q copies committed as one group and the kStages - 1 prologue groups after it, a wait that
/// leaves only the prologue in flight, a barrier, the Q fragments; then each warp's own loop (wait down to
/// kWaitInLoop groups, __syncwarp, prefetch of tile it + kStages - 1 into stage (it + kStages - 1) % kStages,
/// K and V fragments of tile it), a final wait; then the merge through the overlaid rings.
template <int D, int Stages = L::gqa_deep::Config<D>::kStages>
void simulate_gqa_deep(const std::vector<int>& seg_tiles) {
  namespace G = L::gqa_deep;
  using C = G::Config<D, Stages>;
  using S = typename C::Smem;
  Sim sim(S::kBytes, G::kWarps);
  auto tile_copy = [&](int w, int stage, int seg, int tile) {
    INFO("warp " << w << " stage " << stage << " tile " << tile);
    REQUIRE(stage >= 0);
    REQUIRE(stage < C::kStages);
    std::vector<int> g;
    const int k_elem = S::k_stage_elem(w, stage);
    // The warp's ring stays inside its own quarter of the ring region.
    REQUIRE(std::size_t(2) * (k_elem + 2 * G::kTile * S::kStride) <=
            S::kRing * std::size_t(w + 1) / G::kWarps);
    REQUIRE(std::size_t(2) * k_elem >= S::kRing * std::size_t(w) / G::kWarps);
    std::set<std::pair<int, int>> chunks;  // each (row, chunk) of the 16-token tile copied once, for K and V
    for (int lane = 0; lane < 32; ++lane) {
      for (int j = 0; j < S::kCopiesPerLane; ++j) {
        const L::Chunk c = S::chunk_of(lane + 32 * j);
        REQUIRE(c.row < G::kTile);
        REQUIRE(c.chunk * 8 + 8 <= D);
        REQUIRE(chunks.insert({c.row, c.chunk}).second);
        for (const int kv : {0, 1}) {
          const int e = k_elem + kv * G::kTile * S::kStride + S::chunk_elem(c);
          for (int x : sim.granules(S::kOffRing + 2 * std::size_t(e), 16, "kv cp.async")) g.push_back(x);
        }
      }
    }
    REQUIRE(chunks.size() == static_cast<std::size_t>(G::kTile * D / 8));
    sim.async_write(w, g, label_tile(seg, tile), "KV tile " + std::to_string(tile));
  };
  for (std::size_t si = 0; si < seg_tiles.size(); ++si) {
    const int seg = static_cast<int>(si);
    const int n = seg_tiles[si];
    sim.barrier();
    for (int w = 0; w < G::kWarps; ++w) {
      const int my = G::warp_tiles(n, w);
      std::vector<int> g;
      for (int lane = 0; lane < 32; ++lane) {
        for (int c = w * 32 + lane; c < G::kRows * (D / 8); c += G::kThreads) {
          for (int x : sim.granules(2 * std::size_t(S::chunk_elem(S::chunk_of(c))), 16, "q cp.async"))
            g.push_back(x);
        }
      }
      sim.async_write(w, g, label_q(seg), "Q");
      sim.commit(w);
      for (int st = 0; st < C::kStages - 1; ++st) {
        if (st < my) tile_copy(w, C::stage_of(st), seg, G::warp_tile(w, st));
        sim.commit(w);
      }
      REQUIRE(sim.committed(w) == C::kStages);
      sim.wait(w, C::kWaitForQ);
    }
    sim.barrier();
    for (int w = 0; w < G::kWarps; ++w) {
      std::vector<int> g;
      for (int ks = 0; ks < D / 16; ++ks) {
        std::vector<std::size_t> r;
        for (int lane = 0; lane < 32; ++lane)
          r.push_back(ldsm_row(0, S::q_frag_elem(ks, lane), S::kStride, D, G::kRows));
        check_conflict_free(r);
        for (const auto b : r)
          for (int x : sim.granules(b, 16, "Q ldmatrix")) g.push_back(x);
      }
      sim.read(w, g, label_q(seg), "Q frags");
    }
    // The warps run their loops independently (no CTA barrier inside).
    for (int w = 0; w < G::kWarps; ++w) {
      const int my = G::warp_tiles(n, w);
      for (int it = 0; it < my; ++it) REQUIRE(G::warp_tile(w, it) < n);
      REQUIRE((my == 0 || G::warp_tile(w, my) >= n));
      for (int it = 0; it < my; ++it) {
        sim.wait(w, C::kWaitInLoop);
        sim.syncwarp(w);
        const int nxt = C::prefetch_tile(it);
        if (nxt < my) tile_copy(w, C::stage_of(nxt), seg, G::warp_tile(w, nxt));
        sim.commit(w);
        const int k_elem = S::k_stage_elem(w, C::stage_of(it));
        const std::size_t kb = S::kOffRing + 2 * std::size_t(k_elem);
        const std::size_t vb = kb + 2 * std::size_t(G::kTile) * S::kStride;
        std::vector<int> g;
        for (int ks = 0; ks < D / 16; ++ks) {
          std::vector<std::size_t> rk, rv;
          for (int lane = 0; lane < 32; ++lane) {
            rk.push_back(ldsm_row(kb, S::k_frag_elem(lane) + ks * 16, S::kStride, D, G::kTile));
            rv.push_back(ldsm_row(vb, S::v_frag_elem(lane) + ks * 16, S::kStride, D, G::kTile));
          }
          check_conflict_free(rk);
          check_conflict_free(rv);
          for (const auto b : rk)
            for (int x : sim.granules(b, 16, "K ldmatrix")) g.push_back(x);
          for (const auto b : rv)
            for (int x : sim.granules(b, 16, "V ldmatrix")) g.push_back(x);
        }
        sim.read(w, g, label_tile(seg, G::warp_tile(w, it)), "K/V frags");
      }
      sim.wait(w, 0);
    }
    sim.barrier();
    for (int w = 0; w < G::kWarps; ++w) {
      std::vector<int> gs, gm;
      for (const std::size_t off : {std::size_t(0), std::size_t(G::kWarps * G::kRows * 4)}) {
        for (int x : sim.granules(S::kOffStats + off + 4 * std::size_t(w * G::kRows), 64, "s_m/s_l"))
          gs.push_back(x);
      }
      sim.write(w, gs, kLabelCompute, "stats write");
      for (int r = 0; r < G::kRows; ++r) {
        for (int x :
             sim.granules(S::kOffRing + 4 * std::size_t(S::merge_elem(w, r, 0)), 4 * std::size_t(D), "merge"))
          gm.push_back(x);
      }
      REQUIRE(4 * std::size_t(S::merge_elem(w, G::kRows - 1, D)) <= S::kRingOrMerge);
      sim.write(w, gm, kLabelCompute, "merge write");
    }
    sim.barrier();
    for (int w = 0; w < G::kWarps;
         ++w) {  // each thread reads every warp's stats and merge rows of its outputs
      std::vector<int> g;
      for (int x : sim.granules(S::kOffStats, S::kStats, "stats")) g.push_back(x);
      for (int x : sim.granules(S::kOffRing, S::kMerge, "merge")) g.push_back(x);
      sim.read(w, g, kLabelCompute, "merge read");
    }
  }
  sim.check();
}

/// A segment of n tiles replays like one of reduce_tiles(n): past 2 x kWarps x kStages tiles, every warp's
/// tile count changes by a multiple of kStages when n changes by kWarps x kStages, which leaves each warp's
/// ring pattern (prologue, stage of every tile, last stages) the same, only more steady-state iterations.
template <int D>
int reduce_tiles(int n) {
  constexpr int period = L::gqa_deep::kWarps * L::gqa_deep::Config<D>::kStages;
  constexpr int base = 2 * period;
  return n <= base ? n : base + (n - base) % period;
}

// ------------------------------------------------------------------ GQA wide (gqa_decode_wide.cu)

/// Replays gqa_decode_wide_kernel<D> on one CTA for segments of `seg_tiles` tiles, warps < active_warps doing
/// the math: per segment a barrier, Q (one group per thread) then the kStages - 1 prologue groups, a wait
/// for Q, a barrier, each active warp's Q fragments of its slab; per tile: every thread waits down to
/// kWaitInLoop groups, a barrier, the prefetch of tile it + kStages - 1 by all threads, each active warp's K
/// and V fragments of tile it; a final wait (the epilogue writes global memory only).
template <int D, int Stages = L::gqa_wide::kStages>
void simulate_gqa_wide(const std::vector<int>& seg_tiles, int active_warps) {
  namespace W = L::gqa_wide;
  using S = W::Smem<D, Stages>;
  Sim sim(S::kBytes, W::kWarps);
  auto tile_copy = [&](int w, int stage, int seg, int tile) {
    REQUIRE(stage >= 0);
    REQUIRE(stage < Stages);
    std::vector<int> g;
    for (int lane = 0; lane < 32; ++lane) {
      for (int j = 0; j < S::kCopiesPerThread; ++j) {
        const L::Chunk c = S::chunk_of(w * 32 + lane + W::kThreads * j);
        REQUIRE(c.row < W::kTile);
        REQUIRE(c.chunk * 8 + 8 <= D);
        for (const int kv : {0, 1}) {
          const int e = S::k_stage_elem(stage) + kv * W::kTile * S::kStride + S::chunk_elem(c);
          for (int x : sim.granules(S::kOffRing + 2 * std::size_t(e), 16, "kv cp.async")) g.push_back(x);
        }
      }
    }
    sim.async_write(w, g, label_tile(seg, tile), "KV tile " + std::to_string(tile));
  };
  for (std::size_t si = 0; si < seg_tiles.size(); ++si) {
    const int seg = static_cast<int>(si);
    const int n = seg_tiles[si];
    sim.barrier();
    for (int w = 0; w < W::kWarps; ++w) {
      std::vector<int> g;
      for (int lane = 0; lane < 32; ++lane) {
        for (int c = w * 32 + lane; c < W::kRows * (D / 8); c += W::kThreads) {
          for (int x : sim.granules(2 * std::size_t(S::chunk_elem(S::chunk_of(c))), 16, "q cp.async"))
            g.push_back(x);
        }
      }
      sim.async_write(w, g, label_q(seg), "Q");
      sim.commit(w);
      for (int st = 0; st < Stages - 1; ++st) {
        if (st < n) tile_copy(w, W::stage_of<Stages>(st), seg, st);
        sim.commit(w);
      }
      sim.wait(w, W::kWaitForQ<Stages>);
    }
    sim.barrier();
    for (int w = 0; w < active_warps; ++w) {
      std::vector<int> g;
      for (int ks = 0; ks < D / 16; ++ks) {
        std::vector<std::size_t> r;
        for (int lane = 0; lane < 32; ++lane)
          r.push_back(ldsm_row(0, S::q_frag_elem(w, ks, lane), S::kStride, D, W::kRows));
        check_conflict_free(r);
        for (const auto b : r)
          for (int x : sim.granules(b, 16, "Q ldmatrix")) g.push_back(x);
      }
      sim.read(w, g, label_q(seg), "Q frags");
    }
    for (int it = 0; it < n; ++it) {
      for (int w = 0; w < W::kWarps; ++w) sim.wait(w, W::kWaitInLoop<Stages>);
      sim.barrier();
      const int nxt = W::prefetch_tile<Stages>(it);
      for (int w = 0; w < W::kWarps; ++w) {
        if (nxt < n) tile_copy(w, W::stage_of<Stages>(nxt), seg, nxt);
        sim.commit(w);
      }
      const std::size_t kb = S::kOffRing + 2 * std::size_t(S::k_stage_elem(W::stage_of<Stages>(it)));
      const std::size_t vb = kb + 2 * std::size_t(W::kTile) * S::kStride;
      for (int w = 0; w < active_warps; ++w) {
        std::vector<int> g;
        for (int ks = 0; ks < D / 16; ++ks) {
          for (int pair = 0; pair < W::kTile / 16; ++pair) {
            std::vector<std::size_t> rk;
            for (int lane = 0; lane < 32; ++lane)
              rk.push_back(ldsm_row(kb, S::k_frag_elem(pair, lane) + ks * 16, S::kStride, D, W::kTile));
            check_conflict_free(rk);
            for (const auto b : rk)
              for (int x : sim.granules(b, 16, "K ldmatrix")) g.push_back(x);
          }
        }
        for (int kk = 0; kk < W::kTile / 16; ++kk) {
          for (int np = 0; np < D / 16; ++np) {
            std::vector<std::size_t> rv;
            for (int lane = 0; lane < 32; ++lane)
              rv.push_back(ldsm_row(vb, S::v_frag_elem(kk, lane) + np * 16, S::kStride, D, W::kTile));
            check_conflict_free(rv);
            for (const auto b : rv)
              for (int x : sim.granules(b, 16, "V ldmatrix")) g.push_back(x);
          }
        }
        sim.read(w, g, label_tile(seg, it), "K/V frags");
      }
    }
    for (int w = 0; w < W::kWarps; ++w) sim.wait(w, 0);
  }
  sim.check();
}

/// As reduce_tiles, for the wide kernel's CTA-wide ring: the pattern repeats every kStages tiles.
int reduce_tiles_wide(int n) {
  constexpr int period = L::gqa_wide::kStages;
  constexpr int base = 2 * period;
  return n <= base ? n : base + (n - base) % period;
}

}  // namespace

TEST_CASE("MLA kernel layout: sizes, alignment, copy coverage") {
  STATIC_REQUIRE(L::kPageTokens == kPageTokens);
  STATIC_REQUIRE(M::kSmemBytes == 193024);  // kernels/attention/README.md
  STATIC_REQUIRE(M::kSmemBytes <= kMaxSmemPerBlock);
  STATIC_REQUIRE(M::kSmemBytes + 1024 <= kSmemPerSm);
  STATIC_REQUIRE(M::kOffKv % 16 == 0);
  STATIC_REQUIRE(M::kOffP % 16 == 0);
  STATIC_REQUIRE(M::kOffRed % 16 == 0);
  STATIC_REQUIRE(M::kStride * 2 % 16 == 0);
  STATIC_REQUIRE(M::kPStride * 2 % 16 == 0);
  STATIC_REQUIRE(M::kTile * M::kChunksPerRow == M::kKvCopiesPerThread * M::kThreads);  // no chunk dropped
  STATIC_REQUIRE(L::kPageTokens % M::kTile == 0);
  std::set<std::pair<int, int>> seen;
  for (int c = 0; c < M::kTile * M::kChunksPerRow; ++c)
    seen.insert({M::chunk_of(c).row, M::chunk_of(c).chunk});
  CHECK(seen.size() == static_cast<std::size_t>(M::kTile * M::kChunksPerRow));
  // Epilogue: each (row, column) of the 16 x 512 slab output written once by the two warps of the slab.
  std::set<std::pair<int, int>> out;
  for (int half = 0; half < 2; ++half) {
    for (int lane = 0; lane < 32; ++lane) {
      for (int j = 0; j < 32; ++j) {
        const int col0 = half * (M::kDv / 2) + 2 * (lane & 3) + j * 8;
        for (const int r : {lane >> 2, (lane >> 2) + 8}) {
          out.insert({r, col0});
          out.insert({r, col0 + 1});
        }
      }
    }
  }
  CHECK(out.size() == static_cast<std::size_t>(16 * M::kDv));
}

TEST_CASE("GQA kernel layout: sizes, alignment, occupancy") {
  using S64 = L::gqa::Smem<64>;
  using S128 = L::gqa::Smem<128>;
  STATIC_REQUIRE(S128::kBytes == 74496);  // kernels/attention/README.md
  STATIC_REQUIRE(S64::kBytes == 39680);
  STATIC_REQUIRE(S128::kMerge <= S128::kRing);
  STATIC_REQUIRE(S64::kMerge <= S64::kRing);
  STATIC_REQUIRE(2 * (S128::kBytes + 1024) <= kSmemPerSm);  // gqa_ctas_per_sm(128) = 2
  STATIC_REQUIRE(3 * (S64::kBytes + 1024) <= kSmemPerSm);   // gqa_ctas_per_sm(64) = 3
  STATIC_REQUIRE(S128::kOffRing % 16 == 0);
  STATIC_REQUIRE(S128::kOffStats % 16 == 0);
  STATIC_REQUIRE(S64::kOffStats % 16 == 0);
  STATIC_REQUIRE(S64::kTileBytes % 16 == 0);
  STATIC_REQUIRE(L::gqa::kTile * S64::kChunks == 32 * S64::kCopiesPerLane);
  STATIC_REQUIRE(L::gqa::kTile * S128::kChunks == 32 * S128::kCopiesPerLane);
  for (int n = 0; n < 40; ++n) {
    int total = 0;
    for (int w = 0; w < L::gqa::kWarps; ++w) total += L::gqa::warp_tiles(n, w);
    CHECK(total == n);
  }
}

TEST_CASE("MLA kernel replay: cp.async groups, barriers and reads, short and long segments, padding slabs") {
  for (int n = 1; n <= 8; ++n) {
    for (int active = 1; active <= 4; ++active) {
      INFO("tiles " << n << " active slabs " << active);
      simulate_mla({n}, active);
    }
  }
  for (const std::vector<int>& segs :
       std::vector<std::vector<int>>{{1, 1}, {2, 1, 3}, {4, 5}, {3, 3, 3}, {1, 7, 2}}) {
    for (const int active : {1, 4}) simulate_mla(segs, active);
  }
}

TEST_CASE("GQA kernel replay: per-warp rings, round-robin tiles, merge overlay") {
  for (int n = 1; n <= 13; ++n) {
    INFO("tiles " << n);
    simulate_gqa<128>({n});
    simulate_gqa<64>({n});
  }
  for (const std::vector<int>& segs : std::vector<std::vector<int>>{{1, 5}, {9, 2, 3}, {4, 4}, {2, 11, 1}}) {
    simulate_gqa<128>(segs);
    simulate_gqa<64>(segs);
  }
}

TEST_CASE("measurement grid: tiles stay in a page, grid limits, 64-bit offsets, device memory") {
  const std::vector<int> batches{1, 8, 32, 64, 128};
  const std::vector<int> contexts{1, 2, 63, 65, 512, 1000, 1024, 2048, 4095, 4096, 8192, 16384, 32767, 32768};
  struct Shape {
    bool mla;
    int n_h, n_kv, d;
  };
  std::vector<Shape> shapes;
  for (const int h : {16, 24, 32, 64, 128}) shapes.push_back({true, h, 1, 576});
  for (const Shape s : {Shape{false, 32, 32, 128}, Shape{false, 32, 8, 128}, Shape{false, 64, 8, 128},
                        Shape{false, 71, 1, 64}}) {
    shapes.push_back(s);
  }
  double max_cache_bytes = 0.0;
  for (const Shape& sh : shapes) {
    for (const int s_q : {1, 2}) {
      const int rows_per_kv = s_q * (sh.n_h / sh.n_kv);
      const int rows_per_cta = sh.mla ? M::kRows : L::gqa::kRows;
      const int row_blocks = sh.n_kv * ((rows_per_kv + rows_per_cta - 1) / rows_per_cta);
      ScheduleOptions opt;
      opt.num_sms = 132;
      opt.ctas_per_sm = sh.mla ? 1 : (sh.d == 128 ? 2 : 3);
      opt.row_blocks = row_blocks;
      const int tile = sh.mla ? M::kTile : L::gqa::kTile;
      for (const int batch : batches) {
        for (const int ctx : contexts) {
          for (const bool variable : {false, true}) {
            if (ctx < s_q) continue;
            const auto lens = variable ? random_context_lens(batch, std::max(s_q, ctx / 2), ctx + ctx / 2, 7)
                                       : std::vector<int>(static_cast<std::size_t>(batch), ctx);
            const auto pages = build_page_table(lens, kPageTokens, 3);
            const auto s = make_split_schedule(lens, opt);
            INFO((sh.mla ? "mla" : "gqa")
                 << " n_h " << sh.n_h << " n_kv " << sh.n_kv << " s_q " << s_q << " B " << batch << " ctx "
                 << ctx << (variable ? " variable" : ""));
            REQUIRE(s.num_parts <= 65535);  // gridDim.y
            REQUIRE(row_blocks <= 65535);
            REQUIRE(batch <= 65535);  // combine gridDim.y
            for (int i = 0; i < s.num_segments; ++i) {
              const auto u = static_cast<std::size_t>(i);
              const int b = s.seg_seq[u];
              const int tb = s.seg_token_begin[u];
              const int te = s.seg_token_end[u];
              REQUIRE(tb % tile == 0);
              const int n_tiles = (te - tb + tile - 1) / tile;
              const int last_t0 = tb + (n_tiles - 1) * tile;
              REQUIRE(last_t0 < te);
              REQUIRE(last_t0 / kPageTokens == (last_t0 + tile - 1) / kPageTokens);  // a tile inside one page
              REQUIRE(last_t0 / kPageTokens < pages.max_pages_per_seq);
              REQUIRE(pages.block_table[static_cast<std::size_t>(b) *
                                            static_cast<std::size_t>(pages.max_pages_per_seq) +
                                        static_cast<std::size_t>(last_t0 / kPageTokens)] >= 0);
            }
            // The largest cache element index needs 64 bits once it passes 2^31 (the kernels use size_t).
            const double elems = static_cast<double>(pages.num_pages) * kPageTokens * sh.n_kv * sh.d;
            const double cache_bytes = elems * 2.0 * (sh.mla ? 1.0 : 2.0);
            if (cache_bytes <= 32.0 * 1073741824.0) max_cache_bytes = std::max(max_cache_bytes, cache_bytes);
          }
        }
      }
    }
  }
  // bench_main.cu skips points above --max-kv-gib 32: what runs fits an 80 GB H100 with room for the rest.
  CHECK(max_cache_bytes <= 32.0 * 1073741824.0);
  CHECK(max_cache_bytes + 4.0 * 1073741824.0 < 78.0 * 1073741824.0);
}

TEST_CASE("GQA deep kernel layout: sizes, occupancy, ring depth, chains") {
  namespace G = L::gqa_deep;
  using C128 = G::Config<128>;
  using C64 = G::Config<64>;
  using S128 = C128::Smem;
  using S64 = C64::Smem;
  STATIC_REQUIRE(C128::kStages == 3);
  STATIC_REQUIRE(C64::kStages == 4);
  STATIC_REQUIRE(S128::kBytes == 109312);  // kernels/attention/README.md
  STATIC_REQUIRE(S64::kBytes == 76544);
  // Resident CTAs per SM: shared memory (the 1 KiB per CTA the SM reserves included) and 255 registers.
  STATIC_REQUIRE(C128::kCtasPerSm * (S128::kBytes + 1024) <= kSmemPerSm);
  STATIC_REQUIRE(C64::kCtasPerSm * (S64::kBytes + 1024) <= kSmemPerSm);
  STATIC_REQUIRE((C128::kCtasPerSm + 1) * (S128::kBytes + 1024) > kSmemPerSm);  // the bound is shared memory
  STATIC_REQUIRE((C64::kCtasPerSm + 1) * (S64::kBytes + 1024) > kSmemPerSm);
  STATIC_REQUIRE(S128::kBytes <= kMaxSmemPerBlock);
  STATIC_REQUIRE(S128::kMerge <= S128::kRing);
  STATIC_REQUIRE(S64::kMerge <= S64::kRing);
  STATIC_REQUIRE(S128::kOffRing % 16 == 0);
  STATIC_REQUIRE(S128::kOffStats % 16 == 0);
  STATIC_REQUIRE(S64::kOffStats % 16 == 0);
  // The scheduler sees the same rows per CTA as gqa's, and the CTAs per SM from the config.
  CHECK(G::row_blocks(2, 64, 8) == 8);
  CHECK(G::row_blocks(2, 71, 1) == 9);
  const ScheduleOptions o = [] {
    ScheduleOptions x;
    x.ctas_per_sm = C128::kCtasPerSm;
    x.row_blocks = G::row_blocks(1, 64, 8);
    return x;
  }();
  CHECK(target_parts(o) == 132 * 2 / 8);
  // Bytes in flight per SM while every warp computes a tile (kernels/attention/README.md): the kStages - 1
  // tiles behind it, K and V, 2 bytes a value, over all resident warps.
  auto in_flight = [](int d, int stages, int ctas) {
    return (stages - 1) * G::kTile * d * 2 * 2 * G::kWarps * ctas;
  };
  CHECK(in_flight(128, C128::kStages, C128::kCtasPerSm) == 131072);
  CHECK(in_flight(64, C64::kStages, C64::kCtasPerSm) == 147456);
  CHECK(in_flight(128, L::gqa::kStages, L::gqa::ctas_per_sm(128)) == 65536);  // gqa-d128
  // Q·K^T chains: every k-step in exactly one chain, the chains equally long.
  for (const int d : {64, 128}) {
    std::vector<int> per_chain(C128::kQkChains, 0);
    for (int ks = 0; ks < d / 16; ++ks) ++per_chain[static_cast<std::size_t>(ks % C128::kQkChains)];
    for (const int c : per_chain) CHECK(c == d / 16 / C128::kQkChains);
  }
}

TEST_CASE("GQA deep kernel replay: deeper per-warp rings, Q beside the prologue, merge overlay") {
  for (int n = 1; n <= 13; ++n) {
    INFO("tiles " << n);
    simulate_gqa_deep<128>({n});
    simulate_gqa_deep<64>({n});
  }
  for (const int n : {24, 25, 26, 27, 40, 41, 63}) {  // steady state: every warp past its ring depth
    INFO("tiles " << n);
    simulate_gqa_deep<128>({n});
    simulate_gqa_deep<64>({n});
  }
  for (const std::vector<int>& segs :
       std::vector<std::vector<int>>{{1, 5}, {9, 2, 3}, {4, 4}, {2, 11, 1}, {13, 1, 1, 7}, {30, 3}}) {
    simulate_gqa_deep<128>(segs);
    simulate_gqa_deep<64>(segs);
  }
}

namespace {

/// The GQA measurement grid scheduled for the deep kernel: for every part, its segments' tile counts
/// (reduce_tiles), collected once each; tiles inside a page and inside the block table.
template <int D>
std::set<std::vector<int>> deep_grid_parts(int n_h, int n_kv) {
  using C = L::gqa_deep::Config<D>;
  const std::vector<int> batches{1, 8, 32, 64, 128};
  const std::vector<int> contexts{1, 2, 63, 65, 512, 1000, 1024, 2048, 4095, 4096, 8192, 16384, 32767, 32768};
  std::set<std::vector<int>> parts;
  for (const int s_q : {1, 2}) {
    ScheduleOptions opt;
    opt.num_sms = 132;
    opt.ctas_per_sm = C::kCtasPerSm;
    opt.row_blocks = L::gqa_deep::row_blocks(s_q, n_h, n_kv);
    for (const int batch : batches) {
      for (const int ctx : contexts) {
        for (const bool variable : {false, true}) {
          if (ctx < s_q) continue;
          const auto lens = variable ? random_context_lens(batch, std::max(s_q, ctx / 2), ctx + ctx / 2, 7)
                                     : std::vector<int>(static_cast<std::size_t>(batch), ctx);
          const auto pages = build_page_table(lens, kPageTokens, 3);
          const auto s = make_split_schedule(lens, opt);
          INFO("n_h " << n_h << " n_kv " << n_kv << " d " << D << " s_q " << s_q << " B " << batch << " ctx "
                      << ctx << (variable ? " variable" : ""));
          REQUIRE(opt.row_blocks <= 65535);
          REQUIRE(s.num_parts <= 65535);
          for (int p = 0; p < s.num_parts; ++p) {
            std::vector<int> tiles;
            for (int i = s.part_segment_begin[static_cast<std::size_t>(p)];
                 i < s.part_segment_begin[static_cast<std::size_t>(p) + 1]; ++i) {
              const auto u = static_cast<std::size_t>(i);
              const int b = s.seg_seq[u];
              const int tb = s.seg_token_begin[u];
              const int te = s.seg_token_end[u];
              REQUIRE(te > tb);
              REQUIRE(tb % L::gqa_deep::kTile == 0);
              const int n = (te - tb + L::gqa_deep::kTile - 1) / L::gqa_deep::kTile;
              bool tiles_ok = true;  // every tile's page: inside the table, the tile inside the page
              for (int t = 0; t < n; ++t) {
                const int t0 = tb + t * L::gqa_deep::kTile;
                const int page = t0 / kPageTokens;
                tiles_ok = tiles_ok && page == (t0 + L::gqa_deep::kTile - 1) / kPageTokens &&
                           page < pages.max_pages_per_seq &&
                           pages.block_table[static_cast<std::size_t>(b) *
                                                 static_cast<std::size_t>(pages.max_pages_per_seq) +
                                             static_cast<std::size_t>(page)] >= 0;
              }
              REQUIRE(tiles_ok);
              tiles.push_back(reduce_tiles<D>(n));
            }
            parts.insert(tiles);
          }
        }
      }
    }
  }
  return parts;
}

}  // namespace

TEST_CASE("GQA deep kernel replay over the measurement grid's schedules (every part's segments)") {
  std::set<std::vector<int>> parts128;
  for (const auto& [n_h, n_kv] : std::vector<std::pair<int, int>>{{32, 32}, {32, 8}, {64, 8}}) {
    const auto p = deep_grid_parts<128>(n_h, n_kv);
    parts128.insert(p.begin(), p.end());
  }
  const auto parts64 = deep_grid_parts<64>(71, 1);
  INFO("distinct parts: d128 " << parts128.size() << ", d64 " << parts64.size());
  CHECK(parts128.size() > 10);
  CHECK(parts64.size() > 10);
  // A segment ends with every copy waited for and a CTA barrier, so what one segment's replay can meet from
  // the grid is only its own tile count and its neighbour's: replay each distinct (previous, next) pair once.
  auto pairs = [](const std::set<std::vector<int>>& parts) {
    std::set<std::vector<int>> out;
    for (const auto& v : parts) {
      if (v.size() == 1) out.insert(v);
      for (std::size_t i = 1; i < v.size(); ++i) out.insert({v[i - 1], v[i]});
    }
    return out;
  };
  for (const auto& segs : pairs(parts128)) simulate_gqa_deep<128>(segs);
  for (const auto& segs : pairs(parts64)) simulate_gqa_deep<64>(segs);
}

TEST_CASE("GQA wide kernel layout: sizes, occupancy, copy coverage, row blocks") {
  namespace W = L::gqa_wide;
  using S = W::Smem<64>;
  STATIC_REQUIRE(S::kBytes == 92160);  // kernels/attention/README.md
  STATIC_REQUIRE(W::kCtasPerSm * (S::kBytes + 1024) <= kSmemPerSm);
  STATIC_REQUIRE(S::kOffRing % 16 == 0);
  STATIC_REQUIRE(S::kTileBytes % 16 == 0);
  STATIC_REQUIRE(L::kPageTokens % W::kTile == 0);
  STATIC_REQUIRE(W::kTile * S::kChunks == S::kCopiesPerThread * W::kThreads);
  // 2 CTAs x 256 threads: at most 128 registers a thread (ptxas: 128, no spill; kernels/attention/README.md).
  STATIC_REQUIRE(W::kCtasPerSm * W::kThreads * 128 <= 65536);
  std::set<std::pair<int, int>> seen;
  for (int c = 0; c < W::kTile * S::kChunks; ++c) seen.insert({S::chunk_of(c).row, S::chunk_of(c).chunk});
  CHECK(seen.size() == static_cast<std::size_t>(W::kTile * S::kChunks));
  // Falcon-7B (71 heads, 1 KV head): 1 row block at s_q 1, 2 at s_q 2 (gqa: 5 and 9).
  CHECK(W::row_blocks(1, 71, 1) == 1);
  CHECK(W::row_blocks(2, 71, 1) == 2);
  CHECK(L::gqa::row_blocks(2, 71, 1) == 9);
  CHECK(W::row_blocks(1, 64, 8) == 8);
  // In flight per SM while the warps compute: kStages - 1 tiles of K and V, 2 bytes a value, 2 CTAs.
  CHECK((W::kStages - 1) * W::kTile * 64 * 2 * 2 * W::kCtasPerSm == 114688);
  // Fragment rows: warp w's Q rows are its slab's 16; the K (per k-step) and V row addresses of a tile cover
  // its kTile tokens, each 16-token block once per 16 columns.
  for (int w = 0; w < W::kWarps; ++w) {
    std::set<int> q_rows;
    for (int lane = 0; lane < 32; ++lane) q_rows.insert(S::q_frag_elem(w, 0, lane) / S::kStride);
    CHECK(q_rows.size() == 16);
    CHECK(*q_rows.begin() == 16 * w);
    CHECK(*q_rows.rbegin() == 16 * w + 15);
  }
  std::set<std::pair<int, int>> k_cells, v_cells;
  for (int lane = 0; lane < 32; ++lane) {
    for (int pair = 0; pair < W::kTile / 16; ++pair) {
      const int e = S::k_frag_elem(pair, lane);
      k_cells.insert({e / S::kStride, e % S::kStride});
    }
    for (int kk = 0; kk < W::kTile / 16; ++kk) {
      const int e = S::v_frag_elem(kk, lane);
      v_cells.insert({e / S::kStride, e % S::kStride});
    }
  }
  CHECK(k_cells.size() == static_cast<std::size_t>(W::kTile * 2));  // every token, columns 0 and 8
  CHECK(v_cells.size() == static_cast<std::size_t>(W::kTile * 2));
  // The epilogue: every (row, column) of a warp's 16 x 64 output written once (accumulator elements).
  std::set<std::pair<int, int>> out;
  for (int lane = 0; lane < 32; ++lane) {
    for (int j = 0; j < 64 / 8; ++j) {
      for (int e = 0; e < 4; ++e)
        out.insert({mlasim::attention::mma::c_frag(lane, e).row,
                    j * 8 + mlasim::attention::mma::c_frag(lane, e).col});
    }
  }
  CHECK(out.size() == static_cast<std::size_t>(16 * 64));
}

TEST_CASE("GQA wide kernel replay: CTA-wide ring, padding warps, short and long segments") {
  for (int n = 1; n <= 13; ++n) {
    for (const int active : {1, 5, 8}) {
      INFO("tiles " << n << " active warps " << active);
      simulate_gqa_wide<64>({n}, active);
    }
  }
  for (const int n : {16, 17, 23, 24, 31}) simulate_gqa_wide<64>({n}, 8);
  for (const std::vector<int>& segs :
       std::vector<std::vector<int>>{{1, 5}, {9, 2, 3}, {8, 8}, {2, 11, 1}, {13, 1, 1, 7}, {20, 3}}) {
    simulate_gqa_wide<64>(segs, 5);
    simulate_gqa_wide<64>(segs, 8);
  }
}

TEST_CASE("GQA wide kernel replay over the Falcon measurement grid's schedules (every part's segments)") {
  namespace W = L::gqa_wide;
  const std::vector<int> batches{1, 8, 32, 64, 128};
  const std::vector<int> contexts{1, 2, 63, 65, 512, 1000, 1024, 2048, 4095, 4096, 8192, 16384, 32767, 32768};
  for (const int s_q : {1, 2}) {
    const int rows = s_q * 71;
    ScheduleOptions opt;
    opt.num_sms = 132;
    opt.ctas_per_sm = W::kCtasPerSm;
    opt.row_blocks = W::row_blocks(s_q, 71, 1);
    std::set<std::vector<int>> pairs;
    for (const int batch : batches) {
      for (const int ctx : contexts) {
        for (const bool variable : {false, true}) {
          if (ctx < s_q) continue;
          const auto lens = variable ? random_context_lens(batch, std::max(s_q, ctx / 2), ctx + ctx / 2, 7)
                                     : std::vector<int>(static_cast<std::size_t>(batch), ctx);
          const auto pages = build_page_table(lens, kPageTokens, 3);
          const auto s = make_split_schedule(lens, opt);
          INFO("s_q " << s_q << " B " << batch << " ctx " << ctx << (variable ? " variable" : ""));
          REQUIRE(s.num_parts <= 65535);
          for (int p = 0; p < s.num_parts; ++p) {
            std::vector<int> tiles;
            for (int i = s.part_segment_begin[static_cast<std::size_t>(p)];
                 i < s.part_segment_begin[static_cast<std::size_t>(p) + 1]; ++i) {
              const auto u = static_cast<std::size_t>(i);
              const int tb = s.seg_token_begin[u];
              const int te = s.seg_token_end[u];
              REQUIRE(tb % W::kTile == 0);
              const int n = (te - tb + W::kTile - 1) / W::kTile;
              bool tiles_ok = true;  // each tile inside one page, the page inside the block table
              for (int t = 0; t < n; ++t) {
                const int t0 = tb + t * W::kTile;
                tiles_ok = tiles_ok && t0 / kPageTokens == (t0 + W::kTile - 1) / kPageTokens &&
                           t0 / kPageTokens < pages.max_pages_per_seq &&
                           pages.block_table[static_cast<std::size_t>(s.seg_seq[u]) *
                                                 static_cast<std::size_t>(pages.max_pages_per_seq) +
                                             static_cast<std::size_t>(t0 / kPageTokens)] >= 0;
              }
              REQUIRE(tiles_ok);
              tiles.push_back(reduce_tiles_wide(n));
            }
            if (tiles.size() == 1) pairs.insert(tiles);
            for (std::size_t i = 1; i < tiles.size(); ++i) pairs.insert({tiles[i - 1], tiles[i]});
          }
        }
      }
    }
    // Active warps of each row block: 16-row slabs holding at least one real row.
    for (int block = 0; block < W::row_blocks(s_q, 71, 1); ++block) {
      const int active = std::min(W::kWarps, (rows - block * W::kRows + 15) / 16);
      INFO("s_q " << s_q << " block " << block << " active warps " << active << " distinct pairs "
                  << pairs.size());
      CHECK(pairs.size() > 5);
      for (const auto& segs : pairs) simulate_gqa_wide<64>(segs, active);
    }
  }
}

namespace {

const std::vector<std::vector<int>>& depth_cases() {
  static const std::vector<std::vector<int>> cases{{1}, {2},  {3},  {5},  {7},       {8},
                                                   {9}, {13}, {17}, {40}, {3, 9, 1}, {11, 2}};
  return cases;
}
template <int S>
void replay_deep_at_depth() {
  for (const auto& segs : depth_cases()) {
    INFO("deep, stages " << S << ", " << segs.size() << " segments, first " << segs[0] << " tiles");
    simulate_gqa_deep<128, S>(segs);
    simulate_gqa_deep<64, S>(segs);
  }
}
template <int S>
void replay_wide_at_depth() {
  for (const auto& segs : depth_cases()) {
    INFO("wide, stages " << S << ", " << segs.size() << " segments, first " << segs[0] << " tiles");
    simulate_gqa_wide<64, S>(segs, 3);
  }
}

}  // namespace

TEST_CASE("GQA deep and wide kernel replays at every ring depth from 2 to 9 stages") {
  // The kernels compile one depth each (deep: 3 for d 128, 4 for d 64; wide: 8); the index functions are
  // written for any depth, and a change of depth must stay race-free and read the right tiles.
  replay_deep_at_depth<2>();
  replay_deep_at_depth<3>();
  replay_deep_at_depth<4>();
  replay_deep_at_depth<5>();
  replay_deep_at_depth<6>();
  replay_wide_at_depth<2>();
  replay_wide_at_depth<3>();
  replay_wide_at_depth<4>();
  replay_wide_at_depth<5>();
  replay_wide_at_depth<8>();
  replay_wide_at_depth<9>();
}
