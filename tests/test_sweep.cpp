// Sweeps and the built-in cards, end to end through the loaders.
#include <catch2/catch.hpp>
#include <cmath>

#include "models/workload.hpp"
#include "reports/sweep_report.hpp"
#include "reports/table_writers.hpp"
#include "sim/config/loader.hpp"
#include "sim/sweep/sweep.hpp"

using namespace mlasim;

TEST_CASE("KV bytes per token of every card match DESIGN.md §11 (bf16, all layers)") {
  struct Expect {
    const char* card;
    double bytes;
  };
  // Llama-2-7B 512 KiB; Llama-3-8B 128 KiB; Llama-3-70B 320 KiB; Falcon-7B 8 KiB; DeepSeek-V2 67.5 KiB;
  // DeepSeek-V3 70,272 B. Mistral-7B (32 layers × 2 × 8 × 128 × 2 B) 128 KiB; Qwen2.5-72B (80 × 2 × 8 × 128 ×
  // 2) 320 KiB; DeepSeek-V2-Lite (27 layers × 576 × 2) 31,104 B: computed by hand from their config.json.
  const Expect expect[] = {
      {"llama-2-7b", 512.0 * 1024}, {"llama-3-8b", 128.0 * 1024},  {"llama-3-70b", 320.0 * 1024},
      {"falcon-7b", 8.0 * 1024},    {"deepseek-v2", 67.5 * 1024},  {"deepseek-v3", 70272.0},
      {"mistral-7b", 128.0 * 1024}, {"qwen2.5-72b", 320.0 * 1024}, {"deepseek-v2-lite", 31104.0}};
  for (const Expect& e : expect) {
    INFO(e.card);
    CHECK(kv_bytes_per_token(resolve_model(e.card), Dtype::kBf16) == e.bytes);
  }
  CHECK(list_model_cards().size() == std::size(expect));
}

TEST_CASE("DeepSeek-V3's card gives 671B parameters") {
  const ParameterCount p = count_parameters(resolve_model("deepseek-v3"));
  CHECK(std::fabs(p.total - 671e9) / 671e9 < 0.01);
}

TEST_CASE("the same sweep config gives byte-identical outputs") {
  const SweepSpec spec = load_sweep_config("configs/llama3_70b_attention.yaml");
  const std::vector<SweepPoint> a = run_sweep(spec);
  const std::vector<SweepPoint> b = run_sweep(load_sweep_config("configs/llama3_70b_attention.yaml"));
  CHECK(a.size() == sweep_size(spec));
  CHECK(table_to_csv(sweep_table(spec, a)) == table_to_csv(sweep_table(spec, b)));
  CHECK(table_to_json(sweep_table(spec, a)) == table_to_json(sweep_table(spec, b)));
}

TEST_CASE("point i of a sweep sits at sweep_index of its positions, the last axis varying fastest") {
  const SweepSpec spec = load_sweep_config("configs/deepseek_v3_attention.yaml");
  const std::vector<SweepPoint> points = run_sweep(spec);
  REQUIRE(points.size() == sweep_size(spec));
  for (std::size_t i = 0; i < points.size(); ++i) {
    const SweepPoint& p = points[i];
    REQUIRE(sweep_index(spec, p.model, p.variant, p.hardware, p.tp_index, p.dp_index, p.batch_index,
                        p.context_index, p.s_q_index) == i);
    REQUIRE(p.tp == spec.tp[p.tp_index]);
    REQUIRE(p.dp_attention == spec.dp_attention[p.dp_index]);
    REQUIRE(p.batch == spec.batch[p.batch_index]);
    REQUIRE(p.context == spec.context[p.context_index]);
    REQUIRE(p.s_q == spec.s_q[p.s_q_index]);
  }
  CHECK(points[1].context == spec.context[1]);  // s_q has one value: context varies fastest
}

TEST_CASE("a sweep keeps impossible points with a reason") {
  SweepSpec spec;
  spec.source = "test";
  spec.models = {resolve_model("llama-3-8b")};
  spec.variants = {parse_variant("native")};
  spec.hardware = {resolve_hw("h100-sxm")};
  spec.tp = {1, 3};
  spec.batch = {1, 100000};
  spec.context = {4096};
  spec.s_q = {1};
  const std::vector<SweepPoint> t = run_sweep(spec);
  REQUIRE(t.size() == 4);
  CHECK(t[0].status == PointStatus::kOk);
  CHECK(t[0].status_text() == "ok");
  CHECK(t[1].status == PointStatus::kBatchExceedsCapacity);
  CHECK(t[1].status_text() == "batch-exceeds-capacity");
  CHECK(t[1].step_time_s > 0.0);  // costed anyway
  CHECK(t[2].status == PointStatus::kInvalid);
  CHECK(t[2].status_text().rfind("invalid: tp (3) must divide", 0) == 0);
  CHECK(t[2].step_time_s == 0.0);
  CHECK_FALSE(t[2].attention_bound.has_value());
  // The tidy table says the same in its status column.
  const Table table = sweep_table(spec, t);
  const std::size_t status = table.column_index("status");
  CHECK(std::get<std::string>(table.rows()[1][status]) == "batch-exceeds-capacity");
  CHECK(std::get<std::string>(table.rows()[2][status]) == t[2].status_text());
  CHECK(std::get<std::string>(table.rows()[2][table.column_index("attention_bound")]) == "-");
  // More context never raises tokens/s of a fixed batch.
  spec.tp = {1};
  spec.batch = {8};
  spec.context = {1024, 2048, 4096, 8192};
  const std::vector<SweepPoint> c = run_sweep(spec);
  for (std::size_t i = 1; i < c.size(); ++i) CHECK(c[i].tokens_per_s < c[i - 1].tokens_per_s);
}

TEST_CASE("a sweep over dp_attention doubles the grid and shows MLA's capacity with DP-attention") {
  const SweepSpec spec = load_sweep_config("configs/deepseek_v3_attention.yaml");
  REQUIRE(spec.dp_attention.size() == 2);
  const std::vector<SweepPoint> t = run_sweep(spec);
  CHECK(t.size() == sweep_size(spec));
  auto concurrency = [&](const std::string& v, bool dp) {
    for (const SweepPoint& p : t) {
      if (spec.variants[p.variant].to_string() == v && p.dp_attention == dp &&
          spec.hardware[p.hardware].id == "h200" && p.context == 32768 && p.batch == 1) {
        return p.max_concurrency;
      }
    }
    FAIL("no such point");
    return std::int64_t{0};
  };
  // Plain TP 8 replicates MLA's latent on every GPU, so a GQA-8 variant of the model fits more sequences;
  // with DP-attention each GPU caches only its own sequences and MLA fits the most.
  CHECK(concurrency("gqa:8", false) > concurrency("native", false));
  CHECK(concurrency("native", true) > concurrency("gqa:8", false));
  CHECK(concurrency("native", true) > concurrency("gqa:8", true));
}

TEST_CASE("Falcon-7B's GELU MLP has two matrices: 6.92B parameters (TII's card: 7B)") {
  const ModelSpec falcon = resolve_model("falcon-7b");
  CHECK(falcon.ffn.activation == FfnActivation::kGelu);
  // Per layer: fused QKV 4544·(71 + 2)·64, dense 4544², MLP 2·4544·18176, two norms; embedding 65024·4544
  // tied with the LM head; a final norm.
  const double layer = 4544.0 * 73 * 64 + 4544.0 * 4544 + 2.0 * 4544 * 18176 + 2 * 4544;
  const double expected = 32 * layer + 65024.0 * 4544 + 4544;
  CHECK(count_parameters(falcon).total == Approx(expected));
  CHECK(expected == Approx(6.92e9).epsilon(0.002));
  const StepWorkload w = build_step(falcon, uniform_decode(1, 2048));
  bool has_up = false, has_gate_up = false;
  for (const Op& op : w.ops) {
    has_up |= op.name == "ffn_up";
    has_gate_up |= op.name == "ffn_gate_up";
    if (op.name == "ffn_up") CHECK(op.flops == 32.0 * 2 * 4544 * 18176);
  }
  CHECK(has_up);
  CHECK_FALSE(has_gate_up);
}
