#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reports/json_output.hpp"
#include "reports/serve_report.hpp"
#include "reports/table_writers.hpp"
#include "serve_fixtures/golden.hpp"
#include "serve_fixtures/specs.hpp"
#include "sim/serving/serve.hpp"
#include "sim/serving/serve_sweep.hpp"
#include "sim/serving/step_time.hpp"
#include "sim/step/evaluate.hpp"

using namespace mlasim;
using namespace mlasim::test;

namespace {

/// Collects every step and request of a run.
struct Recorder : ServeObserver {
  std::vector<RequestRecord> requests;
  std::vector<TimePs> step_times;
  std::vector<std::int64_t> used_blocks;
  std::int64_t max_used = 0;
  void on_step(int, TimePs, TimePs duration, const StepMix&, std::int64_t used, std::int64_t total) override {
    step_times.push_back(duration);
    used_blocks.push_back(used);
    max_used = std::max(max_used, used);
    REQUIRE(used <= total);
    REQUIRE(used >= 0);
  }
  void on_request(const RequestRecord& r) override { requests.push_back(r); }
};

/// A small Llama run that stresses the KV cache: few blocks, long-ish outputs, preemptions.
ServeSpec tight_spec(std::int64_t kv_blocks) {
  ServeSpec s = llama_spec(40.0, 400);
  s.kv_blocks = kv_blocks;
  uniform_lengths(s, 400);
  s.check_invariants = true;
  return s;
}

}  // namespace

TEST_CASE("every request that arrives ends completed, rejected, or in flight") {
  ServeSpec s = tight_spec(60);             // 960 tokens: some requests can never fit
  s.limits.max_time_ps = 8 * kPsPerSecond;  // stop with requests in flight
  Recorder rec;
  const ServeResult r = run_serve(s, {nullptr, &rec});
  const ServeSummary& m = r.summary;
  CHECK(m.stop_reason == "time_limit");
  CHECK(m.rejected > 0);
  CHECK(m.completed > 0);
  CHECK(m.in_flight > 0);
  CHECK(m.arrived == m.completed + m.rejected + m.in_flight);
  // The per-request CSV has one row per arrived request, each with one of the three statuses.
  const auto rows = std::count(r.requests_csv.begin(), r.requests_csv.end(), '\n') - 1;
  CHECK(rows == m.arrived);
  std::set<std::uint64_t> ids;
  for (const RequestRecord& q : rec.requests) {
    CHECK(q.status != RequestStatus::kInFlight);
    ids.insert(q.id);
    if (q.status == RequestStatus::kRejected) CHECK(q.reason.find("KV blocks") != std::string::npos);
  }
  CHECK(static_cast<std::int64_t>(ids.size()) == m.completed + m.rejected);
}

TEST_CASE("KV blocks are conserved at every step, through preemptions") {
  // check_invariants verifies free + held == total and held == blocks_for(cached tokens) after every
  // scheduling decision and every step; it throws InternalError otherwise.
  const ServeSpec s = tight_spec(80);
  Recorder rec;
  const ServeResult r = run_serve(s, {nullptr, &rec});
  CHECK(r.summary.preemptions > 0);
  CHECK(rec.max_used <= 80);
  CHECK(r.summary.arrived == r.summary.completed + r.summary.rejected);
}

TEST_CASE("TPOT of every request lies between the smallest and largest step time") {
  ServeSpec s = llama_spec(30.0, 600);
  s.workload.prompt.kind = LengthSpec::Kind::kLognormal;
  s.workload.prompt.median = 300;
  s.workload.prompt.sigma = 0.7;
  s.workload.prompt.min = 1;
  s.workload.prompt.max = 4000;
  s.workload.output.kind = LengthSpec::Kind::kUniform;
  s.workload.output.min = 2;
  s.workload.output.max = 300;
  Recorder rec;
  const ServeResult r = run_serve(s, {nullptr, &rec});
  REQUIRE(r.summary.preemptions == 0);  // a preempted request may wait longer than any step
  const auto [lo, hi] = std::minmax_element(rec.step_times.begin(), rec.step_times.end());
  int checked = 0;
  for (const RequestRecord& q : rec.requests) {
    if (q.status != RequestStatus::kCompleted || q.output_tokens < 2) continue;
    CHECK(q.tpot_ps() >= static_cast<double>(*lo));
    CHECK(q.tpot_ps() <= static_cast<double>(*hi));
    ++checked;
  }
  CHECK(checked == r.summary.completed);
  CHECK(r.summary.step_min_s == ps_to_seconds(*lo));
}

TEST_CASE("Little's law holds within 2% on a long stationary run") {
  ServeSpec s = llama_spec(20.0, 1'000'000);
  s.workload.prompt.kind = LengthSpec::Kind::kUniform;
  s.workload.prompt.min = 64;
  s.workload.prompt.max = 512;
  s.workload.output.kind = LengthSpec::Kind::kUniform;
  s.workload.output.min = 16;
  s.workload.output.max = 256;
  s.limits.max_time_ps = 3000 * kPsPerSecond;  // stop mid-traffic: requests in flight at the edge
  s.per_request_csv = false;
  s.measure.warmup = RequestShare{0.0, -1};  // the whole run: L, λ and W over the same requests and time
  s.measure.drain = RequestShare{0.0, -1};
  const ServeResult r = run_serve(s);
  const ServeSummary& m = r.summary;
  REQUIRE(m.in_flight > 0);
  const double T = ps_to_seconds(r.end_ps);
  const double L = r.in_system_area_ps / static_cast<double>(r.end_ps);
  const double lambda = static_cast<double>(m.arrived) / T;
  const double W = m.e2e.mean_s;
  CHECK(L == Approx(lambda * W).epsilon(0.02));
  CHECK(m.mean_requests_in_system == Approx(L));
}

TEST_CASE("batch size 1 with a fixed step time under Poisson arrivals waits as M/D/1") {
  // One server, deterministic service D (one step: prompt prefilled and the only output token sampled),
  // Poisson arrivals at rate λ: Wq = ρ·D / (2(1 − ρ)), ρ = λ·D (Pollaczek–Khinchine).
  const TimePs D = 10 * kPsPerSecond / 1000;  // 10 ms
  for (double rho : {0.5, 0.8}) {
    ServeSpec s = llama_spec(rho / ps_to_seconds(D), 1'000'000);
    s.scheduler.max_num_seqs = 1;
    s.workload.prompt = LengthSpec::fixed(16);
    s.workload.output = LengthSpec::fixed(1);
    s.per_request_csv = false;
    FixedStepTime fixed(D);
    const ServeResult r = run_serve(s, {&fixed, nullptr});
    const double wq = rho * ps_to_seconds(D) / (2.0 * (1.0 - rho));
    INFO("rho " << rho);
    CHECK(r.summary.completed == 1'000'000);
    CHECK(r.summary.queue.mean_s == Approx(wq).epsilon(0.02));
    CHECK(r.summary.max_batch_size == 1);
  }
}

TEST_CASE("the same seed gives byte-identical outputs") {
  ServeSpec s = tight_spec(120);
  s.check_invariants = false;
  s.replicas = 2;
  s.router = RouterPolicy::kLeastOutstanding;
  const ServeResult a = run_serve(s);
  const ServeResult b = run_serve(s);
  CHECK(a.requests_csv == b.requests_csv);
  CHECK(table_to_csv(timeseries_table(a)) == table_to_csv(timeseries_table(b)));
  CHECK(table_to_csv(summary_row_table({a.summary})) == table_to_csv(summary_row_table({b.summary})));
  s.workload.seed = 2;
  const ServeResult c = run_serve(s);
  CHECK(a.requests_csv != c.requests_csv);
}

TEST_CASE("more KV memory never increases preemptions") {
  // Memory doubles at each step. (vLLM's greedy admission — admit whatever fits now, preempt later — is not
  // strictly monotone for small increments: a slightly larger cache can admit one more request that later
  // forces an extra preemption, a ~1% wobble. Doubling the cache is well beyond that wobble.)
  for (bool closed : {false, true}) {
    std::int64_t previous = -1;
    for (std::int64_t blocks : {40, 80, 160, 320, 640, 1280, 2560}) {
      ServeSpec s = tight_spec(blocks);
      s.check_invariants = false;
      s.workload.prompt.max = 300;  // every request fits even the smallest cache: same work in every run
      s.workload.output.max = 300;
      if (closed) {
        s.workload.arrival = ArrivalKind::kClosedLoop;
        s.workload.concurrency = 32;
      }
      const ServeResult r = run_serve(s);
      INFO("closed loop " << closed << ", blocks " << blocks << ", preemptions " << r.summary.preemptions);
      CHECK(r.summary.rejected == 0);
      if (previous >= 0) CHECK(r.summary.preemptions <= previous);
      previous = r.summary.preemptions;
    }
    CHECK(previous == 0);
  }
}

TEST_CASE("a closed loop of concurrency 1 takes exactly one prefill and output - 1 decode steps") {
  ServeSpec s = llama_spec(1.0, 3);
  s.workload.arrival = ArrivalKind::kClosedLoop;
  s.workload.concurrency = 1;
  s.workload.prompt = LengthSpec::fixed(300);
  s.workload.output = LengthSpec::fixed(40);
  Recorder rec;
  const ServeResult r = run_serve(s, {nullptr, &rec});
  REQUIRE(rec.requests.size() == 3);
  ModelStepTime model(s.model, DeviceModel(s.hardware, s.device_mode), s.precision, s.parallel, s.mla_mode);
  TimePs expected = model.reference_time({SequenceWork{300, 300, true, true}});
  for (std::int64_t k = 1; k < 40; ++k)
    expected += model.reference_time({SequenceWork{300 + k, 1, false, true}});
  TimePs previous_end = 0;
  for (const RequestRecord& q : rec.requests) {
    CHECK(q.e2e_ps() == expected);
    CHECK(q.arrival_ps == previous_end);  // the next request is issued when the previous completes
    previous_end = q.finish_ps;
  }
  CHECK(r.summary.steps == 3 * 40);
}

TEST_CASE("the host overhead per step adds to every step, exactly") {
  const ServeSpec s = llama_spec(1.0, 3);
  const DeviceModel device(s.hardware, s.device_mode, s.launch);
  const Parallelism par = s.parallel;
  ModelStepTime plain(s.model, device, s.precision, par, s.mla_mode);
  ModelStepTime loaded(s.model, device, s.precision, par, s.mla_mode, 2e-3);
  const std::vector<SequenceWork> step{SequenceWork{4096, 1, false, true}, SequenceWork{100, 1, false, true}};
  CHECK(loaded.reference_time(step) - plain.reference_time(step) == seconds_to_ps(2e-3));
}

TEST_CASE("the memoized step time equals build_step + cost_step on random mixes") {
  for (const ModelSpec& model : {llama3_8b(), deepseek_v3()}) {
    const int tp = model.attention.kind == AttentionKind::kMla ? 8 : 1;
    const HardwareSpec hw = model.attention.kind == AttentionKind::kMla ? h200() : h100();
    Precision p;
    if (tp == 8) p.weights = Dtype::kFp8;
    ModelStepTime st(model, DeviceModel(hw, DeviceMode::kDatasheet), p, Parallelism{tp}, MlaMode::kAuto, 0.0,
                     Speculation{}, 64);
    Rng rng(3);
    struct Work final : SequenceWorkSource {
      std::vector<SequenceWork> seqs;
      void fill(std::vector<SequenceWork>& out) const override { out = seqs; }
    } work;
    for (int trial = 0; trial < 300; ++trial) {
      work.seqs.clear();
      StepMix mix;
      const auto decodes = rng.uniform_int(0, 300);
      for (std::int64_t i = 0; i < decodes; ++i) {
        const auto ctx = rng.uniform_int(1, 20000);
        work.seqs.push_back({ctx, 1, false, true});
        mix.add_decode(ctx);
      }
      const auto prefills = rng.uniform_int(decodes == 0 ? 1 : 0, 3);
      for (std::int64_t i = 0; i < prefills; ++i) {
        const auto chunk = rng.uniform_int(1, 2048);
        const auto ctx = chunk + rng.uniform_int(0, 8000);
        const bool samples = rng.uniform_int(0, 1) == 1;
        work.seqs.push_back({ctx, chunk, true, samples});
        mix.add_prefill(chunk, ctx, samples);
      }
      const TimePs fast = st.step_time(mix, work);
      CHECK(fast == st.reference_time(work.seqs));
      // The same mix in another order hits the cache and must give the same time.
      std::reverse(work.seqs.begin(), work.seqs.end());
      CHECK(st.step_time(mix, work) == st.reference_time(work.seqs));
    }
    CHECK(st.cache_hits() >= 300);
  }
}

TEST_CASE("round-robin spreads requests evenly; least-outstanding balances the load") {
  for (RouterPolicy policy : {RouterPolicy::kRoundRobin, RouterPolicy::kLeastOutstanding}) {
    ServeSpec s = llama_spec(40.0, 400);
    s.replicas = 4;
    s.router = policy;
    Recorder rec;
    const ServeResult r = run_serve(s, {nullptr, &rec});
    std::vector<int> per(4, 0);
    for (const RequestRecord& q : rec.requests) ++per[static_cast<std::size_t>(q.replica)];
    if (policy == RouterPolicy::kRoundRobin) {
      CHECK(per == std::vector<int>{100, 100, 100, 100});
    } else {
      for (int n : per) CHECK(n > 50);
    }
    CHECK(r.summary.completed == 400);
  }
}

TEST_CASE("a model that does not fit is an input error") {
  ServeSpec s = deepseek_spec(1, 1);
  s.parallel.tp = 1;
  CHECK_THROWS_AS(run_serve(s), InputError);
}

// --- Steady-state window, percentile SLOs, overload verdict, scheduler policies, staggered starts ---

namespace {

constexpr TimePs kMs = kPsPerSecond / 1000;

/// One request per second for `n` seconds (arrivals at 1, 2, ..., n s), every one `prompt` / `output` tokens.
ServeSpec paced_spec(std::int64_t n, std::int64_t prompt, std::int64_t output) {
  ServeSpec s = llama_spec(1.0, n);
  s.workload.arrival = ArrivalKind::kTrace;
  for (std::int64_t i = 1; i <= n; ++i)
    s.workload.trace.push_back(TraceRequest{i * kPsPerSecond, prompt, output});
  return s;
}

/// M/D/1 with a 10 ms service: one sequence at a time, one-token outputs (one step per request).
ServeSpec md1_spec(double rho, std::int64_t requests) {
  ServeSpec s = llama_spec(rho / 0.010, requests);
  s.scheduler.max_num_seqs = 1;
  s.workload.prompt = LengthSpec::fixed(16);
  s.workload.output = LengthSpec::fixed(1);
  s.per_request_csv = false;
  return s;
}

const Cell& cell(const Table& t, const std::string& column) {
  return t.rows().front()[t.column_index(column)];
}

}  // namespace

TEST_CASE("the measurement window leaves out the first and last 10% of requests by arrival") {
  // 20 requests at 1, 2, ..., 20 s: warm-up = requests 0-1, drain = 18-19; the window opens when request 2
  // arrives (3 s) and closes when request 18 arrives (19 s). Each request takes 3 steps of 10 ms, alone.
  FixedStepTime fixed(10 * kMs);
  const ServeResult r = run_serve(paced_spec(20, 16, 3), {&fixed, nullptr});
  const ServeSummary& m = r.summary;
  CHECK(m.warmup_requests == 2);
  CHECK(m.drain_requests == 2);
  CHECK(m.measured_requests == 16);
  CHECK(m.measured_completed == 16);
  CHECK(m.window_start_s == 3.0);
  CHECK(m.window_end_s == 19.0);
  CHECK(m.offered_requests_per_s == Approx(16.0 / 16.0));
  CHECK(m.requests_per_s == Approx(16.0 / 16.0));         // completions at 3.03 s ... 18.03 s
  CHECK(m.output_tokens_per_s == Approx(3.0 * 16 / 16));  // of those completions
  CHECK(m.ttft.count == 16);
  CHECK(m.e2e.p99_s == Approx(0.030));
  CHECK(m.mean_requests_in_system == Approx(16 * 0.030 / 16.0));  // 16 requests × 30 ms each over 16 s
  // The per-request CSV marks which requests were measured.
  CHECK(std::count(r.requests_csv.begin(), r.requests_csv.end(), '\n') == 21);
  CHECK(r.requests_csv.find(",measured,reason\n") != std::string::npos);
  CHECK(r.requests_csv.find(",true,\n") != std::string::npos);
  CHECK(r.requests_csv.find(",false,\n") != std::string::npos);
}

TEST_CASE("percentile SLO verdicts give the measured percentile, the target, the margin and met or missed") {
  // Every request runs alone: TTFT = one 10 ms step, TPOT = ITL = 10 ms, E2E = 3 steps = 30 ms, exactly
  // (identical samples: the histogram's percentile is clamped to the exact min = max). 50 requests: 40
  // measured, 20 of them in the second half that the load verdict judges (kMinJudgedArrivals).
  ServeSpec s = paced_spec(50, 16, 3);
  s.slo.percentiles = {{SloMetric::kTtft, 99, 20 * kMs},
                       {SloMetric::kTpot, 50, 5 * kMs},
                       {SloMetric::kItl, 95, 10 * kMs},
                       {SloMetric::kE2e, 90, 40 * kMs}};
  FixedStepTime fixed(10 * kMs);
  const ServeResult r = run_serve(s, {&fixed, nullptr});
  const auto& v = r.summary.slo_verdicts;
  REQUIRE(v.size() == 4);
  CHECK(v[0].measured_s == Approx(0.010));
  CHECK(v[0].target_s == Approx(0.020));
  CHECK(v[0].margin_s == Approx(0.010));
  CHECK(v[0].margin_fraction == Approx(0.5));
  CHECK(v[0].status == SloStatus::kMet);
  CHECK(v[1].margin_s == Approx(-0.005));
  CHECK(v[1].margin_fraction == Approx(-1.0));
  CHECK(v[1].status == SloStatus::kMissed);
  CHECK(v[2].measured_s == Approx(0.010));
  CHECK(v[2].status == SloStatus::kMet);  // equal to the target counts as met
  CHECK(v[2].samples == 40 * 2);          // two inter-token gaps per measured request
  CHECK(v[3].margin_fraction == Approx(0.25));
  CHECK_FALSE(r.summary.slos_met);
  CHECK_FALSE(r.summary.meets_slos());
  // The summary row has the verdict columns.
  const Table row = summary_row_table({r.summary});
  CHECK(std::get<double>(cell(row, "slo_ttft_p99_s")) == Approx(0.010));
  CHECK(std::get<std::string>(cell(row, "slo_tpot_p50_met")) == "missed");
  CHECK_FALSE(std::get<bool>(cell(row, "slos_met")));
  // Relax the TPOT target: every SLO met, and the planner's test passes.
  s.slo.percentiles[1].target_ps = 10 * kMs;
  const ServeResult ok = run_serve(s, {&fixed, nullptr});
  CHECK(ok.summary.slos_met);
  CHECK(ok.summary.overload.verdict == LoadVerdict::kStable);
  CHECK(ok.summary.meets_slos());
  CHECK(serve_warnings(ok.summary).empty());
}

TEST_CASE("per-request goodput thresholds keep working beside percentile targets") {
  ServeSpec s = paced_spec(20, 16, 3);
  s.slo.e2e_ps = 25 * kMs;  // every request takes 30 ms: none is good
  FixedStepTime fixed(10 * kMs);
  CHECK(run_serve(s, {&fixed, nullptr}).summary.goodput_requests_per_s == 0.0);
  CHECK(run_serve(s, {&fixed, nullptr}).summary.slo_attainment == 0.0);
  s.slo.e2e_ps = 30 * kMs;  // all good: goodput = throughput
  const ServeSummary m = run_serve(s, {&fixed, nullptr}).summary;
  CHECK(m.goodput_requests_per_s == Approx(m.requests_per_s));
  CHECK(m.slo_attainment == 1.0);
}

TEST_CASE("M/D/1 above capacity is overloaded and below is not, deterministically") {
  // Capacity is 100 req/s (one 10 ms step each). At ρ = 1.2 the server is always busy in the judged span:
  // served = 100/s against 120/s accepted, a shortfall of 1/6, and the backlog grows at about 20/s.
  FixedStepTime fixed(10 * kMs);
  const ServeSummary over = run_serve(md1_spec(1.2, 20'000), {&fixed, nullptr}).summary;
  CHECK(over.overload.verdict == LoadVerdict::kOverloaded);
  CHECK(over.overload.served_rate_per_s == Approx(100.0).epsilon(0.001));
  CHECK(over.overload.shortfall == Approx(1.0 / 6.0).epsilon(0.05));
  CHECK(over.overload.backlog_slope_per_s == Approx(20.0).epsilon(0.1));
  CHECK_FALSE(over.meets_slos());
  const auto warnings = serve_warnings(over);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("OVERLOADED") != std::string::npos);

  const ServeSummary under = run_serve(md1_spec(0.8, 20'000), {&fixed, nullptr}).summary;
  CHECK(under.overload.verdict == LoadVerdict::kStable);
  CHECK(std::abs(under.overload.shortfall) < 0.01);
  CHECK(std::abs(under.overload.backlog_slope_per_s) < 0.05 * under.overload.accepted_rate_per_s);
  CHECK(under.meets_slos());  // no percentile target: stable, nothing rejected, something measured

  // Without a drain the verdict is judged up to the last arrival, before the backlog drains away.
  ServeSpec whole = md1_spec(1.2, 20'000);
  whole.measure.warmup = RequestShare{0.0, -1};
  whole.measure.drain = RequestShare{0.0, -1};
  const ServeSummary whole_run = run_serve(whole, {&fixed, nullptr}).summary;
  CHECK(whole_run.overload.verdict == LoadVerdict::kOverloaded);
  CHECK(whole_run.requests_per_s == Approx(100.0).epsilon(0.01));  // over [0, last completion]: the capacity

  // The same spec gives the same verdict, to the bit.
  const ServeSummary again = run_serve(md1_spec(1.2, 20'000), {&fixed, nullptr}).summary;
  CHECK(again.overload.shortfall == over.overload.shortfall);
  CHECK(again.overload.backlog_slope_per_s == over.overload.backlog_slope_per_s);
}

TEST_CASE("a rate sweep names the rate where overload starts") {
  FixedStepTime fixed(10 * kMs);
  std::vector<ServeSummary> rows;
  for (double rho : {0.5, 0.8, 1.1, 1.4})
    rows.push_back(run_serve(md1_spec(rho, 10'000), {&fixed, nullptr}).summary);
  const OverloadOnset o = overload_onset(rows);
  REQUIRE(o.first_overloaded_rate_per_s);
  CHECK(*o.first_overloaded_rate_per_s == Approx(110.0));
  REQUIRE(o.last_stable_rate_per_s);
  CHECK(*o.last_stable_rate_per_s == Approx(80.0));
  CHECK(overload_onset_sentence(rows).find("overload starts at 110 req/s") != std::string::npos);
  const Table brief = throughput_latency_table(rows);
  CHECK(std::get<std::string>(brief.rows()[2][brief.column_index("overload")]) == "overloaded");
}

TEST_CASE("a run whose every request is rejected says so and reports no latency as zero") {
  ServeSpec s = md1_spec(0.5, 200);
  s.per_request_csv = true;
  s.kv_blocks = 1;  // one 16-token block; every request needs blocks_for(40 + 1 - 1) = 3
  s.workload.prompt = LengthSpec::fixed(40);
  FixedStepTime fixed(10 * kMs);
  const ServeResult r = run_serve(s, {&fixed, nullptr});
  const ServeSummary& m = r.summary;
  REQUIRE(m.rejected == 200);
  CHECK(m.overload.verdict == LoadVerdict::kNoData);
  CHECK(m.overload.reason.find("rejected") != std::string::npos);
  CHECK(std::isnan(m.ttft.p50_s));
  CHECK(std::isnan(m.step_mean_s));
  CHECK(std::isnan(m.slo_attainment));
  CHECK(m.requests_per_s == 0.0);  // a real zero: nothing completed in a window of real length
  CHECK_FALSE(m.meets_slos());
  const auto warnings = serve_warnings(m);
  REQUIRE(warnings.size() >= 2);
  CHECK(warnings[0].find("200 of 200 requests were rejected") != std::string::npos);
  CHECK(warnings[1].find("nothing measured") != std::string::npos);
  // Empty cells in CSV, null in JSON, a dash in Markdown.
  const Table row = summary_row_table({m});
  const Table csv_row = with_missing_as(row, "");
  CHECK(std::get<std::string>(cell(csv_row, "ttft_p50_s")).empty());
  CHECK(table_to_csv(csv_row).find(",nan") == std::string::npos);
  CHECK(cell_json(row.rows()[0][row.column_index("ttft_p50_s")]).is_null());
  CHECK(table_to_markdown(with_missing_as(summary_long_table(m), "—")).find("| ttft_p50 (s) | — |") !=
        std::string::npos);
}

TEST_CASE("TPOT of single-token outputs has no samples: empty, not zero") {
  FixedStepTime fixed(10 * kMs);
  const ServeSummary m = run_serve(md1_spec(0.5, 2'000), {&fixed, nullptr}).summary;
  CHECK(m.tpot.count == 0);
  CHECK(std::isnan(m.tpot.p99_s));
  CHECK(std::isnan(m.output_tokens_per_s_per_user));
  CHECK(std::get<std::string>(cell(with_missing_as(summary_row_table({m}), ""), "tpot_p99_s")).empty());
  ServeSpec s = md1_spec(0.5, 2'000);
  s.slo.percentiles = {{SloMetric::kTpot, 99, 50 * kMs}};
  const ServeSummary judged = run_serve(s, {&fixed, nullptr}).summary;
  CHECK(judged.slo_verdicts[0].status == SloStatus::kNoSamples);
  CHECK(std::isnan(judged.slo_verdicts[0].margin_s));
  CHECK_FALSE(judged.slos_met);
}

TEST_CASE("no_evict never preempts; every request completes or is rejected; KV blocks are conserved") {
  for (SchedulerPolicy policy :
       {SchedulerPolicy::kNoEvict, SchedulerPolicy::kMaxUtilization, SchedulerPolicy::kVllm}) {
    ServeSpec s = tight_spec(80);  // check_invariants: conservation and no_evict's reservations at every step
    s.scheduler.policy = policy;
    Recorder rec;
    const ServeResult r = run_serve(s, {nullptr, &rec});
    INFO(to_string(policy));
    CHECK(r.summary.scheduler_policy == to_string(policy));
    CHECK(r.summary.arrived == r.summary.completed + r.summary.rejected);
    CHECK(static_cast<std::int64_t>(rec.requests.size()) == r.summary.arrived);
    CHECK(rec.max_used <= 80);
    if (policy == SchedulerPolicy::kNoEvict) {
      CHECK(r.summary.preemptions == 0);
    } else {
      CHECK(r.summary.preemptions > 0);
    }
  }
}

TEST_CASE("no_evict admits only what can run to completion; vLLM admits what fits now") {
  // 10 blocks of 16 tokens; each request caches at most 16 + 65 - 1 = 80 tokens = 5 blocks. no_evict runs two
  // at a time and never preempts; vLLM starts all four (one block each) and must preempt as they grow.
  ServeSpec s = llama_spec(1.0, 8);
  s.kv_blocks = 10;
  s.workload.arrival = ArrivalKind::kClosedLoop;
  s.workload.concurrency = 4;
  s.workload.prompt = LengthSpec::fixed(16);
  s.workload.output = LengthSpec::fixed(65);
  s.check_invariants = true;
  FixedStepTime fixed(10 * kMs);
  s.scheduler.policy = SchedulerPolicy::kNoEvict;
  const ServeSummary evict_free = run_serve(s, {&fixed, nullptr}).summary;
  CHECK(evict_free.max_batch_size == 2);
  CHECK(evict_free.preemptions == 0);
  CHECK(evict_free.completed == 8);
  s.scheduler.policy = SchedulerPolicy::kVllm;
  const ServeSummary greedy = run_serve(s, {&fixed, nullptr}).summary;
  CHECK(greedy.max_batch_size == 4);
  CHECK(greedy.preemptions > 0);
  CHECK(greedy.completed == 8);
}

TEST_CASE("closed-loop clients start spread over the ramp") {
  // 4 clients over 4 s start at 0, 1, 2 and 3 s; each request is one 10 ms step, so every client's first
  // request ends long before the next client starts, and request ids follow arrival order.
  ServeSpec s = llama_spec(1.0, 8);
  s.workload.arrival = ArrivalKind::kClosedLoop;
  s.workload.concurrency = 4;
  s.workload.ramp_ps = 4 * kPsPerSecond;
  s.workload.prompt = LengthSpec::fixed(16);
  s.workload.output = LengthSpec::fixed(1);
  FixedStepTime fixed(10 * kMs);
  Recorder rec;
  (void)run_serve(s, {&fixed, &rec});
  REQUIRE(rec.requests.size() == 8);
  std::vector<TimePs> starts;
  std::vector<RequestRecord> by_id = rec.requests;
  std::sort(by_id.begin(), by_id.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  for (std::size_t i = 1; i < by_id.size(); ++i) CHECK(by_id[i].arrival_ps >= by_id[i - 1].arrival_ps);
  for (const RequestRecord& q : rec.requests) {
    if (q.arrival_ps % kPsPerSecond == 0) starts.push_back(q.arrival_ps);
  }
  std::sort(starts.begin(), starts.end());
  CHECK(starts == std::vector<TimePs>{0, kPsPerSecond, 2 * kPsPerSecond, 3 * kPsPerSecond});
  // Without a ramp every client starts at 0, as before.
  s.workload.ramp_ps = 0;
  Recorder all_at_once;
  (void)run_serve(s, {&fixed, &all_at_once});
  CHECK(std::count_if(all_at_once.requests.begin(), all_at_once.requests.end(),
                      [](const RequestRecord& q) { return q.arrival_ps == 0; }) == 4);
}

TEST_CASE(
    "TensorRT-LLM policies hold a chunked prompt's whole blocks from admission; vLLM allocates per chunk") {
  // One 64-token prompt in chunks of 16 (4 blocks of 16 tokens), then one decode at context 65 (a 5th block).
  ServeSpec s = llama_spec(1.0, 1);
  s.workload.arrival = ArrivalKind::kClosedLoop;
  s.workload.prompt = LengthSpec::fixed(64);
  s.workload.output = LengthSpec::fixed(2);
  s.scheduler.max_num_batched_tokens = 16;
  s.kv_blocks = 100;
  s.check_invariants = true;
  FixedStepTime fixed(10 * kMs);
  const std::map<SchedulerPolicy, std::vector<std::int64_t>> expected{
      {SchedulerPolicy::kVllm, {1, 2, 3, 4, 5}},
      {SchedulerPolicy::kNoEvict, {4, 4, 4, 4, 5}},
      {SchedulerPolicy::kMaxUtilization, {4, 4, 4, 4, 5}}};
  for (const auto& [policy, used] : expected) {
    s.scheduler.policy = policy;
    Recorder rec;
    (void)run_serve(s, {&fixed, &rec});
    INFO(to_string(policy));
    CHECK(rec.used_blocks == used);
  }
}

TEST_CASE("the requests-in-system series keeps its area through bin merges and fits a ramp's slope") {
  // k requests in system during second k, for 100 s: a staircase rising one request per second.
  InSystemSeries series;
  double total = 0;
  for (std::int64_t k = 0; k < 100; ++k) {
    series.add(k * kPsPerSecond, (k + 1) * kPsPerSecond, k);
    total += static_cast<double>(k) * static_cast<double>(kPsPerSecond);
  }
  // 1 ms bins doubled five times: 4096 bins of 32 ms cover 131 s >= 100 s (16 ms bins would cover only 65 s).
  CHECK(series.bin_ps() == 32 * kMs);
  double sum = 0;
  for (std::size_t k = 0; k < InSystemSeries::kMaxBins; ++k) sum += series.area(k);
  CHECK(sum == total);  // integers below 2^53: exact
  CHECK(series.slope_per_s(0, 100 * kPsPerSecond) == Approx(1.0).epsilon(0.01));
  CHECK(std::isnan(series.slope_per_s(0, 5 * series.bin_ps())));  // fewer than kMinBins bins
}

TEST_CASE("the requests-in-system series works up to the end of the 64-bit clock") {
  // Found by the long serve fuzz run (fuzz/corpus/serve/finding_poisson_clock_end.yaml: 58 requests at 2e-6
  // req/s reach the clock's end): (from + bin - 1) / bin and (k + 1) × bin overflowed (UBSan) near 2^63 ps.
  constexpr TimePs kEnd = std::numeric_limits<TimePs>::max();
  InSystemSeries series;
  series.add(0, kEnd, 2);
  // 1 ms bins doubled until 4096 cover 2^63 ps: 1e9 × 2^22 ps (2^63 / 4096 = 2.25e15 > 1e9 × 2^21).
  CHECK(series.bin_ps() == TimePs{1'000'000'000} << 22U);
  const std::size_t last = static_cast<std::size_t>(kEnd / series.bin_ps());  // 2199, a partial bin
  CHECK(last == 2199);
  CHECK(series.area(last) == Approx(2.0 * static_cast<double>(kEnd - TimePs{2199} * series.bin_ps())));
  CHECK(series.area(last - 1) == Approx(2.0 * static_cast<double>(series.bin_ps())));
  // A level held constant: slope 0 over the bins lying wholly in [1, end] (k0 = 1, k1 = 2199).
  CHECK(series.slope_per_s(1, kEnd) == Approx(0.0).margin(1e-12));
  CHECK(std::isnan(series.slope_per_s(kEnd - 3 * series.bin_ps(), kEnd)));
}

TEST_CASE("L3: requests arriving together at an idle replica are batched in one step") {
  // The fuzz reproducer (tests/reliability/L3_closed_loop_batching.yaml): a closed loop of 64 clients with
  // 1-token prompts and outputs. Each step serves the whole loop: 2000 requests take ceil(2000 / 64) = 32
  // steps of 64, not 1, 63, 1, 63, ... (63 steps).
  ServeSpec s = llama_spec(1.0, 2000);
  s.workload.arrival = ArrivalKind::kClosedLoop;
  s.workload.concurrency = 64;
  s.workload.prompt = LengthSpec::fixed(1);
  s.workload.output = LengthSpec::fixed(1);
  s.check_invariants = true;
  const ServeResult r = run_serve(s);
  CHECK(r.summary.completed == 2000);
  CHECK(r.summary.steps == 32);
  CHECK(r.summary.max_batch_size == 64);

  // A trace with three requests at the same time: all three start in the first step.
  ServeSpec t = llama_spec(1.0, 4);
  t.workload.arrival = ArrivalKind::kTrace;
  t.workload.trace = {TraceRequest{0, 16, 2}, TraceRequest{kPsPerSecond / 2, 64, 1},
                      TraceRequest{kPsPerSecond / 2, 2048, 4}, TraceRequest{kPsPerSecond / 2, 8, 1}};
  Recorder rec;
  (void)run_serve(t, {nullptr, &rec});
  REQUIRE(rec.requests.size() == 4);
  for (const RequestRecord& q : rec.requests) {
    if (q.arrival_ps == kPsPerSecond / 2) CHECK(q.first_scheduled_ps == kPsPerSecond / 2);
  }
}

TEST_CASE("a sliding-window model holds the KV blocks of its window only, as the capacity counts them") {
  // One sequence at a time; 4 blocks of 16 tokens = 64 tokens of cache; 200-token prompts and 50 outputs.
  ServeSpec s = md1_spec(0.5, 20);
  s.kv_blocks = 4;
  s.check_invariants = true;
  s.workload.prompt = LengthSpec::fixed(200);
  s.workload.output = LengthSpec::fixed(50);
  FixedStepTime fixed(10 * kMs);
  SECTION("full attention: ceil(249 / 16) = 16 blocks > 4, every request is rejected") {
    const ServeResult r = run_serve(s, {&fixed, nullptr});
    CHECK(r.summary.rejected == 20);
    CHECK(r.summary.completed == 0);
  }
  SECTION("a 48-token window: at most ceil(48 / 16) = 3 blocks, every request completes") {
    s.model.attention.sliding_window = 48;
    Recorder rec;
    const ServeResult r = run_serve(s, {&fixed, &rec});
    CHECK(r.summary.rejected == 0);
    CHECK(r.summary.completed == 20);
    CHECK(rec.max_used == 3);
    // The same rule as the capacity: 4 blocks / 3 per sequence = 1 sequence of any length.
    Capacity cap = serve_capacity(s);
    CHECK(kv_cached_tokens(cap, 249) == 48);
    CHECK(max_concurrency(cap, 249) == 1);
  }
}

// ---- issue 11: the layout whole, and multi-token prediction -------------------------------------------

TEST_CASE("without MTP every golden run reproduces the scheduler of before MTP byte for byte") {
  // tests/serve_fixtures/golden_runs.txt was written by golden.hpp built against commit a787c23's
  // sim/serving/ (before MTP and the whole Parallelism in ServeSpec).
  std::ifstream in(std::string(MLASIM_TEST_DATA_DIR) + "/serve_fixtures/golden_runs.txt");
  REQUIRE(in);
  std::stringstream expected;
  expected << in.rdbuf();
  const std::string got = golden_runs_text();
  if (got != expected.str()) {
    std::istringstream a(expected.str()), b(got);
    std::string la, lb;
    int line = 0;
    while (std::getline(a, la) && std::getline(b, lb) && la == lb) ++line;
    INFO("first difference at line " << line + 1 << ":\n  golden: " << la << "\n  now:    " << lb);
    CHECK(got == expected.str());
  }
}

namespace {

/// A closed loop of one client over `requests` requests of `prompt` and `output` tokens, one KV block per
/// token, every step `step_ps` long, every request measured.
ServeSpec one_client(std::int64_t requests, std::int64_t prompt, std::int64_t output) {
  ServeSpec s = llama_spec(1.0, requests);
  s.workload.arrival = ArrivalKind::kClosedLoop;
  s.workload.concurrency = 1;
  s.workload.prompt = LengthSpec::fixed(prompt);
  s.workload.output = LengthSpec::fixed(output);
  s.capacity.block_size = 1;
  s.kv_blocks = 1000;
  s.measure.warmup.count = 0;
  s.measure.drain.count = 0;
  s.check_invariants = true;
  return s;
}

Speculation mtp_of(int depth, std::vector<double> acceptance) {
  Speculation m;
  m.depth = depth;
  m.acceptance = std::move(acceptance);
  return m;
}

}  // namespace

TEST_CASE("MTP with acceptance 1 and depth D emits D + 1 tokens per decode step, by hand") {
  // Prompt 14, output 10, depth 3: the prefill step emits token 1; decodes emit 4 (tokens 2-5), 4 (6-9) and
  // then 1, capped at the one token left: ceil((10 − 1) / 4) = 3 decode steps, 4 steps per request.
  ServeSpec s = one_client(3, 14, 10);
  s.mtp = mtp_of(3, {1.0});
  FixedStepTime step(kPsPerSecond / 100);
  Recorder rec;
  const ServeResult r = run_serve(s, {&step, &rec});
  CHECK(r.summary.completed == 3);
  CHECK(r.summary.steps == 3 * 4);
  REQUIRE(rec.requests.size() == 3);
  for (const RequestRecord& q : rec.requests) {
    CHECK(q.generated_tokens == 10);
    CHECK(q.ttft_ps() == kPsPerSecond / 100);
    CHECK(q.e2e_ps() == 4 * kPsPerSecond / 100);
    // TPOT = (E2E − TTFT) / (output − 1) = 30 ms / 9.
    CHECK(q.tpot_ps() == Approx(0.03 * static_cast<double>(kPsPerSecond) / 9.0));
  }
  // One inter-token latency per decode step (the step's tokens arrive together): 3 per request, 10 ms each.
  CHECK(r.summary.itl.count == 9);
  CHECK(r.summary.itl.max_s == Approx(0.010).epsilon(0.004));
  // The KV cache holds the emitted tokens only (block size 1): 14 after the prefill, then 14 + 4 = 18,
  // 22 and 23 = prompt + output − 1; never the 14 + 4 + 3 drafts a verification reads.
  REQUIRE(rec.used_blocks.size() >= 4);
  CHECK(std::vector<std::int64_t>(rec.used_blocks.begin(), rec.used_blocks.begin() + 4) ==
        std::vector<std::int64_t>{14, 18, 22, 23});
  // Each decode step emits its tokens in the time series: 10 per request.
  std::int64_t emitted = 0;
  for (const TimeBucket& b : r.buckets.at(0)) emitted += b.sampled;
  CHECK(emitted == 30);
}

TEST_CASE("MTP accepts draft i + 1 only after draft i: 1 + a1 + a1·a2 tokens per decode step on average") {
  // One request of 20,001 output tokens: 20,000 tokens from decode steps. With a = (0.8, 0.6) a decode emits
  // 1, 2 or 3 tokens with probability 0.2, 0.32, 0.48: mean 2.28, variance 0.6016, so over ~8,770 steps the
  // mean is within 0.4% (1 σ) of 2.28. Positions drawn independently would give 1 + 0.8 + 0.6 = 2.4.
  ServeSpec s = one_client(1, 10, 20'001);
  s.kv_blocks = 30'000;
  s.check_invariants = false;
  s.mtp = mtp_of(2, {0.8, 0.6});
  FixedStepTime step(kPsPerSecond / 100);
  const ServeResult r = run_serve(s, {&step, nullptr});
  REQUIRE(r.summary.completed == 1);
  const double decode_steps = static_cast<double>(r.summary.steps - 1);
  CHECK(20'000.0 / decode_steps == Approx(2.28).epsilon(0.015));
  CHECK(r.summary.itl.count == static_cast<std::uint64_t>(r.summary.steps - 1));
}

TEST_CASE("MTP with acceptance 0 runs the steps and tokens of a run without MTP; only step times grow") {
  // A closed loop: its steps follow completions, not the clock, so the schedule does not depend on how long
  // a step takes. DeepSeek-V3 on 8 H200 with its real step time: the verification of 1 + 2 tokens and the
  // draft module make every decode step longer.
  ServeSpec s = deepseek_spec(4, 12);
  s.workload.prompt = LengthSpec::fixed(512);
  s.workload.output = LengthSpec::fixed(40);
  s.measure.warmup.count = 0;
  s.measure.drain.count = 0;
  // The budget (8192) never binds: 4 × 512 prompt tokens and 4 × 3 verified tokens fit in one step, so the
  // drafts' share of the budget shifts no prefill chunk.
  REQUIRE(s.scheduler.max_num_batched_tokens >= 4 * 512 + 4 * 3);
  s.check_invariants = true;
  Recorder plain_rec;
  const ServeResult plain = run_serve(s, {nullptr, &plain_rec});
  s.mtp = mtp_of(2, {0.0});
  Recorder mtp_rec;
  const ServeResult mtp = run_serve(s, {nullptr, &mtp_rec});
  CHECK(mtp.summary.steps == plain.summary.steps);
  CHECK(mtp.summary.completed == 12);
  CHECK(mtp.summary.output_tokens == plain.summary.output_tokens);
  CHECK(mtp.summary.preemptions == plain.summary.preemptions);
  CHECK(mtp.summary.itl.count == plain.summary.itl.count);
  REQUIRE(mtp_rec.step_times.size() == plain_rec.step_times.size());
  CHECK(mtp_rec.used_blocks == plain_rec.used_blocks);
  for (std::size_t i = 0; i < mtp_rec.step_times.size(); ++i) {
    INFO("step " << i);
    CHECK(mtp_rec.step_times[i] > plain_rec.step_times[i]);
  }
  REQUIRE(mtp_rec.requests.size() == plain_rec.requests.size());
  for (std::size_t i = 0; i < mtp_rec.requests.size(); ++i) {
    CHECK(mtp_rec.requests[i].id == plain_rec.requests[i].id);
    CHECK(mtp_rec.requests[i].generated_tokens == plain_rec.requests[i].generated_tokens);
  }
}

TEST_CASE("MTP conserves requests, tokens and KV blocks, leaves the workload's draws alone, and is seeded") {
  // The golden vLLM scenario (preemptions, chunked prefill) with random acceptance.
  ServeSpec s = golden_specs().at(0);
  const auto run = [](const ServeSpec& spec, Recorder& rec) {
    LinearStepTime step;
    return run_serve(spec, {&step, &rec});
  };
  Recorder plain_rec;
  const ServeResult plain = run(s, plain_rec);
  s.mtp = mtp_of(2, {0.8, 0.6});
  Recorder rec;
  const ServeResult r = run(s, rec);  // check_invariants: KV blocks conserved at every step
  const ServeSummary& m = r.summary;
  CHECK(m.arrived == m.completed + m.rejected + m.in_flight);
  CHECK(m.completed == 150);
  std::int64_t outputs = 0;
  for (const RequestRecord& q : rec.requests) {
    CHECK(q.generated_tokens == q.output_tokens);
    outputs += q.output_tokens;
  }
  CHECK(m.output_tokens == outputs);
  std::int64_t emitted = 0;
  for (const TimeBucket& b : r.buckets.at(0)) emitted += b.sampled;
  // The time series counts every token once: a preempted request recomputes its KV but emits only the next
  // token at its prefill's end.
  CHECK(emitted == outputs);
  // The MTP stream is its own: arrivals and lengths are those of the run without MTP.
  std::map<std::uint64_t, std::pair<std::int64_t, std::int64_t>> lengths, plain_lengths;
  std::map<std::uint64_t, TimePs> arrivals, plain_arrivals;
  for (const RequestRecord& q : rec.requests) {
    lengths[q.id] = {q.prompt_tokens, q.output_tokens};
    arrivals[q.id] = q.arrival_ps;
  }
  for (const RequestRecord& q : plain_rec.requests) {
    plain_lengths[q.id] = {q.prompt_tokens, q.output_tokens};
    plain_arrivals[q.id] = q.arrival_ps;
  }
  CHECK(lengths == plain_lengths);
  CHECK(arrivals == plain_arrivals);
  // Fewer steps: 1 + 0.8 + 0.48 = 2.28 tokens per decode step on average.
  CHECK(m.steps < plain.summary.steps);
  // Same seed, same output; another seed draws other acceptances.
  Recorder again_rec;
  CHECK(golden_text(run(s, again_rec)) == golden_text(r));
  s.workload.seed = 8;
  Recorder other_rec;
  CHECK(golden_text(run(s, other_rec)) != golden_text(r));
}

TEST_CASE("the step-time model takes the spec's whole layout and its MTP") {
  ServeSpec s = deepseek_spec(1, 1);
  s.parallel.dp_attention = true;
  s.parallel.ep = 8;
  s.parallel.micro_batches = 2;
  s.mtp = mtp_of(1, {0.7});
  const ModelStepTime st = model_step_time(s);
  StepShape shape;
  shape.sequences = {SequenceWork{4096, 1, false, true, 16}};
  shape.parallel = s.parallel;
  shape.precision = s.precision;
  shape.mtp = s.mtp;
  const double seconds = evaluate_step_time(s.model, DeviceModel(s.hardware, s.device_mode, s.launch), shape);
  CHECK(st.reference_time(shape.sequences) == seconds_to_ps(seconds));
  // Without MTP the step differs.
  shape.mtp = Speculation{};
  CHECK(st.reference_time(shape.sequences) !=
        seconds_to_ps(evaluate_step_time(s.model, DeviceModel(s.hardware, s.device_mode, s.launch), shape)));
}

TEST_CASE("with two micro-batches, two mixes of equal sums cost their own busier halves: no stale cache") {
  // Decodes at contexts 100, 300, 200, 400 and 100, 200, 300, 400: the same StepMix (4 decodes, ΣL 1000,
  // mixed), but build_step's busier micro-batch (every other sequence) holds 100 + 200 in the first and
  // 100 + 300 in the second.
  ServeSpec s = deepseek_spec(1, 1);
  s.parallel.ep = 8;
  s.parallel.micro_batches = 2;
  ModelStepTime st = model_step_time(s);
  struct Work final : SequenceWorkSource {
    std::vector<SequenceWork> seqs;
    void fill(std::vector<SequenceWork>& out) const override { out = seqs; }
  };
  const auto work_of = [](std::initializer_list<std::int64_t> contexts) {
    Work w;
    for (const std::int64_t c : contexts) w.seqs.push_back(SequenceWork{c, 1, false, true});
    return w;
  };
  const auto mix_of = [](const Work& w) {
    StepMix m;
    for (const SequenceWork& q : w.seqs) m.add_decode(q.context_tokens);
    return m;
  };
  const Work a = work_of({100, 300, 200, 400});
  const Work b = work_of({100, 200, 300, 400});
  REQUIRE(mix_of(a) == mix_of(b));
  REQUIRE(st.reference_time(a.seqs) != st.reference_time(b.seqs));
  CHECK(st.step_time(mix_of(a), a) == st.reference_time(a.seqs));
  CHECK(st.step_time(mix_of(b), b) == st.reference_time(b.seqs));
  CHECK(st.cache_hits() == 0);
}

TEST_CASE("with two micro-batches a step of one sequence runs as one batch; a closed loop of one runs") {
  ServeSpec s = deepseek_spec(1, 2);
  s.parallel.dp_attention = true;
  s.parallel.ep = 8;
  s.parallel.micro_batches = 2;
  s.workload.prompt = LengthSpec::fixed(256);
  s.workload.output = LengthSpec::fixed(8);
  const ModelStepTime st = model_step_time(s);
  const DeviceModel device(s.hardware, s.device_mode, s.launch);
  StepShape shape;
  shape.parallel = s.parallel;
  shape.precision = s.precision;
  shape.sequences = {SequenceWork{300, 1, false, true, 1}};
  shape.parallel.micro_batches = 1;
  CHECK(st.reference_time(shape.sequences) == seconds_to_ps(evaluate_step_time(s.model, device, shape)));
  shape.sequences = {SequenceWork{300, 1, false, true, 2}};
  shape.parallel.micro_batches = 2;
  CHECK(st.reference_time(shape.sequences) == seconds_to_ps(evaluate_step_time(s.model, device, shape)));
  // One client: every step holds one sequence, and the run completes.
  const ServeResult r = run_serve(s);
  CHECK(r.summary.completed == 2);
  CHECK(r.summary.steps == 2 * 8);
}

// ---- issue 12: grouped decodes (O(changes) per iteration) against the step-by-step loop -----------------

namespace {

/// Everything a run writes (summary.csv's row, timeseries.csv, requests.csv) and the golden dump of its
/// counts, distributions and time buckets.
std::string everything(const ServeResult& r) {
  return table_to_csv(summary_row_table({r.summary})) + table_to_csv(timeseries_table(r)) + golden_text(r) +
         fmt::format("events {} end {} area {}\n", r.summary.events, r.end_ps, r.in_system_area_ps);
}

/// Every step's mix, with its mixedness flags (part of the step-time cache key).
struct MixLog : ServeObserver {
  std::string text;
  void on_step(int replica, TimePs start, TimePs duration, const StepMix& m, std::int64_t used,
               std::int64_t) override {
    text += fmt::format("{} {} {} {} {} {} {} {} {} {} {} {} {} {}\n", replica, start, duration, used,
                        m.decode_seqs, m.decode_context, m.prefill_seqs, m.prefill_tokens, m.prefill_context,
                        m.prefill_pairs, m.sampled, m.decode_mixed, m.prefill_mixed, m.all_mixed());
  }
};

/// A random small serving experiment: Poisson or closed loop, chunked prefill and tight caches (preemption)
/// or roomy ones, every policy, one or two replicas, sometimes MTP or disaggregated pools, sometimes a limit.
ServeSpec random_spec(std::uint64_t seed) {
  std::mt19937_64 g(seed);
  const auto pick = [&g](std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(g() % static_cast<std::uint64_t>(hi - lo + 1));
  };
  ServeSpec s = llama_spec(static_cast<double>(pick(5, 80)), pick(100, 300));
  s.workload.seed = seed;
  if (pick(0, 1) == 1) {
    s.workload.arrival = ArrivalKind::kClosedLoop;
    s.workload.concurrency = static_cast<int>(pick(1, 48));
    if (pick(0, 2) == 0) s.workload.ramp_ps = pick(0, 3) * kPsPerSecond;
  }
  s.workload.prompt.kind = LengthSpec::Kind::kUniform;
  s.workload.prompt.min = pick(1, 40);
  s.workload.prompt.max = s.workload.prompt.min + pick(0, 700);
  s.workload.output.kind = LengthSpec::Kind::kUniform;
  s.workload.output.min = pick(1, 8);
  s.workload.output.max = s.workload.output.min + pick(0, 300);
  s.scheduler.max_num_seqs = static_cast<int>(pick(1, 64));
  s.scheduler.max_num_batched_tokens = std::vector<std::int64_t>{16, 40, 128, 512, 2048, 8192}[pick(0, 5)];
  s.capacity.block_size = static_cast<int>(std::vector<std::int64_t>{1, 16, 32}[pick(0, 2)]);
  s.kv_blocks = s.capacity.block_size == 1 ? pick(700, 6000) : pick(50, 500);
  s.scheduler.policy =
      std::vector<SchedulerPolicy>{SchedulerPolicy::kVllm, SchedulerPolicy::kVllm, SchedulerPolicy::kNoEvict,
                                   SchedulerPolicy::kMaxUtilization}[pick(0, 3)];
  s.replicas = static_cast<int>(pick(1, 2));
  s.router = pick(0, 1) == 0 ? RouterPolicy::kRoundRobin : RouterPolicy::kLeastOutstanding;
  if (pick(0, 5) == 0) {
    s.mtp.depth = static_cast<int>(pick(1, 3));
    s.mtp.acceptance = {0.8, 0.5, 0.3};
    s.mtp.acceptance.resize(static_cast<std::size_t>(s.mtp.depth));
  }
  if (pick(0, 6) == 0) {
    DisaggregatedSpec d;
    d.prefill_replicas = static_cast<int>(pick(1, 2));
    d.decode_replicas = static_cast<int>(pick(1, 2));
    d.kv_bandwidth_bytes_per_s = 1e9;
    d.kv_latency_s = 1e-5;
    s.disaggregated = d;
  }
  if (pick(0, 9) == 0) s.model.attention.sliding_window = static_cast<int>(pick(32, 400));
  if (pick(0, 7) == 0) s.limits.max_events = static_cast<std::uint64_t>(pick(100, 5000));
  if (pick(0, 7) == 0) s.limits.max_time_ps = pick(1, 10) * kPsPerSecond;
  s.measure.warmup.count = pick(0, 20);
  s.check_invariants = true;
  return s;
}

}  // namespace

TEST_CASE("grouped decodes write exactly what the step-by-step loop writes, on random workloads") {
  std::int64_t grouped = 0, steps = 0, runs = 0;
  for (std::uint64_t seed = 1; seed <= 120; ++seed) {
    ServeSpec s = random_spec(seed);
    INFO("seed " << seed);
    std::string text[2];
    std::int64_t grouped_steps[2] = {0, 0};
    for (const bool on : {false, true}) {
      s.grouped_decodes = on;
      LinearStepTime step_time;
      MixLog mixes;
      ServeResult r;
      try {
        r = run_serve(s, {&step_time, &mixes});
      } catch (const InputError& e) {
        text[on ? 1 : 0] = e.what();  // the same error either way
        continue;
      }
      text[on ? 1 : 0] = everything(r) + mixes.text;
      grouped_steps[on ? 1 : 0] = r.grouped_steps;
      if (on) steps += r.summary.steps;
    }
    CHECK(grouped_steps[0] == 0);
    REQUIRE(text[1] == text[0]);
    grouped += grouped_steps[1];
    ++runs;
  }
  // The comparison means something only if the grouped path ran much of the time.
  CHECK(grouped > steps / 3);
}

TEST_CASE(
    "grouped decodes match the step-by-step loop under the model's step time, Poisson and closed loop") {
  for (const bool closed : {false, true}) {
    ServeSpec s = llama_spec(50.0, 3000);
    if (closed) {
      s.workload.arrival = ArrivalKind::kClosedLoop;
      s.workload.concurrency = 200;
    }
    s.workload.prompt = LengthSpec::fixed(300);
    s.workload.output.kind = LengthSpec::Kind::kUniform;
    s.workload.output.min = 1;
    s.workload.output.max = 400;
    s.kv_blocks = 3000;  // tight enough to preempt now and then
    std::string text[2];
    for (const bool on : {false, true}) {
      s.grouped_decodes = on;
      const ServeResult r = run_serve(s);
      text[on ? 1 : 0] = everything(r);
      if (on) CHECK(r.grouped_steps > r.summary.steps / 3);
    }
    CHECK(text[1] == text[0]);
  }
}

// ---- issue 12: requests.csv streamed to a sink in blocks, as the run goes --------------------------------

namespace {

/// A run's requests.csv handed to a sink in blocks of at least `block` bytes: the blocks, the rest of the
/// result (whose requests_csv must be empty), or the error's message.
struct Streamed {
  std::vector<std::string> blocks;
  ServeResult result;
  std::string error;
  [[nodiscard]] std::string joined() const {
    std::string s;
    for (const std::string& b : blocks) s += b;
    return s;
  }
};

Streamed run_streamed(const ServeSpec& spec, std::size_t block, StepTimeSource* step_time) {
  Streamed out;
  ServeRunOptions options;
  options.step_time = step_time;
  options.requests_csv_sink = [&out](std::string_view text) { out.blocks.emplace_back(text); };
  options.requests_csv_block_bytes = block;
  try {
    out.result = run_serve(spec, options);
  } catch (const InputError& e) {
    out.error = e.what();
  }
  return out;
}

/// The streamed blocks join into `expected`; every block but the last holds at least `block` bytes and
/// ends with a whole row, and the last is not empty.
void check_blocks(const Streamed& s, const std::string& expected, std::size_t block) {
  REQUIRE(s.joined() == expected);
  CHECK(s.result.requests_csv.empty());
  for (std::size_t i = 0; i < s.blocks.size(); ++i) {
    INFO("block " << i << " of " << s.blocks.size());
    REQUIRE_FALSE(s.blocks[i].empty());
    CHECK(s.blocks[i].back() == '\n');
    if (i + 1 < s.blocks.size()) CHECK(s.blocks[i].size() >= block);
  }
  // Blocks as small as the test asks for: more than one whenever the file is more than a block.
  if (expected.size() > block) CHECK(s.blocks.size() > 1);
}

}  // namespace

TEST_CASE("requests.csv streamed to a sink is the in-memory one byte for byte, on random workloads") {
  std::size_t runs = 0, multi_block = 0;
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    const ServeSpec s = random_spec(seed);
    INFO("seed " << seed);
    LinearStepTime a, b;
    std::string csv, rest, error;
    try {
      ServeResult r = run_serve(s, {&a, nullptr});
      csv = std::move(r.requests_csv);
      r.requests_csv.clear();
      rest = everything(r);  // the summary, time series, counts and distributions
    } catch (const InputError& e) {
      error = e.what();
    }
    const std::size_t block = std::vector<std::size_t>{1, 100, 4096, 1 << 20}[seed % 4];
    const Streamed streamed = run_streamed(s, block, &b);
    REQUIRE(streamed.error == error);
    if (!error.empty()) continue;
    REQUIRE(csv.rfind("request_id,replica,status,", 0) == 0);
    check_blocks(streamed, csv, block);
    CHECK(everything(streamed.result) == rest);
    ++runs;
    if (streamed.blocks.size() > 1) ++multi_block;
  }
  CHECK(runs > 40);
  CHECK(multi_block > 20);
}

TEST_CASE("requests.csv streamed: model step time, closed loop, disaggregated pools, a trace, a limit") {
  std::vector<std::pair<std::string, ServeSpec>> specs;
  specs.emplace_back("poisson", llama_spec(50.0, 3000));
  ServeSpec closed = llama_spec(50.0, 3000);
  closed.workload.arrival = ArrivalKind::kClosedLoop;
  closed.workload.concurrency = 64;
  uniform_lengths(closed, 300);
  specs.emplace_back("closed loop", closed);
  ServeSpec disaggregated = llama_spec(30.0, 2000);
  DisaggregatedSpec d;
  d.prefill_replicas = 2;
  d.decode_replicas = 3;
  d.kv_bandwidth_bytes_per_s = 50e9;
  d.kv_latency_s = 1e-4;
  disaggregated.disaggregated = d;
  uniform_lengths(disaggregated, 200);
  specs.emplace_back("disaggregated", disaggregated);
  // A trace of 2,500 requests, bursts of four at the same instant, lengths from the row number.
  ServeSpec trace = llama_spec(1.0, 2500);
  trace.workload.arrival = ArrivalKind::kTrace;
  for (std::int64_t i = 0; i < 2500; ++i) {
    trace.workload.trace.push_back(TraceRequest{(i / 4) * kPsPerSecond / 20, 16 + i % 700, 1 + i % 97});
  }
  specs.emplace_back("trace", trace);
  // Stopped by a time limit with requests in flight and waiting: their rows come last, at finish.
  ServeSpec cut = llama_spec(80.0, 5000);
  cut.limits.max_time_ps = 20 * kPsPerSecond;
  specs.emplace_back("time limit", cut);
  for (const auto& [name, spec] : specs) {
    INFO(name);
    ServeResult whole = run_serve(spec);
    REQUIRE(whole.summary.arrived > 1000);
    REQUIRE(whole.requests_csv.size() > 64 * 1024);
    if (name == "time limit") REQUIRE(whole.summary.in_flight > 0);
    if (name == "trace") REQUIRE(whole.summary.arrival == "trace");
    if (name == "disaggregated") REQUIRE(whole.summary.kv_transfers > 0);
    const std::string csv = std::move(whole.requests_csv);
    whole.requests_csv.clear();
    for (const std::size_t block : {std::size_t{1}, std::size_t{10'000}, std::size_t{1} << 20U}) {
      INFO("block " << block);
      const Streamed streamed = run_streamed(spec, block, nullptr);
      REQUIRE(streamed.error.empty());
      check_blocks(streamed, csv, block);
      CHECK(everything(streamed.result) == everything(whole));
    }
  }
}

TEST_CASE("a sink is not called without per_request_csv; an exception from it ends the run") {
  ServeSpec s = llama_spec(20.0, 500);
  s.per_request_csv = false;
  const Streamed none = run_streamed(s, 1, nullptr);
  CHECK(none.blocks.empty());
  CHECK(none.result.summary.completed == 500);

  s.per_request_csv = true;
  ServeRunOptions options;
  int calls = 0;
  options.requests_csv_block_bytes = 1000;
  options.requests_csv_sink = [&calls](std::string_view) {
    if (++calls == 3) throw InputError(SourceLocation{"out/requests.csv"}, "", "cannot write: disk full");
  };
  CHECK_THROWS_WITH(run_serve(s, options),
                    Catch::Contains("out/requests.csv: error: cannot write: disk full"));
  CHECK(calls == 3);
}

TEST_CASE("timeseries.csv written in slices of rows is the whole table's CSV byte for byte") {
  std::size_t runs = 0, long_series = 0;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    ServeSpec s = random_spec(seed);
    s.timeseries_interval_ps = kPsPerSecond / 10;  // many intervals
    INFO("seed " << seed);
    LinearStepTime step_time;
    ServeResult r;
    try {
      r = run_serve(s, {&step_time, nullptr});
    } catch (const InputError&) {
      continue;
    }
    const Table whole = timeseries_table(r);
    const std::string expected = table_to_csv(with_missing_as(whole, ""));
    REQUIRE(expected.rfind("time_s,replica,steps,", 0) == 0);
    for (const std::size_t rows : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{4096}}) {
      INFO("rows " << rows);
      std::vector<std::string> pieces;
      write_timeseries_csv(
          r, [&pieces](std::string_view text) { pieces.emplace_back(text); }, rows);
      std::string joined;
      for (const std::string& p : pieces) joined += p;
      REQUIRE(joined == expected);
      // One piece per slice of rows (the header rides with the first); the header alone without rows.
      const std::size_t n = whole.rows().size();
      CHECK(pieces.size() == std::max<std::size_t>(1, (n + rows - 1) / rows));
    }
    ++runs;
    if (whole.rows().size() > 50) ++long_series;
  }
  CHECK(runs > 25);
  CHECK(long_series > 10);
  // No interval at all: the header alone.
  ServeResult empty;
  empty.timeseries_interval_ps = kPsPerSecond;
  empty.buckets.resize(2);
  std::string header;
  write_timeseries_csv(
      empty, [&header](std::string_view text) { header += text; }, 3);
  CHECK(header == table_to_csv(timeseries_table(empty)));
  CHECK(std::count(header.begin(), header.end(), '\n') == 1);
}
