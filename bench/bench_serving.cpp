// Serving-simulation wall time on one core (Release build):
//   1. 1,000,000 requests of Llama-3-8B on one H100, 256 prompt / 256 output tokens (goal < 2 s),
//   2. 100,000 requests of DeepSeek-V3 on 8 x H200 (TP 8), 4k prompt / 1k output tokens (goal < 5 s).
//   3. the first run again with the per-request CSV on, handed to a sink that counts its bytes (what
//      streaming requests.csv costs before the disk: formatting the rows).
// Specs are built in C++ (tests/serve_fixtures/specs.hpp), per-request CSV off except in 3.
// Each line gives the wall time and the process's CPU time (the wall time on a shared machine counts the
// time other processes hold the core), and the share of iterations that ran through the decode group.
// Run: build/bench/bench_serving [llama_requests] [deepseek_requests]
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <string_view>

#include "serve_fixtures/specs.hpp"
#include "sim/serving/serve.hpp"

namespace {
void report(const char* what, const mlasim::ServeSpec& spec, const mlasim::ServeRunOptions& options = {}) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::clock_t c0 = std::clock();
  const mlasim::ServeResult r = mlasim::run_serve(spec, options);
  const double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto& m = r.summary;
  fmt::print(
      "{}: {:.3f} s wall, {:.3f} s CPU for {} requests ({} completed, {} steps, {:.0f}% grouped, {} events); "
      "simulated {:.0f} s, {:.0f} output tok/s, mean batch {:.1f}, TPOT p50 {:.2f} ms, preemptions {}\n",
      what, s, cpu, m.arrived, m.completed, m.steps,
      m.steps > 0 ? 100.0 * static_cast<double>(r.grouped_steps) / static_cast<double>(m.steps) : 0.0,
      m.events, m.duration_s, m.output_tokens_per_s, m.mean_batch_size, m.tpot.p50_s * 1e3, m.preemptions);
}
}  // namespace

int main(int argc, char** argv) {
  using namespace mlasim;
  const std::int64_t llama_n = argc > 1 ? std::strtoll(argv[1], nullptr, 10) : 1'000'000;
  const std::int64_t ds_n = argc > 2 ? std::strtoll(argv[2], nullptr, 10) : 100'000;

  ServeSpec llama = test::llama_spec(60.0, llama_n);  // near saturation of one H100
  llama.per_request_csv = false;
  report("llama-3-8b 1xH100 poisson 60 req/s 256/256", llama);

  ServeSpec llama_closed = llama;
  llama_closed.workload.arrival = ArrivalKind::kClosedLoop;
  llama_closed.workload.concurrency = 256;
  report("llama-3-8b 1xH100 closed loop 256 256/256", llama_closed);

  ServeSpec llama_csv = llama;
  llama_csv.per_request_csv = true;
  std::uint64_t csv_bytes = 0;
  ServeRunOptions sink;
  sink.requests_csv_sink = [&csv_bytes](std::string_view text) { csv_bytes += text.size(); };
  report("llama-3-8b 1xH100 poisson 60 req/s 256/256, per-request CSV to a sink", llama_csv, sink);
  fmt::print("  requests.csv: {} bytes ({:.0f} per request)\n", csv_bytes,
             static_cast<double>(csv_bytes) / static_cast<double>(llama_n));

  ServeSpec ds = test::deepseek_spec(128, ds_n);
  ds.per_request_csv = false;
  report("deepseek-v3 8xH200 tp8 closed loop 128 4k/1k", ds);
  return 0;
}
