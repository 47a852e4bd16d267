// The kernels' algorithm run on the CPU (real split schedule, KV tiles, fp32 online softmax with exp2, bf16
// probabilities, fp32 partials + LSE, combine, bf16 output) must match the double reference within bf16
// error.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

#include "kernels/attention/kernel_layout.hpp"
#include "kernels/attention/reference.hpp"

using namespace mlasim::attention;

namespace {

/// Tiling constants of the CUDA kernels (mla_decode.cu: 32-token tiles, one softmax state per row;
/// gqa_decode.cu: 16-token tiles dealt round-robin to 4 warps, merged at the end).
constexpr EmulationOptions kMlaTiling{.tile_tokens = 32, .interleave = 1};
constexpr EmulationOptions kGqaTiling{.tile_tokens = 16, .interleave = 4};

double lse_max_abs_error(const DecodeOutput<float>& e, const DecodeOutput<double>& r) {
  double worst = 0.0;
  for (std::size_t i = 0; i < r.lse.size(); ++i)
    worst = std::max(worst, std::abs(static_cast<double>(e.lse[i]) - r.lse[i]));
  return worst;
}

}  // namespace

TEST_CASE("MLA split-KV emulation matches the reference (relative error <= 1e-2)") {
  const float scale = 1.0f / std::sqrt(192.0f);  // DeepSeek: 1/sqrt(d_n + d_r)
  struct Case {
    std::vector<int> lens;
    int s_q;
    int h_q;
    int sms;
  };
  const std::vector<Case> cases{
      {{700}, 1, 16, 8},               // one sequence split over 8 parts
      {{2, 100, 65, 1500}, 2, 16, 8},  // variable lengths, s_q 2, causal among the new tokens
      {{129, 64, 300}, 1, 128, 132},   // many heads: 2 row blocks of 64
      {{3, 513}, 2, 24, 4},            // heads not a multiple of 16
  };
  for (const auto& c : cases) {
    const auto p = make_mla_problem(c.lens, c.s_q, c.h_q, scale, 77);
    const auto ref = decode_reference(p);
    ScheduleOptions opt;
    opt.num_sms = c.sms;
    opt.row_blocks = (c.s_q * c.h_q + 63) / 64;
    const auto sched = make_split_schedule(c.lens, opt);
    const auto emu = decode_emulated(p, sched, kMlaTiling);
    const double err = relative_l2_error(emu.out, ref.out);
    INFO("h_q " << c.h_q << " s_q " << c.s_q << " splits " << sched.max_splits_per_seq << " err " << err);
    CHECK(err <= 1e-2);
    CHECK(lse_max_abs_error(emu, ref) < 1e-3);
    // Unsplit schedule too: the kernel's direct-write path.
    const auto emu1 = decode_emulated(p, make_unsplit_schedule(c.lens), kMlaTiling);
    CHECK(relative_l2_error(emu1.out, ref.out) <= 1e-2);
  }
}

TEST_CASE("GQA/MQA/MHA split-KV emulation matches the reference (relative error <= 1e-2)") {
  struct Case {
    std::vector<int> lens;
    int s_q;
    int n_h;
    int n_kv;
    int d;
  };
  const std::vector<Case> cases{
      {{300, 17}, 1, 4, 4, 128},     // MHA
      {{300, 1000}, 2, 8, 2, 128},   // GQA group 4
      {{257, 64, 5}, 1, 71, 1, 64},  // MQA, Falcon-7B shape (group 71 > 16 rows: several row blocks)
  };
  for (const auto& c : cases) {
    const auto p =
        make_gqa_problem(c.lens, c.s_q, c.n_h, c.n_kv, c.d, 1.0f / std::sqrt(static_cast<float>(c.d)), 5);
    const auto ref = decode_reference(p);
    ScheduleOptions opt;
    opt.num_sms = 6;
    opt.row_blocks = c.n_kv * ((c.s_q * (c.n_h / c.n_kv) + 15) / 16);
    const auto emu = decode_emulated(p, make_split_schedule(c.lens, opt), kGqaTiling);
    const double err = relative_l2_error(emu.out, ref.out);
    INFO("n_h " << c.n_h << " n_kv " << c.n_kv << " d " << c.d << " err " << err);
    CHECK(err <= 1e-2);
    CHECK(lse_max_abs_error(emu, ref) < 1e-3);
  }
}

TEST_CASE(
    "GQA deep kernel's algorithm (4 interleaved warps, 2 Q·K^T chains) matches the reference on the grid's "
    "shapes") {
  namespace G = mlasim::attention::layout::gqa_deep;
  struct Shape {
    int n_h, n_kv, d;
  };
  const std::vector<int> lens{2, 65, 700, 1500, 129};
  for (const Shape sh : {Shape{32, 32, 128}, Shape{32, 8, 128}, Shape{64, 8, 128}, Shape{71, 1, 64}}) {
    const int chains = sh.d == 128 ? G::Config<128>::kQkChains : G::Config<64>::kQkChains;
    const EmulationOptions tiling{.tile_tokens = G::kTile, .interleave = G::kWarps, .qk_chains = chains};
    for (const int s_q : {1, 2}) {
      const auto p =
          make_gqa_problem(lens, s_q, sh.n_h, sh.n_kv, sh.d, 1.0f / std::sqrt(static_cast<float>(sh.d)),
                           11 + static_cast<std::uint64_t>(s_q));
      const auto ref = decode_reference(p);
      for (const int sms : {3, 132}) {  // 3 SMs: most sequences split (combine); 132: the bench's schedule
        ScheduleOptions opt;
        opt.num_sms = sms;
        opt.ctas_per_sm = sh.d == 128 ? G::Config<128>::kCtasPerSm : G::Config<64>::kCtasPerSm;
        opt.row_blocks = G::row_blocks(s_q, sh.n_h, sh.n_kv);
        const auto sched = make_split_schedule(lens, opt);
        const auto emu = decode_emulated(p, sched, tiling);
        const double err = relative_l2_error(emu.out, ref.out);
        INFO("n_h " << sh.n_h << " n_kv " << sh.n_kv << " d " << sh.d << " s_q " << s_q << " sms " << sms
                    << " splits " << sched.max_splits_per_seq << " err " << err);
        CHECK(err <= 1e-2);
        CHECK(lse_max_abs_error(emu, ref) < 1e-3);
      }
    }
  }
}

TEST_CASE("GQA wide kernel's algorithm (32-token tiles, one softmax state per row) matches the reference") {
  namespace W = mlasim::attention::layout::gqa_wide;
  const EmulationOptions tiling{.tile_tokens = W::kTile, .interleave = 1};
  const std::vector<int> lens{2, 65, 700, 1500, 129};
  for (const auto& [n_h, n_kv] : std::vector<std::pair<int, int>>{{71, 1}, {8, 1}, {32, 4}}) {
    for (const int s_q : {1, 2}) {
      const auto p = make_gqa_problem(lens, s_q, n_h, n_kv, 64, 0.125f, 21 + static_cast<std::uint64_t>(s_q));
      const auto ref = decode_reference(p);
      for (const int sms : {3, 132}) {
        ScheduleOptions opt;
        opt.num_sms = sms;
        opt.ctas_per_sm = W::kCtasPerSm;
        opt.row_blocks = W::row_blocks(s_q, n_h, n_kv);
        const auto sched = make_split_schedule(lens, opt);
        const auto emu = decode_emulated(p, sched, tiling);
        const double err = relative_l2_error(emu.out, ref.out);
        INFO("n_h " << n_h << " n_kv " << n_kv << " s_q " << s_q << " sms " << sms << " splits "
                    << sched.max_splits_per_seq << " err " << err);
        CHECK(err <= 1e-2);
        CHECK(lse_max_abs_error(emu, ref) < 1e-3);
      }
    }
  }
}

TEST_CASE("the emulation's Q·K^T chains change only the fp32 summation order") {
  const auto p = make_gqa_problem({300}, 1, 8, 2, 128, 0.09f, 3);
  const auto sched = make_unsplit_schedule({300});
  const auto one = decode_emulated(p, sched, kGqaTiling);
  EmulationOptions two = kGqaTiling;
  two.qk_chains = 2;
  const auto split = decode_emulated(p, sched, two);
  double worst = 0.0;
  for (std::size_t i = 0; i < one.out.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(one.out[i]) - static_cast<double>(split.out[i])));
  }
  CHECK(worst < 2e-2);  // a bf16 rounding step at most (outputs are bf16 of values in [-1, 1])
  CHECK(lse_max_abs_error(split, decode_reference(p)) < 1e-3);
  EmulationOptions bad = kGqaTiling;
  bad.qk_chains = 0;
  CHECK_THROWS_AS(decode_emulated(p, sched, bad), std::invalid_argument);
}

TEST_CASE("a wrong combine (dropping one split) is caught by the same check") {
  const std::vector<int> lens{1000};
  const auto p = make_mla_problem(lens, 1, 16, 0.07f, 8);
  const auto ref = decode_reference(p);
  ScheduleOptions opt;
  opt.num_sms = 4;
  auto sched = make_split_schedule(lens, opt);
  REQUIRE(sched.max_splits_per_seq > 1);
  // Shorten the last segment: its tokens are then missing from the result.
  sched.seg_token_end.back() -= 64;
  const auto emu = decode_emulated(p, sched, kMlaTiling);
  CHECK(relative_l2_error(emu.out, ref.out) > 1e-2);
}
