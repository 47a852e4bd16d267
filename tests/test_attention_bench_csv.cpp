// Tests of kernels/attention/bench_csv.hpp and bench_grid.hpp: the attention CSV formats are exactly what the
// simulator side reads (measurements/README.md), byte for byte, and the timing grid is ordered so that a run
// cut short at its deadline is still useful. Registered in tests/CMakeLists.txt ("GPU run hardening" block).
#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "kernels/attention/bench_check.hpp"
#include "kernels/attention/bench_csv.hpp"
#include "kernels/attention/bench_fill.hpp"
#include "kernels/attention/bench_grid.hpp"
#include "kernels/attention/bench_summary.hpp"
#include "kernels/attention/bench_variants.hpp"
#include "kernels/attention/bf16.hpp"
#include "kernels/attention/reference.hpp"
#include "sim/output.hpp"
#include "tests/test_support.hpp"

namespace att = mlasim::attention;

namespace {
std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}
std::string read_all(const std::filesystem::path& p) {
  return mlasim::read_text_file(p);
}
}  // namespace

TEST_CASE("the timing CSV columns are exactly the agreed ones, in order, ending with check") {
  CHECK(
      joined(att::timing_csv_columns()) ==
      "kernel,variant,batch,context,lengths,s_q,n_h,n_kv,d,sum_context,flops,bytes,median_us,p90_us,min_us,"
      "repeats,gbps,tflops,pct_of_copy_bw,pct_of_dense_peak,num_parts,num_segments,max_splits,attention_ctas,"
      "combine_ctas,check");
}

TEST_CASE("check.csv names the variant and the rows compared; copy.csv keeps its columns") {
  CHECK(joined(att::check_csv_columns()) ==
        "kernel,variant,batch,lens,s_q,n_h,n_kv,d,splits_max,segments,rows_checked,rel_l2_error,lse_max_abs_"
        "error,nonfinite_outputs,pass");
  CHECK(joined(att::copy_csv_columns()) ==
        "op,bytes_copied,bytes_moved,median_us,p90_us,min_us,repeats,gbps");
}

TEST_CASE("rows are written byte for byte as the GPU program writes them; a failed variant says FAILED") {
  const mlasim::test::ScratchDir dir("mlasim_test_bench_csv");
  const auto path = dir.path() / "mla_decode.csv";
  {
    mlasim::gpu::CsvWriter csv(path.string(), att::timing_csv_columns());
    att::TimingRow r;
    r.kernel = "mla";
    r.variant = "mla-d576-sm90a";
    r.batch = 128;
    r.context = 4096;
    r.lengths = "uniform";
    r.s_q = 1;
    r.n_h = 16;
    r.n_kv = 1;
    r.d = 576;
    r.sum_context = 524288;
    r.flops = 2.0 * 1 * 16 * 1088 * 524288;
    r.bytes = 2.0 * (576.0 * 524288 + 128.0 * 16 * 1088);
    r.median_us = 250.5;
    r.p90_us = 260.25;
    r.min_us = 249.0;
    r.repeats = 20;
    r.gbps = 2419.5;
    r.tflops = 72.875;
    r.pct_of_copy_bw = 91.5;
    r.num_parts = 132;
    r.num_segments = 260;
    r.max_splits = 3;
    r.attention_ctas = 132;
    r.combine_ctas = 2048;
    att::write_timing_row(csv, r);  // peak unknown: pct_of_dense_peak empty
    r.check_passed = false;
    r.pct_of_dense_peak = 7.375;
    att::write_timing_row(csv, r);
  }
  const std::string head =
      "mla,mla-d576-sm90a,128,4096,uniform,1,16,1,576,524288,1.8253611e+10,608436224,250.5,260.25,249,20,"
      "2419.5,72.875,91.5,";
  const std::string tail = ",132,260,3,132,2048,";
  CHECK(read_all(path) == joined(att::timing_csv_columns()) + "\n" + head + tail + "pass\n" + head + "7.375" +
                              tail + "FAILED\n");
}

TEST_CASE("baseline variant ids are kernel-d<d>") {
  CHECK(att::variant_id("mla", 576) == "mla-d576");
  CHECK(att::variant_id("gqa", 64) == "gqa-d64");
  CHECK(att::known_variants() == std::vector<std::string>{"mla-d576", "gqa-d128", "gqa-d64"});
}

TEST_CASE("the grid times the 9 headline points first, then MLA uniform, GQA/MQA/MHA, MLA variable lengths") {
  const auto g = att::timing_grid(false);
  REQUIRE(g.size() == 700);
  // Headline: MLA b128 ctx4096 uniform, h_q 16..128 x s_q 1, 2 (grid order), then GQA (64, 8, 128) b64
  // ctx4096.
  for (size_t i = 0; i < 8; ++i) {
    CHECK((g[i].kernel == "mla" && g[i].batch == 128 && g[i].ctx == 4096 && !g[i].variable));
    CHECK(g[i].shape.n_h == (16 << (i / 2)));
    CHECK(g[i].s_q == 1 + int(i % 2));
  }
  CHECK((g[8].kernel == "gqa" && g[8].batch == 64 && g[8].ctx == 4096 && g[8].shape.n_h == 64 &&
         g[8].shape.n_kv == 8 && g[8].shape.d == 128));
  for (size_t i = 0; i < 9; ++i) CHECK(att::headline_point(g[i]));
  for (size_t i = 9; i < 700; ++i) CHECK_FALSE(att::headline_point(g[i]));
  for (size_t i = 9; i < 9 + 272; ++i) CHECK((g[i].kernel == "mla" && !g[i].variable));
  for (size_t i = 281; i < 281 + 139; ++i) CHECK(g[i].kernel == "gqa");
  for (size_t i = 420; i < 700; ++i) CHECK((g[i].kernel == "mla" && g[i].variable));
  // Within MLA: batch, then context, then h_q, then s_q (s_q fastest).
  CHECK((g[9].batch == 1 && g[9].ctx == 512 && g[9].shape.n_h == 16 && g[9].s_q == 1));
  CHECK((g[10].batch == 1 && g[10].ctx == 512 && g[10].shape.n_h == 16 && g[10].s_q == 2));
  CHECK((g[11].shape.n_h == 32 && g[11].s_q == 1));
  CHECK((g[17].batch == 1 && g[17].ctx == 1024));
  CHECK((g[65].batch == 8 && g[65].ctx == 512));
  CHECK((g[280].batch == 128 && g[280].ctx == 32768 && g[280].shape.n_h == 128 && g[280].s_q == 2));
  // GQA: shape, then batch, then context.
  CHECK((g[281].shape.n_h == 32 && g[281].shape.n_kv == 32 && g[281].shape.d == 128 && g[281].batch == 1));
  CHECK((g[419].shape.n_h == 71 && g[419].shape.n_kv == 1 && g[419].shape.d == 64 && g[419].batch == 128));
  CHECK(g[419].variant() == "gqa-d64");
  const auto quick = att::timing_grid(true);
  CHECK(quick.size() == 80);
  CHECK((quick[0].batch == 128 && quick[0].ctx == 4096 && quick[7].shape.n_h == 128 && !quick[8].variable &&
         !att::headline_point(quick[8])));
}

TEST_CASE("the peers' subset: headline points first, uniform lengths, 3 contexts x 4 batches, MLA s_q 1") {
  int headline = 0, rest = 0, mla = 0, gqa = 0;
  for (const auto& g : att::timing_grid(false)) {
    const int p = att::peer_priority(g, false);
    if (p < 0) continue;
    CHECK_FALSE(g.variable);
    (p == 0 ? headline : rest) += 1;
    (g.kernel == "mla" ? mla : gqa) += 1;
    if (p == 1 && g.kernel == "mla") CHECK((g.s_q == 1 && g.shape.n_h != 32));
  }
  CHECK(headline == 9);
  // MLA: 4 batches x 3 contexts x h_q {16, 64, 128} at s_q 1, minus the 3 headline ones at b128 ctx4096;
  // GQA: 4 shapes x 4 batches x 3 contexts minus the headline one.
  CHECK(rest == (4 * 3 * 3 - 3) + (4 * 4 * 3 - 1));
  CHECK(mla == 4 * 3 * 3 + 5);  // + h_q 32 at s_q 1 and the four s_q 2 headline points
  CHECK(gqa == 48);
}

TEST_CASE("the dense bf16 peak is known for the H100 SXM and the H200 only") {
  CHECK(att::datasheet_dense_bf16_tflops("NVIDIA H200") == 989.0);
  CHECK(att::datasheet_dense_bf16_tflops("NVIDIA H100 80GB HBM3") == 989.0);
  CHECK(att::datasheet_dense_bf16_tflops("NVIDIA A100-SXM4-80GB") == 0.0);
  const auto g = att::timing_grid(true)[6];  // MLA b128 ctx4096 h_q 128 s_q 1
  att::SplitSchedule s;
  const auto row = att::timing_row(g, 128LL * 4096, 1e-3, 1e-3, 1e-3, 20, 4000.0, s, 1, 0, true, "", 989.0);
  CHECK(row.variant == "mla-d576");
  CHECK(row.pct_of_dense_peak == Approx(100.0 * row.tflops / 989.0));
  CHECK(att::timing_row(g, 128LL * 4096, 1e-3, 1e-3, 1e-3, 20, 4000.0, s, 1, 0, true).pct_of_dense_peak <
        0.0);
}

// ---------------------------------------------------------------- variant registry

namespace {
int rb_64(int s_q, int n_h, int) {
  return (s_q * n_h + 63) / 64;
}
bool only_h128(int n_h, int, int d, int) {
  return d == 576 && n_h == 128;
}
using TestVariant = att::Variant<int>;
std::vector<TestVariant> test_registry() {
  return {
      {"mla-d576", "mla", att::any_mla_shape, 1, 1, rb_64, true, false},
      {"gqa-d128", "gqa", att::gqa_d128_shape, 2, 2, rb_64, true, false},
      {"gqa-d64", "gqa", att::gqa_d64_shape, 3, 3, rb_64, true, false},
      {"mla-d576-sm90a", "mla", att::any_mla_shape, 4, 1, rb_64, true, true},
      {"mla-h128-only", "mla", only_h128, 5, 2, rb_64, false, false},
  };
}
}  // namespace

TEST_CASE("a grid point runs every selected, runnable variant of its kernel and shape, in registry order") {
  const auto reg = test_registry();
  const std::set<std::string> all_runnable = {"mla-d576", "gqa-d128", "gqa-d64", "mla-d576-sm90a",
                                              "mla-h128-only"};
  auto ids = [](const std::vector<const TestVariant*>& v) {
    std::vector<std::string> out;
    for (const auto* p : v) out.push_back(p->id);
    return out;
  };
  CHECK(ids(att::variants_for_point(reg, "mla", 128, 1, 576, 2, {}, all_runnable)) ==
        std::vector<std::string>{"mla-d576", "mla-d576-sm90a", "mla-h128-only"});
  CHECK(ids(att::variants_for_point(reg, "mla", 64, 1, 576, 1, {}, all_runnable)) ==
        std::vector<std::string>{"mla-d576", "mla-d576-sm90a"});
  CHECK(ids(att::variants_for_point(reg, "gqa", 71, 1, 64, 1, {}, all_runnable)) ==
        std::vector<std::string>{"gqa-d64"});
  CHECK(ids(att::variants_for_point(reg, "mla", 16, 1, 576, 1, {"mla-d576-sm90a", "gqa-d64"},
                                    all_runnable)) == std::vector<std::string>{"mla-d576-sm90a"});
  CHECK(ids(att::variants_for_point(reg, "mla", 16, 1, 576, 1, {}, {"mla-d576"})) ==
        std::vector<std::string>{"mla-d576"});
  CHECK(att::variants_for_point(reg, "gqa", 32, 8, 128, 1, {"mla-d576"}, all_runnable).empty());
}

TEST_CASE(
    "a variant's schedule options are its CTAs per SM and row blocks; availability needs the build and "
    "sm_90") {
  const auto reg = test_registry();
  const auto o = att::variant_schedule_options(reg[3], 2, 128, 1, 132);
  CHECK(o.num_sms == 132);
  CHECK(o.ctas_per_sm == 1);
  CHECK(o.row_blocks == 4);
  CHECK(att::variant_unavailable_reason(reg[0], 8, 0).empty());
  CHECK(att::variant_unavailable_reason(reg[3], 9, 0).empty());
  CHECK(att::variant_unavailable_reason(reg[3], 10, 0) == "needs sm_90a, the device is cc 10.0");
  CHECK(att::variant_unavailable_reason(reg[3], 8, 9) == "needs sm_90a, the device is cc 8.9");
  CHECK(att::variant_unavailable_reason(reg[4], 9, 0).find("not compiled in") == 0);
}

TEST_CASE("variant lists parse against the registry; an unknown id names the known ones") {
  const auto reg = test_registry();
  CHECK(att::parse_variant_list("mla-d576,,gqa-d64", reg) == std::set<std::string>{"mla-d576", "gqa-d64"});
  CHECK(att::parse_variant_list("", reg).empty());
  try {
    (void)att::parse_variant_list("mla-d576,mla-d999", reg);
    FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()) ==
          "unknown variant 'mla-d999' (known: mla-d576, gqa-d128, gqa-d64, mla-d576-sm90a, mla-h128-only)");
  }
  CHECK(att::find_variant(reg, "gqa-d128")->launch == 2);
  CHECK(att::find_variant(reg, "nope") == nullptr);
}

// ---------------------------------------------------------------- fill hash (shared with peers.py)

TEST_CASE("the fill hash and its checksum are pinned (the same values as peers.py --selftest)") {
  // splitmix64 from state 0 gives 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f,
  // 0xf88bb8a8724c81ec (the published sequence): element i of a fill with seed 0 draws the top 24 bits.
  CHECK(att::fill_draw(0, 0) == 0xe220a8u);
  CHECK(att::fill_draw(0, 1) == 0x6e789eu);
  CHECK(att::fill_draw(0, 2) == 0x06c45du);
  CHECK(att::fill_draw(0, 3) == 0xf88bb8u);
  // 0xe220a8 / 2^23 - 1 = 0.76660 -> bf16 0x3f44 (0.765625).
  CHECK(att::fill_bf16_bits(0, 0) == 0x3f44);
  CHECK(att::fill_bf16_bits(0, 1) == 0xbe0c);
  CHECK(att::fill_bf16_bits(0, 2) == 0xbf72);
  CHECK(att::fill_bf16_bits(0, 3) == 0x3f71);
  CHECK(att::fill_bf16_bits(0xffffffffffffffffull, 1000000) == 0x3edc);
  CHECK(att::fill_bf16_bits(0x0123456789abcdefull, (1ull << 33) + 5) == 0xbf52);
  // The host bf16 rounding of the same float agrees (bf16.hpp), and values are never zero, within [-1, 1).
  for (std::uint64_t i = 0; i < 20000; ++i) {
    const float v = static_cast<float>(att::fill_draw(7, i)) * (1.0f / 16777216.0f) * 2.0f - 1.0f;
    const std::uint16_t b = att::fill_bf16_bits(7, i);
    const std::uint16_t want =
        att::round_to_bf16(v) == 0.0f ? std::uint16_t{0x3f00} : att::float_to_bf16_bits(v);
    REQUIRE(b == want);
    REQUIRE(att::bf16_bits_to_float(b) != 0.0f);
    REQUIRE(std::abs(att::bf16_bits_to_float(b)) <= 1.0f);
  }
  const att::FillChecksum c = att::fill_checksum(42, 5000);
  CHECK(c.sum0 == 162887479ull);
  CHECK(c.sum1 == 81963100061ull);
}

// ---------------------------------------------------------------- sampled-row checks

TEST_CASE("the reference of one row equals decode_reference's row (MLA causal s_q 2, GQA group 4)") {
  const std::vector<int> lens = {70, 130};
  for (const bool mla : {true, false}) {
    const att::DecodeProblem p = mla ? att::make_mla_problem(lens, 2, 16, 0.07f, 11)
                                     : att::make_gqa_problem(lens, 2, 8, 2, 64, 0.125f, 12);
    const auto ref = att::decode_reference(p);
    const int row_elems = p.n_kv_heads * p.d_qk, v_row = p.n_kv_heads * p.d_v;
    for (int b = 0; b < p.batch; ++b) {
      const int len = lens[size_t(b)];
      // The sequence's K/V rows gathered in token order, as the bench downloads them (one KV head at a time).
      for (int s = 0; s < p.s_q; ++s) {
        for (int h = 0; h < p.n_q_heads; ++h) {
          const int g = h / p.group_size();
          std::vector<float> k(size_t(len) * p.d_qk), v(size_t(len) * p.d_v);
          for (int t = 0; t < len; ++t) {
            const size_t slot = p.pages.slot_of(b, t);
            for (int i = 0; i < p.d_qk; ++i)
              k[size_t(t) * p.d_qk + size_t(i)] = p.k[slot * row_elems + size_t(g) * p.d_qk + size_t(i)];
            if (!mla) {
              for (int i = 0; i < p.d_v; ++i)
                v[size_t(t) * p.d_v + size_t(i)] = p.v[slot * v_row + size_t(g) * p.d_v + size_t(i)];
            }
          }
          const size_t row = (size_t(b) * p.s_q + size_t(s)) * p.n_q_heads + size_t(h);
          const auto r =
              att::reference_row(&p.q[row * p.d_qk], k.data(), p.d_qk, mla ? k.data() : v.data(),
                                 mla ? p.d_qk : p.d_v, p.d_qk, p.d_v, len - p.s_q + s + 1, p.softmax_scale);
          CHECK(r.lse == Approx(ref.lse[row]).epsilon(1e-12));
          for (int i = 0; i < p.d_v; i += 7)
            CHECK(r.out[size_t(i)] == Approx(ref.out[row * p.d_v + size_t(i)]).margin(1e-12));
        }
      }
    }
  }
}

TEST_CASE("sampled rows: deterministic, distinct, first and last sequence and the last row always in") {
  const auto a = att::sample_rows(128, 128, 4, 3, 99);
  CHECK(a.size() == 12);
  CHECK(a == att::sample_rows(128, 128, 4, 3, 99));
  CHECK_FALSE(a == att::sample_rows(128, 128, 4, 3, 100));
  std::set<std::pair<int, int>> seen;
  std::set<int> seqs;
  for (const auto& r : a) {
    CHECK((r.seq >= 0 && r.seq < 128 && r.row >= 0 && r.row < 128));
    seen.insert({r.seq, r.row});
    seqs.insert(r.seq);
  }
  CHECK(seen.size() == 12);
  CHECK(seqs.size() == 4);
  CHECK(seqs.count(0) == 1);
  CHECK(seqs.count(127) == 1);
  CHECK(seen.count({0, 127}) == 1);
  CHECK(seen.count({127, 127}) == 1);
  // Fewer sequences or rows than asked for: all of them.
  CHECK(att::sample_rows(1, 2, 4, 3, 5).size() == 2);
}

// ---------------------------------------------------------------- best.csv and the summary

namespace {
std::string timing_csv(const std::vector<std::string>& rows) {
  std::string s = joined(att::timing_csv_columns()) + "\n";
  for (const auto& r : rows) s += r + "\n";
  return s;
}
// A row of the timing CSV: kernel, variant, batch, context, h_q, median, gbps, tflops, check (the rest
// fixed).
std::string trow(const std::string& kernel, const std::string& variant, int batch, int n_h, int n_kv, int d,
                 const std::string& median, const std::string& gbps, const std::string& tflops,
                 const std::string& check) {
  return kernel + "," + variant + "," + std::to_string(batch) + ",4096,uniform,1," + std::to_string(n_h) +
         "," + std::to_string(n_kv) + "," + std::to_string(d) + ",524288,1,1," + median + "," + median + "," +
         median + ",20," + gbps + "," + tflops + ",1,,132,1,1,132,0," + check;
}
}  // namespace

TEST_CASE("best.csv takes, per point, the fastest variant whose check passed") {
  const att::CsvTable mla = att::parse_csv_text(timing_csv({
      trow("mla", "mla-d576", 128, 16, 1, 576, "300", "2000", "50", "pass"),
      trow("mla", "mla-d576-sm90a", 128, 16, 1, 576, "250", "2400", "60", "pass"),
      trow("mla", "mla-d576", 128, 64, 1, 576, "400", "1500", "90", "pass"),
      trow("mla", "mla-d576-sm90a", 128, 64, 1, 576, "100", "6000", "360", "FAILED"),  // faster but failed
      trow("mla", "mla-d576-sm90a", 128, 32, 1, 576, "100", "6000", "360", "FAILED"),  // no passing variant
  }));
  const att::CsvTable gqa =
      att::parse_csv_text(timing_csv({trow("gqa", "gqa-d128", 64, 64, 8, 128, "90", "3900", "5", "pass")}) +
                          "gqa,gqa-d128,1,4096,uni");  // a torn last line is dropped
  REQUIRE(mla.rows.size() == 5);
  REQUIRE(gqa.rows.size() == 1);
  int none = -1;
  const std::string best = att::best_csv_text({mla, gqa}, &none);
  CHECK(none == 1);
  CHECK(best == timing_csv({trow("mla", "mla-d576-sm90a", 128, 16, 1, 576, "250", "2400", "60", "pass"),
                            trow("mla", "mla-d576", 128, 64, 1, 576, "400", "1500", "90", "pass"),
                            trow("gqa", "gqa-d128", 64, 64, 8, 128, "90", "3900", "5", "pass")}));
}

TEST_CASE(
    "the summary lists every variant and peer at the headline points, marking the fastest that passed") {
  att::SummaryInputs in;
  in.device = "NVIDIA H200";
  in.copy_gbps = 4000.0;
  in.peak_tflops = 989.0;
  in.timing = {att::parse_csv_text(timing_csv({
                   trow("mla", "mla-d576", 128, 16, 1, 576, "300", "2000", "50", "pass"),
                   trow("mla", "mla-d576-sm90a", 128, 16, 1, 576, "250", "3600", "60", "pass"),
                   trow("mla", "mla-d576", 128, 128, 1, 576, "900", "600", "494.5", "pass"),
               })),
               att::parse_csv_text(timing_csv({}))};
  in.peers = att::parse_csv_text(
      "kernel,batch,context,lengths,s_q,n_h,n_kv,d,point,peer,method,median_us,p90_us,min_us,repeats,gbps,"
      "tflops,"
      "pct_of_copy_bw,inputs_match,note\n"
      "mla,128,4096,uniform,1,16,1,576,0,torch-absorbed-mla,m,1200,1300,1100,20,500,12.5,12.5,yes,\n");
  const std::string s = att::summary_text(in);
  CHECK(s.find("summary (NVIDIA H200; copy 4000 GB/s; dense bf16 peak 989 TFLOP/s)") != std::string::npos);
  CHECK(s.find("mla-d576-sm90a *") != std::string::npos);
  CHECK(s.find("mla-d576 *") != std::string::npos);  // the only variant at h_q 128
  // 3600 GB/s of a 4000 GB/s copy = 90.0%; 494.5 of 989 TFLOP/s = 50.0%.
  CHECK(s.find("  90.0%") != std::string::npos);
  CHECK(s.find("  50.0%") != std::string::npos);
  CHECK(s.find("peer torch-absorbed-mla") != std::string::npos);
  CHECK(s.find("inputs match") != std::string::npos);
  CHECK(s.find("GQA b64 ctx4096 (64,8,128) (goal >= 85% of copy)\n" + std::string(32, ' ') +
               " not measured") != std::string::npos);
}

// ---------------------------------------------------------------- the large-case check, replayed on the host

namespace {
/// check_sampled_rows over a host problem whose "device output" is the reference rounded to bf16, with an
/// optional mutation of what the callbacks return.
att::SampledCheckResult sampled_check_of(const att::DecodeProblem& p, int page_shift, int swap_rows) {
  const auto ref = att::decode_reference(p);
  std::vector<float> out(ref.out.begin(), ref.out.end()), lse(ref.lse.begin(), ref.lse.end());
  const auto out_bits = att::to_bf16_bits(out);
  const auto q_bits = att::to_bf16_bits(p.q);
  const auto k_bits = att::to_bf16_bits(p.k);
  const auto v_bits = att::to_bf16_bits(p.v);
  att::SampledCheckShape sh;
  sh.batch = p.batch;
  sh.s_q = p.s_q;
  sh.n_h = p.n_q_heads;
  sh.n_kv = p.n_kv_heads;
  sh.d_qk = p.d_qk;
  sh.d_v = p.d_v;
  sh.v_in_k = p.v_in_k;
  sh.softmax_scale = p.softmax_scale;
  const int rows = p.s_q * p.n_q_heads;
  const auto sample = att::sample_rows(p.batch, rows, 2, 3, 5);
  return att::check_sampled_rows(
      sh, p.pages, sample, lse,
      [&](int cache, int phys, std::uint16_t* dst) {
        const int d = cache == 0 ? p.d_qk : p.d_v;
        const size_t elems = size_t(p.pages.page_tokens) * size_t(p.n_kv_heads) * size_t(d);
        const auto& src = cache == 0 ? k_bits : v_bits;
        const size_t page = size_t((phys + page_shift) % p.pages.num_pages);
        std::copy(src.begin() + long(page * elems), src.begin() + long((page + 1) * elems), dst);
      },
      [&](int b, std::uint16_t* q_dst, std::uint16_t* o_dst) {
        const size_t qn = size_t(rows) * size_t(p.d_qk), on = size_t(rows) * size_t(p.d_v);
        std::copy(q_bits.begin() + long(size_t(b) * qn), q_bits.begin() + long(size_t(b + 1) * qn), q_dst);
        std::copy(out_bits.begin() + long(size_t(b) * on), out_bits.begin() + long(size_t(b + 1) * on),
                  o_dst);
        if (swap_rows) {  // the output rows of a sequence in the wrong order (a row-index bug)
          for (int r = 0; r + 1 < rows; r += 2) {
            std::swap_ranges(o_dst + size_t(r) * size_t(p.d_v), o_dst + size_t(r + 1) * size_t(p.d_v),
                             o_dst + size_t(r + 1) * size_t(p.d_v));
          }
        }
      });
}
}  // namespace

TEST_CASE("the sampled-row check passes the reference's own output and catches a wrong page or row order") {
  const std::vector<int> lens = {70, 200, 130, 65};
  const att::DecodeProblem mla = att::make_mla_problem(lens, 2, 16, 0.07f, 21);
  const att::DecodeProblem gqa = att::make_gqa_problem(lens, 1, 8, 2, 64, 0.125f, 22);
  for (const att::DecodeProblem* p : {&mla, &gqa}) {
    const auto ok = sampled_check_of(*p, 0, 0);
    CHECK(ok.rows == 6);
    CHECK(ok.rel_l2_error < 5e-3);  // bf16 rounding of the output only
    CHECK(ok.lse_max_abs_error < 1e-5);
    const auto wrong_page = sampled_check_of(*p, 1, 0);
    CHECK(wrong_page.rel_l2_error > 1e-2);
    const auto wrong_rows = sampled_check_of(*p, 0, 1);
    CHECK(wrong_rows.rel_l2_error > 1e-2);
  }
}
