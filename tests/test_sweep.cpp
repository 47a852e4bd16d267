// Sweeps and the built-in cards, end to end through the loaders.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "models/variant.hpp"
#include "models/workload.hpp"
#include "reports/pivot.hpp"
#include "reports/sweep_report.hpp"
#include "reports/table_writers.hpp"
#include "sim/config/loader.hpp"
#include "sim/cost.hpp"
#include "sim/device/capacity.hpp"
#include "sim/step/evaluate.hpp"
#include "sim/sweep/sweep.hpp"
#include "tests/test_support.hpp"

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
  CHECK(table_to_csv(sweep_table(spec, a)) == table_to_csv(sweep_table(spec, b)));
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
    REQUIRE(p.batch_is_max == spec.batch[p.batch_index].is_max);
    if (p.batch_is_max) {
      REQUIRE(p.batch == std::min<std::int64_t>(p.max_concurrency, spec.capacity.max_batched_tokens / p.s_q));
    } else {
      REQUIRE(p.batch == spec.batch[p.batch_index].sequences);
    }
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
          spec.hardware[p.hardware].id == "h200" && p.context == 32768 && p.batch == 1 && !p.batch_is_max) {
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

namespace {

// Llama-3-8B, native, on one GPU: the sweep of the `max` tests.
SweepSpec llama_8b_on(const char* gpu) {
  SweepSpec spec;
  spec.source = "test";
  spec.models = {resolve_model("llama-3-8b")};
  spec.variants = {parse_variant("native")};
  spec.hardware = {resolve_hw(gpu)};
  spec.tp = {1};
  spec.s_q = {1};
  return spec;
}

}  // namespace

TEST_CASE("batch max is max_concurrency at the point's context: Llama-3-8B on one H100 SXM, bf16, by hand") {
  SweepSpec spec = llama_8b_on("h100-sxm");
  spec.batch = {8, BatchChoice::max()};
  spec.context = {4096, 8192, 524288};
  // KV per token: 32 layers x (K + V) x 8 KV heads x 128 x 2 B = 131,072 B; blocks of 16 tokens (2 MiB).
  const double kv_per_token = 32.0 * 2 * 8 * 128 * 2;
  // Weights, bf16: embedding and LM head 2 x 128256 x 4096; per layer q, o 4096^2, k, v 4096 x 1024, MLP
  // 3 x 4096 x 14336, two norms; a final norm: 8,030,261,248 parameters = 16,060,522,496 B.
  const double layer = 2.0 * 4096 * 4096 + 2.0 * 4096 * 1024 + 3.0 * 4096 * 14336 + 2 * 4096;
  const double weights = 2 * (2.0 * 128256 * 4096 + 32 * layer + 4096);
  CHECK(weights == 16'060'522'496.0);
  // Activation workspace for 8192 tokens: (4 x 4096 + max(2 x 14336, 3 x 32 x 128)) x 2 B each, plus fp32
  // logits of 256 rows: 738,197,504 + 131,334,144 B. Runtime reserve 1 GiB. HBM 80 GB at 0.9.
  const double workspace = 8192.0 * (4 * 4096 + 2 * 14336) * 2 + 256.0 * 128256 * 4;
  CHECK(spec.hardware[0].hbm_bytes == 80e9);
  const double free_bytes = 0.9 * 80e9 - weights - workspace - 1024.0 * 1024 * 1024;  // 53,996,204,032 B
  const auto blocks = static_cast<std::int64_t>(free_bytes / (16 * kv_per_token));    // 25,747
  CHECK(blocks == 25'747);
  // 4k: 256 blocks a sequence, 100 sequences; 8k: 50; 512k (32,768 blocks): not one.
  const std::int64_t expect[] = {blocks / 256, blocks / 512, 0};
  CHECK(expect[0] == 100);

  const std::vector<SweepPoint> points = run_sweep(spec);
  const Capacity cap =
      compute_capacity(spec.models[0], spec.hardware[0], spec.precision, Parallelism{1, false});
  for (std::size_t c = 0; c < spec.context.size(); ++c) {
    INFO(spec.context[c]);
    const SweepPoint& max = points[sweep_index(spec, 0, 0, 0, 0, 0, 1, c, 0)];
    CHECK(max.batch_is_max);
    CHECK(max.batch == expect[c]);
    CHECK(max.batch == max_concurrency(cap, spec.context[c]));
    CHECK(max.max_concurrency == expect[c]);
    CHECK_FALSE(points[sweep_index(spec, 0, 0, 0, 0, 0, 0, c, 0)].batch_is_max);
  }
  const SweepPoint& fits = points[sweep_index(spec, 0, 0, 0, 0, 0, 1, 0, 0)];
  CHECK(fits.status == PointStatus::kOk);
  CHECK(fits.tokens_per_s == Approx(100.0 / fits.step_time_s));
  // Where not one sequence fits, `max` is does-not-fit with no numbers; batch 8 there is costed as before.
  const SweepPoint& none = points[sweep_index(spec, 0, 0, 0, 0, 0, 1, 2, 0)];
  CHECK(none.status == PointStatus::kDoesNotFit);
  CHECK(none.step_time_s == 0.0);
  CHECK(none.tokens_per_s == 0.0);
  CHECK_FALSE(none.cost.has_value());
  const SweepPoint& eight = points[sweep_index(spec, 0, 0, 0, 0, 0, 0, 2, 0)];
  CHECK(eight.status == PointStatus::kDoesNotFit);
  CHECK(eight.step_time_s > 0.0);

  // The table says which batch it ran and that it was `max`.
  const Table table = sweep_table(spec, points);
  const std::size_t row = sweep_index(spec, 0, 0, 0, 0, 0, 1, 1, 0);
  CHECK(std::get<std::int64_t>(table.rows()[row][table.column_index("batch")]) == 50);
  CHECK(std::get<bool>(table.rows()[row][table.column_index("batch_is_max")]));
  CHECK_FALSE(std::get<bool>(table.rows()[0][table.column_index("batch_is_max")]));

  // Llama-3-70B's bf16 weights (141 GB) leave one H100 no KV cache: `max` does not fit at any context.
  spec.models = {resolve_model("llama-3-70b")};
  for (const SweepPoint& p : run_sweep(spec)) {
    if (!p.batch_is_max) continue;
    CHECK(p.status == PointStatus::kDoesNotFit);
    CHECK(p.batch == 0);
  }
}

TEST_CASE("batch max stays within the step's token budget (max_batched_tokens / s_q)") {
  SweepSpec spec = llama_8b_on("h100-sxm");
  spec.batch = {BatchChoice::max()};
  spec.context = {1024};  // 64 blocks a sequence: 25,747 / 64 = 402 sequences fit
  spec.s_q = {1, 2};
  std::vector<SweepPoint> points = run_sweep(spec);
  CHECK(points[0].batch == 402);
  CHECK(points[1].batch == 402);
  spec.capacity.max_batched_tokens = 256;  // a smaller workspace too: more sequences fit, fewer run
  points = run_sweep(spec);
  CHECK(points[0].max_concurrency > 402);
  CHECK(points[0].batch == 256);
  CHECK(points[1].batch == 128);  // two new tokens each
  CHECK(points[1].status == PointStatus::kOk);
}

TEST_CASE("a sweep point's cost: the replica's GPUs at the profile's price over its output tokens, by hand") {
  // The arithmetic: 8 GPUs x 5.408 USD/h = 43.264 USD/h; at 10,000 output tokens/s an hour serves 36M tokens:
  // 43.264 / (10,000 x 3600) x 1e6 = 1.2018 USD per 1M.
  const DeploymentCost c = deployment_cost(8, 5.408, 10'000.0, 10'000.0);
  CHECK(c.usd_per_hour == Approx(43.264));
  CHECK(c.usd_per_million_output_tokens == Approx(1.20178).epsilon(1e-4));

  SweepSpec spec;
  spec.source = "test";
  spec.models = {resolve_model("llama-3-70b")};
  spec.variants = {parse_variant("native")};
  spec.hardware = {resolve_hw("h200"), resolve_hw("h800")};
  REQUIRE(spec.hardware[0].price_per_gpu_hour == 5.408);
  REQUIRE_FALSE(spec.hardware[1].price_per_gpu_hour.has_value());
  spec.tp = {8};
  spec.batch = {16, 100'000};
  spec.context = {8192};
  spec.s_q = {1};
  const std::vector<SweepPoint> points = run_sweep(spec);
  const SweepPoint& ok = points[sweep_index(spec, 0, 0, 0, 0, 0, 0, 0, 0)];
  REQUIRE(ok.status == PointStatus::kOk);
  REQUIRE(ok.cost.has_value());
  const double usd_per_hour = 8 * 5.408;
  const double per_million = usd_per_hour / (ok.tokens_per_s * 3600.0) * 1e6;
  CHECK(ok.cost->usd_per_hour == Approx(43.264));
  CHECK(ok.cost->usd_per_million_output_tokens == Approx(per_million));
  // The same in sweep.csv's row; the batch that does not fit and the GPU without a price cost nothing: empty
  // in the CSV, null in the JSON.
  const Table table = sweep_table(spec, points);
  const std::size_t price = table.column_index("price_per_gpu_hour"),
                    hour = table.column_index("usd_per_hour"),
                    million = table.column_index("usd_per_million_output_tokens");
  CHECK(million == table.column_index("tokens_per_s_per_user") + 3);  // beside the throughput
  const auto number = [&](std::size_t row, std::size_t col) {
    return std::get<double>(table.rows()[row][col]);
  };
  CHECK(number(0, price) == 5.408);
  CHECK(number(0, hour) == Approx(43.264));
  CHECK(number(0, million) == Approx(per_million));
  REQUIRE(points[1].status == PointStatus::kBatchExceedsCapacity);
  CHECK(number(1, price) == 5.408);
  CHECK(std::isnan(number(1, hour)));
  CHECK(std::isnan(number(1, million)));
  REQUIRE(points[2].status == PointStatus::kOk);
  CHECK(std::isnan(number(2, price)));
  CHECK(std::isnan(number(2, million)));
  const SweepReport report = build_sweep_report(spec, points, false);
  const std::string csv = report.files.at(0).second;
  REQUIRE(report.files.at(0).first == "sweep.csv");
  const std::size_t row1 = csv.find('\n') + 1, row2 = csv.find('\n', row1) + 1,
                    row3 = csv.find('\n', row2) + 1;
  CHECK_THAT(csv.substr(row1, row2 - row1), Catch::Contains(",5.408,43.26"));
  CHECK_THAT(csv.substr(row2, row3 - row2), Catch::Contains(",5.408,,,"));
  CHECK_THAT(csv.substr(row3), Catch::Contains(",,,,"));
  const std::string json = report.files.at(1).second;
  CHECK_THAT(json, Catch::Contains("\"usd_per_million_output_tokens\": null"));
  CHECK_THAT(json, Catch::Contains("\"price_per_gpu_hour\": null"));
}

namespace {

// A small sweep for the headline: Llama-3-8B as itself (GQA-8), MQA and MHA on H100, H200 and a B200 cut to
// 16 GB (faster than both, but the weights leave it no KV cache), TP 1 and 2, three contexts.
SweepSpec headline_sweep(std::vector<BatchChoice> batch) {
  SweepSpec spec = llama_8b_on("h100-sxm");
  spec.variants = {parse_variant("native"), parse_variant("mqa"), parse_variant("mha")};
  HardwareSpec small = resolve_hw("b200");
  small.id = "b200-16gb";
  small.hbm_bytes = 16e9;
  spec.hardware = {resolve_hw("h100-sxm"), resolve_hw("h200"), small};
  spec.tp = {1, 2};
  spec.batch = std::move(batch);
  spec.context = {32768, 4096, 262144};  // not sorted: the headline's rows are
  return spec;
}

// A row of sweep.csv's table, read back by column name.
struct Row {
  const Table* table;
  const std::vector<Cell>* cells;
  [[nodiscard]] const Cell& at(const char* col) const { return (*cells)[table->column_index(col)]; }
  [[nodiscard]] std::string text(const char* col) const { return std::get<std::string>(at(col)); }
  [[nodiscard]] std::int64_t count(const char* col) const { return std::get<std::int64_t>(at(col)); }
  [[nodiscard]] double number(const char* col) const { return std::get<double>(at(col)); }
  [[nodiscard]] std::string layout() const {
    return text("model") + " " + text("variant") + " on " + text("hardware") + " TP " +
           std::to_string(count("tp")) + (std::get<bool>(at("dp_attention")) ? " DP-attn" : "");
  }
};

}  // namespace

TEST_CASE("the headline picks, per context, the most concurrent layout and the fastest per GPU at capacity") {
  for (const bool with_max : {true, false}) {
    INFO((with_max ? "batch [1, 64, max]" : "batch [1, 64]: capacity is the largest batch that fits"));
    const SweepSpec spec = headline_sweep(with_max ? std::vector<BatchChoice>{1, 64, BatchChoice::max()}
                                                   : std::vector<BatchChoice>{1, 64});
    const std::vector<SweepPoint> points = run_sweep(spec);
    const Table table = sweep_table(spec, points);
    const std::vector<SweepHeadline> headline = sweep_headline(spec, points);
    REQUIRE(headline.size() == 1);
    CHECK(headline[0].at_max == with_max);
    REQUIRE(headline[0].rows.size() == 3);
    const std::string md = sweep_headline_markdown(spec, points);
    const std::int64_t sorted_contexts[] = {4096, 32768, 262144};
    for (std::size_t r = 0; r < 3; ++r) {
      const std::int64_t context = sorted_contexts[r];
      INFO(context);
      const HeadlineRow& row = headline[0].rows[r];
      CHECK(row.context == context);

      // From the table's rows: the most sequences (then fewer GPUs, then the first row), and among the rows
      // at capacity that are ok the most tokens/s per GPU.
      std::optional<Row> most, fastest, fastest_any_status;
      std::map<std::string, Row> capacity_row;  // per layout: the `max` row, or the largest ok batch
      for (const auto& cells : table.rows()) {
        const Row x{&table, &cells};
        if (x.count("context") != context || x.text("status").rfind("invalid", 0) == 0) continue;
        if (x.count("max_concurrency") > 0 &&
            (!most || x.count("max_concurrency") > most->count("max_concurrency") ||
             (x.count("max_concurrency") == most->count("max_concurrency") &&
              x.count("tp") < most->count("tp"))))
          most.emplace(x);
        if (!fastest_any_status ||
            x.number("tokens_per_s_per_gpu") > fastest_any_status->number("tokens_per_s_per_gpu"))
          fastest_any_status.emplace(x);
        if (x.text("status") != "ok") continue;
        if (with_max ? std::get<bool>(x.at("batch_is_max")) : true) {
          const auto it = capacity_row.find(x.layout());
          if (it == capacity_row.end()) {
            capacity_row.emplace(x.layout(), x);
          } else if (x.count("batch") > it->second.count("batch")) {
            it->second = x;
          }
        }
      }
      for (const auto& [layout, x] : capacity_row) {
        if (!fastest || x.number("tokens_per_s_per_gpu") > fastest->number("tokens_per_s_per_gpu"))
          fastest.emplace(x);
      }
      REQUIRE(most.has_value());
      REQUIRE(fastest.has_value());
      REQUIRE(row.most_concurrent.has_value());
      REQUIRE(row.fastest_at_capacity.has_value());
      const SweepPoint& m = points[*row.most_concurrent];
      const SweepPoint& f = points[*row.fastest_at_capacity];
      CHECK(layout_text(spec, m, false) == most->layout());
      CHECK(m.max_concurrency == most->count("max_concurrency"));
      CHECK(layout_text(spec, f, false) == fastest->layout());
      CHECK(f.batch == fastest->count("batch"));
      CHECK(f.tokens_per_s_per_gpu == fastest->number("tokens_per_s_per_gpu"));
      // MQA caches an eighth of GQA-8's KV: it fits the most, on the larger GPU split over two.
      CHECK(most->layout() == "Llama-3-8B mqa on h200 TP 2");
      // The test can fail: a costed point that does not fit (B200 16 GB at batch 64), or at 256k a batch
      // beyond capacity, runs faster than the point at capacity.
      if (!with_max || context == 262144)
        CHECK(fastest_any_status->number("tokens_per_s_per_gpu") > f.tokens_per_s_per_gpu);
      CHECK(layout_text(spec, f, false).find("b200-16gb") == std::string::npos);
      CHECK_THAT(md,
                 Catch::Contains(fmt::format("| {} | {} | {} | {} | {} |",
                                             r == 0   ? "4k"
                                             : r == 1 ? "32k"
                                                      : "256k",
                                             most->layout(), m.max_concurrency, fastest->layout(), f.batch)));
    }
    CHECK_THAT(md, Catch::Contains(with_max ? "at batch `max`" : "the grid has no `max`"));
    CHECK_THAT(md, Catch::Contains("USD per 1M output tokens |"));  // H100 and H200 have a price
  }
}

TEST_CASE("a headline row says so when nothing fits at its context") {
  SweepSpec spec = llama_8b_on("h100-sxm");
  spec.batch = {BatchChoice::max()};
  spec.context = {4096, 524288};
  const std::vector<SweepPoint> points = run_sweep(spec);
  const std::vector<SweepHeadline> h = sweep_headline(spec, points);
  REQUIRE(h.at(0).rows.size() == 2);
  CHECK(h[0].rows[0].most_concurrent == 0U);
  CHECK(h[0].rows[0].fastest_at_capacity == 0U);
  CHECK_FALSE(h[0].rows[1].most_concurrent.has_value());
  CHECK_FALSE(h[0].rows[1].fastest_at_capacity.has_value());
  CHECK_THAT(sweep_headline_markdown(spec, points),
             Catch::Contains("| 512k | nothing fits | - | nothing runs | - | - | - | - |"));
}

// M2 (issue 14): the grid's size is a checked product with a cap, not a wrapped size_t ("the grid is empty").
TEST_CASE("a grid whose product overflows or passes the cap is an input error naming the axes") {
  SweepSpec spec;
  spec.models = {resolve_model("llama-3-8b")};
  spec.variants = {VariantSpec{}};
  spec.hardware = {resolve_hw("h100-sxm")};
  spec.tp = std::vector<int>(65536, 1);
  spec.batch = std::vector<BatchChoice>(65536, BatchChoice(1));
  spec.context = std::vector<std::int64_t>(65536, 1024);
  spec.s_q = std::vector<int>(65536, 1);  // 2^64 points: wraps to 0 unchecked
  CHECK_FALSE(checked_sweep_size(spec).has_value());
  CHECK_THROWS_WITH(sweep_size(spec), Catch::Contains("over 2^64") && Catch::Contains("65536 tp"));
  CHECK_THROWS_AS(run_sweep(spec), InputError);
  spec.tp = {1};
  spec.s_q = {1};
  spec.context.resize(2048);  // 2^27 points: over the cap of 10^8
  CHECK(checked_sweep_size(spec) == std::size_t{1} << 27);
  CHECK_THROWS_WITH(sweep_size(spec),
                    Catch::Contains("134217728 points") && Catch::Contains("more than the 100000000"));
}

TEST_CASE("a sweep of a billion sequences per step answers from one record") {
  const SweepSpec spec = load_sweep_config("tests/reliability/M2_sweep_batch_1e9.yaml");
  const std::vector<SweepPoint> points = run_sweep(spec);
  REQUIRE(points.size() == 1);
  CHECK(points[0].batch == 1'000'000'000);
  CHECK(points[0].status == PointStatus::kBatchExceedsCapacity);
  CHECK(points[0].step_time_s > 0.0);
}

// L1 (issue 14): the pivot found each row, column and group by a linear search: quadratic in the table.
TEST_CASE("pivoting a table of 100k distinct rows is linear, and keeps the order of first appearance") {
  Table table({{"group", ""}, {"context", ""}, {"variant", ""}, {"value", ""}});
  constexpr int kRows = 100'000;
  for (int i = 0; i < kRows; ++i) {
    table.add_row(
        {std::string("g"), std::int64_t{kRows - i}, std::string(i % 2 == 0 ? "mla" : "mha"), double(i + 1)});
  }
  PivotSpec spec;
  spec.group_by = {"group"};
  spec.row_key = "context";
  spec.column_key = "variant";
  spec.value = "value";
  spec.value_label = "value";
  const auto start = std::chrono::steady_clock::now();
  const std::string md = pivot_to_markdown(table, spec);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(seconds < 20.0);  // linear: well under a second; the linear search took minutes under the sanitizers
  CHECK(md.find("| context | mla | mha |") != std::string::npos);
  CHECK(md.find("| 100000 | 1 | - |") != std::string::npos);
  CHECK(md.find("| 99999 | - | 2 |") != std::string::npos);
}

TEST_CASE("a sweep without precision.weights costs each model in the dtype it stores its weights in") {
  SweepSpec spec;
  spec.models = {load_hf_config("tests/hf/deepseek-v3/config.json"), resolve_model("llama-3-8b")};
  REQUIRE(spec.models[0].weights_dtype == Dtype::kFp8);  // quantization_config: fp8
  REQUIRE_FALSE(spec.models[1].weights_dtype.has_value());
  spec.hardware = {resolve_hw("h200")};
  spec.variants = {parse_variant("native")};
  spec.tp = {8};
  spec.batch = {BatchChoice{1}};
  spec.context = {4096};
  spec.s_q = {1};
  auto weights_of = [](const SweepSpec& s) {
    const Table t = sweep_table(s, run_sweep(s));
    std::vector<std::pair<std::string, double>> out;
    for (const auto& row : t.rows()) {
      out.emplace_back(std::get<std::string>(row[t.column_index("weights_dtype")]),
                       std::get<double>(row[t.column_index("weight_bytes")]));
    }
    return out;
  };
  const auto stored = weights_of(spec);
  REQUIRE(stored.size() == 2);
  CHECK(stored[0].first == "fp8");
  CHECK(stored[0].second == weight_bytes_total(spec.models[0], Dtype::kFp8));
  CHECK(stored[1].first == "bf16");  // no stored dtype: the sweep's default
  // `precision: {weights: bf16}` in the config wins over the stored dtype: twice the bytes of the fp8
  // weights.
  spec.weights_given = true;
  spec.precision.weights = Dtype::kBf16;
  const auto forced = weights_of(spec);
  CHECK(forced[0].first == "bf16");
  CHECK(forced[0].second == weight_bytes_total(spec.models[0], Dtype::kBf16));
  CHECK(forced[0].second > 1.9 * stored[0].second);
}

namespace {

/// A DeepSeek-V3 point at TP 8 + DP-attention with `extra` config lines, and the same step straight through
/// the step evaluator with `mtp`: EP 8, 32 redundant experts, imbalance 1.25, two micro-batches, fp8 weights.
std::pair<SweepPoint, StepEvaluation> deepseek_ep_point(const std::string& extra, const Speculation& mtp) {
  mlasim::test::ScratchDir dir;
  const auto cfg = dir.write("ep.yaml", R"(sweep:
  models: deepseek-v3
  hardware: h200
  tp: 8
  dp_attention: true
  batch: 32
  context: 4k
  expert_parallel: true
  redundant_experts: 32
  expert_imbalance: 1.25
  micro_batches: 2
  precision: {weights: fp8}
)" + extra);
  const SweepSpec spec = load_sweep_config(cfg);
  const std::vector<SweepPoint> points = run_sweep(spec);
  REQUIRE(points.size() == 1);

  const ModelSpec model = resolve_model("deepseek-v3");
  StepShape shape;
  shape.sequences = {SequenceWork{4096, 1, false, true, 32}};
  shape.parallel.tp = 8;
  shape.parallel.dp_attention = true;
  shape.parallel.ep = 8;
  shape.parallel.redundant_experts = 32;
  shape.parallel.expert_imbalance = 1.25;
  shape.parallel.micro_batches = 2;
  shape.precision.weights = Dtype::kFp8;
  shape.mtp = mtp;
  const DeviceModel device(resolve_hw("h200"), DeviceMode::kDatasheet, LaunchMode::kGraph);
  return {points[0], evaluate_step(model, device, shape, CapacityOptions{})};
}

}  // namespace

TEST_CASE("a DeepSeek-V3 sweep with expert_parallel at TP 8 gives evaluate_step's point with EP 8") {
  const auto [p, direct] = deepseek_ep_point("", Speculation{});
  REQUIRE(p.status == PointStatus::kOk);
  CHECK(p.step_time_s == direct.cost.step_time_s);
  CHECK(p.communication_s == direct.cost.communication_s);
  CHECK(p.tokens_per_s == direct.totals.tokens_per_s);
  CHECK(p.tokens_per_s_per_user == direct.totals.tokens_per_s_per_user);
  CHECK(p.weight_bytes_per_gpu == direct.capacity.weight_bytes_per_gpu);
  CHECK(p.kv_capacity_tokens == direct.capacity.kv_capacity_tokens());
  CHECK(p.tokens_per_s_per_user == Approx(1.0 / p.step_time_s));

  // Not the TP-only layout: expert parallelism changed the step.
  const ModelSpec model = resolve_model("deepseek-v3");
  StepShape tp_only;
  tp_only.sequences = {SequenceWork{4096, 1, false, true, 32}};
  tp_only.parallel.tp = 8;
  tp_only.parallel.dp_attention = true;
  tp_only.parallel.micro_batches = 2;
  tp_only.precision.weights = Dtype::kFp8;
  const StepEvaluation plain = evaluate_step(
      model, DeviceModel(resolve_hw("h200"), DeviceMode::kDatasheet, LaunchMode::kGraph), tp_only);
  CHECK(plain.cost.step_time_s != p.step_time_s);
  CHECK(plain.capacity.weight_bytes_per_gpu != p.weight_bytes_per_gpu);
}

TEST_CASE("a sweep with mtp gives evaluate_step's point with the same Speculation") {
  Speculation mtp;
  mtp.depth = 2;
  mtp.acceptance = {0.9, 0.7};
  const auto [p, direct] = deepseek_ep_point("  mtp: {depth: 2, acceptance: [0.9, 0.7]}\n", mtp);
  REQUIRE(p.status == PointStatus::kOk);
  CHECK(p.step_time_s == direct.cost.step_time_s);
  CHECK(p.tokens_per_s == direct.totals.tokens_per_s);
  // MTP emits 1 + 0.9 + 0.9 × 0.7 = 2.53 tokens per sequence per step.
  CHECK(p.tokens_per_s_per_user == Approx(2.53 / p.step_time_s));
}

TEST_CASE("expert_parallel at a TP 1 point of the grid is EP 1; redundant experts make it an invalid point") {
  mlasim::test::ScratchDir dir;
  const auto cfg = dir.write("ep.yaml", R"(sweep:
  models: deepseek-v2-lite
  hardware: h200
  tp: [1, 2]
  batch: 4
  context: 1k
  expert_parallel: true
  redundant_experts: 2
)");
  const SweepSpec spec = load_sweep_config(cfg);
  const std::vector<SweepPoint> points = run_sweep(spec);
  REQUIRE(points.size() == 2);
  CHECK(points[0].status == PointStatus::kInvalid);
  CHECK(points[0].invalid_reason ==
        "needs expert parallelism (ep > 1): copies of experts live on expert ranks");
  CHECK(points[1].status == PointStatus::kOk);
}

TEST_CASE("a sweep's pp and fuse_allreduce reach every point: each point is the step evaluator's") {
  mlasim::test::ScratchDir dir;
  const auto cfg = dir.write("pp.yaml",
                             "sweep:\n  models: [llama-3-70b]\n  hardware: [h100-sxm]\n  tp: [4]\n  pp: 2\n"
                             "  fuse_allreduce: true\n  batch: [64]\n  context: [4096]\n");
  const SweepSpec spec = load_sweep_config(cfg);
  CHECK(spec.layout.pp == 2);
  CHECK(spec.layout.fuse_allreduce);
  const std::vector<SweepPoint> points = run_sweep(spec);
  REQUIRE(points.size() == 1);
  StepShape shape = uniform_decode(64, 4096);
  shape.parallel.tp = 4;
  shape.parallel.pp = 2;
  shape.parallel.fuse_allreduce = true;
  const StepEvaluation e = evaluate_step(resolve_model("llama-3-70b"),
                                         DeviceModel(resolve_hw("h100-sxm"), DeviceMode::kDatasheet), shape);
  CHECK(points[0].step_time_s == e.cost.step_time_s);
  CHECK(points[0].tokens_per_s_per_gpu == Approx(e.totals.tokens_per_s / 8));  // 4 × 2 GPUs
  // pp 0 is an error at its key.
  const auto bad = dir.write("bad.yaml",
                             "sweep:\n  models: [llama-3-70b]\n  hardware: [h100-sxm]\n  pp: 0\n"
                             "  batch: [1]\n  context: [4096]\n");
  CHECK_THROWS_WITH(load_sweep_config(bad),
                    Catch::Contains("bad.yaml:4:7: error: sweep.pp: must be 1 to 1024"));
}

namespace {

/// A sweep point evaluated the general way, independently of run_sweep_points' per-layout preparation: the
/// variant applied, the capacity computed and the step evaluated by evaluate_step for this point alone.
SweepPoint general_point(const SweepSpec& spec, std::size_t index) {
  const SweepPosition at = sweep_position(spec, index);
  SweepPoint p;
  p.model = static_cast<std::uint32_t>(at.model);
  p.variant = static_cast<std::uint32_t>(at.variant);
  p.hardware = static_cast<std::uint32_t>(at.hardware);
  p.tp_index = static_cast<std::uint32_t>(at.tp);
  p.dp_index = static_cast<std::uint32_t>(at.dp);
  p.batch_index = static_cast<std::uint32_t>(at.batch);
  p.context_index = static_cast<std::uint32_t>(at.context);
  p.s_q_index = static_cast<std::uint32_t>(at.s_q);
  p.tp = spec.tp[at.tp];
  p.dp_attention = spec.dp_attention[at.dp];
  const ModelSpec model = apply_variant(spec.models[at.model], spec.variants[at.variant]);
  p.attention = model.attention.kind;
  const BatchChoice choice = spec.batch[at.batch];
  p.batch_is_max = choice.is_max;
  p.context = spec.context[at.context];
  p.s_q = spec.s_q[at.s_q];
  const Precision precision = spec.precision_for(spec.models[at.model]);
  const Parallelism parallel = spec.parallel_at(p.tp, p.dp_attention);
  std::string invalid;
  Capacity cap;
  try {
    check_parallelism(parallel);
    cap = compute_capacity(model, spec.hardware[at.hardware], precision, parallel, spec.capacity);
  } catch (const InputError& e) {
    invalid = e.message();
  }
  const std::int64_t conc = invalid.empty() ? max_concurrency(cap, p.context) : 0;
  const int step_tokens = spec.mtp.enabled() ? 1 + spec.mtp.depth : p.s_q;
  const std::int64_t by_tokens = std::max<std::int64_t>(spec.capacity.max_batched_tokens / step_tokens, 1);
  p.batch = choice.is_max
                ? static_cast<int>(std::min({conc, by_tokens, std::int64_t{std::numeric_limits<int>::max()}}))
                : choice.sequences;
  p.status = PointStatus::kInvalid;
  p.invalid_reason = invalid;
  StepEvaluation eval;
  if (invalid.empty() && p.batch == 0) {
    p.status = PointStatus::kDoesNotFit;
  } else if (invalid.empty()) {
    StepShape shape;
    shape.sequences = {SequenceWork{p.context, p.s_q, false, true, p.batch}};
    shape.parallel = parallel;
    shape.precision = precision;
    shape.mla_mode = spec.mla_mode;
    shape.mtp = spec.mtp;
    try {
      eval = evaluate_step(model, DeviceModel(spec.hardware[at.hardware], spec.device_mode, spec.launch),
                           shape, cap, OpDetail::kTotals);
      p.status = eval.status;
      p.attention_flops = eval.cost.attention_flops;
      p.attention_bytes = eval.cost.attention_bytes;
      p.attention_bound = eval.cost.attention_bound;
    } catch (const InputError& e) {
      p.invalid_reason = e.message();
    }
  }
  const StepCost& cost = eval.cost;
  const bool costed = cost.step_time_s > 0.0;
  p.step_time_s = cost.step_time_s;
  p.attention_s = cost.attention_s;
  p.gemm_s = cost.gemm_s;
  p.communication_s = cost.communication_s;
  p.other_s = cost.other_s;
  p.tokens_per_s = costed ? eval.totals.tokens_per_s : 0.0;
  p.tokens_per_s_per_gpu = costed ? eval.totals.tokens_per_s_per_gpu : 0.0;
  p.tokens_per_s_per_user = costed ? eval.totals.tokens_per_s_per_user : 0.0;
  p.flops = cost.flops;
  p.bytes = cost.bytes;
  p.kv_bytes_per_token = kv_bytes_per_token(model, precision.kv_cache);
  p.kv_bytes_per_token_per_gpu = invalid.empty() ? cap.kv_bytes_per_token_per_gpu : 0.0;
  p.kv_capacity_tokens = invalid.empty() ? cap.kv_capacity_tokens() : 0;
  p.max_concurrency = conc;
  p.weight_bytes = weight_bytes_total(model, precision.weights);
  p.weight_bytes_per_gpu = invalid.empty() ? cap.weight_bytes_per_gpu : 0.0;
  for (const Provenance prov : kProvenances) p.time_share[static_cast<std::size_t>(prov)] = cost.share(prov);
  if (p.status == PointStatus::kOk) p.cost = eval.totals.cost;
  return p;
}

/// The same bits (NaN equal to itself).
bool same(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

/// Every field of two points, bit for bit; the first difference in `why`.
bool same_point(const SweepPoint& a, const SweepPoint& b, std::string& why) {
  const auto diff = [&why](const char* field) {
    why = field;
    return false;
  };
  if (std::tie(a.model, a.variant, a.hardware, a.tp_index, a.dp_index, a.batch_index, a.context_index,
               a.s_q_index, a.tp, a.dp_attention, a.batch, a.batch_is_max, a.context, a.s_q, a.attention,
               a.status, a.invalid_reason, a.kv_capacity_tokens, a.max_concurrency, a.attention_bound) !=
      std::tie(b.model, b.variant, b.hardware, b.tp_index, b.dp_index, b.batch_index, b.context_index,
               b.s_q_index, b.tp, b.dp_attention, b.batch, b.batch_is_max, b.context, b.s_q, b.attention,
               b.status, b.invalid_reason, b.kv_capacity_tokens, b.max_concurrency, b.attention_bound)) {
    return diff("position, batch, status or capacity");
  }
  const std::pair<const char*, std::pair<double, double>> doubles[] = {
      {"step_time_s", {a.step_time_s, b.step_time_s}},
      {"attention_s", {a.attention_s, b.attention_s}},
      {"gemm_s", {a.gemm_s, b.gemm_s}},
      {"communication_s", {a.communication_s, b.communication_s}},
      {"other_s", {a.other_s, b.other_s}},
      {"tokens_per_s", {a.tokens_per_s, b.tokens_per_s}},
      {"tokens_per_s_per_gpu", {a.tokens_per_s_per_gpu, b.tokens_per_s_per_gpu}},
      {"tokens_per_s_per_user", {a.tokens_per_s_per_user, b.tokens_per_s_per_user}},
      {"flops", {a.flops, b.flops}},
      {"bytes", {a.bytes, b.bytes}},
      {"attention_flops", {a.attention_flops, b.attention_flops}},
      {"attention_bytes", {a.attention_bytes, b.attention_bytes}},
      {"kv_bytes_per_token", {a.kv_bytes_per_token, b.kv_bytes_per_token}},
      {"kv_bytes_per_token_per_gpu", {a.kv_bytes_per_token_per_gpu, b.kv_bytes_per_token_per_gpu}},
      {"weight_bytes", {a.weight_bytes, b.weight_bytes}},
      {"weight_bytes_per_gpu", {a.weight_bytes_per_gpu, b.weight_bytes_per_gpu}},
      {"time_share[0]", {a.time_share[0], b.time_share[0]}},
      {"time_share[1]", {a.time_share[1], b.time_share[1]}},
      {"time_share[2]", {a.time_share[2], b.time_share[2]}},
      {"time_share[3]", {a.time_share[3], b.time_share[3]}},
  };
  for (const auto& [field, v] : doubles) {
    if (!same(v.first, v.second)) return diff(field);
  }
  if (a.cost.has_value() != b.cost.has_value()) return diff("cost");
  if (a.cost && (a.cost->gpus != b.cost->gpus || !same(a.cost->usd_per_hour, b.cost->usd_per_hour) ||
                 !same(a.cost->usd_per_million_output_tokens, b.cost->usd_per_million_output_tokens) ||
                 !same(a.cost->usd_per_million_total_tokens, b.cost->usd_per_million_total_tokens))) {
    return diff("cost");
  }
  return true;
}

}  // namespace

TEST_CASE("run_sweep_points gives, bit for bit, the point evaluate_step gives alone, over random grids") {
  // Random grids over the cards (MHA, GQA, MLA, MoE, a sliding window), variants, GPUs, TP, DP-attention,
  // expert parallelism, two micro-batches, pipeline stages, MTP, fp8, s_q 2 and batch max; random points of
  // each, in random order (as a shard asks for them), each compared with the general evaluation.
  std::uint64_t state = 88172645463325252ULL;
  const auto next = [&state] {  // xorshift64
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  const auto pick = [&next](auto n) {
    return static_cast<std::size_t>(next() % static_cast<std::uint64_t>(n));
  };
  const char* models[] = {"llama-3-70b", "llama-3-8b",  "deepseek-v3", "deepseek-v2-lite",
                          "mistral-7b",  "qwen2.5-72b", "falcon-7b"};
  const char* variants[] = {"native", "gqa:8", "mqa", "mla:512/64", "mha", "gqa:4"};
  const char* gpus[] = {"h100-sxm", "h200", "a100-80gb", "b200", "mi300x", "h20", "l40s"};
  const std::int64_t contexts[] = {1, 7, 64, 65, 1000, 4096, 5000, 32768, 131072, 1000000};
  const int batches[] = {1, 2, 3, 16, 64, 100, 256, 512, 4096};
  int grids = 0, points = 0, mismatches = 0, mla = 0, moe = 0, at_max = 0;
  std::array<int, 4> by_status{};  // index: PointStatus
  for (int g = 0; g < 60; ++g) {
    SweepSpec spec;
    spec.name = "random";
    spec.models = {resolve_model(models[pick(std::size(models))])};
    if (next() % 3 == 0) spec.models.push_back(resolve_model(models[pick(std::size(models))]));
    spec.variants = {parse_variant(variants[pick(std::size(variants))])};
    if (next() % 2 == 0) spec.variants.push_back(parse_variant(variants[pick(std::size(variants))]));
    for (std::size_t i = 0, n = 1 + pick(3); i < n; ++i)
      spec.hardware.push_back(resolve_hw(gpus[pick(std::size(gpus))]));
    spec.tp = {1 << pick(4)};
    if (next() % 2 == 0) spec.tp.push_back(1 << pick(4));
    spec.dp_attention = next() % 2 == 0 ? std::vector<bool>{false, true} : std::vector<bool>{false};
    for (std::size_t i = 0, n = 1 + pick(4); i < n; ++i)
      spec.batch.push_back(batches[pick(std::size(batches))]);
    if (next() % 2 == 0) spec.batch.push_back(BatchChoice::max());
    for (std::size_t i = 0, n = 1 + pick(5); i < n; ++i)
      spec.context.push_back(contexts[pick(std::size(contexts))]);
    spec.s_q = next() % 3 == 0 ? std::vector<int>{1, 2} : std::vector<int>{1};
    if (next() % 3 == 0) {
      spec.precision.weights = Dtype::kFp8;
      spec.weights_given = true;
    }
    if (next() % 4 == 0) spec.precision.kv_cache = Dtype::kFp8;
    spec.expert_parallel = next() % 3 == 0;
    switch (pick(5)) {
      case 0:
        spec.layout.micro_batches = 2;
        break;
      case 1:
        spec.layout.pp = 2;
        break;
      case 2:
        spec.layout.fuse_allreduce = true;
        break;
      default:
        break;
    }
    if (next() % 4 == 0) {
      spec.mtp.depth = 1 + static_cast<int>(pick(2));
      spec.mtp.acceptance = {0.8};
    }
    spec.mla_mode = next() % 5 == 0 ? MlaMode::kNaive : MlaMode::kAuto;
    spec.device_mode = next() % 5 == 0 ? DeviceMode::kSpeedOfLight : DeviceMode::kDatasheet;
    spec.launch = next() % 4 == 0 ? LaunchMode::kEager : LaunchMode::kGraph;
    const std::size_t size = sweep_size(spec);
    std::vector<std::size_t> indices;
    for (std::size_t i = 0, n = std::min<std::size_t>(size, 40); i < n; ++i) indices.push_back(pick(size));
    std::vector<SweepPoint> got;
    try {
      got = run_sweep_points(spec, indices);
    } catch (const InputError&) {
      continue;  // a variant that does not apply to a model (the whole sweep fails)
    }
    ++grids;
    for (std::size_t k = 0; k < indices.size(); ++k) {
      const SweepPoint want = general_point(spec, indices[k]);
      std::string why;
      ++points;
      ++by_status[static_cast<std::size_t>(want.status)];
      if (want.status != PointStatus::kInvalid && want.attention == AttentionKind::kMla) ++mla;
      if (want.status != PointStatus::kInvalid && spec.models[want.model].ffn.is_moe()) ++moe;
      if (want.status != PointStatus::kInvalid && want.batch_is_max) ++at_max;
      if (!same_point(got[k], want, why)) {
        ++mismatches;
        UNSCOPED_INFO("grid " << g << " point " << indices[k] << ": " << why);
      }
    }
  }
  CHECK(grids >= 40);
  CHECK(points >= 1500);
  for (const int n : by_status) CHECK(n >= 20);  // every verdict, invalid points included
  CHECK(mla >= 100);
  CHECK(moe >= 100);
  CHECK(at_max >= 100);
  CHECK(mismatches == 0);
}
