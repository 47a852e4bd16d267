// CPU references for decode attention: hand-computed cases, bf16 rounding, naive == absorbed MLA, combine
// math.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/attention/bf16.hpp"
#include "kernels/attention/reference.hpp"

using namespace mlasim::attention;

namespace {

/// A dense (one page per sequence) problem with given values, for hand-computed cases.
DecodeProblem tiny_problem(int len, int s_q, int d_qk, int d_v, std::vector<float> q, std::vector<float> k,
                           std::vector<float> v, float scale) {
  DecodeProblem p;
  p.batch = 1;
  p.s_q = s_q;
  p.n_q_heads = 1;
  p.n_kv_heads = 1;
  p.d_qk = d_qk;
  p.d_v = d_v;
  p.softmax_scale = scale;
  const std::vector<int> lens{len};
  p.pages = build_page_table(lens, 64, 1);
  p.q = std::move(q);
  p.k.assign(64 * static_cast<std::size_t>(d_qk), 0.5f);
  p.v.assign(64 * static_cast<std::size_t>(d_v), 0.5f);
  for (std::size_t i = 0; i < k.size(); ++i) p.k[i] = k[i];
  for (std::size_t i = 0; i < v.size(); ++i) p.v[i] = v[i];
  return p;
}

}  // namespace

TEST_CASE("bf16 conversion rounds to nearest even and round-trips exact values") {
  CHECK(float_to_bf16_bits(1.0f) == 0x3f80);
  CHECK(float_to_bf16_bits(-2.0f) == 0xc000);
  CHECK(bf16_bits_to_float(0x3f80) == 1.0f);
  // 1 + 2^-8 is half-way between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
  CHECK(round_to_bf16(1.0f + 0x1.0p-8f) == 1.0f);
  // 1 + 3·2^-8 is half-way between 1 + 2^-7 and 1 + 2^-6: ties go to even (1 + 2^-6).
  CHECK(round_to_bf16(1.0f + 3 * 0x1.0p-8f) == 1.0f + 0x1.0p-6f);
  CHECK(round_to_bf16(1.0f + 0x1.8p-9f) == 1.0f);              // below half-way
  CHECK(round_to_bf16(1.0f + 0x1.2p-8f) == 1.0f + 0x1.0p-7f);  // above half-way
  CHECK(std::isnan(round_to_bf16(std::nanf(""))));
  CHECK(std::isinf(round_to_bf16(INFINITY)));
  for (float x : {0.15625f, -3.5f, 1024.0f, 0x1.fep127f}) CHECK(round_to_bf16(x) == x);
}

TEST_CASE("reference attention over one token returns that token's value with lse = scaled score") {
  auto p = tiny_problem(1, 1, 2, 2, {1.0f, 2.0f}, {3.0f, 4.0f}, {5.0f, -6.0f}, 0.5f);
  const auto r = decode_reference(p);
  CHECK(r.out[0] == Approx(5.0));
  CHECK(r.out[1] == Approx(-6.0));
  CHECK(r.lse[0] == Approx(0.5 * 11.0));
}

TEST_CASE("reference attention over two tokens weights them by softmax of the scaled scores") {
  // Scores q·k = 1 and 0, scale ln(3): weights 3/4 and 1/4.
  const float scale = static_cast<float>(std::log(3.0));
  auto p = tiny_problem(2, 1, 1, 1, {1.0f}, {1.0f, 0.0f}, {8.0f, 4.0f}, scale);
  const auto r = decode_reference(p);
  CHECK(r.out[0] == Approx(0.75 * 8.0 + 0.25 * 4.0).epsilon(1e-6));
  CHECK(r.lse[0] == Approx(std::log(std::exp(static_cast<double>(scale)) + 1.0)).epsilon(1e-6));
}

TEST_CASE("with two new tokens the first one does not see the last (causal among the new tokens)") {
  // Length 2, s_q 2: query 0 sees token 0 only, query 1 sees both (equal scores: mean).
  auto p = tiny_problem(2, 2, 1, 1, {1.0f, 1.0f}, {1.0f, 1.0f}, {2.0f, 6.0f}, 1.0f);
  const auto r = decode_reference(p);
  CHECK(r.out[0] == Approx(2.0));
  CHECK(r.out[1] == Approx(4.0));
}

TEST_CASE("GQA reference with n_kv = n_h equals per-head MHA and heads of a group share a KV head") {
  const std::vector<int> lens{70, 5};
  auto gqa = make_gqa_problem(lens, 1, 4, 2, 8, 0.3f, 11);
  const auto r = decode_reference(gqa);
  // Heads 0 and 1 share KV head 0: give head 1 the query of head 0 and the outputs must match.
  for (int b = 0; b < 2; ++b) {
    for (int i = 0; i < 8; ++i)
      gqa.q[(static_cast<std::size_t>(b) * 4 + 1) * 8 + i] = gqa.q[static_cast<std::size_t>(b) * 4 * 8 + i];
  }
  const auto r2 = decode_reference(gqa);
  for (int b = 0; b < 2; ++b) {
    for (int i = 0; i < 8; ++i) {
      CHECK(r2.out[(static_cast<std::size_t>(b) * 4 + 1) * 8 + i] ==
            Approx(r2.out[static_cast<std::size_t>(b) * 4 * 8 + i]).epsilon(1e-12));
    }
  }
  CHECK(r.out.size() == 2 * 4 * 8);
}

TEST_CASE("absorbed MLA equals naive (up-projected) MLA on random weights") {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (const int s_q : {1, 2}) {
    MlaWeights w;
    w.heads = 3;
    w.d_c = 32;
    w.d_r = 8;
    w.d_n = 16;
    w.d_v = 12;
    w.w_uk.resize(3 * 16 * 32);
    w.w_uv.resize(3 * 12 * 32);
    for (auto& x : w.w_uk) x = u(rng) * 0.3;
    for (auto& x : w.w_uv) x = u(rng);
    MlaSequence x;
    x.s_q = s_q;
    x.length = 37;
    x.q_nope.resize(static_cast<std::size_t>(s_q) * 3 * 16);
    x.q_rope.resize(static_cast<std::size_t>(s_q) * 3 * 8);
    x.latent.resize(37 * 32);
    x.k_rope.resize(37 * 8);
    for (auto* v : {&x.q_nope, &x.q_rope, &x.latent, &x.k_rope}) {
      for (auto& e : *v) e = u(rng);
    }
    const double scale = 1.0 / std::sqrt(16.0 + 8.0);
    const auto naive = mla_naive(w, x, scale);
    const auto absorbed = mla_absorbed(w, x, scale);
    REQUIRE(naive.size() == absorbed.size());
    double max_abs = 0.0;
    for (std::size_t i = 0; i < naive.size(); ++i)
      max_abs = std::max(max_abs, std::abs(naive[i] - absorbed[i]));
    CHECK(max_abs < 1e-10);
  }
}

TEST_CASE("combining split partials with their log-sum-exps equals the unsplit reference") {
  const std::vector<int> lens{200};
  const auto p = make_gqa_problem(lens, 1, 1, 1, 16, 0.25f, 5);
  const auto full = decode_reference(p);
  // Split the 200 tokens into three pieces by making three sub-problems over the same cache.
  const int cuts[] = {0, 64, 128, 200};
  std::vector<double> lse_parts;
  std::vector<double> o_parts;
  for (int s = 0; s < 3; ++s) {
    // Attention over tokens [cuts[s], cuts[s+1]) done directly in double.
    std::vector<double> scores;
    double m = -INFINITY;
    for (int t = cuts[s]; t < cuts[s + 1]; ++t) {
      double dot = 0.0;
      const std::size_t slot = p.pages.slot_of(0, t);
      for (int i = 0; i < 16; ++i)
        dot += static_cast<double>(p.q[static_cast<std::size_t>(i)]) *
               p.k[slot * 16 + static_cast<std::size_t>(i)];
      scores.push_back(dot * 0.25);
      m = std::max(m, scores.back());
    }
    double sum = 0.0;
    std::vector<double> o(16, 0.0);
    for (int t = cuts[s]; t < cuts[s + 1]; ++t) {
      const double e = std::exp(scores[static_cast<std::size_t>(t - cuts[s])] - m);
      sum += e;
      const std::size_t slot = p.pages.slot_of(0, t);
      for (int i = 0; i < 16; ++i)
        o[static_cast<std::size_t>(i)] += e * p.v[slot * 16 + static_cast<std::size_t>(i)];
    }
    for (auto& x : o) x /= sum;
    lse_parts.push_back(m + std::log(sum));
    o_parts.insert(o_parts.end(), o.begin(), o.end());
  }
  lse_parts.push_back(-INFINITY);  // a split that saw nothing visible contributes nothing
  o_parts.insert(o_parts.end(), 16, 0.0);
  std::vector<double> merged(16);
  const double lse = combine_partials<double>(lse_parts, o_parts, 16, merged);
  CHECK(lse == Approx(full.lse[0]).epsilon(1e-12));
  for (int i = 0; i < 16; ++i)
    CHECK(merged[static_cast<std::size_t>(i)] ==
          Approx(full.out[static_cast<std::size_t>(i)]).epsilon(1e-12));
}

TEST_CASE("analytic work follows FlashMLA's counting") {
  // b = 1, s_q = 1, h_q = 128, L = 4096.
  CHECK(mla_flops(1, 128, 4096) == Approx(2.0 * 128 * 1088 * 4096));
  CHECK(mla_bytes(1, 1, 128, 4096) == Approx(2.0 * (576.0 * 4096 + 128 * 1088)));
  CHECK(gqa_flops(1, 64, 128, 1000) == Approx(4.0 * 64 * 128 * 1000));
  CHECK(gqa_bytes(2, 1, 64, 8, 128, 1000) == Approx(2.0 * (2.0 * 8 * 128 * 1000 + 2.0 * 2 * 64 * 128)));
}

TEST_CASE("random problems never contain zeros and reject inconsistent shapes") {
  const std::vector<int> lens{65, 3};
  const auto p = make_mla_problem(lens, 2, 16, 0.1f, 3);
  for (const float x : p.q) REQUIRE(x != 0.0f);
  for (const float x : p.k) REQUIRE(x != 0.0f);
  for (const float x : p.q) REQUIRE(round_to_bf16(x) == x);
  CHECK_THROWS(make_gqa_problem(lens, 1, 6, 4, 64, 0.1f, 1));
  const std::vector<int> short_lens{1};
  CHECK_THROWS(make_mla_problem(short_lens, 2, 16, 0.1f, 1));
}

TEST_CASE(
    "poison_unused_slots puts NaN exactly in the slots no sequence uses, and the reference never reads "
    "them") {
  // Pages of 64 tokens: lengths 2, 65, 64, 130 own 1 + 2 + 1 + 3 = 7 pages = 448 slots, 261 of them used.
  const std::vector<int> lens = {2, 65, 64, 130};
  for (const bool mla : {true, false}) {
    DecodeProblem p =
        mla ? make_mla_problem(lens, 2, 16, 0.07f, 11) : make_gqa_problem(lens, 1, 8, 2, 64, 0.125f, 12);
    const DecodeOutput<double> clean = decode_reference(p);
    REQUIRE(poison_unused_slots(p) == 448u - 261u);
    std::size_t nan_k = 0;
    for (const float x : p.k) nan_k += std::isnan(x) ? 1 : 0;
    CHECK(nan_k == (448u - 261u) * static_cast<std::size_t>(p.n_kv_heads * p.d_qk));
    for (int b = 0; b < p.batch; ++b) {
      // The last used slot of each sequence is clean, the next slot of its last page is NaN.
      const int len = lens[static_cast<std::size_t>(b)];
      CHECK_FALSE(
          std::isnan(p.k[p.pages.slot_of(b, len - 1) * static_cast<std::size_t>(p.n_kv_heads * p.d_qk)]));
      if (len % 64 != 0) {
        CHECK(std::isnan(
            p.k[(p.pages.slot_of(b, len - 1) + 1) * static_cast<std::size_t>(p.n_kv_heads * p.d_qk)]));
        if (!mla) {
          CHECK(std::isnan(
              p.v[(p.pages.slot_of(b, len - 1) + 1) * static_cast<std::size_t>(p.n_kv_heads * p.d_v)]));
        }
      }
    }
    // The upload keeps NaN a NaN (bf16 bits), so a kernel that reads the tail cannot hide it.
    CHECK(std::isnan(bf16_bits_to_float(float_to_bf16_bits(std::numeric_limits<float>::quiet_NaN()))));
    const DecodeOutput<double> poisoned = decode_reference(p);
    CHECK(poisoned.out == clean.out);
    CHECK(poisoned.lse == clean.lse);
  }
}
