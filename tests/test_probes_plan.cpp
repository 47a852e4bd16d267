#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <set>
#include <string>

#include "kernels/probes/probe_plan.hpp"
#include "sim/calibration/probe_csv.hpp"

using namespace mlasim::gpu;

namespace {
const GemmShape& find_label(const std::vector<GemmShape>& shapes, const std::string& label) {
  for (const GemmShape& s : shapes) {
    if (s.label == label) return s;
  }
  FAIL("no shape labelled " << label);
  return shapes.front();
}
}  // namespace

TEST_CASE("Llama-3-70B per-rank shapes follow its config at TP 1 and 8") {
  const auto tp1 = dense_model_shapes(llama3_70b(), 1);
  CHECK(find_label(tp1, "llama3_70b.tp1.qkv").n == (64 + 2 * 8) * 128);  // 10240
  CHECK(find_label(tp1, "llama3_70b.tp1.qkv").k == 8192);
  CHECK(find_label(tp1, "llama3_70b.tp1.gate_up").n == 2 * 28672);
  CHECK(find_label(tp1, "llama3_70b.tp1.down").k == 28672);
  CHECK(find_label(tp1, "llama3_70b.tp1.lm_head").n == 128256);
  const auto tp8 = dense_model_shapes(llama3_70b(), 8);
  const GemmShape& qkv = find_label(tp8, "llama3_70b.tp8.qkv");
  CHECK(qkv.n == (8 + 2 * 1) * 128);  // 1280: 8 query heads, 1 kv head per rank
  CHECK(qkv.k == 8192);
  CHECK(find_label(tp8, "llama3_70b.tp8.o").n == 8192);
  CHECK(find_label(tp8, "llama3_70b.tp8.o").k == 1024);
  CHECK(find_label(tp8, "llama3_70b.tp8.gate_up").n == 7168);
  CHECK(find_label(tp8, "llama3_70b.tp8.down").k == 3584);
  CHECK(find_label(tp8, "llama3_70b.tp8.lm_head").n == 16032);
}

TEST_CASE("KV heads are replicated, not split below one, when TP exceeds them") {
  DenseModelDims d = llama3_8b();
  d.n_kv_heads = 4;
  const auto tp8 = dense_model_shapes(d, 8);
  CHECK(find_label(tp8, "llama3_8b.tp8.qkv").n == (4 + 2 * 1) * 128);
  CHECK_THROWS_AS(dense_model_shapes(llama3_8b(), 3), std::invalid_argument);  // 32 heads over 3 ranks
}

TEST_CASE("DeepSeek-V3 shapes: projections, experts and the absorbed per-head BMMs") {
  const auto tp1 = mla_model_shapes(deepseek_v3(), 1);
  CHECK(find_label(tp1, "dsv3.tp1.qkv_a").n == 1536 + 512 + 64);
  CHECK(find_label(tp1, "dsv3.tp1.qkv_a").k == 7168);
  CHECK(find_label(tp1, "dsv3.tp1.q_b").n == 128 * 192);
  CHECK(find_label(tp1, "dsv3.tp1.q_b").k == 1536);
  CHECK(find_label(tp1, "dsv3.tp1.kv_b").n == 128 * 256);
  CHECK(find_label(tp1, "dsv3.tp1.o").k == 128 * 128);
  CHECK(find_label(tp1, "dsv3.tp1.expert_gate_up").n == 4096);
  CHECK(find_label(tp1, "dsv3.tp1.expert_down").k == 2048);
  CHECK(find_label(tp1, "dsv3.tp1.dense_down").k == 18432);
  CHECK(find_label(tp1, "dsv3.tp1.router").n == 256);
  CHECK(find_label(tp1, "dsv3.tp1.lm_head").n == 129280);
  const auto tp8 = mla_model_shapes(deepseek_v3(), 8);
  CHECK(find_label(tp8, "dsv3.tp8.expert_gate_up").n == 4096);  // experts are whole on their EP rank
  CHECK(find_label(tp8, "dsv3.tp8.q_b").n == 16 * 192);

  const auto bmm = mla_absorbed_bmm_shapes(deepseek_v3(), 1);
  const GemmShape& uk = find_label(bmm, "dsv3.tp1.bmm_w_uk");
  CHECK((uk.k == 128 && uk.n == 512 && uk.batch == 128));  // d_n × d_c per head, 128 heads
  const GemmShape& uv = find_label(bmm, "dsv3.tp1.bmm_w_uv");
  CHECK((uv.k == 512 && uv.n == 128 && uv.batch == 128));  // d_c × d_v per head
  CHECK(mla_absorbed_bmm_shapes(deepseek_v3(), 8)[0].batch == 16);
}

TEST_CASE("the default GEMM list covers every model and TP, with no duplicate (n, k, batch)") {
  const auto shapes = default_gemm_shapes();
  std::set<std::tuple<std::int64_t, std::int64_t, std::int64_t>> keys;
  std::string all_labels;
  for (const GemmShape& s : shapes) {
    CHECK(keys.insert({s.n, s.k, s.batch}).second);
    all_labels += s.label + "|";
  }
  for (const char* want :
       {"llama3_8b.tp1.qkv", "llama3_8b.tp8.down", "llama3_70b.tp2.o", "llama3_70b.tp4.lm_head",
        "llama3_70b.tp8.gate_up", "dsv3.tp1.bmm_w_uk", "dsv3.tp8.bmm_w_uv", "dsv3.tp8.kv_b"}) {
    CHECK(all_labels.find(std::string(want) + "|") != std::string::npos);
  }
  // 2 dense models × 4 TPs × 5 + DeepSeek-V3 2 TPs × 12 = 64 families before merging.
  CHECK(shapes.size() <= 64);
  CHECK(shapes.size() >= 50);
  // Shared (n, k) merge their labels: the DeepSeek-V3 experts do not depend on TP (and at TP 8 the output
  // projection, 2048 → 7168, has the expert down-projection's shape).
  const GemmShape& expert = *std::find_if(shapes.begin(), shapes.end(),
                                          [](const GemmShape& s) { return s.n == 7168 && s.k == 2048; });
  CHECK(expert.label == "dsv3.tp1.expert_down|dsv3.tp8.o|dsv3.tp8.expert_down");
}

TEST_CASE("m runs over the powers of two from 1 to 8192") {
  const auto ms = gemm_m_values();
  REQUIRE(ms.size() == 14);
  CHECK(ms.front() == 1);
  CHECK(ms.back() == 8192);
  CHECK(gemm_flops(16, GemmShape{"x", 1280, 8192, 1}) == 2.0 * 16 * 1280 * 8192);
  CHECK(gemm_bytes(1, GemmShape{"x", 512, 128, 128}, 2.0, 2.0) ==
        128.0 * (2.0 * (128 * 512 + 128) + 2.0 * 512));
}

TEST_CASE("working sets run geometrically from 64 KiB to 4 GiB in 30 aligned points") {
  const auto ws = bandwidth_working_sets();
  REQUIRE(ws.size() == 30);
  CHECK(ws.front() == 64 * 1024);
  CHECK(ws.back() == 4LL * 1024 * 1024 * 1024);
  for (std::size_t i = 0; i < ws.size(); ++i) {
    CHECK(ws[i] % 4096 == 0);
    if (i > 0) {
      CHECK(ws[i] > ws[i - 1]);
      const double ratio = static_cast<double>(ws[i]) / static_cast<double>(ws[i - 1]);
      CHECK(ratio == Approx(std::pow(65536.0, 1.0 / 29)).epsilon(0.05));  // 2^16 over 29 steps ≈ 1.466
    }
  }
  CHECK_THROWS_AS(bandwidth_working_sets(4096, 1024, 10), std::invalid_argument);
}

TEST_CASE("grids run from a quarter to eight times the SM count; L2-sized sets are labelled l2") {
  CHECK(bandwidth_grid_sizes(132) == std::vector<int>{33, 66, 132, 264, 528, 1056});
  CHECK(bandwidth_grid_sizes(2) == std::vector<int>{1, 2, 4, 8, 16});
  const std::int64_t h100_l2 = 50LL * 1024 * 1024;
  CHECK(std::string(memory_level(40LL << 20, h100_l2)) == "l2");
  CHECK(std::string(memory_level(64LL << 20, h100_l2)) == "hbm");
  CHECK(bandwidth_bytes_moved(BandwidthKernel::kReadModifyWrite, 1000) == 2000.0);
  CHECK(bandwidth_bytes_moved(BandwidthKernel::kCopy, 1000) == 1000.0);
}

TEST_CASE("the probe program writes the columns the calibration reader needs") {
  const auto written = probe_csv_columns();
  for (std::string_view c : mlasim::probe_csv_required_columns()) {
    CHECK(std::find(written.begin(), written.end(), std::string(c)) != written.end());
  }
}

TEST_CASE("the whole probe run fits the device budget: estimate under 4 minutes of device work") {
  // Rough H100-like rates (EstimateRates); the budget per device call is 10 minutes, the target ~4.
  const double gemm = estimate_gemm_seconds(default_gemm_shapes(), gemm_m_values(), true);
  const double bw = estimate_bandwidth_seconds(bandwidth_working_sets(), 6, 50LL << 20, 3, 20);
  INFO("GEMM " << gemm << " s, bandwidth " << bw << " s");
  CHECK(gemm < 150.0);
  CHECK(bw < 30.0);
  CHECK(gemm_repeats_for(1e-6) == kGemmMaxRepeats);
  CHECK(gemm_repeats_for(0.1) == kGemmMinRepeats);
}
