// Disaggregated prefill and decode (sim/serving/README.md, "Disaggregated prefill and decode"): hand counts
// of one request's timeline, conservation of requests, tokens and KV bytes, determinism, and the config
// block.
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <string>

#include "models/workload.hpp"
#include "reports/serve_report.hpp"
#include "serve_fixtures/specs.hpp"
#include "sim/config/serve_config.hpp"
#include "sim/error.hpp"
#include "sim/serving/serve.hpp"
#include "sim/serving/serve_sweep.hpp"
#include "sim/serving/step_time.hpp"
#include "tests/test_support.hpp"

using namespace mlasim;
using namespace mlasim::test;
namespace fs = std::filesystem;

namespace {

constexpr TimePs kMs = kPsPerSecond / 1000;

struct Recorder : ServeObserver {
  std::map<std::uint64_t, RequestRecord> requests;
  std::map<int, std::int64_t> steps;  ///< per replica
  std::int64_t decode_steps_with_prefill = 0;
  int prefill_replicas = 0;
  void on_step(int replica, TimePs, TimePs, const StepMix& mix, std::int64_t used,
               std::int64_t total) override {
    ++steps[replica];
    REQUIRE(used >= 0);
    REQUIRE(used <= total);
    // A prefill replica never decodes; a decode replica never prefills.
    if (replica < prefill_replicas) {
      CHECK(mix.decode_seqs == 0);
    } else if (mix.prefill_seqs != 0) {
      ++decode_steps_with_prefill;
    }
  }
  void on_request(const RequestRecord& r) override { requests[r.id] = r; }
};

/// Llama-3-8B, `prefill` + `decode` replicas of one GPU each, a 1 GB/s link with 10 us latency.
ServeSpec disagg_spec(int prefill, int decode, std::int64_t requests) {
  ServeSpec s = llama_spec(20.0, requests);
  DisaggregatedSpec d;
  d.prefill_replicas = prefill;
  d.decode_replicas = decode;
  d.kv_bandwidth_bytes_per_s = 1e9;
  d.kv_latency_s = 10e-6;
  s.disaggregated = d;
  s.check_invariants = true;
  return s;
}

/// Llama-3-8B's KV per token at bf16, counted by hand: K and V × 32 layers × 8 KV heads × 128 × 2 bytes.
constexpr double kLlamaKvBytesPerToken = 2.0 * 32 * 8 * 128 * 2;

}  // namespace

TEST_CASE("one request: TTFT is its prefill steps, E2E adds the transfer and output - 1 decode steps") {
  // 300-token prompt in chunks of at most 128 tokens: 3 prefill steps of 7 ms; output 5: 4 decode steps of
  // 3 ms; the transfer 10 us + 300 × 131072 B / 1 GB/s = 39.3316 ms.
  for (const std::int64_t budget : {8192, 128}) {
    INFO("max_num_batched_tokens " << budget);
    ServeSpec s = disagg_spec(1, 1, 1);
    s.workload.prompt = LengthSpec::fixed(300);
    s.workload.output = LengthSpec::fixed(5);
    s.scheduler.max_num_batched_tokens = budget;
    FixedStepTime prefill(7 * kMs), decode(3 * kMs);
    Recorder rec;
    rec.prefill_replicas = 1;
    const ServeResult r = run_serve(s, {&prefill, &rec, &decode});
    REQUIRE(rec.requests.size() == 1);
    const RequestRecord& q = rec.requests.at(0);
    const TimePs prefill_steps = budget == 128 ? 3 : 1;
    const TimePs transfer = seconds_to_ps(10e-6 + 300.0 * 131072.0 / 1e9);
    CHECK(q.status == RequestStatus::kCompleted);
    CHECK(q.replica == 1);  // completed on the decode replica
    CHECK(q.ttft_ps() == prefill_steps * 7 * kMs);
    CHECK(q.e2e_ps() == prefill_steps * 7 * kMs + transfer + 4 * 3 * kMs);
    CHECK(q.tpot_ps() == Approx(static_cast<double>(transfer + 4 * 3 * kMs) / 4.0));
    CHECK(rec.steps[0] == prefill_steps);
    CHECK(rec.steps[1] == 4);
    const ServeSummary& m = r.summary;
    CHECK(m.disaggregated);
    CHECK(m.kv_transfers == 1);
    CHECK(m.kv_transfer_bytes == 300.0 * kLlamaKvBytesPerToken);
    CHECK(m.kv_transfer_time_s == Approx(10e-6 + 300.0 * 131072.0 / 1e9));
    CHECK(m.output_tokens == 5);
    CHECK(m.steps == prefill_steps + 4);
    CHECK(m.gpus == 2);
    // ITL: the first gap holds the transfer and a decode step, the others one decode step each.
    CHECK(m.itl.count == 4);
    CHECK(m.itl.max_s == Approx(ps_to_seconds(transfer + 3 * kMs)).epsilon(0.01));
  }
}

TEST_CASE(
    "a prefill replica holds the prompt's blocks until the transfer ends; a decode replica queues FIFO") {
  // Both pools have 19 blocks of 16 tokens: one 300-token prompt on the prefill side, one 300 + 5 - 1 = 304
  // token request on the decode side. Two requests arrive together at 0.
  ServeSpec s = disagg_spec(1, 1, 2);
  s.workload.arrival = ArrivalKind::kClosedLoop;
  s.workload.concurrency = 2;
  s.workload.prompt = LengthSpec::fixed(300);
  s.workload.output = LengthSpec::fixed(5);
  s.kv_blocks = 19;
  const TimePs tp = 7 * kMs, td = 30 * kMs;
  const TimePs transfer = seconds_to_ps(10e-6 + 300.0 * 131072.0 / 1e9);
  FixedStepTime prefill(tp), decode(td);
  Recorder rec;
  rec.prefill_replicas = 1;
  const ServeResult r = run_serve(s, {&prefill, &rec, &decode});
  REQUIRE(rec.requests.size() == 2);
  const RequestRecord& a = rec.requests.at(0);
  const RequestRecord& b = rec.requests.at(1);
  CHECK(a.arrival_ps == 0);
  CHECK(b.arrival_ps == 0);
  // a: prefill, transfer, 4 decodes.
  CHECK(a.first_token_ps == tp);
  CHECK(a.finish_ps == tp + transfer + 4 * td);
  // b: admitted when a's blocks come back (after a's transfer), then its own transfer; its decode waits
  // for a's whole length to leave the decode replica.
  CHECK(b.first_scheduled_ps == tp + transfer);
  CHECK(b.first_token_ps == 2 * tp + transfer);
  CHECK(b.finish_ps == tp + transfer + 8 * td);
  CHECK(b.tpot_ps() == Approx(static_cast<double>(b.finish_ps - b.first_token_ps) / 4.0));
  CHECK(r.summary.kv_transfers == 2);
  CHECK(r.summary.kv_transfer_time_s == Approx(2 * ps_to_seconds(transfer)));
}

TEST_CASE("a single-token output finishes on the prefill replica, with no transfer") {
  ServeSpec s = disagg_spec(1, 1, 3);
  s.workload.output = LengthSpec::fixed(1);
  FixedStepTime fixed(5 * kMs);
  Recorder rec;
  rec.prefill_replicas = 1;
  const ServeResult r = run_serve(s, {&fixed, &rec});
  CHECK(r.summary.completed == 3);
  CHECK(r.summary.kv_transfers == 0);
  CHECK(r.summary.kv_transfer_bytes == 0.0);
  for (const auto& [id, q] : rec.requests) CHECK(q.replica == 0);
  CHECK(rec.steps.count(1) == 0);
}

TEST_CASE("disaggregated runs conserve requests, tokens and KV bytes, and never preempt on decode") {
  for (const bool mtp : {false, true}) {
    INFO("mtp " << mtp);
    ServeSpec s = disagg_spec(2, 2, 400);
    s.workload.rate_per_s = 60.0;
    uniform_lengths(s, 300);
    s.kv_blocks = 120;  // 1920 tokens per replica: decode replicas must queue requests
    s.router = RouterPolicy::kLeastOutstanding;
    if (mtp) {
      s.mtp.depth = 2;
      s.mtp.acceptance = {0.8, 0.6};
    }
    FixedStepTime prefill(20 * kMs), decode(4 * kMs);
    Recorder rec;
    rec.prefill_replicas = 2;
    const ServeResult r = run_serve(s, {&prefill, &rec, &decode});
    const ServeSummary& m = r.summary;
    CHECK(m.stop_reason == "drained");
    CHECK(m.arrived == 400);
    CHECK(m.completed == 400);
    CHECK(m.rejected == 0);
    // Preemptions happen among the prefill pool's chunks only (a decode replica's would throw).
    CHECK(rec.decode_steps_with_prefill == 0);
    REQUIRE(rec.requests.size() == 400);
    std::int64_t outputs = 0, transferred_tokens = 0, transfers = 0, preemptions = 0;
    for (const auto& [id, q] : rec.requests) {
      CHECK(q.status == RequestStatus::kCompleted);
      CHECK(q.generated_tokens == q.output_tokens);
      outputs += q.output_tokens;
      preemptions += q.preemptions;
      if (q.output_tokens > 1) {
        ++transfers;
        transferred_tokens += q.prompt_tokens;
        CHECK(q.replica >= 2);  // decoded by a decode replica
        // After the first token: the transfer, then at least one 4 ms step per decode that emits (with MTP
        // a step emits up to 3 tokens).
        const TimePs transfer = seconds_to_ps(10e-6 + static_cast<double>(q.prompt_tokens) * 131072.0 / 1e9);
        const std::int64_t decodes = mtp ? (q.output_tokens - 1 + 2) / 3 : q.output_tokens - 1;
        CHECK(q.finish_ps - q.first_token_ps >= transfer + decodes * 4 * kMs);
      } else {
        CHECK(q.replica < 2);
      }
    }
    CHECK(m.output_tokens == outputs);
    CHECK(m.preemptions == preemptions);
    CHECK(m.kv_transfers == transfers);
    CHECK(m.kv_transfer_bytes == static_cast<double>(transferred_tokens) * kLlamaKvBytesPerToken);
    CHECK(kv_bytes_per_token(s.model, s.precision.kv_cache) == kLlamaKvBytesPerToken);
    CHECK(m.gpus == 4);
    CHECK(m.kv_blocks_per_decode_replica == 120);
    // Both decode replicas and both prefill replicas worked.
    for (int i = 0; i < 4; ++i) CHECK(rec.steps[i] > 0);
  }
}

TEST_CASE("a request longer than a decode replica's cache is rejected on arrival, naming the decode pool") {
  ServeSpec s = disagg_spec(1, 1, 2);
  s.workload.prompt = LengthSpec::fixed(100);
  s.workload.output = LengthSpec::fixed(2000);
  s.kv_blocks = 50;  // 800 tokens: the prompt fits a prefill replica, the whole length no decode replica
  FixedStepTime fixed(5 * kMs);
  const ServeResult r = run_serve(s, {&fixed});
  CHECK(r.summary.rejected == 2);
  CHECK(r.summary.first_rejection.find("decode replica has 50") != std::string::npos);
}

TEST_CASE("a disaggregated run is deterministic and uses each pool's own step-time model") {
  ServeSpec s = disagg_spec(2, 1, 60);
  s.model = deepseek_v3();
  s.hardware = h200();
  s.precision.weights = Dtype::kFp8;
  s.disaggregated->prefill.tp = 8;
  s.disaggregated->decode.tp = 8;
  s.disaggregated->decode.dp_attention = true;
  s.disaggregated->decode.ep = 8;
  s.workload.prompt = LengthSpec::fixed(1000);
  s.workload.output = LengthSpec::fixed(20);
  const ServeResult a = run_serve(s);
  const ServeResult b = run_serve(s);
  CHECK(a.requests_csv == b.requests_csv);
  CHECK(a.summary.ttft.mean_s == b.summary.ttft.mean_s);
  CHECK(a.summary.completed == 60);
  CHECK(a.summary.gpus == 24);
  CHECK(a.summary.tp == 8);
  CHECK(a.summary.dp_attention);
  // A different decode layout changes the decode steps, not the prefill ones: the TTFTs stay.
  s.disaggregated->decode.dp_attention = false;
  s.disaggregated->decode.ep = 1;
  const ServeResult c = run_serve(s);
  CHECK(c.summary.ttft.mean_s == a.summary.ttft.mean_s);
  CHECK(c.summary.tpot.mean_s != a.summary.tpot.mean_s);
  // The summary table carries the pools' columns only for disaggregated runs.
  const auto has_column = [](const ServeSummary& m, const std::string& name) {
    const Table t = summary_row_table({m});
    for (const Column& col : t.columns())
      if (col.name == name) return true;
    return false;
  };
  CHECK(has_column(a.summary, "kv_transfer_bytes"));
  CHECK(has_column(a.summary, "decode_replicas"));
  CHECK_FALSE(has_column(run_serve(llama_spec(20.0, 5)).summary, "kv_transfer_bytes"));
}

namespace {
std::string load_error(const std::string& text) {
  return serve_load_error(text);
}

const char* kHead = R"(serve:
  model: deepseek-v3
  hardware: h200
  precision: {weights: fp8}
  workload: {arrival: poisson, rate: 4 req/s, requests: 50}
)";
}  // namespace

TEST_CASE("the disaggregated block reads each pool's layout and the KV link") {
  const ScratchDir dir("mlasim_test_disagg_config");
  const fs::path p = dir.write("serve.yaml", std::string(kHead) + R"(  disaggregated:
    prefill: {replicas: 3, tp: 8}
    decode: {replicas: 2, tp: 16, dp_attention: true, expert_parallel: true, micro_batches: 2}
    kv_transfer: {bandwidth: 50 GB/s, latency: 10 us}
)");
  const ServeConfig cfg = load_serve_config(p);
  REQUIRE(cfg.spec.disaggregated);
  const DisaggregatedSpec& d = *cfg.spec.disaggregated;
  CHECK(d.prefill_replicas == 3);
  CHECK(d.prefill.tp == 8);
  CHECK_FALSE(d.prefill.dp_attention);
  CHECK(d.prefill.ep == 1);
  CHECK(d.decode_replicas == 2);
  CHECK(d.decode.tp == 16);
  CHECK(d.decode.dp_attention);
  CHECK(d.decode.ep == 16);
  CHECK(d.decode.micro_batches == 2);
  CHECK(d.kv_bandwidth_bytes_per_s == Approx(50e9));
  CHECK(d.kv_latency_s == Approx(10e-6));
  // Without kv_transfer: the profile's scale-out network.
  const fs::path q = dir.write("serve2.yaml", std::string(kHead) + R"(  disaggregated:
    prefill: {tp: 8}
    decode: {tp: 8}
)");
  const ServeConfig dflt = load_serve_config(q);
  CHECK(dflt.spec.disaggregated->kv_bandwidth_bytes_per_s ==
        dflt.spec.hardware.scale_out.bandwidth_bytes_per_s);
  CHECK(dflt.spec.disaggregated->kv_bandwidth_bytes_per_s > 0);
  CHECK(dflt.spec.disaggregated->kv_latency_s == dflt.spec.hardware.scale_out.latency_s);
  CHECK(dflt.spec.disaggregated->prefill_replicas == 1);
}

TEST_CASE("disaggregated config errors are located and name the keys") {
  // A top-level layout key beside the block.
  const std::string both = load_error(std::string(kHead) + R"(  tp: 8
  disaggregated:
    prefill: {tp: 8}
    decode: {tp: 8}
)");
  CHECK(both.find("serve.yaml:6:") != std::string::npos);
  CHECK(both.find("`tp` and `disaggregated`") != std::string::npos);
  const std::string replicas = load_error(std::string(kHead) + R"(  replicas: 2
  disaggregated: {prefill: {tp: 8}, decode: {tp: 8}}
)");
  CHECK(replicas.find("`replicas` and `disaggregated`") != std::string::npos);
  // A missing pool, an unknown key, a bad bandwidth, a model that does not fit the pool's GPUs.
  CHECK(load_error(std::string(kHead) + "  disaggregated: {prefill: {tp: 8}}\n").find("decode") !=
        std::string::npos);
  const std::string typo = load_error(std::string(kHead) + R"(  disaggregated:
    prefill: {tp: 8, replica: 2}
    decode: {tp: 8}
)");
  CHECK(typo.find("serve.yaml:7:") != std::string::npos);
  CHECK(typo.find("replica") != std::string::npos);
  const std::string bw = load_error(std::string(kHead) + R"(  disaggregated:
    prefill: {tp: 8}
    decode: {tp: 8}
    kv_transfer: {bandwidth: 0 GB/s}
)");
  CHECK(bw.find("serve.yaml:9:") != std::string::npos);
  CHECK(bw.find("bandwidth must be positive") != std::string::npos);
  const std::string fit = load_error(std::string(kHead) + R"(  disaggregated:
    prefill: {tp: 8}
    decode: {tp: 2}
)");
  CHECK(fit.find("serve.yaml:8:") != std::string::npos);
}

TEST_CASE("the example disaggregated config loads") {
  const ServeConfig cfg = load_serve_config(fs::path(MLASIM_SOURCE_DIR) / "configs" /
                                            "serve_deepseek_v3_disaggregated_h100.yaml");
  REQUIRE(cfg.spec.disaggregated);
  CHECK(cfg.spec.disaggregated->prefill_replicas == 2);
  CHECK(cfg.spec.disaggregated->decode.tp == 16);
  CHECK(cfg.spec.disaggregated->decode.dp_attention);
  CHECK(cfg.sweep.size() == 5);
  // It runs: every request completes, and each transfers its 2000 prompt tokens' MLA latents, counted by
  // hand: (512 + 64) × 61 layers × 2 bytes (bf16) per token.
  const ServeResult r = run_serve(cfg.spec);
  CHECK(r.summary.completed == cfg.spec.workload.num_requests);
  CHECK(r.summary.kv_transfers == cfg.spec.workload.num_requests);
  CHECK(r.summary.kv_transfer_bytes ==
        static_cast<double>(cfg.spec.workload.num_requests) * 2000.0 * (512 + 64) * 61 * 2);
  CHECK(r.summary.gpus == 48);
}
