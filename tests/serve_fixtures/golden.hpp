#pragma once
// Golden serving runs: scenarios that exercise the scheduler (chunked prefill, preemption under each policy,
// two replicas) under a step time that depends on the mix but not on the model or GPU catalogues, and a text
// dump of everything a run reports. tests/serve_fixtures/golden_runs.txt holds the dump of the scheduler as
// it was before MTP (commit a787c23): a run without MTP must reproduce it byte for byte.
//
// Uses only what ServeSpec, ServeResult and StepMix had at a787c23, so the same file built against that
// commit's sim/serving/ wrote the golden file.
#include <fmt/format.h>

#include <string>
#include <vector>

#include "sim/serving/serve.hpp"
#include "sim/serving/step_time.hpp"
#include "tests/serve_fixtures/specs.hpp"

namespace mlasim::test {

/// 2 ms + 10 µs per token + 1 ns per token of context: a step time that varies with every part of the mix.
class LinearStepTime final : public StepTimeSource {
 public:
  TimePs step_time(const StepMix& mix, const SequenceWorkSource&) override {
    return 2'000'000'000 + 10'000'000 * mix.tokens() + 1'000 * (mix.decode_context + mix.prefill_context);
  }
};

/// The golden scenarios: a tight KV cache (preemptions) under each scheduler policy, and two replicas behind
/// least-outstanding routing.
inline std::vector<ServeSpec> golden_specs() {
  std::vector<ServeSpec> out;
  for (const SchedulerPolicy policy :
       {SchedulerPolicy::kVllm, SchedulerPolicy::kMaxUtilization, SchedulerPolicy::kNoEvict}) {
    ServeSpec s = llama_spec(40.0, 150);
    s.kv_blocks = 80;
    s.workload.seed = 7;
    uniform_lengths(s, 300);
    s.scheduler.policy = policy;
    s.check_invariants = true;
    out.push_back(s);
  }
  ServeSpec two = llama_spec(30.0, 100);
  two.replicas = 2;
  two.router = RouterPolicy::kLeastOutstanding;
  two.kv_blocks = 200;
  two.workload.output.kind = LengthSpec::Kind::kUniform;
  two.workload.output.min = 1;
  two.workload.output.max = 500;
  two.check_invariants = true;
  out.push_back(two);
  return out;
}

/// Everything a run reports, as text: the summary's counts and distributions, every time bucket, and the
/// per-request CSV.
inline std::string golden_text(const ServeResult& r) {
  const ServeSummary& s = r.summary;
  std::string out = fmt::format(
      "arrived {} completed {} rejected {} in_flight {} preemptions {} steps {} output_tokens {} "
      "prompt_tokens {} duration_s {}\n",
      s.arrived, s.completed, s.rejected, s.in_flight, s.preemptions, s.steps, s.output_tokens,
      s.prompt_tokens, s.duration_s);
  const auto dist = [&](const char* name, const Distribution& d) {
    out += fmt::format("{} count {} mean {} p50 {} p90 {} p99 {} max {}\n", name, d.count, d.mean_s, d.p50_s,
                       d.p90_s, d.p99_s, d.max_s);
  };
  dist("ttft", s.ttft);
  dist("tpot", s.tpot);
  dist("itl", s.itl);
  dist("e2e", s.e2e);
  dist("queue", s.queue);
  out += fmt::format("output_tokens_per_s {} mean_batch_size {} mean_kv_usage {} max_kv_usage {}\n",
                     s.output_tokens_per_s, s.mean_batch_size, s.mean_kv_usage, s.max_kv_usage);
  for (std::size_t i = 0; i < r.buckets.size(); ++i) {
    for (const TimeBucket& b : r.buckets[i]) {
      out +=
          fmt::format("bucket {} {} steps {} busy {} batch {} tokens {} sampled {} kv {} {} pre {} {} {}\n",
                      i, b.interval, b.steps, b.busy_ps, b.batch_sum, b.tokens_sum, b.sampled,
                      b.kv_used_weighted, b.kv_used_max, b.preemptions, b.waiting_last, b.running_last);
    }
  }
  out += r.requests_csv;
  return out;
}

/// The golden dump of every scenario, one after the other.
inline std::string golden_runs_text() {
  std::string out;
  for (const ServeSpec& spec : golden_specs()) {
    LinearStepTime step_time;
    out += "== " + std::string(to_string(spec.scheduler.policy)) + fmt::format(" x{}\n", spec.replicas);
    out += golden_text(run_serve(spec, {&step_time, nullptr}));
  }
  return out;
}

}  // namespace mlasim::test
