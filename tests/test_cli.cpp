// The mlasim command end to end: output shapes, exit codes, and that nothing is written on failure.
#include <fmt/format.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>

#include "sim/csv.hpp"
#include "tests/cli_runner.hpp"
#include "tests/test_support.hpp"

namespace fs = std::filesystem;

namespace {

using mlasim::test::Run;
using mlasim::test::slurp;

/// `text` with its first `from` replaced by `to`.
std::string with_text(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("with_text: `" + from + "` not found");
  return text.replace(at, from.size(), to);
}

// One scratch directory for the whole test program, removed at exit.
fs::path scratch(const std::string& name) {
  static const mlasim::test::ScratchDir dir("mlasim_test_cli");
  const fs::path p = dir.path() / name;
  fs::remove_all(p);
  return p;
}

Run run_mlasim(const std::string& args) {
  static const fs::path dir = scratch("run");
  fs::create_directories(dir);
  return mlasim::test::run_mlasim_in(dir, args);
}

}  // namespace

TEST_CASE("step --format json has ops with totals over the step and the documented totals") {
  const Run r = run_mlasim(
      "step --model deepseek-v3 --hw h200 --tp 8 --batch 16 --context 8k --weights fp8 --format json");
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(r.out);
  double sum = 0;
  bool has_attention = false;
  for (const auto& op : j.at("ops")) {
    for (const char* key : {"name", "count", "flops", "bytes", "time_s", "bound"}) CHECK(op.contains(key));
    sum += op.at("time_s").get<double>();
    has_attention |= op.at("name").get<std::string>().find("attention") != std::string::npos;
  }
  CHECK(has_attention);
  const auto& t = j.at("totals");
  for (const char* key : {"step_time_s", "tokens_per_s", "kv_bytes_per_token", "kv_capacity_tokens",
                          "max_concurrency", "weight_bytes"}) {
    CHECK(t.contains(key));
  }
  CHECK(t.at("step_time_s").get<double>() == Approx(sum));
  CHECK(t.at("kv_bytes_per_token").get<double>() == 70272.0);
  CHECK(t.at("tokens_per_s").get<double>() == Approx(16.0 / sum));
}

TEST_CASE("step --format csv: one row per op, then a total row of their sums, as a CSV reader reads it") {
  const Run r = run_mlasim(
      "step --model deepseek-v3 --hw h200 --tp 8 --batch 16 --context 8k --weights fp8 --format csv");
  REQUIRE(r.code == 0);
  const mlasim::CsvFile csv = mlasim::CsvFile::parse(
      r.out, "stdout", {"op", "class", "count", "flops", "bytes", "comm_bytes", "time_s", "share"},
      "step CSV");
  REQUIRE(csv.rows().size() > 2);
  const auto col = [&](const char* name) { return csv.column(name); };
  double time = 0, flops = 0, bytes = 0, comm = 0, share = 0;
  std::int64_t count = 0;
  for (std::size_t i = 0; i + 1 < csv.rows().size(); ++i) {
    const mlasim::CsvRecord& op = csv.rows()[i];
    CHECK(op.text(col("op")) != "total");
    time += op.real(col("time_s"));
    flops += op.real(col("flops"));
    bytes += op.real(col("bytes"));
    comm += op.real(col("comm_bytes"));
    share += op.real(col("share"));
    count += op.integer(col("count"));
  }
  const mlasim::CsvRecord& total = csv.rows().back();
  CHECK(total.text(col("op")) == "total");
  CHECK(total.text(col("class")) == "total");
  CHECK(total.real(col("time_s")) == Approx(time).epsilon(1e-12));
  CHECK(total.real(col("flops")) == Approx(flops).epsilon(1e-12));
  CHECK(total.real(col("bytes")) == Approx(bytes).epsilon(1e-12));
  CHECK(total.real(col("comm_bytes")) == Approx(comm).epsilon(1e-12));
  CHECK(comm > 0.0);  // TP 8: the all-reduces' messages, apart from HBM bytes
  CHECK(total.integer(col("count")) == count);
  CHECK(share == Approx(1.0));
  CHECK(total.real(col("share")) == 1.0);
  CHECK(total.real(col("intensity")) == Approx(flops / bytes));
  // The same step's JSON totals agree with the total row.
  const Run json = run_mlasim(
      "step --model deepseek-v3 --hw h200 --tp 8 --batch 16 --context 8k --weights fp8 --format json");
  REQUIRE(json.code == 0);
  const auto t = nlohmann::json::parse(json.out).at("totals");
  CHECK(total.real(col("time_s")) == t.at("step_time_s").get<double>());
  CHECK(total.real(col("flops")) == t.at("flops").get<double>());
}

TEST_CASE("step --format csv --totals: one row of the inputs, the status and every headline total") {
  const Run r = run_mlasim(
      "step --model deepseek-v3 --hw h200 --tp 8 --batch 16 --context 8k --weights fp8 --format csv "
      "--totals");
  REQUIRE(r.code == 0);
  const mlasim::CsvFile csv = mlasim::CsvFile::parse(r.out, "stdout", {}, "step totals CSV");
  REQUIRE(csv.rows().size() == 1);
  const Run json = run_mlasim(
      "step --model deepseek-v3 --hw h200 --tp 8 --batch 16 --context 8k --weights fp8 --format json");
  REQUIRE(json.code == 0);
  const auto j = nlohmann::json::parse(json.out);
  const mlasim::CsvRecord& row = csv.rows().front();
  // Every number of the JSON totals is a column, with the same value.
  for (const auto& [key, value] : j.at("totals").items()) {
    if (!value.is_number()) continue;
    INFO(key);
    REQUIRE(csv.has_column(key));
    CHECK(row.real(csv.column(key)) == Approx(value.get<double>()).epsilon(1e-15));
  }
  for (const auto& [kind, share] : j.at("totals").at("time_share_by_provenance").items()) {
    CHECK(row.real(csv.column(kind + "_share")) == Approx(share.get<double>()));
  }
  CHECK(row.text(csv.column("model")) == "DeepSeek-V3");
  CHECK(row.text(csv.column("status")) == j.at("status").get<std::string>());
  CHECK(row.integer(csv.column("batch")) == 16);
  // `8k` is read, as sweep.csv and the JSON config write it: 8192 tokens, not the text given.
  CHECK(row.integer(csv.column("context")) == 8192);
  CHECK(j.at("config").at("contexts") == nlohmann::json::array({8192}));
  CHECK(row.text(csv.column("dp_attention")) == "false");
  const Run wrong = run_mlasim("step --model llama-3-8b --hw h100-sxm --context 4k --totals");
  CHECK(wrong.code == 2);
  CHECK_THAT(wrong.err, Catch::Contains("--totals") && Catch::Contains("--format csv"));
}

TEST_CASE("step's table shows readable units: ms, %, GFLOP, GB in the headers, no exponent") {
  const Run r = run_mlasim("step --model llama-3-8b --hw h100-sxm --batch 32 --context 4096");
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("time (ms)") && Catch::Contains("share (%)") &&
                        Catch::Contains("flops (GFLOP)") && Catch::Contains("bytes (GB)"));
  CHECK(r.out.find("e+") == std::string::npos);
  CHECK_THAT(r.out, Catch::Contains("\ntotal "));
}

TEST_CASE("bad input exits 2 with a located message") {
  Run r = run_mlasim("step --model llama-3-8b --hw h100-sxm --context 4096 --variant gqb:8");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("--variant") && Catch::Contains("did you mean `gqa`"));
  r = run_mlasim("step --model no/such/card.yaml --hw h100-sxm --context 4096");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("no/such/card.yaml"));
  r = run_mlasim("step --model llama-3-8b --hw h100-sxm --context 4096 --tp 3");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("tp (3) must divide"));
  r = run_mlasim("step --model llama-3-8b --hw h100-sxm --context 4k --sq 5000");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::StartsWith("error: --sq:"));
  r = run_mlasim("step --model llama-3-8b --hw h100-sxm --context 1k,0");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::StartsWith("error: --context:"));
  r = run_mlasim("stepp");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("did you mean `step`"));
  r = run_mlasim("step --model llama-3-8b --hw h100-sxm");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("context"));
}

TEST_CASE("a failing sweep writes nothing; a good one writes whole files, identical every time") {
  const fs::path bad_out = scratch("bad-out");
  Run r = run_mlasim("sweep tests/bad_configs/does-not-exist.yaml --out " + bad_out.string());
  CHECK(r.code == 2);
  CHECK_FALSE(fs::exists(bad_out));
  const fs::path out1 = scratch("out1"), out2 = scratch("out2");
  REQUIRE(run_mlasim("sweep configs/llama3_70b_attention.yaml -q --out " + out1.string()).code == 0);
  REQUIRE(run_mlasim("sweep configs/llama3_70b_attention.yaml -q --out " + out2.string()).code == 0);
  for (const char* f : {"sweep.csv", "sweep.json", "summary.md", "report.html"}) {
    INFO(f);
    CHECK(fs::exists(out1 / f));
    CHECK(slurp(out1 / f) == slurp(out2 / f));
  }
  for (const auto& entry : fs::directory_iterator(out1)) {
    CHECK(entry.path().filename().string().find(".tmp") == std::string::npos);
  }
  const nlohmann::json sweep = nlohmann::json::parse(slurp(out1 / "sweep.json"));
  CHECK(sweep.at("schema") == "mlasim-sweep");
  CHECK(sweep.at("config").at("file") == "configs/llama3_70b_attention.yaml");
  CHECK(sweep.at("config").at("content").at("sweep").at("tp") == nlohmann::json::array({4}));
  CHECK(sweep.at("points").size() == 160);                   // 5 variants x 4 batches x 8 contexts
  CHECK(sweep.at("points")[0].at("dp_attention") == false);  // a boolean, not the string "false"
}

TEST_CASE("list prints one line per card and profile") {
  Run r = run_mlasim("list models");
  CHECK(r.code == 0);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 9);
  r = run_mlasim("list hw");
  CHECK(r.code == 0);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') >= 7);
  CHECK(run_mlasim("list gpus").code == 2);
}

TEST_CASE("the calibration path end to end: synthesize-run, calibrate, validate, step in calibrated mode") {
  const fs::path dir = scratch("calibration_path");
  fs::create_directories(dir);
  const std::string run = (dir / "run").string();
  REQUIRE(run_mlasim("synthesize-run " + run + " --quick").code == 0);
  // A generated run may not overwrite a built-in profile; nothing is written.
  const std::string before = slurp(fs::path(MLASIM_SOURCE_DIR) / "hw_profiles" / "h200.yaml");
  const Run refused = run_mlasim("calibrate " + run);
  CHECK(refused.code == 2);
  CHECK_THAT(refused.err,
             Catch::Contains("synthetic: this run was generated") && Catch::Contains("--out FILE"));
  CHECK(slurp(fs::path(MLASIM_SOURCE_DIR) / "hw_profiles" / "h200.yaml") == before);
  // Into a file of its own: a whole profile that loads and times a step from the tables.
  const std::string profile = (dir / "h200-calibrated.yaml").string();
  const Run cal = run_mlasim("calibrate " + run + " --out " + profile);
  REQUIRE(cal.code == 0);
  CHECK_THAT(cal.out, Catch::Contains("calibrated h200 from") && Catch::Contains("attention 20 tables"));
  const Run step =
      run_mlasim("step --model deepseek-v3 --hw " + profile +
                 " --tp 8 --dp-attention --batch 64 --context 4096 --mode calibrated --format json");
  REQUIRE(step.code == 0);
  const auto j = nlohmann::json::parse(step.out);
  CHECK(j.at("totals").at("time_share_by_provenance").at("measured").get<double>() > 0.0);
  CHECK(j.at("config").at("launch") == "graph");
  // validate: exit 0 with the table; --max-mape turns it into a gate (exit 4 above it).
  const std::string out = (dir / "validation").string();
  const Run ok = run_mlasim("validate " + run + " --out " + out + " --max-mape 50 --no-charts");
  CHECK(ok.code == 0);
  CHECK(fs::exists(fs::path(out) / "validate.csv"));
  const Run gate = run_mlasim("validate " + run + " --out " + out + " --max-mape 0.1 --no-charts");
  CHECK(gate.code == 4);
  // The same run calibrates to the same bytes.
  const std::string again = (dir / "again.yaml").string();
  REQUIRE(run_mlasim("calibrate " + run + " --out " + again).code == 0);
  CHECK(slurp(again) == slurp(profile));
}

TEST_CASE(
    "calibrate refuses a run whose kernel failed its check, and a run of another GPU, writing nothing") {
  const fs::path dir = scratch("calibration_refusals");
  fs::create_directories(dir);
  const std::string failed = (dir / "failed").string();
  REQUIRE(run_mlasim("synthesize-run " + failed + " --quick --fail-check mla-d576").code == 0);
  const std::string target = (dir / "p.yaml").string();
  const Run r = run_mlasim("calibrate " + failed + " --out " + target);
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("refusing to calibrate `h200`") &&
                        Catch::Contains("mla kernel (d 576) failed") &&
                        Catch::Contains("timing rows of mla d 576"));
  CHECK_FALSE(fs::exists(target));
  const std::string h100 = (dir / "h100").string();
  REQUIRE(run_mlasim("synthesize-run " + h100 + " --quick").code == 0);
  const Run wrong = run_mlasim("calibrate " + h100 + " --profile h100-sxm --out " + target);
  CHECK(wrong.code == 2);
  CHECK_THAT(wrong.err, Catch::Contains("measured `NVIDIA H200` but the profile is `h100-sxm`"));
  CHECK_FALSE(fs::exists(target));
  const Run missing = run_mlasim("calibrate " + (dir / "nowhere").string());
  CHECK(missing.code == 2);
  CHECK_THAT(missing.err, Catch::Contains("not a folder"));
}

TEST_CASE(
    "plan answers in one command, writes whole files identical every time, and exits 6 when nothing fits") {
  const fs::path dir = scratch("plan");
  fs::create_directories(dir);
  const fs::path config = dir / "plan.yaml";
  {
    std::ofstream f(config);
    f << R"(plan:
  models: [llama-3-8b]
  hardware: [h100-sxm, h200]
  tp: [1, 2]
  mode: datasheet
  budget: {max_gpus: 8}
  workload: {arrival: poisson, rate: 150 req/s, seed: 5, prompt_tokens: 256, output_tokens: 128}
  slo:
    ttft: {p99: 300 ms}
    tpot: {p99: 20 ms}
  search: {requests_per_replica: 800}
)";
  }
  const fs::path out1 = scratch("plan-out1"), out2 = scratch("plan-out2");
  const Run a = run_mlasim("plan " + config.string() + " --no-charts --out " + out1.string());
  REQUIRE(a.code == 0);
  CHECK(a.out.rfind("Cheapest: ", 0) == 0);
  REQUIRE(run_mlasim("plan " + config.string() + " -q --no-charts --out " + out2.string()).code == 0);
  for (const char* f :
       {"summary.md", "plan.json", "layouts.csv", "ranking.csv", "pareto.csv", "trials.csv", "report.html"}) {
    INFO(f);
    CHECK(fs::exists(out1 / f));
    CHECK(slurp(out1 / f) == slurp(out2 / f));
  }
  const nlohmann::json plan = nlohmann::json::parse(slurp(out1 / "plan.json"));
  REQUIRE(plan["cheapest"].is_object());
  CHECK(plan["layouts"].size() == 4);
  const double gpus = plan["cheapest"]["gpus"].get<double>();
  const double price = plan["cheapest"]["price_per_gpu_hour"].get<double>();
  CHECK(plan["cheapest"]["usd_per_hour"].get<double>() == Approx(gpus * price));

  // --price overrides the profile: at 1 USD per H200-hour the H200 layouts cost GPUs × 1.
  const fs::path cheap = scratch("plan-cheap");
  REQUIRE(
      run_mlasim("plan " + config.string() + " -q --no-charts --price h200=1 --out " + cheap.string()).code ==
      0);
  // The parsed document must outlive the loop: a range-for over a member of a temporary reads freed memory.
  const nlohmann::json cheap_plan = nlohmann::json::parse(slurp(cheap / "plan.json"));
  for (const auto& row : cheap_plan["layouts"]) {
    if (row["hardware"] == "h200") CHECK(row["price_per_gpu_hour"].get<double>() == 1.0);
  }
  CHECK(run_mlasim("plan " + config.string() + " -q --price h300=1 --out " + scratch("x").string()).code ==
        2);

  // An impossible SLO: every file written, the answer said plainly, exit 6.
  {
    std::ofstream f(dir / "impossible.yaml");
    f << with_text(slurp(config), "tpot: {p99: 20 ms}", "tpot: {p99: 0.5 ms}");
  }
  const fs::path none = scratch("plan-none");
  const Run n =
      run_mlasim("plan " + (dir / "impossible.yaml").string() + " --no-charts --out " + none.string());
  CHECK(n.code == 6);
  CHECK(n.out.find("No deployment within the budget of 8 GPUs meets the SLOs") != std::string::npos);
  CHECK(n.err.find("no deployment") != std::string::npos);
  CHECK(slurp(none / "summary.md").find("No deployment") != std::string::npos);

  // Bad input: exit 2, nothing written.
  const fs::path bad = scratch("plan-bad");
  {
    std::ofstream f(dir / "bad.yaml");
    f << with_text(slurp(config), "arrival: poisson, rate: 150 req/s",
                   "arrival: closed_loop, concurrency: 4");
  }
  const Run b = run_mlasim("plan " + (dir / "bad.yaml").string() + " --out " + bad.string());
  CHECK(b.code == 2);
  CHECK(b.err.find("bad.yaml:7:") != std::string::npos);
  CHECK_FALSE(fs::exists(bad));
}

TEST_CASE(
    "serve --strict exits 5 when a request is rejected, after writing everything; without it, 0 and a "
    "warning") {
  const fs::path dir = scratch("strict");
  fs::create_directories(dir);
  {
    std::ofstream f(dir / "serve.yaml");
    // 64 KV blocks of 16 tokens hold 1024 tokens: the 2k-token prompts can never fit.
    f << R"(serve:
  model: llama-3-8b
  hardware: h100-sxm
  mode: datasheet
  scheduler: {kv_blocks: 64}
  workload: {arrival: poisson, rate: 5 req/s, requests: 50, prompt_tokens: 2k, output_tokens: 16}
)";
  }
  const fs::path out = scratch("strict-out"), plain = scratch("strict-plain");
  const Run strict =
      run_mlasim("serve " + (dir / "serve.yaml").string() + " -q --no-charts --strict --out " + out.string());
  CHECK(strict.code == 5);
  CHECK(strict.err.find("rejected") != std::string::npos);
  CHECK(fs::exists(out / "summary.csv"));
  const Run lenient =
      run_mlasim("serve " + (dir / "serve.yaml").string() + " -q --no-charts --out " + plain.string());
  CHECK(lenient.code == 0);
  CHECK(lenient.err.find("warning: 50 of 50 requests were rejected") != std::string::npos);
}

TEST_CASE("--price overrides the profile's price in step and sweep; a bad one is exit 2") {
  // 8 GPUs of TP 8 at 2 USD: 16 USD per hour in step's JSON totals.
  const Run step = run_mlasim(
      "step --model deepseek-v3 --hw h200 --tp 8 --batch 64 --context 4k --weights fp8 --format json --price "
      "2");
  REQUIRE(step.code == 0);
  const nlohmann::json totals = nlohmann::json::parse(step.out)["totals"];
  CHECK(totals["price_per_gpu_hour"].get<double>() == 2.0);
  CHECK(totals["usd_per_hour"].get<double>() == Approx(16.0));
  CHECK(run_mlasim("step --model llama-3-8b --hw h100-sxm --context 4k --price -3").code == 2);
  const fs::path out = scratch("sweep-price");
  REQUIRE(run_mlasim("sweep configs/llama3_70b_attention.yaml -q --no-charts --price h100-sxm=1.5 --out " +
                     out.string())
              .code == 0);
  const nlohmann::json sweep = nlohmann::json::parse(slurp(out / "sweep.json"));
  CHECK(sweep.at("config").at("overrides") == nlohmann::json::array({"--price h100-sxm=1.5"}));
  const nlohmann::json& rows = sweep.at("points");
  REQUIRE_FALSE(rows.empty());
  for (const auto& row : rows) CHECK(row["price_per_gpu_hour"].get<double>() == 1.5);
  const Run wrong = run_mlasim("sweep configs/llama3_70b_attention.yaml -q --price h200=1 --out " +
                               scratch("sweep-price-bad").string());
  CHECK(wrong.code == 2);
  CHECK(wrong.err.find("unknown GPU of this command `h200` (valid: `h100-sxm`)") != std::string::npos);
}

TEST_CASE(
    "M1 L8 L10: --out is probed before the run; a failed write keeps the previous set whole; no mixing") {
  const fs::path dir = scratch("out_sets");
  fs::create_directories(dir);
  const auto write_config = [&](const std::string& name, int seed, bool per_request) {
    std::ofstream f(dir / name);
    f << "serve:\n  model: llama-3-8b\n  hardware: h100-sxm\n  mode: datasheet\n"
      << "  workload: {arrival: poisson, rate: 50 req/s, requests: 3000, seed: " << seed
      << ", prompt_tokens: 64, output_tokens: 4}\n"
      << "  output: {per_request_csv: " << (per_request ? "true" : "false") << "}\n";
  };
  write_config("a.yaml", 1, true);
  write_config("b.yaml", 2, true);
  write_config("c.yaml", 1, false);
  const fs::path out = dir / "out";
  const std::string serve = "serve -q --no-charts --out " + out.string() + " ";
  REQUIRE(run_mlasim(serve + (dir / "a.yaml").string()).code == 0);
  REQUIRE(fs::file_size(out / "requests.csv") > 150 * 1024);
  std::map<std::string, std::string> before;
  for (const auto& entry : fs::directory_iterator(out))
    before[entry.path().filename().string()] = slurp(entry.path());

  // M1: a 100 KiB file-size limit (as `ulimit -f` gives on a full disk): requests.csv cannot be written.
  // Exit 2 naming requests.csv (not a temporary), and the folder holds the first run's files, unchanged.
  // The limit is set in a subshell for mlasim alone: stderr goes through a pipe to a `cat` without the limit.
  const auto limited = [&](int blocks, const std::string& args) {
    const std::string cmd = "bash -c \"trap '' XFSZ; (ulimit -f " + std::to_string(blocks) + "; exec " +
                            std::string(MLASIM_BINARY) + " " + args + ") 2>&1 | cat >" +
                            (dir / "err.txt").string() + "; exit \\${PIPESTATUS[0]}\"";
    return std::system(cmd.c_str());
  };
  const int status = limited(100, serve + (dir / "b.yaml").string());
  CHECK(WEXITSTATUS(status) == 2);
  const std::string err = slurp(dir / "err.txt");
  CHECK_THAT(err, Catch::Contains((out / "requests.csv").string() + ": error: cannot write: File too large"));
  CHECK(err.find(".tmp-") == std::string::npos);
  std::map<std::string, std::string> after;
  for (const auto& entry : fs::directory_iterator(out))
    after[entry.path().filename().string()] = slurp(entry.path());
  CHECK(after == before);

  // L8: a run without the per-request CSV into the same folder removes the first run's requests.csv.
  REQUIRE(run_mlasim(serve + (dir / "c.yaml").string()).code == 0);
  CHECK_FALSE(fs::exists(out / "requests.csv"));
  CHECK(fs::exists(out / "summary.json"));

  // L10: an --out that cannot be a folder fails at once, naming it, before the run.
  const std::string file = (dir / "a.yaml").string();
  const Run blocked = run_mlasim("serve -q --no-charts --out " + file + "/sub " + (dir / "a.yaml").string());
  CHECK(blocked.code == 2);
  CHECK_THAT(blocked.err, Catch::StartsWith(file + "/sub: error: cannot create directory:"));
  // A folder that takes no file (no space, here a zero file-size limit) fails on the probe, naming the
  // folder; before, the run went to the end and failed on `summary.csv.tmp-PID`.
  const fs::path full = dir / "full";
  CHECK(WEXITSTATUS(limited(
            0, "serve -q --no-charts --out " + full.string() + " " + (dir / "a.yaml").string())) == 2);
  CHECK_THAT(slurp(dir / "err.txt"),
             Catch::StartsWith(full.string() + ": error: cannot write: File too large"));
}

TEST_CASE(
    "step on DeepSeek-V3's config.json costs its fp8 weights by default and fits 8 H200s; --weights "
    "overrides") {
  const std::string model =
      "--model " + (fs::path(MLASIM_TEST_DATA_DIR) / "hf" / "deepseek-v3" / "config.json").string();
  const Run r = run_mlasim("step " + model + " --hw h200 --tp 8 --batch 16 --context 8k --format json");
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j.at("config").at("weights_dtype") == "fp8");
  CHECK(j.at("totals").at("max_concurrency").get<std::int64_t>() >= 16);
  CHECK(j.at("totals").at("weight_bytes").get<double>() == Approx(671.0265e9).epsilon(1e-4));  // 1 byte each
  CHECK(r.err.find("does not fit") == std::string::npos);

  const Run bf16 =
      run_mlasim("step " + model + " --hw h200 --tp 8 --context 8k --weights bf16 --format json");
  REQUIRE(bf16.code == 0);
  CHECK(nlohmann::json::parse(bf16.out).at("config").at("weights_dtype") == "bf16");
  CHECK(bf16.err.find("does not fit") != std::string::npos);
}

// M2 (issue 14): `step --batch 1000000000` allocated a record per sequence (24 GB) before answering.
TEST_CASE("step --batch 1000000000 answers at once, with its verdict in the JSON and on stderr") {
  const auto start = std::chrono::steady_clock::now();
  const Run r =
      run_mlasim("step --model llama-3-8b --hw h100-sxm --context 1k --batch 1000000000 --format json");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE(r.code == 0);
  CHECK(seconds < 20.0);  // well under a second in Release; the sanitizers and a loaded machine slow it
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j.at("status") == "batch-exceeds-capacity");
  CHECK_THAT(r.err, Catch::Contains("warning: batch-exceeds-capacity") &&
                        Catch::Contains("fewer than the batch of 1000000000"));
}

// Issue 14 item 5: a result that means nothing is said plainly, and with --strict it is a non-zero exit.
TEST_CASE("step states its verdict: status ok, batch-exceeds-capacity or does-not-fit; --strict exits 5") {
  Run r = run_mlasim("step --model llama-3-8b --hw h100-sxm --context 4k --batch 8 --format json --strict");
  REQUIRE(r.code == 0);
  CHECK(nlohmann::json::parse(r.out).at("status") == "ok");
  CHECK(r.err.empty());
  // 140 GB of bf16 weights on one 80 GB GPU.
  r = run_mlasim("step --model llama-3-70b --hw h100-sxm --context 4k --format json");
  CHECK(r.code == 0);
  CHECK(nlohmann::json::parse(r.out).at("status") == "does-not-fit");
  CHECK_THAT(r.err, Catch::StartsWith("mlasim step: warning: does-not-fit"));
  r = run_mlasim("step --model llama-3-70b --hw h100-sxm --context 4k --strict");
  CHECK(r.code == 5);
  CHECK_THAT(r.err, Catch::StartsWith("mlasim step: error: does-not-fit") && Catch::Contains("(--strict)"));
  CHECK_FALSE(r.out.empty());  // the step is still printed
  r = run_mlasim("step --model llama-3-8b --hw h100-sxm --context 1k --batch 1000000 --strict");
  CHECK(r.code == 5);
  CHECK_THAT(r.err, Catch::Contains("batch-exceeds-capacity"));
}

TEST_CASE("stray arguments are errors, option typos get a did-you-mean, dtypes are case-insensitive") {
  Run r = run_mlasim("step --model llama-3-8b --hw h100-sxm --context 4k --batch 8 32");
  CHECK(r.code == 2);
  CHECK_THAT(r.err,
             Catch::Contains(
                 "unexpected argument `32` after `--batch 8`: this command takes no positional argument"));
  r = run_mlasim("step llama-3-8b --model llama-3-8b --hw h100-sxm --context 4k");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("unexpected argument `llama-3-8b`"));
  r = run_mlasim("sweep configs/llama3_70b_attention.yaml extra.yaml --out " + scratch("stray").string());
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("unexpected argument `extra.yaml`"));
  CHECK_FALSE(fs::exists(scratch("stray")));
  r = run_mlasim("step --model llama-3-8b --hw h100-sxm --contxt 4k");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("unknown option") && Catch::Contains("did you mean `--context`"));
  r = run_mlasim(
      "step --model llama-3-8b --hw h100-sxm --context 4k --weights FP8 --kv-dtype BF16 --format json");
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j.dump().find("\"fp8\"") != std::string::npos);
  CHECK(j.dump().find("FP8") == std::string::npos);
}

// D13 (issue 14): two sweep models with one display name made the pivot throw an internal error.
TEST_CASE("a sweep with two models of one name is a located input error at the second") {
  const fs::path out = scratch("d13");
  const Run r =
      run_mlasim("sweep tests/reliability/D13_sweep_duplicate_model_name.yaml -q --out " + out.string());
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::StartsWith("tests/reliability/D13_sweep_duplicate_model_name.yaml:2:") &&
                        Catch::Contains("model `Llama-3-8B` is already item 1 of `models`"));
  CHECK_FALSE(fs::exists(out));
}

// M5 (issue 14): a GPU profile whose values make costs free, negative or infinite is refused where it is
// wrong.
TEST_CASE("a profile without a link refuses tensor parallelism; an implausible profile is a located error") {
  Run r = run_mlasim(
      "step --model llama-3-70b --hw tests/reliability/M5_interconnect_zero.yaml --tp 4 --context 4k");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("interconnect.bandwidth 0") && Catch::Contains("4 GPUs need one"));
  r = run_mlasim("step --model llama-3-8b --hw tests/reliability/M5_interconnect_zero.yaml --context 4k");
  CHECK(r.code == 0);
  r = run_mlasim("step --model llama-3-8b --hw tests/reliability/M5_tiny_gpu.yaml --context 4k");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::StartsWith("tests/reliability/M5_tiny_gpu.yaml:") && Catch::Contains("memory."));
}

// L4 (issue 14): a trace or length histogram that cannot be read is reported at the config key that names it.
TEST_CASE("L4: a missing trace or histogram file is reported at the serve config's key that names it") {
  Run r = run_mlasim("serve tests/reliability/L4_serve_missing_trace.yaml --out " + scratch("l4a").string());
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::StartsWith("tests/reliability/L4_serve_missing_trace.yaml:4:") &&
                        Catch::Contains("no_such_trace.csv"));
  r = run_mlasim("serve tests/reliability/L4_serve_missing_histogram.yaml --out " + scratch("l4b").string());
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::StartsWith("tests/reliability/L4_serve_missing_histogram.yaml:7:") &&
                        Catch::Contains("no_such_lengths.csv"));
}

// L9 (issue 14): the requests a cut run never saw arrive are in the summary files, not only on stderr.
TEST_CASE("L9: summary.json and summary.csv carry not_arrived and arrivals_beyond_clock") {
  const fs::path out = scratch("l9");
  const Run r =
      run_mlasim("serve tests/reliability/L9_max_time_cut.yaml -q --no-charts --out " + out.string());
  REQUIRE(r.code == 0);
  const nlohmann::json summary = nlohmann::json::parse(slurp(out / "summary.json"));
  CHECK(summary.at("schema") == "mlasim-serve-summary");
  const nlohmann::json& row = summary.at("summary");  // one run: an object, not a one-element array
  const std::int64_t arrived = row.at("arrived").get<std::int64_t>();
  CHECK(arrived < 20);
  CHECK(row.at("not_arrived").get<std::int64_t>() == 20 - arrived);
  CHECK(row.at("arrivals_beyond_clock") == false);
  CHECK_THAT(slurp(out / "summary.csv"),
             Catch::Contains("not_arrived") && Catch::Contains("arrivals_beyond_clock"));
}

// Issue 14, bad-args: command-line values a fuzzer found to get a wrong or unclear message.
TEST_CASE("bad-args: a price that is not a finite number says so, on the command line and in a profile") {
  for (const std::string price : {"nan", "inf", "-inf", "1e309"}) {
    const Run r = run_mlasim("step --model llama-3-8b --hw h100-sxm --context 4k --price " + price);
    CHECK(r.code == 2);
    CHECK(r.err == "error: --price " + price + ": the price `" + price + " USD` is not a finite number\n");
  }
  const fs::path out = scratch("bad-args-price");
  Run r = run_mlasim("sweep configs/llama3_70b_attention.yaml -q --price h100-sxm=nan --out " + out.string());
  CHECK(r.code == 2);
  CHECK(r.err == "error: --price h100-sxm=nan: the price `nan USD` is not a finite number\n");
  CHECK_FALSE(fs::exists(out));
  // A negative price keeps its own message.
  r = run_mlasim("step --model llama-3-8b --hw h100-sxm --context 4k --price -3");
  CHECK(r.code == 2);
  CHECK(r.err == "error: --price -3: a price cannot be negative, got `-3 USD`\n");
  // A long value is clipped to 64 characters and an ellipsis.
  r = run_mlasim("step --model llama-3-8b --hw h100-sxm --context 4k --price " + std::string(100, '7') + "x");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::StartsWith("error: --price " + std::string(64, '7') + "…: expected a price"));
  CHECK(r.err.find(std::string(65, '7')) == std::string::npos);
  // The profile key: located at price_per_gpu_hour.
  const fs::path profile = scratch("bad-args-nan-price.yaml");
  {
    std::ofstream(profile) << with_text(slurp(fs::path(MLASIM_SOURCE_DIR) / "hw_profiles" / "h100-sxm.yaml"),
                                        "price_per_gpu_hour: 4.916 USD", "price_per_gpu_hour: nan USD");
  }
  r = run_mlasim("step --model llama-3-8b --context 4k --hw " + profile.string());
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::StartsWith(profile.string() + ":") &&
                        Catch::Contains("price_per_gpu_hour: the price `nan USD` is not a finite number"));
}

TEST_CASE("bad-args: an empty --out (or any empty option value) is an error naming the option") {
  const std::vector<std::string> commands = {
      "sweep configs/llama3_70b_attention.yaml -o \"\"",
      "serve configs/serve_llama3_8b_h100.yaml -o \"\"",
      "plan tests/plan_fixtures/small_plan.yaml --out \"\"",
      "calibrate no-such-run -o \"\"",
      "validate no-such-run -o \"\"",
  };
  for (const std::string& c : commands) {
    const Run r = run_mlasim(c);
    CAPTURE(c, r.err);
    CHECK(r.code == 2);
    CHECK(r.err == "error: --out: the value is empty (an empty string is not a value)\n");
  }
  Run r = run_mlasim("step --model llama-3-8b --hw \"\" --context 4k");
  CHECK(r.code == 2);
  CHECK(r.err == "error: --hw: the value is empty (an empty string is not a value)\n");
  r = run_mlasim("sweep \"\" --out " + scratch("bad-args-empty-config").string());
  CHECK(r.code == 2);
  CHECK(r.err == "error: the config argument is empty: give a YAML file\n");
  r = run_mlasim("sweep configs/llama3_70b_attention.yaml --price h100-sxm=1 --price \"\" --out " +
                 scratch("bad-args-empty-price").string());
  CHECK(r.code == 2);
  CHECK(r.err == "error: --price: the value is empty (an empty string is not a value)\n");
}

TEST_CASE("bad-args: a value boost cannot read is named and clipped") {
  Run r = run_mlasim("step --model llama-3-8b --hw h100-sxm --context 4k --batch abc");
  CHECK(r.code == 2);
  CHECK(r.err == "error: --batch: invalid value `abc`\n");
  r = run_mlasim("step --model llama-3-8b --hw h100-sxm --context 4k -b " + std::string(80, '9'));
  CHECK(r.code == 2);
  CHECK(r.err == "error: --batch: invalid value `" + std::string(64, '9') + "…`\n");  // -b is --batch
}

namespace {

/// `x` with the 17 significant digits that read back as `x`.
std::string fmt_g17(double x) {
  std::ostringstream s;
  s.precision(17);
  s << x;
  return s.str();
}

/// The (MAPE, gate) pairs of validate's "calibrated MAPE X% is above --max-mape G%" lines, as printed.
std::vector<std::pair<std::string, std::string>> gate_lines(const std::string& err) {
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream in(err);
  const std::string mape = "calibrated MAPE ", above = "% is above --max-mape ";
  for (std::string line; std::getline(in, line);) {
    const std::size_t a = line.find(mape), b = line.find(above);
    if (a == std::string::npos || b == std::string::npos || line.back() != '%') continue;
    out.emplace_back(line.substr(a + mape.size(), b - a - mape.size()),
                     line.substr(b + above.size(), line.size() - b - above.size() - 1));
  }
  return out;
}

}  // namespace

TEST_CASE("bad-args: validate --max-mape prints the MAPE with the digits that show it above the gate") {
  const fs::path dir = scratch("bad-args-validate");
  fs::create_directories(dir);
  const std::string run = (dir / "run").string();
  REQUIRE(run_mlasim("synthesize-run " + run + " --quick").code == 0);
  const std::string out = (dir / "validation").string();
  Run r = run_mlasim("validate " + run + " --out " + out + " --max-mape 0 --no-charts");
  CHECK(r.code == 4);
  const nlohmann::json j = nlohmann::json::parse(slurp(fs::path(out) / "validate.json"));
  const nlohmann::json& families = j.at("families");
  REQUIRE_FALSE(families.empty());
  // Gate 0: every family is above it, and none prints as 0.0%.
  auto lines = gate_lines(r.err);
  CHECK(lines.size() == families.size());
  for (const auto& [mape, gate] : lines) {
    CHECK(gate == "0");
    CHECK(std::stod(mape) > 0.0);
  }
  // A gate a millionth below the smallest family MAPE: that family's line shows it above, digit for digit.
  double smallest = 1e300;
  for (const auto& f : families) smallest = std::min(smallest, f.at("calibrated").at("mape").get<double>());
  const double gate = 100.0 * smallest * (1.0 - 1e-6);
  r = run_mlasim("validate " + run + " --out " + out + " --no-charts --max-mape " + fmt_g17(gate));
  CHECK(r.code == 4);
  lines = gate_lines(r.err);
  CHECK(lines.size() == families.size());
  for (const auto& [mape, printed_gate] : lines) {
    CAPTURE(mape, printed_gate);
    CHECK(std::stod(mape) > std::stod(printed_gate));
  }
  // A gate at the largest MAPE passes: the comparison is MAPE > gate.
  double largest = 0.0;
  for (const auto& f : families) largest = std::max(largest, f.at("calibrated").at("mape").get<double>());
  r = run_mlasim("validate " + run + " --out " + out + " --no-charts --max-mape " +
                 fmt_g17(100.0 * largest * 1.000001));
  CHECK(r.code == 0);
  CHECK(gate_lines(r.err).empty());
}

TEST_CASE("bad-args: a hold-out that leaves too few training points names --every and --no-context-ends") {
  const fs::path dir = scratch("bad-args-every");
  fs::create_directories(dir);
  const std::string run = (dir / "run").string();
  REQUIRE(run_mlasim("synthesize-run " + run + " --quick").code == 0);
  const std::string out = (dir / "validation").string();
  // The quick grid's tables have 2 contexts at 2 batches: every other point leaves 2 of a kernel's 4.
  Run r = run_mlasim("validate " + run + " --every 2 --no-context-ends --no-charts -o " + out);
  CHECK(r.code == 2);
  CHECK(r.err ==
        run +
            ": error: --every: holding out one point in every 2 (with --no-context-ends) left too few "
            "training points to calibrate: attention kernel `gqa_d64`: 2 measured points, a ramp needs "
            "at least 3; hold out fewer with a larger --every\n");
  // The whole run calibrates, and a sparser hold-out validates.
  CHECK(run_mlasim("validate " + run + " --every 4 --no-context-ends --no-charts -o " + out).code == 0);
}

TEST_CASE("the plain model op for op: step op tables equal those written before expert parallelism existed") {
  // tests/golden/step_ops/: each case's `step --format csv` from commit 6705dae (before issue 11's layout
  // options); with EP, MTP, micro-batches and pipeline stages off the bytes must not change.
  const fs::path dir = fs::path(MLASIM_TEST_DATA_DIR) / "golden" / "step_ops";
  std::ifstream cases(dir / "cases.txt");
  REQUIRE(cases);
  std::string line;
  int checked = 0;
  while (std::getline(cases, line)) {
    if (line.empty()) continue;
    const std::size_t bar = line.find('|');
    REQUIRE(bar != std::string::npos);
    const std::string name = line.substr(0, bar);
    INFO(name << ": step " << line.substr(bar + 1));
    const Run r = run_mlasim("step " + line.substr(bar + 1) + " --format csv");
    REQUIRE(r.code == 0);
    CHECK(r.out == slurp(dir / (name + ".csv")));
    ++checked;
  }
  CHECK(checked == 11);
}

namespace {

using mlasim::test::files_under;

}  // namespace

TEST_CASE("a sweep run as 4 shards and merged writes exactly what one run writes, charts and all") {
  const std::string config = "configs/llama3_70b_attention.yaml --price h100-sxm=2.25";
  const fs::path one = scratch("shard-one"), merged = scratch("shard-merged");
  REQUIRE(run_mlasim("sweep " + config + " -q --out " + one.string()).code == 0);
  std::string dirs;
  for (const int i : {3, 1, 4, 2}) {  // any order
    const fs::path d = scratch("shard-" + std::to_string(i));
    const Run r = run_mlasim("sweep " + config + " --shard " + std::to_string(i) + "/4 --out " + d.string());
    REQUIRE(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains(
                          fmt::format("shard {}/4: points {} to {} of 160", i, 40 * (i - 1) + 1, 40 * i)));
    CHECK(files_under(d).size() == 2);  // the shard file and the manifest: no report
    dirs += " " + d.string();
  }
  const Run m = run_mlasim("merge" + dirs + " -q --out " + merged.string());
  REQUIRE(m.code == 0);
  CHECK_THAT(m.out, Catch::Contains("mlasim merge: 160 points written to"));
  const auto a = files_under(one), b = files_under(merged);
  CHECK(a.size() > 20);  // sweep.csv, sweep.json, summary.md, report.html, charts/*
  CHECK(a.count("report.html") == 1);
  REQUIRE(a.size() == b.size());
  for (const auto& [name, text] : a) {
    INFO(name);
    REQUIRE(b.count(name) == 1);
    CHECK(b.at(name) == text);
  }

  // A shard missing, a shard of another sweep, a config changed since: exit 2, each said plainly, nothing
  // written.
  const fs::path none = scratch("shard-none");
  const fs::path empty = scratch("shard-x");
  fs::create_directories(empty);
  const Run missing =
      run_mlasim("merge " + empty.string() + dirs.substr(0, dirs.rfind(' ')) + " --out " + none.string());
  CHECK(missing.code == 2);
  CHECK_THAT(missing.err, Catch::Contains("has no sweep-shard.jsonl"));
  const Run gap = run_mlasim("merge" + dirs.substr(0, dirs.rfind(' ')) + " --out " + none.string());
  CHECK(gap.code == 2);
  CHECK_THAT(gap.err, Catch::Contains("shard 2 of 4 is missing"));
  const fs::path other = scratch("shard-other");
  REQUIRE(run_mlasim("sweep configs/llama3_70b_attention.yaml --shard 2/4 --out " + other.string()).code ==
          0);
  const Run mixed = run_mlasim("merge" + dirs.substr(0, dirs.rfind(' ')) + " " + other.string() + " --out " +
                               none.string());
  CHECK(mixed.code == 2);
  CHECK_THAT(mixed.err, Catch::Contains("their command-line overrides differ"));
  const fs::path copy = scratch("shard-config-copy");
  fs::create_directories(copy);
  fs::copy_file("configs/llama3_70b_attention.yaml", copy / "c.yaml");
  std::string copied_dirs;
  for (const int i : {1, 2}) {
    const fs::path d = scratch("shard-copy-" + std::to_string(i));
    REQUIRE(
        run_mlasim(fmt::format("sweep {} --shard {}/2 --out {}", (copy / "c.yaml").string(), i, d.string()))
            .code == 0);
    copied_dirs += " " + d.string();
  }
  {
    const std::string edited = with_text(slurp(copy / "c.yaml"), "tp: [4]", "tp: [8]");
    std::ofstream(copy / "c.yaml", std::ios::trunc) << edited;
  }
  const Run changed = run_mlasim("merge" + copied_dirs + " --out " + none.string());
  CHECK(changed.code == 2);
  CHECK_THAT(changed.err, Catch::Contains("the config has changed since the shards ran"));
  CHECK_FALSE(fs::exists(none));
  CHECK(run_mlasim("sweep configs/llama3_70b_attention.yaml --shard 5/4 --out " + none.string()).code == 2);
}

TEST_CASE(
    "a serve sweep run as 3 shards and merged writes exactly what one run writes; --shard needs a sweep") {
  const std::string config = "configs/serve_llama3_8b_h100.yaml --price 2.5";
  const fs::path one = scratch("serve-shard-one"), merged = scratch("serve-shard-merged");
  REQUIRE(run_mlasim("serve " + config + " -q -j 2 --out " + one.string()).code == 0);
  std::string dirs;
  for (const int i : {2, 3, 1}) {
    const fs::path d = scratch("serve-shard-" + std::to_string(i));
    const Run r =
        run_mlasim("serve " + config + " -q --shard " + std::to_string(i) + "/3 --out " + d.string());
    REQUIRE(r.code == 0);
    CHECK(files_under(d).size() == 2);  // the shard file and the manifest
    CHECK(fs::exists(d / "serve-sweep-shard.jsonl"));
    dirs += " " + d.string();
  }
  const Run m = run_mlasim("merge" + dirs + " -q --out " + merged.string());
  REQUIRE(m.code == 0);
  CHECK_THAT(m.err, Catch::Contains("mlasim merge: warning: overload starts at 80 req/s"));
  const auto a = files_under(one), b = files_under(merged);
  CHECK(a.count("serve_sweep.json") == 1);
  REQUIRE(a.size() == b.size());
  for (const auto& [name, text] : a) {
    INFO(name);
    REQUIRE(b.count(name) == 1);
    CHECK(b.at(name) == text);
  }
  // A sweep shard and a serve shard do not mix; a config without a sweep cannot be sharded.
  const fs::path sweep_shard = scratch("serve-shard-sweep-kind");
  REQUIRE(
      run_mlasim("sweep configs/llama3_70b_attention.yaml --shard 1/3 --out " + sweep_shard.string()).code ==
      0);
  const Run mixed =
      run_mlasim("merge" + dirs + " " + sweep_shard.string() + " --out " + scratch("x").string());
  CHECK(mixed.code == 2);
  CHECK_THAT(mixed.err, Catch::Contains("has no serve-sweep-shard.jsonl"));
  const Run no_sweep =
      run_mlasim("serve " + config + " --no-sweep --shard 1/2 --out " + scratch("serve-shard-none").string());
  CHECK(no_sweep.code == 2);
  CHECK_THAT(no_sweep.err, Catch::Contains("--shard splits a serve sweep's runs"));
}

TEST_CASE("a plan run as 3 shards and merged writes exactly what one run writes, its exit code too") {
  const std::string config = "tests/plan_fixtures/small_plan.yaml --price h200=4.5";
  const fs::path one = scratch("plan-shard-one"), merged = scratch("plan-shard-merged");
  const Run whole = run_mlasim("plan " + config + " -q --out " + one.string());
  REQUIRE(whole.code == 0);
  std::string dirs;
  for (const int i : {3, 2, 1}) {
    const fs::path d = scratch("plan-shard-" + std::to_string(i));
    const Run r =
        run_mlasim("plan " + config + " -q --shard " + std::to_string(i) + "/3 --out " + d.string());
    REQUIRE(r.code == 0);
    CHECK(fs::exists(d / "plan-shard.jsonl"));
    CHECK_FALSE(fs::exists(d / "plan.json"));
    dirs += " " + d.string();
  }
  const Run m = run_mlasim("merge" + dirs + " --out " + merged.string());
  REQUIRE(m.code == whole.code);
  CHECK_THAT(m.out, Catch::Contains("Cheapest:"));
  const auto a = files_under(one), b = files_under(merged);
  CHECK(a.count("plan.json") == 1);
  REQUIRE(a.size() == b.size());
  for (const auto& [name, text] : a) {
    INFO(name);
    REQUIRE(b.count(name) == 1);
    CHECK(b.at(name) == text);
  }
}
