// Page tables and split-KV schedules: coverage, limits, determinism; and the mma fragment addressing the
// kernels use.
#include <catch2/catch.hpp>
#include <set>
#include <vector>

#include "kernels/attention/mma_layout.hpp"
#include "kernels/attention/paging.hpp"
#include "kernels/attention/schedule.hpp"

using namespace mlasim::attention;

namespace {

/// Checks every schedule invariant the kernels rely on for `lens`.
void check_schedule(const SplitSchedule& s, const std::vector<int>& lens, int page_tokens, int max_parts) {
  const int batch = static_cast<int>(lens.size());
  REQUIRE(s.num_parts >= 1);
  REQUIRE(s.num_parts <= max_parts);
  REQUIRE(s.part_segment_begin.size() == static_cast<std::size_t>(s.num_parts) + 1);
  REQUIRE(s.part_segment_begin.front() == 0);
  REQUIRE(s.part_segment_begin.back() == s.num_segments);
  for (int p = 0; p < s.num_parts; ++p) {
    REQUIRE(s.part_segment_begin[static_cast<std::size_t>(p)] <
            s.part_segment_begin[static_cast<std::size_t>(p) + 1]);
  }
  // Every (sequence, token) exactly once.
  std::vector<std::vector<int>> seen(static_cast<std::size_t>(batch));
  for (int b = 0; b < batch; ++b)
    seen[static_cast<std::size_t>(b)].assign(static_cast<std::size_t>(lens[static_cast<std::size_t>(b)]), 0);
  for (int i = 0; i < s.num_segments; ++i) {
    const auto u = static_cast<std::size_t>(i);
    const int b = s.seg_seq[u];
    REQUIRE(b >= 0);
    REQUIRE(b < batch);
    REQUIRE(s.seg_token_begin[u] < s.seg_token_end[u]);
    REQUIRE(s.seg_token_begin[u] % page_tokens == 0);
    REQUIRE(
        (s.seg_token_end[u] % page_tokens == 0 || s.seg_token_end[u] == lens[static_cast<std::size_t>(b)]));
    REQUIRE(s.seg_token_end[u] <= lens[static_cast<std::size_t>(b)]);
    for (int t = s.seg_token_begin[u]; t < s.seg_token_end[u]; ++t)
      ++seen[static_cast<std::size_t>(b)][static_cast<std::size_t>(t)];
    // Segments of a sequence are consecutive and in token order.
    REQUIRE(i >= s.seq_segment_begin[static_cast<std::size_t>(b)]);
    REQUIRE(i < s.seq_segment_begin[static_cast<std::size_t>(b) + 1]);
    if (i > s.seq_segment_begin[static_cast<std::size_t>(b)])
      REQUIRE(s.seg_token_begin[u] == s.seg_token_end[u - 1]);
  }
  for (const auto& v : seen) {
    for (const int c : v) REQUIRE(c == 1);
  }
  int max_splits = 0;
  for (int b = 0; b < batch; ++b) max_splits = std::max(max_splits, s.splits_of(b));
  REQUIRE(max_splits == s.max_splits_per_seq);
}

}  // namespace

TEST_CASE("a page table maps every token to exactly one slot, pages scattered") {
  const std::vector<int> lens{1, 64, 65, 200, 4096, 7};
  const auto t = build_page_table(lens, 64, 123);
  CHECK(t.num_pages == 1 + 1 + 2 + 4 + 64 + 1);
  CHECK(t.max_pages_per_seq == 64);
  std::set<std::size_t> slots;
  std::size_t tokens = 0;
  for (int b = 0; b < static_cast<int>(lens.size()); ++b) {
    for (int tok = 0; tok < lens[static_cast<std::size_t>(b)]; ++tok) {
      const std::size_t slot = t.slot_of(b, tok);
      REQUIRE(slot < static_cast<std::size_t>(t.num_pages) * 64);
      slots.insert(slot);
      ++tokens;
    }
  }
  CHECK(slots.size() == tokens);
  // Physical pages are a permutation: each id once.
  std::set<int> ids;
  for (const int id : t.block_table) {
    if (id >= 0) CHECK(ids.insert(id).second);
  }
  CHECK(static_cast<int>(ids.size()) == t.num_pages);
  // Scattered: the big sequence's pages are not all consecutive.
  bool contiguous = true;
  for (int p = 1; p < 64; ++p)
    contiguous = contiguous && t.page_of(4, p * 64) == t.page_of(4, (p - 1) * 64) + 1;
  CHECK_FALSE(contiguous);
  // Same seed, same table.
  CHECK(build_page_table(lens, 64, 123).block_table == t.block_table);
  CHECK_THROWS(build_page_table(std::vector<int>{0}, 64, 1));
}

TEST_CASE("split schedules cover every token once and respect their limits") {
  const std::vector<std::vector<int>> batches{
      {4096},
      {1},
      {32768},
      std::vector<int>(128, 4096),
      std::vector<int>(64, 512),
      {1, 64, 65, 129, 5000, 30000, 2, 777},
      random_context_lens(128, 1, 32768, 9),
      random_context_lens(7, 2, 300, 4),
  };
  for (const auto& lens : batches) {
    for (const int sms : {1, 8, 132}) {
      for (const int row_blocks : {1, 2, 4}) {
        ScheduleOptions opt;
        opt.num_sms = sms;
        opt.row_blocks = row_blocks;
        const auto s = make_split_schedule(lens, opt);
        check_schedule(s, lens, 64, target_parts(opt));
      }
    }
  }
  const auto u = make_unsplit_schedule(batches[5]);
  check_schedule(u, batches[5], 64, 8);
  CHECK(u.max_splits_per_seq == 1);
}

TEST_CASE("split schedules spread one long sequence over the SMs and balance a uniform batch") {
  ScheduleOptions opt;
  opt.num_sms = 132;
  const std::vector<int> one{32768};  // 512 pages
  const auto s1 = make_split_schedule(one, opt);
  CHECK(s1.num_parts > 100);
  CHECK(s1.max_splits_per_seq == s1.num_parts);
  const std::vector<int> uniform(128, 4096);
  const auto s2 = make_split_schedule(uniform, opt);
  // Work per part within one payload of the mean: no part gets more than its share plus one piece's cost.
  std::vector<long long> work(static_cast<std::size_t>(s2.num_parts), 0);
  for (int p = 0; p < s2.num_parts; ++p) {
    for (int i = s2.part_segment_begin[static_cast<std::size_t>(p)];
         i < s2.part_segment_begin[static_cast<std::size_t>(p) + 1]; ++i) {
      work[static_cast<std::size_t>(p)] +=
          (s2.seg_token_end[static_cast<std::size_t>(i)] - s2.seg_token_begin[static_cast<std::size_t>(i)]) /
              64 +
          opt.fixed_cost_pages;
    }
  }
  const long long max_work = *std::max_element(work.begin(), work.end());
  const double mean = (128.0 * 64 + 128.0 * opt.fixed_cost_pages) / 132.0;
  CHECK(static_cast<double>(max_work) <= mean + 2.0 * opt.fixed_cost_pages + 1.0);
  // Same input, same schedule.
  CHECK(make_split_schedule(uniform, opt).seg_token_begin == s2.seg_token_begin);
}

TEST_CASE("ldmatrix addressing delivers exactly the mma.m16n8k16 fragments") {
  using namespace mlasim::attention::mma;
  // A fragments and B fragments each cover their tile exactly once.
  std::set<std::pair<int, int>> a, b, c;
  for (int lane = 0; lane < 32; ++lane) {
    for (int reg = 0; reg < 4; ++reg) {
      for (int h = 0; h < 2; ++h) a.insert({a_frag(lane, reg, h).row, a_frag(lane, reg, h).col});
      c.insert({c_frag(lane, reg).row, c_frag(lane, reg).col});
    }
    for (int reg = 0; reg < 2; ++reg) {
      for (int h = 0; h < 2; ++h) b.insert({b_frag(lane, reg, h).row, b_frag(lane, reg, h).col});
    }
  }
  CHECK(a.size() == 256);
  CHECK(b.size() == 128);
  CHECK(c.size() == 128);
  for (int lane = 0; lane < 32; ++lane) {
    for (int reg = 0; reg < 4; ++reg) {
      for (int h = 0; h < 2; ++h) {
        const Coord e = ldmatrix_elem(lane, h, false);
        const Coord et = ldmatrix_elem(lane, h, true);
        // Pattern A, non-transposed, on a [row][k] tile: register reg is a_frag's register reg.
        const Coord base_a = ldsm_addr_a(reg * 8 + e.row);
        CHECK(Coord{base_a.row, base_a.col + e.col} == a_frag(lane, reg, h));
        // Pattern A, transposed, on a [k][n] tile: registers {0,1} are b_frag of n-tile 0, {2,3} of n-tile 1.
        const Coord base_v = ldsm_addr_a(reg * 8 + et.row);
        const Coord want_v = b_frag(lane, reg & 1, h);
        CHECK(Coord{base_v.row, base_v.col + et.col} == Coord{want_v.row, want_v.col + 8 * (reg >> 1)});
        // Pattern BK, non-transposed, on a [n][k] tile: same register assignment, read as (n, k).
        const Coord base_k = ldsm_addr_bk(reg * 8 + e.row);
        const Coord want_k = b_frag(lane, reg & 1, h);
        CHECK(Coord{base_k.row, base_k.col + e.col} == Coord{want_k.col + 8 * (reg >> 1), want_k.row});
      }
    }
  }
  // Accumulators of two adjacent n-tiles of S are the A fragment of P for the next MMA (FlashAttention-2
  // reuse): A register r <- C tile (r >> 1), elements 2(r & 1), 2(r & 1) + 1.
  for (int lane = 0; lane < 32; ++lane) {
    for (int reg = 0; reg < 4; ++reg) {
      for (int h = 0; h < 2; ++h) {
        const Coord cc = c_frag(lane, 2 * (reg & 1) + h);
        CHECK(Coord{cc.row, cc.col + 8 * (reg >> 1)} == a_frag(lane, reg, h));
      }
    }
  }
}

TEST_CASE(
    "schedule_shape, from the batch's sums, is the schedule make_split_schedule builds for uniform lengths") {
  for (const int sms : {8, 132}) {
    for (const int batch : {1, 3, 8, 32, 64, 128, 300}) {
      for (const int len : {1, 63, 64, 65, 512, 1000, 4096, 32768}) {
        for (const int row_blocks : {1, 2, 4, 16}) {
          ScheduleOptions o;
          o.num_sms = sms;
          o.row_blocks = row_blocks;
          const std::vector<int> lens(static_cast<std::size_t>(batch), len);
          const long long pages = static_cast<long long>(batch) * pages_for(len);
          INFO("sms " << sms << " batch " << batch << " len " << len << " row blocks " << row_blocks);
          const SplitSchedule full = make_split_schedule(lens, o);
          const ScheduleShape shape = schedule_shape(pages, batch, o);
          CHECK(shape.parts == full.num_parts);
          CHECK(shape.segments == full.num_segments);
          CHECK(shape.max_splits == full.max_splits_per_seq);
        }
      }
    }
  }
}

TEST_CASE(
    "schedule_shape counts make_split_schedule's parts, segments and splits for every small uniform batch") {
  // Every batch of up to 24 sequences of 1 to 40 pages, with and without piece costs, on grids small and
  // large: the counting shortcut for equal pages against the schedule built segment by segment.
  int mismatches = 0;
  for (const int sms : {1, 3, 8, 132}) {
    for (const int ctas_per_sm : {1, 2}) {
      for (const int row_blocks : {1, 5}) {
        for (const int cost : {0, 1, 2, 5}) {
          ScheduleOptions o;
          o.num_sms = sms;
          o.ctas_per_sm = ctas_per_sm;
          o.row_blocks = row_blocks;
          o.fixed_cost_pages = cost;
          for (int batch = 1; batch <= 24; ++batch) {
            for (int pages = 1; pages <= 40; ++pages) {
              const std::vector<int> lens(static_cast<std::size_t>(batch), pages * o.page_tokens);
              const SplitSchedule full = make_split_schedule(lens, o);
              const ScheduleShape shape = schedule_shape(static_cast<long long>(batch) * pages, batch, o);
              if (shape.parts != full.num_parts || shape.segments != full.num_segments ||
                  shape.max_splits != full.max_splits_per_seq) {
                if (++mismatches <= 5) {
                  INFO("sms " << sms << " ctas/SM " << ctas_per_sm << " row blocks " << row_blocks << " cost "
                              << cost << " batch " << batch << " pages " << pages);
                  CHECK(shape.parts == full.num_parts);
                  CHECK(shape.segments == full.num_segments);
                  CHECK(shape.max_splits == full.max_splits_per_seq);
                }
              }
            }
          }
        }
      }
    }
  }
  CHECK(mismatches == 0);
}
