#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "reports/serve_report.hpp"
#include "sim/config/serve_config.hpp"
#include "sim/error.hpp"
#include "sim/serving/lengths.hpp"
#include "sim/serving/serve.hpp"
#include "sim/serving/serve_sweep.hpp"
#include "sim/serving/workload_spec.hpp"
#include "tests/test_support.hpp"

using namespace mlasim;
namespace fs = std::filesystem;

namespace {
const fs::path kFixtures = fs::path(MLASIM_TEST_DATA_DIR) / "serve_fixtures";

/// Writes `text` to a temporary YAML file and returns the InputError message of loading it.
std::string load_error(const std::string& text) {
  const mlasim::test::ScratchDir dir("mlasim_test_serve_config");
  const fs::path p = dir.write("serve.yaml", text);
  try {
    (void)load_serve_config(p);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

const char* kGood = R"(serve:
  model: llama-3-8b
  hardware: h100-sxm
  workload:
    arrival: poisson
    rate: 10 req/s
    requests: 100
)";
}  // namespace

TEST_CASE("the example serve configs load") {
  for (const char* name : {"serve_llama3_8b_h100.yaml", "serve_deepseek_v3_h200.yaml", "serve_deepseek_v3_gqa_h200.yaml",
                           "serve_deepseek_v3_dp_attention_h200.yaml"}) {
    INFO(name);
    const ServeConfig cfg = load_serve_config(fs::path(MLASIM_SOURCE_DIR) / "configs" / name);
    CHECK(cfg.sweep.size() >= 4);
    CHECK(cfg.spec.workload.num_requests > 0);
  }
  const ServeConfig gqa = load_serve_config(fs::path(MLASIM_SOURCE_DIR) / "configs" / "serve_deepseek_v3_gqa_h200.yaml");
  CHECK(gqa.spec.model.attention.kind == AttentionKind::kGqa);
  CHECK(gqa.spec.variant == "gqa:8");
  CHECK_FALSE(gqa.spec.dp_attention);
  const ServeConfig dp =
      load_serve_config(fs::path(MLASIM_SOURCE_DIR) / "configs" / "serve_deepseek_v3_dp_attention_h200.yaml");
  CHECK(dp.spec.dp_attention);
  CHECK(dp.spec.tp == 8);
}

TEST_CASE("a good minimal config loads with vLLM's defaults") {
  CHECK(load_error(kGood) == "no error");
}

TEST_CASE("serve config errors are located and suggest the right key") {
  std::string bad = kGood;
  bad += "  schedular: {max_num_seqs: 8}\n";
  const std::string e = load_error(bad);
  CHECK(e.find(":8:3:") != std::string::npos);
  CHECK(e.find("scheduler") != std::string::npos);

  const std::string rate = load_error(std::string(kGood).replace(std::string(kGood).find("10 req/s"), 8, "10"));
  CHECK(rate.find(":6:11:") != std::string::npos);

  std::string arrival = kGood;
  arrival.replace(arrival.find("poisson"), 7, "poison");
  CHECK(load_error(arrival).find("poisson") != std::string::npos);

  std::string dist = kGood;
  dist += "    prompt_tokens: {distribution: uniform, min: 10}\n";
  CHECK(load_error(dist).find("max") != std::string::npos);

  std::string sweep = kGood;
  sweep += "  sweep: {concurrency: 1..8 x2}\n";
  CHECK(load_error(sweep).find("closed_loop") != std::string::npos);
}

TEST_CASE("rate grids: a rate, a geometric or an arithmetic range, with units") {
  CHECK(parse_rate_grid("10 req/s") == std::vector<double>{10.0});
  CHECK(parse_rate_grid("1..8 x2 req/s") == std::vector<double>{1, 2, 4, 8});
  CHECK(parse_rate_grid("5..15 +5 req/s") == std::vector<double>{5, 10, 15});
  CHECK_THROWS_AS(parse_rate_grid("10"), InputError);
  CHECK_THROWS_AS(parse_rate_grid("1..8 req/s"), InputError);
}

TEST_CASE("trace rows with errors name the file and line") {
  try {
    (void)load_trace(kFixtures / "trace_bad.csv");
    FAIL("expected an error");
  } catch (const InputError& e) {
    const std::string what = e.what();
    CHECK(what.find("trace_bad.csv:3:5") != std::string::npos);
    CHECK(what.find("prompt_tokens") != std::string::npos);
  }
  const auto trace = load_trace(kFixtures / "trace_ok.csv");
  REQUIRE(trace.size() == 5);
  CHECK(trace[3].prompt_tokens == 2048);
  CHECK(trace[4].arrival_ps == 1'250'000'000'000);
}

TEST_CASE("a trace replays every request with its own lengths and arrival times") {
  const ServeConfig cfg = load_serve_config(kFixtures / "serve_trace.yaml");
  const ServeResult r = run_serve(cfg.spec);
  CHECK(r.summary.completed == 5);
  CHECK(r.summary.output_tokens == 16 + 32 + 1 + 64 + 100);
  CHECK(r.requests_csv.find(",1.25,") != std::string::npos);
}

TEST_CASE("length distributions stay within their bounds and are seeded") {
  LengthSpec uni;
  uni.kind = LengthSpec::Kind::kUniform;
  uni.min = 10;
  uni.max = 20;
  LengthSpec logn;
  logn.kind = LengthSpec::Kind::kLognormal;
  logn.median = 500;
  logn.sigma = 1.0;
  logn.min = 5;
  logn.max = 4000;
  LengthSpec norm;
  norm.kind = LengthSpec::Kind::kNormal;
  norm.mean = 100;
  norm.stddev = 80;
  norm.min = 1;
  norm.max = 300;
  const LengthSpec hist = load_length_histogram(kFixtures / "lengths.csv");
  Rng a(5), b(5);
  double hist_long = 0;
  for (int i = 0; i < 20000; ++i) {
    for (const LengthSpec* s : std::initializer_list<const LengthSpec*>{&uni, &logn, &norm, &hist}) {
      const auto x = draw_length(*s, a);
      CHECK(x == draw_length(*s, b));
      if (s == &hist) {
        CHECK((x == 100 || x == 1000));
        hist_long += x == 1000 ? 1 : 0;
      } else {
        CHECK(x >= s->min);
        CHECK(x <= s->max);
      }
    }
  }
  CHECK(hist_long / 20000 == Approx(0.75).epsilon(0.03));
}

TEST_CASE("a rate sweep gives one row per rate and throughput grows with load") {
  ServeConfig cfg = load_serve_config(fs::path(MLASIM_SOURCE_DIR) / "configs" / "serve_llama3_8b_h100.yaml");
  cfg.spec.workload.num_requests = 500;
  cfg.sweep.rates_per_s = {2.0, 8.0};
  const auto rows = run_serve_sweep(cfg);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].rate_per_s == 2.0);
  CHECK(rows[1].output_tokens_per_s > rows[0].output_tokens_per_s);
  CHECK(throughput_latency_table(rows).rows().size() == 2);
}
