// Tests of kernels/attention/bench_csv.hpp and bench_grid.hpp: the attention CSV formats are exactly what the
// simulator side reads (measurements/README.md), byte for byte, and the timing grid is ordered so that a run
// cut short at its deadline is still useful. Registered in tests/CMakeLists.txt ("GPU run hardening" block).
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "kernels/attention/bench_csv.hpp"
#include "kernels/attention/bench_grid.hpp"
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
  CHECK(joined(att::timing_csv_columns()) ==
        "kernel,batch,context,lengths,s_q,n_h,n_kv,d,sum_context,flops,bytes,median_us,p90_us,min_us,repeats,"
        "gbps,"
        "tflops,pct_of_copy_bw,num_parts,num_segments,max_splits,attention_ctas,combine_ctas,check");
}

TEST_CASE("check.csv and copy.csv keep the columns the bench always wrote") {
  CHECK(joined(att::check_csv_columns()) ==
        "kernel,batch,lens,s_q,n_h,n_kv,d,splits_max,segments,rel_l2_error,lse_max_abs_error,nonfinite_"
        "outputs,pass");
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
    att::write_timing_row(csv, r);
    r.check_passed = false;
    att::write_timing_row(csv, r);
  }
  const std::string row =
      "mla,128,4096,uniform,1,16,1,576,524288,1.8253611e+10,608436224,250.5,260.25,249,20,2419.5,"
      "72.875,91.5,132,260,3,132,2048,";
  CHECK(read_all(path) == joined(att::timing_csv_columns()) + "\n" + row + "pass\n" + row + "FAILED\n");
}

TEST_CASE("variant ids are kernel-d<d>") {
  CHECK(att::variant_id("mla", 576) == "mla-d576");
  CHECK(att::variant_id("gqa", 64) == "gqa-d64");
  CHECK(att::known_variants() == std::vector<std::string>{"mla-d576", "gqa-d128", "gqa-d64"});
}

TEST_CASE("the grid times MLA uniform first, then GQA/MQA/MHA, then MLA variable lengths") {
  const auto g = att::timing_grid(false);
  REQUIRE(g.size() == 700);
  for (size_t i = 0; i < 280; ++i) CHECK((g[i].kernel == "mla" && !g[i].variable));
  for (size_t i = 280; i < 420; ++i) CHECK(g[i].kernel == "gqa");
  for (size_t i = 420; i < 700; ++i) CHECK((g[i].kernel == "mla" && g[i].variable));
  // Within MLA: batch, then context, then h_q, then s_q (s_q fastest).
  CHECK((g[0].batch == 1 && g[0].ctx == 512 && g[0].shape.n_h == 16 && g[0].s_q == 1));
  CHECK((g[1].batch == 1 && g[1].ctx == 512 && g[1].shape.n_h == 16 && g[1].s_q == 2));
  CHECK((g[2].shape.n_h == 32 && g[2].s_q == 1));
  CHECK((g[8].batch == 1 && g[8].ctx == 1024));
  CHECK((g[56].batch == 8 && g[56].ctx == 512));
  CHECK((g[279].batch == 128 && g[279].ctx == 32768 && g[279].shape.n_h == 128 && g[279].s_q == 2));
  // GQA: shape, then batch, then context.
  CHECK((g[280].shape.n_h == 32 && g[280].shape.n_kv == 32 && g[280].shape.d == 128 && g[280].batch == 1));
  CHECK((g[419].shape.n_h == 71 && g[419].shape.n_kv == 1 && g[419].shape.d == 64 && g[419].batch == 128));
  CHECK(g[419].variant() == "gqa-d64");
  CHECK(att::timing_grid(true).size() == 80);
}
