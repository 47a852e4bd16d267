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

TEST_CASE("percentile SLOs load beside per-request thresholds, in a fixed order") {
  const mlasim::test::ScratchDir dir("mlasim_test_serve_slo");
  std::string text = kGood;
  text +=
      "  slo:\n"
      "    e2e: {p50: 30 s}\n"
      "    ttft: {p99: 2 s, p50: 500 ms, per_request: 1 s}\n"
      "    tpot: 50 ms\n"
      "    itl: {p90: 40 ms}\n";
  const ServeConfig cfg = load_serve_config(dir.write("serve.yaml", text));
  const SloSpec& slo = cfg.spec.slo;
  CHECK(slo.ttft_ps == kPsPerSecond);
  CHECK(slo.tpot_ps == kPsPerSecond / 20);
  CHECK(slo.e2e_ps == 0);
  REQUIRE(slo.percentiles.size() == 4);
  CHECK(slo.percentiles[0].name() == "ttft_p50");
  CHECK(slo.percentiles[0].target_ps == kPsPerSecond / 2);
  CHECK(slo.percentiles[1].name() == "ttft_p99");
  CHECK(slo.percentiles[2].name() == "itl_p90");
  CHECK(slo.percentiles[3].name() == "e2e_p50");
  CHECK(slo.percentiles[3].target_ps == 30 * kPsPerSecond);
}

TEST_CASE("measure, scheduler policy and ramp load; their defaults") {
  const mlasim::test::ScratchDir dir("mlasim_test_serve_measure");
  const ServeConfig plain = load_serve_config(dir.write("plain.yaml", kGood));
  CHECK(plain.spec.measure.warmup.fraction == 0.1);
  CHECK(plain.spec.measure.drain.fraction == 0.1);
  CHECK(plain.spec.measure.overload_tolerance == 0.05);
  CHECK(plain.spec.scheduler.policy == SchedulerPolicy::kVllm);

  const std::string text = R"(serve:
  model: llama-3-8b
  hardware: h100-sxm
  scheduler: {policy: no_evict}
  measure: {warmup: 5%, drain: 50, overload_tolerance: 2%}
  workload:
    arrival: closed_loop
    concurrency: 64
    ramp: 10 s
    requests: 1000
)";
  const ServeConfig cfg = load_serve_config(dir.write("serve.yaml", text));
  CHECK(cfg.spec.scheduler.policy == SchedulerPolicy::kNoEvict);
  CHECK(cfg.spec.measure.warmup.fraction == 0.05);
  CHECK(cfg.spec.measure.drain.count == 50);
  CHECK(cfg.spec.measure.overload_tolerance == 0.02);
  CHECK(cfg.spec.workload.ramp_ps == 10 * kPsPerSecond);
  const RequestWindow w = measurement_window(cfg.spec.measure, 1000);
  CHECK(w.first == 50);
  CHECK(w.end == 950);
}

TEST_CASE("bad SLO, measure, policy and ramp keys are located errors with suggestions") {
  // kGood has 7 lines; the added block starts on line 8.
  const auto with = [](const std::string& extra) { return load_error(std::string(kGood) + extra); };

  std::string e = with("  slo: {ttft: {p999: 2 s}}\n");
  CHECK(e.find(":8:16:") != std::string::npos);
  CHECK(e.find("did you mean `p99`") != std::string::npos);

  e = with("  slo: {itl: 50 ms}\n");
  CHECK(e.find(":8:14:") != std::string::npos);
  CHECK(e.find("needs a percentile") != std::string::npos);

  e = with("  slo: {tpot: {p90: 50}}\n");  // a bare number where a time is required
  CHECK(e.find(":8:21:") != std::string::npos);
  CHECK(e.find("slo.tpot.p90") != std::string::npos);

  e = with("  slo: {ttft: {}}\n");
  CHECK(e.find("at least one of") != std::string::npos);

  e = with("  slo: {ttfb: 2 s}\n");
  CHECK(e.find("did you mean `ttft`") != std::string::npos);

  e = with("  measure: {warmpu: 10%}\n");
  CHECK(e.find(":8:13:") != std::string::npos);
  CHECK(e.find("did you mean `warmup`") != std::string::npos);

  e = with("  measure: {warmup: 60%, drain: 50%}\n");
  CHECK(e.find(":8:12:") != std::string::npos);
  CHECK(e.find("leave none of the 100 requests") != std::string::npos);

  e = with("  measure: {warmup: ten}\n");
  CHECK(e.find(":8:21:") != std::string::npos);
  CHECK(e.find("such as `10%`") != std::string::npos);

  e = with("  measure: {drain: 100%}\n");
  CHECK(e.find("[0%, 100%)") != std::string::npos);

  e = with("  measure: {overload_tolerance: 5}\n");
  CHECK(e.find("between 0 and 1") != std::string::npos);

  e = with("  scheduler: {policy: no_evic}\n");
  CHECK(e.find(":8:23:") != std::string::npos);
  CHECK(e.find("did you mean `no_evict`") != std::string::npos);

  e = with("    ramp: 10 s\n");  // under workload, with Poisson arrivals
  CHECK(e.find(":8:11:") != std::string::npos);
  CHECK(e.find("closed loop") != std::string::npos);
}

TEST_CASE("the DeepSeek-V3 example config carries percentile SLOs") {
  const ServeConfig cfg =
      load_serve_config(fs::path(MLASIM_SOURCE_DIR) / "configs" / "serve_deepseek_v3_h200.yaml");
  CHECK(cfg.spec.slo.percentiles.size() >= 2);
  CHECK(cfg.spec.workload.ramp_ps > 0);
}

TEST_CASE("a serve config may price its GPUs, overriding the profile; bad prices are located") {
  const mlasim::test::ScratchDir dir("mlasim_test_serve_price");
  std::string priced = kGood;
  priced.replace(priced.find("  hardware: h100-sxm\n"), 21, "  hardware: h100-sxm\n  price_per_gpu_hour: 2.5 USD\n");
  const ServeConfig cfg = load_serve_config(dir.write("priced.yaml", priced));
  REQUIRE(cfg.spec.hardware.price_per_gpu_hour.has_value());
  CHECK(*cfg.spec.hardware.price_per_gpu_hour == 2.5);
  CHECK(*load_serve_config(dir.write("plain.yaml", kGood)).spec.hardware.price_per_gpu_hour == 4.916);  // profile
  std::string bad = priced;
  bad.replace(bad.find("2.5 USD"), 7, "2.5");
  const std::string e = load_error(bad);
  CHECK(e.find(":4:23:") != std::string::npos);
  CHECK(e.find("2.5 USD") != std::string::npos);
  // 2 replicas × 1 GPU at 2.5 USD: 5 USD per hour, whatever the throughput.
  ServeSpec spec = cfg.spec;
  spec.replicas = 2;
  spec.workload.num_requests = 200;
  const ServeSummary s = run_serve(spec).summary;
  CHECK(s.usd_per_hour == Approx(5.0));
  CHECK(s.usd_per_million_output_tokens == Approx(5.0 / (s.output_tokens_per_s * 3600.0) * 1e6));
}
