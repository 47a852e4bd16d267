// Benchmark (run by hand): a 10,000-point sweep — 4 variants × 25 contexts × 10 batches × 10 GPU/TP
// combinations (5 GPUs × TP {4, 8}) of Llama-3-70B — timed on one core: run_sweep (typed points), and
// run_sweep plus sweep.csv (the tidy table and its CSV, NaN written empty as the report writes it); then
// the same grid at batch `max` alone (1,000 points, each as large a batch as fits).
// Run: taskset -c 0 build/bench/bench_sweep. Instructions (bench/README.md): valgrind --tool=callgrind
// --toggle-collect='mlasim::run_sweep(*' build/bench/bench_sweep, over 77,000 points (7 × 10,000 + 7 ×
// 1,000).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "reports/sweep_report.hpp"
#include "reports/table_writers.hpp"
#include "sim/config/loader.hpp"
#include "sim/sweep/sweep.hpp"

int main() {
  using namespace mlasim;
  using clock = std::chrono::steady_clock;
  SweepSpec spec;
  spec.name = "bench";
  spec.models = {resolve_model("llama-3-70b")};
  for (const char* v : {"mha", "gqa:8", "mqa", "mla:512/64"}) spec.variants.push_back(parse_variant(v));
  for (const char* h : {"h100-sxm", "h200", "a100-80gb", "b200", "mi300x"})
    spec.hardware.push_back(resolve_hw(h));
  spec.tp = {4, 8};
  spec.batch = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
  for (int i = 0; i < 25; ++i)
    spec.context.push_back(std::int64_t{512} << (i / 3) | (std::int64_t{i % 3} << 6));
  spec.s_q = {1};
  fmt::print("points: {}\n", sweep_size(spec));

  std::vector<double> eval_s, total_s;
  std::size_t bytes = 0;
  for (int rep = 0; rep < 7; ++rep) {
    const auto t0 = clock::now();
    const std::vector<SweepPoint> points = run_sweep(spec);
    const auto t1 = clock::now();
    const std::string csv = table_to_csv(with_missing_as(sweep_table(spec, points), ""));
    const auto t2 = clock::now();
    bytes = csv.size();
    eval_s.push_back(std::chrono::duration<double>(t1 - t0).count());
    total_s.push_back(std::chrono::duration<double>(t2 - t0).count());
  }
  std::sort(eval_s.begin(), eval_s.end());
  std::sort(total_s.begin(), total_s.end());
  fmt::print("run_sweep: median {:.1f} ms (min {:.1f} ms) over 7 runs\n", eval_s[3] * 1e3, eval_s[0] * 1e3);
  fmt::print("run_sweep + CSV ({} bytes): median {:.1f} ms\n", bytes, total_s[3] * 1e3);
  fmt::print("per point: {:.2f} us\n", eval_s[3] / double(sweep_size(spec)) * 1e6);

  spec.batch = {BatchChoice::max()};
  std::vector<double> max_s;
  double sequences = 0;
  for (int rep = 0; rep < 7; ++rep) {
    const auto t0 = clock::now();
    const std::vector<SweepPoint> points = run_sweep(spec);
    max_s.push_back(std::chrono::duration<double>(clock::now() - t0).count());
    sequences = 0;
    for (const SweepPoint& p : points) sequences += p.batch;
  }
  std::sort(max_s.begin(), max_s.end());
  fmt::print("batch max ({} points, {:.0f} sequences in all): median {:.1f} ms ({:.2f} us per point)\n",
             sweep_size(spec), sequences, max_s[3] * 1e3, max_s[3] / double(sweep_size(spec)) * 1e6);
  return 0;
}
