#pragma once
// Serving scenarios for tests and benchmarks, built in C++ on the shared specs of tests/spec_fixtures.hpp so
// they do not depend on the model-card and hardware catalogues.
#include "sim/serving/serve.hpp"
#include "tests/spec_fixtures.hpp"

namespace mlasim::test {

/// Llama-3-8B on one H100, Poisson arrivals, 256/256 tokens.
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
