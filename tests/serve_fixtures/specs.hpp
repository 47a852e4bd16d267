#pragma once
// Serving scenarios for tests and benchmarks, built in C++ on the shared specs of tests/spec_fixtures.hpp so
// they do not depend on the model-card and hardware catalogues.
#include <string>

#include "sim/config/serve_config.hpp"
#include "sim/serving/serve.hpp"
#include "tests/spec_fixtures.hpp"
#include "tests/test_support.hpp"

namespace mlasim::test {

/// Llama-3-8B on one H100, Poisson arrivals, 256/256 tokens.
/// Lengths that stress a KV cache: prompts uniform in [16, 600], outputs in [1, output_max], 512 tokens a
/// step.
inline void uniform_lengths(ServeSpec& s, std::int64_t output_max) {
  s.workload.prompt.kind = LengthSpec::Kind::kUniform;
  s.workload.prompt.min = 16;
  s.workload.prompt.max = 600;
  s.workload.output.kind = LengthSpec::Kind::kUniform;
  s.workload.output.min = 1;
  s.workload.output.max = output_max;
  s.scheduler.max_num_batched_tokens = 512;
}

/// The InputError message of loading `text` as a serve config ("no error" when it loads).
inline std::string serve_load_error(const std::string& text) {
  const ScratchDir dir("mlasim_test_serve_config");
  try {
    (void)load_serve_config(dir.write("serve.yaml", text));
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

inline ServeSpec llama_spec(double rate_per_s, std::int64_t requests) {
  ServeSpec s;
  s.name = "llama3-8b-h100";
  s.model = llama3_8b();
  s.hardware = h100();
  s.workload.arrival = ArrivalKind::kPoisson;
  s.workload.rate_per_s = rate_per_s;
  s.workload.num_requests = requests;
  s.workload.prompt = LengthSpec::fixed(256);
  s.workload.output = LengthSpec::fixed(256);
  return s;
}

/// DeepSeek-V3 on 8 × H200 (TP 8), fp8 weights, 4k/1k tokens, closed loop.
inline ServeSpec deepseek_spec(int concurrency, std::int64_t requests) {
  ServeSpec s;
  s.name = "deepseek-v3-8xh200";
  s.model = deepseek_v3();
  s.hardware = h200();
  s.parallel.tp = 8;
  s.precision.weights = Dtype::kFp8;
  s.workload.arrival = ArrivalKind::kClosedLoop;
  s.workload.concurrency = concurrency;
  s.workload.num_requests = requests;
  s.workload.prompt = LengthSpec::fixed(4096);
  s.workload.output = LengthSpec::fixed(1024);
  return s;
}

}  // namespace mlasim::test
