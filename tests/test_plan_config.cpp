// Plan configs (sim/config/plan_config.hpp): the examples load, the search space and its defaults, priced
// hardware (profile, config override, --price), and located errors for what a plan cannot mean.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "sim/config/plan_config.hpp"
#include "sim/error.hpp"
#include "tests/test_support.hpp"

using namespace mlasim;
namespace fs = std::filesystem;

namespace {

PlanSpec load_text(const std::string& text) {
  const mlasim::test::ScratchDir dir("mlasim_test_plan_config");
  return load_plan_config(dir.write("plan.yaml", text));
}

/// The InputError message of loading `text`, or "no error".
std::string load_error(const std::string& text) {
  try {
    (void)load_text(text);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

const std::string kGood = R"(plan:
  models: [llama-3-8b]
  hardware: [h100-sxm]
  workload:
    arrival: poisson
    rate: 10 req/s
  slo:
    tpot: {p99: 50 ms}
)";

std::string with(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("the example plans load") {
  const PlanSpec dsv3 =
      load_plan_config(fs::path(MLASIM_SOURCE_DIR) / "configs" / "plan_deepseek_v3_h200.yaml");
  CHECK(dsv3.base.workload.rate_per_s == 20.0);
  CHECK(dsv3.variants.size() == 2);
  CHECK(dsv3.dp_attention == std::vector<bool>{false, true});
  REQUIRE(dsv3.base.slo.percentiles.size() == 2);
  CHECK(dsv3.base.slo.percentiles[0].target_ps == seconds_to_ps(2.0));
  CHECK(dsv3.gpus.front().price_per_gpu_hour == 5.408);  // the profile's (AWS list price)
  CHECK(plan_layouts(dsv3).size() == 4);
  const PlanSpec llama = load_plan_config(fs::path(MLASIM_SOURCE_DIR) / "configs" / "plan_llama3_70b.yaml");
  CHECK(llama.tp == std::vector<int>{2, 4, 8});
  CHECK(plan_layouts(llama).size() == 2 * 3 * 2);  // GPUs × TP × weight dtypes
}

TEST_CASE("a minimal plan takes the documented defaults") {
  const PlanSpec p = load_text(kGood);
  CHECK(p.tp == std::vector<int>{1, 2, 4, 8});
  CHECK(p.dp_attention == std::vector<bool>{false});
  CHECK(p.variants.size() == 1);
  CHECK(p.max_num_seqs == std::vector<int>{256});
  CHECK(p.max_gpus == 64);
  CHECK(p.requests_per_replica == 2000);
  CHECK(p.base.workload.num_requests == 2000);
  CHECK(p.gpus.front().price_per_gpu_hour == 4.916);
  // DP-attention over one GPU is plain TP 1: listed once.
  const PlanSpec dp =
      load_text(with(kGood, "  hardware: [h100-sxm]\n",
                     "  hardware: [h100-sxm]\n  tp: [1, 2]\n  dp_attention: [false, true]\n"));
  CHECK(plan_layouts(dp).size() == 3);
}

TEST_CASE("prices: the profile's, the config's override, then --price") {
  const std::string priced =
      with(kGood, "[h100-sxm]", "[h100-sxm, {profile: h200, price_per_gpu_hour: 3.5 USD}]");
  PlanSpec p = load_text(priced);
  REQUIRE(p.gpus.size() == 2);
  CHECK(p.gpus[1].price_per_gpu_hour == 3.5);
  CHECK(p.gpus[1].hw.price_per_gpu_hour == 3.5);
  apply_price_override(p, "H200=2.25");  // case-insensitive, a bare number is USD
  CHECK(p.gpus[1].price_per_gpu_hour == 2.25);
  apply_price_override(p, "h100-sxm=3 USD");
  CHECK(p.gpus[0].price_per_gpu_hour == 3.0);
  CHECK_THROWS_WITH(apply_price_override(p, "h100=3"), Catch::Contains("did you mean `h100-sxm`"));
  CHECK_THROWS_WITH(apply_price_override(p, "h200"), Catch::Contains("GPU=PRICE"));
  CHECK_THROWS_WITH(apply_price_override(p, "h200=-1"), Catch::Contains("negative"));
  CHECK_THROWS_WITH(apply_price_override(p, "h200=cheap"), Catch::Contains("2.5 USD"));
  // MI300X's profile has no public list price: the plan asks for one.
  const std::string e = load_error(with(kGood, "[h100-sxm]", "[mi300x]"));
  CHECK(e.find(":3:14:") != std::string::npos);
  CHECK(e.find("no price_per_gpu_hour") != std::string::npos);
  CHECK(e.find("--price mi300x=") != std::string::npos);
}

TEST_CASE("plan config errors are located and say what a plan needs") {
  // A plan serves a target rate: no closed loop.
  const std::string closed = load_error(
      with(kGood, "arrival: poisson\n    rate: 10 req/s", "arrival: closed_loop\n    concurrency: 8"));
  CHECK(closed.find(":5:14:") != std::string::npos);
  CHECK(closed.find("target rate") != std::string::npos);
  // The request count scales with the replicas.
  const std::string requests =
      load_error(with(kGood, "rate: 10 req/s\n", "rate: 10 req/s\n    requests: 500\n"));
  CHECK(requests.find(":7:15:") != std::string::npos);
  CHECK(requests.find("requests_per_replica") != std::string::npos);
  // Per-request goodput thresholds are not a plan's verdict: a percentile target is required.
  const std::string slo = load_error(with(kGood, "tpot: {p99: 50 ms}", "tpot: 50 ms"));
  CHECK(slo.find(":8:") != std::string::npos);
  CHECK(slo.find("percentile") != std::string::npos);
  // Unknown keys get a suggestion, at their line.
  const std::string key = load_error(
      with(kGood, "  hardware: [h100-sxm]\n", "  hardware: [h100-sxm]\n  budjet: {max_gpus: 8}\n"));
  CHECK(key.find(":4:3:") != std::string::npos);
  CHECK(key.find("budget") != std::string::npos);
  CHECK(load_error(with(kGood, "[llama-3-8b]", "[llama-3-9b]")).find("did you mean") != std::string::npos);
  CHECK(
      load_error(with(kGood, "  hardware: [h100-sxm]\n", "  hardware: [h100-sxm]\n  budget: {max_gpus: 0}\n"))
          .find("at least 1") != std::string::npos);
  CHECK(load_error(with(kGood, "  hardware: [h100-sxm]\n",
                        "  hardware: [h100-sxm]\n  scheduler: {policy: [vllm, fifo]}\n"))
            .find("no_evict") != std::string::npos);
  CHECK(load_error(with(kGood, "  hardware: [h100-sxm]\n",
                        "  hardware: [h100-sxm]\n  search: {requests_per_replica: 10}\n"))
            .find("at least 100") != std::string::npos);
  CHECK(load_error("plan: {models: [llama-3-8b]}\n").find("hardware") != std::string::npos);
}

TEST_CASE("a plan without precision.weights plans a model in the dtype it stores its weights in") {
  const std::string dsv3 = (fs::path(MLASIM_SOURCE_DIR) / "tests/hf/deepseek-v3/config.json").string();
  const std::string text = with(kGood, "models: [llama-3-8b]", "models: [llama-3-8b, '" + dsv3 + "']");
  const PlanSpec stored = load_text(text);
  CHECK_FALSE(stored.weights_given);
  const std::vector<PlanLayout> layouts = plan_layouts(stored);
  std::vector<std::string> dtypes;
  for (const PlanLayout& l : layouts) {
    if (l.tp == 8) dtypes.push_back(l.model + " " + std::string(to_string(l.precision.weights)));
  }
  // Llama-3-8B's card stores no dtype (bf16, the default); DeepSeek-V3's config.json says fp8.
  CHECK(dtypes == std::vector<std::string>{"Llama-3-8B bf16", "deepseek-v3 fp8"});
  // precision.weights in the config is the search axis for every model.
  const PlanSpec given =
      load_text(with(text, "  hardware:", "  precision: {weights: [bf16, fp8]}\n  hardware:"));
  CHECK(given.weights_given);
  CHECK(plan_layouts(given).size() == 2 * layouts.size());
}
