#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "reports/serve_report.hpp"
#include "sim/config/serve_config.hpp"
#include "sim/csv.hpp"
#include "sim/error.hpp"
#include "sim/serving/lengths.hpp"
#include "sim/serving/serve.hpp"
#include "sim/serving/serve_sweep.hpp"
#include "sim/serving/workload_spec.hpp"
#include "tests/serve_fixtures/specs.hpp"
#include "tests/test_support.hpp"

using namespace mlasim;
namespace fs = std::filesystem;

namespace {
const fs::path kFixtures = fs::path(MLASIM_TEST_DATA_DIR) / "serve_fixtures";

std::string load_error(const std::string& text) {
  return mlasim::test::serve_load_error(text);
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
  for (const char* name : {"serve_llama3_8b_h100.yaml", "serve_deepseek_v3_h200.yaml",
                           "serve_deepseek_v3_gqa_h200.yaml", "serve_deepseek_v3_dp_attention_h200.yaml"}) {
    INFO(name);
    const ServeConfig cfg = load_serve_config(fs::path(MLASIM_SOURCE_DIR) / "configs" / name);
    CHECK(cfg.sweep.size() >= 4);
    CHECK(cfg.spec.workload.num_requests > 0);
  }
  const ServeConfig gqa =
      load_serve_config(fs::path(MLASIM_SOURCE_DIR) / "configs" / "serve_deepseek_v3_gqa_h200.yaml");
  CHECK(gqa.spec.model.attention.kind == AttentionKind::kGqa);
  CHECK(gqa.spec.variant == "gqa:8");
  CHECK_FALSE(gqa.spec.parallel.dp_attention);
  const ServeConfig dp =
      load_serve_config(fs::path(MLASIM_SOURCE_DIR) / "configs" / "serve_deepseek_v3_dp_attention_h200.yaml");
  CHECK(dp.spec.parallel.dp_attention);
  CHECK(dp.spec.parallel.tp == 8);
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

  const std::string rate =
      load_error(std::string(kGood).replace(std::string(kGood).find("10 req/s"), 8, "10"));
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
  priced.replace(priced.find("  hardware: h100-sxm\n"), 21,
                 "  hardware: h100-sxm\n  price_per_gpu_hour: 2.5 USD\n");
  const ServeConfig cfg = load_serve_config(dir.write("priced.yaml", priced));
  REQUIRE(cfg.spec.hardware.price_per_gpu_hour.has_value());
  CHECK(*cfg.spec.hardware.price_per_gpu_hour == 2.5);
  CHECK(*load_serve_config(dir.write("plain.yaml", kGood)).spec.hardware.price_per_gpu_hour ==
        4.916);  // profile
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

// ---- Issue 14: serving inputs read by name through the one CSV reader; bounded counts and clock ----

namespace {
const fs::path kReliability = fs::path(MLASIM_TEST_DATA_DIR) / "reliability";

/// The InputError message of `f()`, or "no error".
template <class F>
std::string input_error(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
}  // namespace

TEST_CASE("CSV: quoted cells hold commas, doubled quotes and line breaks; CRLF; cells located by column") {
  const CsvFile csv = CsvFile::parse("name,note,n\r\n\"a,b\",\"say \"\"hi\"\"\",1\r\nc,\"two\nlines\",2\r\n",
                                     "t.csv", {"name", "n"}, "test CSV");
  REQUIRE(csv.rows().size() == 2);
  CHECK(csv.rows()[0].text(0) == "a,b");
  CHECK(csv.rows()[0].text(1) == "say \"hi\"");
  CHECK(csv.rows()[0].integer(2) == 1);
  CHECK(csv.rows()[1].text(1) == "two\nlines");
  CHECK(csv.rows()[1].line() == 3);
  CHECK(csv.rows()[1].integer(csv.column("n")) == 2);
  const std::string bad = input_error([] {
    const CsvFile f = CsvFile::parse("a,b\n1,\"x\"\n2,zz\n", "t.csv", {"a", "b"}, "test CSV");
    (void)f.rows()[1].integer(1);
  });
  CHECK(contains(bad, "t.csv:3:3: error: b: 'zz' is not an integer"));
  CHECK(contains(input_error([] { (void)CsvFile::parse("a,b\n\"1,2\n", "t.csv", {}, "test CSV"); }),
                 "t.csv:2:1: error: unterminated quoted cell"));
  CHECK(contains(input_error([] { (void)CsvFile::parse("a,a\n1,2\n", "t.csv", {}, "test CSV"); }),
                 "t.csv:1:3: error: a: column 'a' appears twice"));
}

TEST_CASE("CSV: a torn last line (no line break, too few cells or an open quote) is dropped, as before") {
  const CsvFile a = CsvFile::parse("a,b\n1,2\n3", "t.csv", {}, "test CSV");
  CHECK(a.rows().size() == 1);
  CHECK(a.truncated_last_line());
  const CsvFile b = CsvFile::parse("a,b\n1,2\n3,\"x", "t.csv", {}, "test CSV");
  CHECK(b.rows().size() == 1);
  CHECK(b.truncated_last_line());
  const LengthSpec h = load_length_histogram(kReliability / "CSV_hist_torn_last_line.csv");
  CHECK(h.bins.size() == 3);
  CHECK(h.bins[1].first == 1000);
}

TEST_CASE("a trace is read by column name: any order, quoted cells, CRLF and comment lines") {
  const auto ok = load_trace(kFixtures / "trace_ok.csv");
  const auto mis = load_trace(kFixtures / "trace_misordered.csv");
  REQUIRE(mis.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(mis[i].arrival_ps == ok[i].arrival_ps);
    CHECK(mis[i].prompt_tokens == ok[i].prompt_tokens);
    CHECK(mis[i].output_tokens == ok[i].output_tokens);
  }
  const auto quoted = load_trace(kFixtures / "trace_quoted_crlf.csv");
  REQUIRE(quoted.size() == 2);
  CHECK(quoted[0].prompt_tokens == 128);
  CHECK(quoted[1].arrival_ps == kPsPerSecond / 2);
  CHECK(quoted[1].output_tokens == 1);
}

TEST_CASE(
    "Azure LLM inference traces: TIMESTAMP,ContextTokens,GeneratedTokens, arrivals since the first row") {
  const auto t = load_trace(kFixtures / "trace_azure.csv");
  REQUIRE(t.size() == 3);
  CHECK(t[0].arrival_ps == 0);
  CHECK(t[1].arrival_ps == 4'314'579'000'000);  // 18:15:50.9951690 - 18:15:46.6805900
  CHECK(t[2].arrival_ps == 4'446'986'000'000);
  CHECK(t[2].prompt_tokens == 879);
  CHECK(t[2].output_tokens == 143);
  const mlasim::test::ScratchDir dir("mlasim_test_azure");
  const std::string bad = input_error([&] {
    (void)load_trace(dir.write("a.csv",
                               "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,1,1\n"
                               "2023-13-16 18:15:47,1,1\n"));
  });
  CHECK(contains(bad, "a.csv:3:1: error: TIMESTAMP: '2023-13-16 18:15:47' is not a date and time"));
  const std::string before = input_error([&] {
    (void)load_trace(dir.write("b.csv",
                               "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,1,1\n"
                               "2023-11-16 18:15:45.5,1,1\n"));
  });
  CHECK(contains(before, "b.csv:3:1: error: TIMESTAMP:"));
  // 200 days after the first row: beyond the 64-bit picosecond clock.
  const std::string late = input_error([&] {
    (void)load_trace(dir.write("c.csv",
                               "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-01-01 00:00:00,1,1\n"
                               "2023-07-20 00:00:00,1,1\n"));
  });
  CHECK(contains(late,
                 "c.csv:3:1: error: TIMESTAMP: 2023-07-20 00:00:00 is beyond the 64-bit picosecond clock"));
}

TEST_CASE(
    "Vidur traces: arrived_at,num_prefill_tokens,num_decode_tokens; without arrived_at one per second") {
  const auto t = load_trace(kFixtures / "trace_vidur.csv");
  REQUIRE(t.size() == 3);
  CHECK(t[1].arrival_ps == kPsPerSecond / 4);
  CHECK(t[1].prompt_tokens == 1024);
  CHECK(t[2].output_tokens == 30);
  const auto n = load_trace(kFixtures / "trace_vidur_no_arrival.csv");
  REQUIRE(n.size() == 3);
  CHECK(n[2].arrival_ps == 2 * kPsPerSecond);
  CHECK(n[2].prompt_tokens == 300);
}

TEST_CASE("a trace's missing or unknown column is a located error naming the header line") {
  const mlasim::test::ScratchDir dir("mlasim_test_trace_header");
  const std::string missing = input_error(
      [&] { (void)load_trace(dir.write("m.csv", "# lead\narrival_time_s,prompt_tokens\n0,1\n")); });
  CHECK(contains(missing,
                 "m.csv:2:1: error: output_tokens: the header lacks column 'output_tokens' (a mlasim "
                 "trace has the columns arrival_time_s,prompt_tokens,output_tokens)"));
  const std::string unknown = input_error([&] {
    (void)load_trace(dir.write("u.csv", "arrival_time_s,prompt_tokens,output_tokens,priority\n0,1,1,2\n"));
  });
  CHECK(contains(unknown, "u.csv:1:44: error: priority: unknown column 'priority' in a mlasim trace"));
  const std::string none =
      input_error([&] { (void)load_trace(dir.write("n.csv", "time,input,output\n0,1,1\n")); });
  CHECK(contains(none, "n.csv:1:1: error: the header names no known trace format"));
  CHECK(contains(none, "TIMESTAMP,ContextTokens,GeneratedTokens"));
  CHECK(contains(none, "[arrived_at],num_prefill_tokens,num_decode_tokens"));
  // A file without a header is read as ours, by position.
  const auto plain = load_trace(dir.write("p.csv", "0,10,2\n1.5,20,3\n"));
  REQUIRE(plain.size() == 2);
  CHECK(plain[1].prompt_tokens == 20);
}

TEST_CASE("M3: token counts above 2^50 in a trace or a histogram are located errors, not overflow") {
  const std::string trace =
      input_error([] { (void)load_serve_config(kReliability / "M3_serve_trace_tokens.yaml"); });
  CHECK(contains(trace,
                 "M3_trace_tokens_int64_max.csv:2:3: error: prompt_tokens: 9223372036854775807 is above "
                 "the limit of 2^50 tokens"));
  const std::string hist =
      input_error([] { (void)load_serve_config(kReliability / "M3_serve_hist_tokens.yaml"); });
  CHECK(contains(hist,
                 "M3_hist_tokens_int64_max.csv:2:1: error: tokens: 9223372036854775807 is above the limit"));
  const mlasim::test::ScratchDir dir("mlasim_test_trace_huge");
  CHECK(contains(input_error([&] {
                   (void)load_trace(dir.write(
                       "h.csv", "arrival_time_s,prompt_tokens,output_tokens\n0,1,99999999999999999999\n"));
                 }),
                 "h.csv:2:5: error: output_tokens: 99999999999999999999 is above the limit of 2^50 tokens"));
}

TEST_CASE("M3: a request built with huge token counts is rejected by the replica, without overflow") {
  ServeConfig cfg = load_serve_config(kFixtures / "serve_trace.yaml");
  cfg.spec.workload.trace = {TraceRequest{0, std::numeric_limits<std::int64_t>::max(), 1},
                             TraceRequest{0, 10, std::numeric_limits<std::int64_t>::max()},
                             TraceRequest{0, 10, 10}};
  cfg.spec.workload.num_requests = 3;
  const ServeResult r = run_serve(cfg.spec);
  CHECK(r.summary.rejected == 2);
  CHECK(r.summary.completed == 1);
}

TEST_CASE("M3: Poisson arrivals at a very low rate stop at the clock's end and say how many never arrived") {
  const ServeConfig cfg = load_serve_config(kReliability / "M3_poisson_rate_1e-6.yaml");
  const ServeResult r = run_serve(cfg.spec);
  CHECK(r.summary.arrivals_beyond_clock);
  CHECK(r.summary.not_arrived > 0);
  CHECK(r.summary.arrived + r.summary.not_arrived == 20);
  CHECK(r.summary.completed == r.summary.arrived);
  bool warned = false;
  for (const std::string& w : serve_warnings(r.summary)) warned = warned || contains(w, "never arrived");
  CHECK(warned);
}

TEST_CASE("M4: a trace arrival beyond the clock and a Poisson rate of 1e-9 are located input errors") {
  CHECK(contains(input_error([] { (void)load_serve_config(kReliability / "M4_serve_trace_late.yaml"); }),
                 "M4_trace_late.csv:2:1: error: arrival_time_s: arrival time 10000000 s is beyond the 64-bit "
                 "picosecond clock"));
  const std::string rate =
      input_error([] { (void)load_serve_config(kReliability / "M4_poisson_rate_1e-9.yaml"); });
  CHECK(contains(rate, "M4_poisson_rate_1e-9.yaml:4:"));
  CHECK(contains(rate, "serve.workload.rate: 1e-09 req/s puts the mean gap between arrivals"));
  const std::string grid = load_error(R"(serve:
  model: llama-3-8b
  hardware: h100-sxm
  workload: {arrival: poisson, rate: 1 req/s, requests: 20}
  sweep: {rate: [1 req/s, 1e-9 req/s]}
)");
  CHECK(contains(grid, ":5:"));
  CHECK(contains(grid, "beyond the 64-bit picosecond clock"));
}

TEST_CASE("M4: a step time the clock cannot hold is an input error naming the model and hardware") {
  ServeConfig cfg = load_serve_config(kFixtures / "serve_trace.yaml");
  cfg.spec.hardware.hbm_bandwidth_bytes_per_s = 1e-300;
  for (auto& [dtype, flops] : cfg.spec.hardware.peak_flops_per_s) flops = 1e-300;
  const std::string what = input_error([&] { (void)run_serve(cfg.spec); });
  CHECK(contains(what, "serve_trace.yaml: error: one step of model Llama-3-8B on hardware H100 SXM takes"));
  CHECK(contains(what, "64-bit picosecond clock cannot hold"));
  // The fuzzer's whole-file case (a profile this slow may also be refused when the profile loads).
  CHECK(contains(input_error([] {
                   const ServeConfig c = load_serve_config(kReliability / "M4_serve_tiny_gpu.yaml");
                   (void)run_serve(c.spec);
                 }),
                 "error:"));
}

TEST_CASE("M2: a 1 ps time-series interval stores only the active intervals") {
  ServeConfig cfg = load_serve_config(kReliability / "M2_serve_timeseries_1ps.yaml");
  cfg.spec.workload.num_requests = 5;
  const ServeResult r = run_serve(cfg.spec);
  std::size_t buckets = 0;
  for (const auto& replica : r.buckets) buckets += replica.size();
  CHECK(buckets == static_cast<std::size_t>(r.summary.steps));
  CHECK(timeseries_table(r).rows().size() == static_cast<std::size_t>(r.summary.steps));
  CHECK_FALSE(serve_timeline_charts(r).empty());
}

TEST_CASE("a long run's timeline charts merge intervals into at most ~2000 points") {
  // Found by the long serve fuzz run: 20 requests of 225,656 output tokens run 322,869 simulated seconds;
  // at 1 s intervals the chart drew a 71 MB SVG, which the report then refused to read (mlasim serve exit 2).
  ServeResult r;
  r.timeseries_interval_ps = kPsPerSecond;
  r.buckets.resize(1);
  for (std::int64_t k = 0; k < 10000; ++k) {
    TimeBucket b;
    b.interval = k;
    b.steps = 1;
    b.busy_ps = kPsPerSecond;
    b.batch_sum = k;
    b.waiting_last = k;
    b.kv_used_weighted = 0.5 * static_cast<double>(kPsPerSecond);
    b.kv_used_max = static_cast<double>(k) / 10000.0;
    r.buckets[0].push_back(b);
  }
  const std::vector<LineChart> charts = serve_timeline_charts(r);
  REQUIRE(charts.size() == 2);
  // 10,000 intervals in points of ceil(10000 / 2000) = 5 intervals, 5 s each.
  REQUIRE(charts[0].x_values.size() == 2000);
  CHECK(charts[0].x_values[0] == Approx(2.5));
  CHECK(charts[0].x_values[1999] == Approx(9997.5));
  CHECK(contains(charts[0].x.label, "a point per 5"));
  // Point g covers intervals 5g .. 5g + 4: mean batch (5g + 5g+1 + ... + 5g+4) / 5 = 5g + 2; the waiting
  // count at its last step 5g + 4; KV mean 50%, max (5g + 4) / 10000.
  CHECK(charts[0].series[0].y[0] == Approx(2.0));
  CHECK(charts[0].series[0].y[1999] == Approx(9997.0));
  CHECK(charts[0].series[1].y[7] == Approx(39.0));
  CHECK(charts[1].series[0].y[3] == Approx(50.0));
  CHECK(charts[1].series[1].y[1999] == Approx(99.99));
  // A short run keeps a point per interval (x at the interval's middle).
  r.buckets[0].resize(300);
  const std::vector<LineChart> short_run = serve_timeline_charts(r);
  REQUIRE(short_run[0].x_values.size() == 300);
  CHECK(short_run[0].x_values[299] == Approx(299.5));
  CHECK(short_run[0].series[0].y[299] == Approx(299.0));
  CHECK(short_run[0].x.label == "time (s)");
}

TEST_CASE("M2: replicas, concurrency and requests have sane limits, located") {
  CHECK(contains(
      input_error([] { (void)load_serve_config(kReliability / "M2_serve_replicas_1e7.yaml"); }),
      "M2_serve_replicas_1e7.yaml:4:13: error: serve.replicas: 10000000 is above the limit of 4096"));
  CHECK(contains(load_error(R"(serve:
  model: llama-3-8b
  hardware: h100-sxm
  workload: {arrival: closed_loop, concurrency: 10M, requests: 20}
)"),
                 "serve.workload.concurrency: 10485760 is above the limit of 1000000"));
  CHECK(contains(load_error(R"(serve:
  model: llama-3-8b
  hardware: h100-sxm
  workload: {arrival: poisson, rate: 1 req/s, requests: 8192M}
)"),
                 "serve.workload.requests: 8589934592 requests is above the limit of 100000000"));
}

TEST_CASE("L5: a normal length with a huge stddev is a located range error, not an undefined cast") {
  const std::string what =
      input_error([] { (void)load_serve_config(kReliability / "L5_normal_huge_stddev.yaml"); });
  CHECK(contains(what, "L5_normal_huge_stddev.yaml:8:"));
  CHECK(contains(what, "mean + 6 stddev = 6e+300 tokens is beyond the limit of 2^50 tokens"));
  CHECK(contains(load_error(R"(serve:
  model: llama-3-8b
  hardware: h100-sxm
  workload: {arrival: poisson, rate: 1 req/s, requests: 20, prompt_tokens: {distribution: lognormal, median: 100, sigma: 100}}
)"),
                 "median × e^(6 sigma)"));
  // An explicit max makes the default clip irrelevant.
  CHECK(load_error(R"(serve:
  model: llama-3-8b
  hardware: h100-sxm
  workload: {arrival: poisson, rate: 1 req/s, requests: 20, prompt_tokens: {distribution: normal, mean: 100, stddev: 1e300, max: 4096}}
)") == "no error");
}

TEST_CASE("L9: a run cut by max_time reports the configured requests that never arrived") {
  const ServeConfig cfg = load_serve_config(kReliability / "L9_max_time_cut.yaml");
  const ServeResult r = run_serve(cfg.spec);
  CHECK(r.summary.stop_reason == "time_limit");
  CHECK_FALSE(r.summary.arrivals_beyond_clock);
  CHECK(r.summary.not_arrived > 0);
  CHECK(r.summary.not_arrived + r.summary.arrived == 20);
  bool warned = false;
  for (const std::string& w : serve_warnings(r.summary))
    warned = warned || contains(w, "configured requests never arrived: the run stopped first (time_limit)");
  CHECK(warned);
}

TEST_CASE("a serve config's layout and MTP keys read back; absent, TP alone and MTP off") {
  const mlasim::test::ScratchDir dir("mlasim_test_serve_layout");
  const fs::path p = dir.write("serve.yaml", R"(serve:
  model: deepseek-v3
  hardware: h200
  tp: 8
  dp_attention: true
  expert_parallel: true
  redundant_experts: 32
  expert_imbalance: 1.3
  micro_batches: 2
  mtp: {depth: 2, acceptance: [0.9, 0.75]}
  precision: {weights: fp8}
  workload:
    arrival: closed_loop
    concurrency: 4
    requests: 8
)");
  const ServeSpec s = load_serve_config(p).spec;
  CHECK(s.parallel.tp == 8);
  CHECK(s.parallel.dp_attention);
  CHECK(s.parallel.ep == 8);  // expert_parallel: every GPU of the replica an expert rank
  CHECK(s.parallel.redundant_experts == 32);
  CHECK(s.parallel.expert_imbalance == 1.3);
  CHECK(s.parallel.micro_batches == 2);
  CHECK(s.mtp.depth == 2);
  CHECK(s.mtp.acceptance == std::vector<double>{0.9, 0.75});

  const ServeSpec plain = load_serve_config(dir.write("plain.yaml", kGood)).spec;
  CHECK(plain.parallel.tp == 1);
  CHECK(plain.parallel.ep == 1);
  CHECK(plain.parallel.micro_batches == 1);
  CHECK(plain.parallel.redundant_experts == 0);
  CHECK_FALSE(plain.mtp.enabled());
}

TEST_CASE("a serve config's bad layout and MTP values are located at their key") {
  // kGood's lines 1-7; the added key is line 8 (columns from 1).
  const auto with = [](const std::string& line) { return load_error(std::string(kGood) + line); };
  CHECK_THAT(with("  micro_batches: 2.5\n"), Catch::Contains(":8:18: error: serve.micro_batches:"));
  CHECK_THAT(with("  micro_batches: 4\n"),
             Catch::EndsWith(":8:18: error: serve.micro_batches: must be 1 or 2, got 4"));
  CHECK_THAT(with("  redundant_experts: 16\n"),
             Catch::EndsWith(":8:22: error: serve.redundant_experts: needs expert parallelism (ep > 1): "
                             "copies of experts live on expert ranks"));
  CHECK_THAT(with("  mtp: {depth: 1, acceptance: -0.1}\n"),
             Catch::EndsWith(":8:31: error: serve.mtp.acceptance: each rate must be in [0, 1], got -0.1"));
  CHECK_THAT(with("  mtp: {depth: 17, acceptance: 0.5}\n"),
             Catch::EndsWith(":8:16: error: serve.mtp.depth: must be 0 to 16 draft tokens, got 17"));
  CHECK_THAT(with("  mtp: {dept: 1, acceptance: 0.5}\n"), Catch::Contains("did you mean `depth`"));
  // Llama-3-8B has no experts: expert parallelism is an error at the key (at tp 1 it would be EP 1).
  CHECK_THAT(with("  tp: 2\n  expert_parallel: true\n"),
             Catch::EndsWith(":9:20: error: serve.expert_parallel: Llama-3-8B has no experts: expert "
                             "parallelism (ep 2) needs an MoE model"));
}

TEST_CASE("a serve config's pp and fuse_allreduce reach the run: GPUs are tp x pp per replica") {
  const mlasim::test::ScratchDir dir("mlasim_test_serve_pp");
  const fs::path p = dir.write("serve.yaml", R"(serve:
  model: llama-3-70b
  hardware: h100-sxm
  tp: 4
  pp: 2
  fuse_allreduce: true
  replicas: 2
  workload:
    arrival: closed_loop
    concurrency: 8
    requests: 32
    prompt_tokens: 512
    output_tokens: 16
)");
  const ServeSpec s = load_serve_config(p).spec;
  CHECK(s.parallel.pp == 2);
  CHECK(s.parallel.fuse_allreduce);
  const ServeResult r = run_serve(s);
  CHECK(r.summary.completed == 32);
  CHECK(r.summary.gpus == 16);  // 2 replicas × 4 × 2
  // pp 0 is located at its key.
  const auto with = [](const std::string& line) { return load_error(std::string(kGood) + line); };
  CHECK_THAT(with("  pp: 0\n"), Catch::EndsWith(":8:7: error: serve.pp: must be 1 to 1024 stages, got 0"));
}
