// mlasim plan wall time on one core (Release build): the DeepSeek-V3 question of issue 10 —
// configs/plan_deepseek_v3_h200.yaml (20 req/s, 4k in / 1k out, TTFT p99 < 2 s, TPOT p99 < 50 ms; MLA against
// GQA-8, DP-attention on and off, on H200 TP 8) — goal under 30 s. Also configs/plan_llama3_70b.yaml.
// Run: taskset -c 0 build/bench/bench_plan [repeats]   (median of the repeats; run from the source folder)
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <vector>

#include "sim/config/plan_config.hpp"
#include "sim/plan/plan.hpp"

namespace {
void bench(const char* config, int repeats) {
  const mlasim::PlanSpec spec = mlasim::load_plan_config(config);
  std::vector<double> times;
  mlasim::PlanResult r;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    r = mlasim::run_plan(spec);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  const mlasim::LayoutOutcome* best = r.cheapest();
  fmt::print(
      "{}: median {:.2f} s (min {:.2f}, max {:.2f}, {} runs); {} layouts, {} simulations; {}\n", config,
      times[times.size() / 2], times.front(), times.back(), repeats, r.layouts.size(), r.simulations,
      best == nullptr ? std::string("no deployment meets the SLOs")
                      : fmt::format("cheapest {} x {} = {:.2f} USD/h, {:.4g} USD per 1M output tokens",
                                    best->at_target->replicas, best->layout.describe(),
                                    best->cost.usd_per_hour, best->cost.usd_per_million_output_tokens));
}
}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  bench("configs/plan_deepseek_v3_h200.yaml", repeats);
  bench("configs/plan_llama3_70b.yaml", repeats);
  return 0;
}
