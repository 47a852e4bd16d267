// Sweeps and the built-in cards, end to end through the loaders.
#include <catch2/catch.hpp>
#include <cmath>

#include "models/workload.hpp"
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
  const Table a = run_sweep(spec);
  const Table b = run_sweep(load_sweep_config("configs/llama3_70b_attention.yaml"));
  CHECK(a.rows().size() == sweep_size(spec));
  CHECK(table_to_csv(a) == table_to_csv(b));
  CHECK(table_to_json(a) == table_to_json(b));
}

TEST_CASE("a sweep keeps impossible points as rows with a reason") {
  SweepSpec spec;
  spec.source = "test";
  spec.models = {resolve_model("llama-3-8b")};
  spec.variants = {parse_variant("native")};
  spec.hardware = {resolve_hw("h100-sxm")};
  spec.tp = {1, 3};
  spec.batch = {1, 100000};
  spec.context = {4096};
  spec.s_q = {1};
  const Table t = run_sweep(spec);
  REQUIRE(t.rows().size() == 4);
  const std::size_t status = t.column_index("status");
  CHECK(std::get<std::string>(t.rows()[0][status]) == "ok");
  CHECK(std::get<std::string>(t.rows()[1][status]) == "batch-exceeds-capacity");
  CHECK(std::get<std::string>(t.rows()[2][status]).rfind("invalid: tp (3) must divide", 0) == 0);
  // More context never raises tokens/s of a fixed batch.
  spec.tp = {1};
  spec.batch = {8};
  spec.context = {1024, 2048, 4096, 8192};
  const Table c = run_sweep(spec);
  const std::size_t tps = c.column_index("tokens_per_s");
  for (std::size_t i = 1; i < c.rows().size(); ++i) {
    CHECK(std::get<double>(c.rows()[i][tps]) < std::get<double>(c.rows()[i - 1][tps]));
  }
}

TEST_CASE("a sweep over dp_attention doubles the grid and shows MLA's capacity with DP-attention") {
  const SweepSpec spec = load_sweep_config("configs/deepseek_v3_attention.yaml");
  REQUIRE(spec.dp_attention.size() == 2);
  const Table t = run_sweep(spec);
  CHECK(t.rows().size() == sweep_size(spec));
  const std::size_t variant = t.column_index("variant"), dp = t.column_index("dp_attention"),
                    hw = t.column_index("hardware"), ctx = t.column_index("context"),
                    batch = t.column_index("batch"), conc = t.column_index("max_concurrency");
  auto concurrency = [&](const std::string& v, const std::string& d) {
    for (const auto& row : t.rows()) {
      if (std::get<std::string>(row[variant]) == v && std::get<std::string>(row[dp]) == d &&
          std::get<std::string>(row[hw]) == "h200" && std::get<std::int64_t>(row[ctx]) == 32768 &&
          std::get<std::int64_t>(row[batch]) == 1) {
        return std::get<std::int64_t>(row[conc]);
      }
    }
    FAIL("no such row");
    return std::int64_t{0};
  };
  // Plain TP 8 replicates MLA's latent on every GPU, so a GQA-8 variant of the model fits more sequences;
  // with DP-attention each GPU caches only its own sequences and MLA fits the most.
  CHECK(concurrency("gqa:8", "false") > concurrency("native", "false"));
  CHECK(concurrency("native", "true") > concurrency("gqa:8", "false"));
  CHECK(concurrency("native", "true") > concurrency("gqa:8", "true"));
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
