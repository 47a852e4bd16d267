// -j N (issue 12 item 5): sweeps, serve sweeps and plans write byte for byte what -j 1 writes; -j 0 is a
// located error; no progress line reaches a stderr that is not a terminal. Runs the real mlasim program.
#include <sys/wait.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "sim/config/loader.hpp"
#include "sim/sweep/sweep.hpp"
#include "tests/cli_runner.hpp"
#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using namespace mlasim;

namespace {

using test::files_under;
using test::Run;
using test::slurp;

const test::ScratchDir& scratch() {
  static const test::ScratchDir dir("mlasim_test_jobs");
  return dir;
}

/// `mlasim ARGS`, stdout and stderr to files (so stderr is not a terminal).
Run run_mlasim(const std::string& args) {
  return test::run_mlasim_in(scratch().path(), args);
}

/// Runs `command ARGS -j N --out DIR` for N = 1 and 3 and checks that they write the same files, byte for
/// byte, print the same stdout (but for the folder's name) and exit alike; returns the -j 1 run.
Run check_same_outputs(const std::string& command, const std::string& args) {
  const fs::path one = scratch().path() / (command + "_j1"), three = scratch().path() / (command + "_j3");
  const Run r1 = run_mlasim(command + " " + args + " -j 1 --out " + one.string());
  const Run r3 = run_mlasim(command + " " + args + " --jobs 3 --out " + three.string());
  INFO(r1.err);
  INFO(r3.err);
  CHECK(r1.code == r3.code);
  const auto a = files_under(one), b = files_under(three);
  CHECK(a.size() >= 3);
  CHECK(a.size() == b.size());
  for (const auto& [name, bytes] : a) {
    INFO(name);
    REQUIRE(b.count(name) == 1);
    CHECK(bytes.size() == b.at(name).size());
    CHECK(bytes == b.at(name));
  }
  std::string out3 = r3.out;
  for (std::size_t at = out3.find(three.string()); at != std::string::npos;
       at = out3.find(three.string(), at))
    out3.replace(at, three.string().size(), one.string());
  CHECK(r1.out == out3);
  // stderr is a file here: never a progress line (drawn with \r and an escape sequence), whatever the time.
  for (const Run* r : {&r1, &r3}) {
    CHECK(r->err.find('\r') == std::string::npos);
    CHECK(r->err.find('\033') == std::string::npos);
    CHECK(r->err.find("/s, ETA") == std::string::npos);
  }
  return r1;
}

}  // namespace

TEST_CASE("sweep -j 3 writes byte for byte what -j 1 writes") {
  const Run r = check_same_outputs("sweep", "configs/llama3_70b_attention.yaml --no-charts");
  CHECK(r.code == 0);
  CHECK(r.out.find(" points written to:") != std::string::npos);
}

TEST_CASE("a serve rate sweep with -j 3 writes byte for byte what -j 1 writes") {
  const fs::path cfg = scratch().write("serve_sweep.yaml", R"(serve:
  name: jobs-rate-sweep
  model: llama-3-8b
  hardware: h100-sxm
  mode: datasheet
  workload:
    arrival: poisson
    rate: 10 req/s
    requests: 300
    seed: 3
    prompt_tokens: 256
    output_tokens: 64
  slo:
    ttft: {p99: 500 ms}
    tpot: {p99: 50 ms}
  sweep:
    rate: 5..80 x2 req/s
)");
  const Run r = check_same_outputs("serve", cfg.string() + " --no-charts");
  CHECK(r.code == 0);
  // Five rates: five rows in the sweep's CSV (and its header).
  const std::string csv = slurp(scratch().path() / "serve_j1" / "serve_sweep.csv");
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 6);
}

TEST_CASE("plan -j 3 writes byte for byte what -j 1 writes, trials in the same order") {
  const Run r = check_same_outputs("plan", "tests/plan_fixtures/small_plan.yaml --no-charts");
  CHECK((r.code == 0 || r.code == 6));
  CHECK(slurp(scratch().path() / "plan_j1" / "trials.csv").size() > 200);
}

TEST_CASE("-j 0, a negative -j and a -j that is not a number are errors naming --jobs") {
  for (const std::string& command : {std::string("sweep configs/llama3_70b_attention.yaml --no-charts"),
                                     std::string("serve configs/serve_llama3_8b_h100.yaml --no-charts"),
                                     std::string("plan tests/plan_fixtures/small_plan.yaml --no-charts")}) {
    const fs::path out = scratch().path() / "bad_jobs";
    for (const std::string& jobs : {std::string("-j 0"), std::string("--jobs=-2"), std::string("-j 99999")}) {
      INFO(command << " " << jobs);
      const Run r = run_mlasim(command + " " + jobs + " --out " + out.string());
      CHECK(r.code == 2);
      CHECK_THAT(r.err, Catch::StartsWith("error: --jobs: "));
      CHECK_THAT(r.err, Catch::Contains("give a number from 1 to 1024"));
      CHECK_FALSE(fs::exists(out));
    }
    const Run word = run_mlasim(command + " -j many --out " + out.string());
    CHECK(word.code == 2);
    CHECK_THAT(word.err, Catch::Contains("--jobs"));
    CHECK_THAT(word.err, Catch::Contains("many"));
  }
}

TEST_CASE("run_sweep_points gives exactly the points run_sweep gives at those indices") {
  const SweepSpec spec = load_sweep_config("configs/deepseek_v3_attention.yaml");
  const std::vector<SweepPoint> all = run_sweep(spec);
  const std::vector<SweepPoint> parallel = run_sweep(spec, SweepRunOptions{3, {}});
  REQUIRE(parallel.size() == all.size());
  // A shard's share: every third point from 1, and one point twice, out of order.
  std::vector<std::size_t> indices;
  for (std::size_t i = 1; i < all.size(); i += 3) indices.push_back(i);
  indices.push_back(all.size() - 1);
  indices.push_back(5);
  for (const int jobs : {1, 2}) {
    const std::vector<SweepPoint> some = run_sweep_points(spec, indices, SweepRunOptions{jobs, {}});
    REQUIRE(some.size() == indices.size());
    for (std::size_t k = 0; k < indices.size(); ++k) {
      const SweepPoint& a = some[k];
      const SweepPoint& b = all[indices[k]];
      INFO("index " << indices[k]);
      CHECK(a.status_text() == b.status_text());
      CHECK(a.batch == b.batch);
      CHECK(a.context == b.context);
      CHECK(a.step_time_s == b.step_time_s);
      CHECK(a.tokens_per_s_per_gpu == b.tokens_per_s_per_gpu);
      CHECK(a.max_concurrency == b.max_concurrency);
      CHECK(sweep_index(spec, a.model, a.variant, a.hardware, a.tp_index, a.dp_index, a.batch_index,
                        a.context_index, a.s_q_index) == indices[k]);
    }
  }
  for (std::size_t i = 0; i < all.size(); ++i) {
    CHECK(parallel[i].step_time_s == all[i].step_time_s);
    CHECK(parallel[i].status_text() == all[i].status_text());
  }
  // sweep_position inverts sweep_index.
  for (const std::size_t i : {std::size_t{0}, std::size_t{77}, all.size() - 1}) {
    const SweepPosition p = sweep_position(spec, i);
    CHECK(sweep_index(spec, p.model, p.variant, p.hardware, p.tp, p.dp, p.batch, p.context, p.s_q) == i);
  }
  CHECK_THROWS_AS(run_sweep_points(spec, {all.size()}), InternalError);
  CHECK(run_sweep_points(spec, {}).empty());
}

TEST_CASE("a sweep's progress callback ends at the total") {
  const SweepSpec spec = load_sweep_config("configs/deepseek_v3_attention.yaml");
  std::size_t last_done = 0, last_total = 0, calls = 0;
  (void)run_sweep(spec, SweepRunOptions{2, [&](std::size_t done, std::size_t total) {
                                          last_done = done;
                                          last_total = total;
                                          ++calls;
                                        }});
  CHECK(calls >= 1);
  CHECK(last_done == sweep_size(spec));
  CHECK(last_total == sweep_size(spec));
}

TEST_CASE("-j defaults to the CPUs the process may run on, as nproc counts them") {
  // nproc counts the affinity mask (taskset, a cpuset); the help text names the default ("here N)"), perhaps
  // wrapped over lines.
  const auto words = [](const std::string& text) {
    std::istringstream in(text);
    std::string out, word;
    while (in >> word) out += word + " ";
    return out;
  };
  const fs::path nproc = scratch().path() / "nproc.txt";
  REQUIRE(std::system(("nproc >" + nproc.string()).c_str()) == 0);
  const std::string cpus = words(slurp(nproc));  // "2 "
  CHECK_THAT(words(run_mlasim("sweep --help").out),
             Catch::Contains("here " + cpus.substr(0, cpus.size() - 1) + ")"));
  // On one CPU (taskset -c 0, where taskset exists): one job.
  if (std::system("command -v taskset >/dev/null 2>&1") == 0) {
    const fs::path out = scratch().path() / "taskset_help.txt";
    const std::string cmd = "taskset -c 0 " + std::string(MLASIM_BINARY) + " plan --help >" + out.string();
    REQUIRE(std::system(cmd.c_str()) == 0);
    CHECK_THAT(words(slurp(out)), Catch::Contains("here 1)"));
  }
}
