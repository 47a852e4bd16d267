// Calibrated mode's lookups (sim/device/measured_tables.hpp, attention_kernel_model.hpp): log-space
// interpolation, provenance at, between and beyond grid points, the ramp transfer, and the datasheet
// decode-kernel model's first-principles effects.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include "kernels/attention/reference.hpp"
#include "models/workload.hpp"
#include "sim/device/attention_kernel_model.hpp"
#include "sim/device/device_model.hpp"
#include "sim/device/measured_tables.hpp"
#include "sim/error.hpp"
#include "tests/spec_fixtures.hpp"

using namespace mlasim;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

/// t = a · B^p · L^q on a 3 × 3 grid: a power law in each axis.
LogGrid power_law_grid(double a, double p, double q) {
  const std::vector<double> b{1, 8, 64}, l{512, 2048, 8192};
  std::vector<double> v;
  for (const double bi : b) {
    for (const double li : l) v.push_back(a * std::pow(bi, p) * std::pow(li, q));
  }
  return LogGrid({b, l}, v);
}

AttentionCall mla_call(double batch, double context, double heads, double s_q = 1) {
  AttentionCall c;
  c.mla = true;
  c.sequences = batch;
  c.context_sum = batch * context;
  c.new_tokens = batch * s_q;
  c.q_heads = heads;
  c.kv_heads = 1;
  c.qk_dim = 576;
  c.v_dim = 512;
  return c;
}

/// A calibration with one MLA table (h_q 16 and 64, s_q 1) whose times follow a known ramp exactly.
Calibration mla_calibration(const KernelRamp& truth) {
  Calibration c;
  c.attention_ramps["mla"] = truth;
  for (const int heads : {16, 64}) {
    AttentionTable t;
    t.kernel = AttentionKernel::kMla;
    t.n_h = heads;
    t.d = 576;
    t.batch = {1, 8, 64};
    t.context = {512, 2048, 8192};
    for (const double b : t.batch) {
      for (const double l : t.context) {
        const KernelWork w = table_call_work(AttentionKernel::kMla, b, l, 1, heads, 1, 576);
        t.time_s.push_back(truth.time_s(w.bytes, w.flops));
      }
    }
    c.attention.push_back(t);
  }
  return c;
}

}  // namespace

TEST_CASE("log-space interpolation is exact at the nodes and for power laws in each axis") {
  const LogGrid g = power_law_grid(2e-6, 0.7, 0.4);
  const std::vector<double> node{8, 2048};
  const LogGrid::Lookup at_node = g.at(node);
  REQUIRE(at_node.found);
  CHECK(at_node.on_node);
  CHECK(at_node.value == Approx(2e-6 * std::pow(8, 0.7) * std::pow(2048, 0.4)));
  const std::vector<double> between{3, 1000};
  const LogGrid::Lookup mid = g.at(between);
  REQUIRE(mid.found);
  CHECK_FALSE(mid.on_node);
  CHECK(mid.value == Approx(2e-6 * std::pow(3, 0.7) * std::pow(1000, 0.4)).epsilon(1e-12));
  const std::vector<double> outside{128, 2048};
  CHECK_FALSE(g.at(outside).found);
  CHECK(g.clamp(outside) == std::vector<double>{64, 2048});
}

TEST_CASE("interpolation is monotone along an axis where the data are") {
  // Times growing with context at every batch, with uneven steps: every interpolated value along the context
  // axis lies between its neighbours.
  const LogGrid g({{1, 16}, {512, 1024, 4096, 32768}}, {5, 6, 11, 70, 9, 14, 40, 300});
  double last = 0.0;
  for (double l = 512; l <= 32768; l *= 1.1) {
    const std::vector<double> x{4, l};
    const double v = g.at(x).value;
    CHECK(v >= last);
    last = v;
  }
}

TEST_CASE("a missing corner is not interpolated through; the nearest measured node is found instead") {
  const LogGrid g({{1, 8}, {512, 2048}}, {1, 2, 3, kNaN});
  const std::vector<double> x{4, 1024};
  CHECK_FALSE(g.at(x).found);
  const LogGrid::Node n = g.nearest_node(x);
  REQUIRE(n.found);
  CHECK(n.value ==
        Approx(3.0));  // (8, 512): a factor 2 off on both axes; (1, 512) and (1, 2048) are 4x off on one
  CHECK_THROWS_AS(LogGrid({{1, 1}}, {1, 2}), InputError);   // an axis must ascend strictly
  CHECK_THROWS_AS(LogGrid({{1, 2}}, {1}), InputError);      // one value per node
  CHECK_THROWS_AS(LogGrid({{1, 2}}, {1, -1}), InputError);  // times are positive
}

TEST_CASE(
    "calibrated attention: measured at a node, interpolated between, extrapolated beyond or across shapes") {
  const KernelRamp truth{6e-6, 3.5e12, 300e12};
  const CalibratedAttention cal(mla_calibration(truth));
  const auto predict = [&](const AttentionCall& c) {
    const KernelWork w = table_call_work(AttentionKernel::kMla, c.sequences, c.context_sum / c.sequences,
                                         c.s_q(), c.q_heads, 1, 576);
    const auto p = cal.predict(c, w.bytes, w.flops);
    REQUIRE(p.has_value());
    return std::make_pair(*p, truth.time_s(w.bytes, w.flops));
  };
  {
    const auto [p, t] = predict(mla_call(8, 2048, 16));
    CHECK(p.provenance == Provenance::kMeasured);
    CHECK(p.time_s == Approx(t));
  }
  {
    const auto [p, t] = predict(mla_call(20, 3000, 32));  // inside the grid on all three axes
    CHECK(p.provenance == Provenance::kInterpolated);
    CHECK(p.time_s == Approx(t));  // the residual against the ramp is interpolated: exact for a perfect ramp
  }
  {
    const auto [p, t] = predict(mla_call(256, 32768, 64));  // beyond the largest batch and context
    CHECK(p.provenance == Provenance::kExtrapolated);
    CHECK(p.time_s == Approx(t).epsilon(1e-9));  // the ramp carries the edge point exactly to its own law
  }
  {
    const auto [p, t] = predict(mla_call(8, 2048, 8, 2));  // 16 rows per sequence as h_q 8 × s_q 2: same work
    CHECK(p.provenance == Provenance::kMeasured);
    CHECK(p.time_s == Approx(t));
  }
  // fp8 cache: half the KV bytes of the measured bf16 kernel: transferred by the ramp, extrapolated.
  const AttentionCall c = mla_call(8, 2048, 16);
  const KernelWork w = table_call_work(AttentionKernel::kMla, 8, 2048, 1, 16, 1, 576);
  const double kv = 576.0 * 2 * 8 * 2048;
  const auto fp8 = cal.predict(c, w.bytes - kv / 2, w.flops);
  REQUIRE(fp8.has_value());
  CHECK(fp8->provenance == Provenance::kExtrapolated);
  CHECK(fp8->time_s == Approx(truth.time_s(w.bytes - kv / 2, w.flops)));
  // Prefill is not what the decode kernels measured.
  AttentionCall prefill = c;
  prefill.prefill = true;
  CHECK_FALSE(cal.predict(prefill, w.bytes, w.flops).has_value());
}

TEST_CASE("a mixed-length batch is looked up at its mean context: the schedule balances pages over parts") {
  const KernelRamp truth{6e-6, 3.5e12, 300e12};
  const CalibratedAttention cal(mla_calibration(truth));
  AttentionCall mixed = mla_call(8, 2048, 16);  // ΣL = 16384, e.g. one 9216 and seven 1024
  const KernelWork w = table_call_work(AttentionKernel::kMla, 8, 2048, 1, 16, 1, 576);
  CHECK(cal.predict(mixed, w.bytes, w.flops)->time_s == Approx(truth.time_s(w.bytes, w.flops)));
}

TEST_CASE("calibrated GQA: a table of another KV-head count answers for the same (sequence, KV head) pairs") {
  Calibration c;
  const KernelRamp truth{5e-6, 3.2e12, 250e12};
  c.attention_ramps["gqa_d128"] = truth;
  AttentionTable t;
  t.kernel = AttentionKernel::kGqa;
  t.n_h = 64;
  t.n_kv = 8;
  t.d = 128;
  t.batch = {1, 8, 64};
  t.context = {512, 4096};
  for (const double b : t.batch) {
    for (const double l : t.context) {
      const KernelWork w = table_call_work(AttentionKernel::kGqa, b, l, 1, 64, 8, 128);
      t.time_s.push_back(truth.time_s(w.bytes, w.flops));
    }
  }
  c.attention.push_back(t);
  const CalibratedAttention cal(c);
  AttentionCall call;
  call.sequences = 16;
  call.context_sum = 16 * 4096;
  call.new_tokens = 16;
  call.q_heads = 32;  // 32 heads over 4 KV heads: group 8 as in the table, 64 (sequence, KV head) pairs
  call.kv_heads = 4;
  call.qk_dim = 128;
  call.v_dim = 128;
  const KernelWork own = table_call_work(AttentionKernel::kGqa, 16, 4096, 1, 32, 4, 128);
  const auto p = cal.predict(call, own.bytes, own.flops);
  REQUIRE(p.has_value());
  CHECK(p->provenance == Provenance::kExtrapolated);  // not the measured shape
  CHECK(p->time_s == Approx(truth.time_s(own.bytes, own.flops)).epsilon(1e-9));
  call.q_heads = 64;  // the measured shape itself, at batch 8
  call.kv_heads = 8;
  call.sequences = 8;
  call.context_sum = 8 * 4096;
  call.new_tokens = 8;
  const KernelWork same = table_call_work(AttentionKernel::kGqa, 8, 4096, 1, 64, 8, 128);
  CHECK(cal.predict(call, same.bytes, same.flops)->provenance == Provenance::kMeasured);
}

TEST_CASE("datasheet decode kernel: few CTAs cannot reach the HBM bandwidth, big batches can") {
  const HardwareSpec hw = test::h200();
  // B = 1 at 512 tokens: 8 pages; with the schedule's start-up cost of 2 pages per piece, each part takes
  // 2 pages: 4 parts on 4 SMs, whose bytes in flight cap the bandwidth.
  const AttentionCall small = mla_call(1, 512, 16);
  const DecodeKernelDesign design = decode_kernel_design(small);
  const SplitKvLaunch l = split_kv_launch(design, small, hw.sms);
  CHECK(l.parts == 4);
  CHECK(l.active_sms == 4);
  const KernelWork ws = table_call_work(AttentionKernel::kMla, 1, 512, 1, 16, 1, 576);
  const DecodeCallTime ts = datasheet_decode_call(hw, small, ws.bytes, ws.flops, Dtype::kBf16);
  // Little's law by hand: 2 tiles × 32 tokens × 576 × 2 B in flight per SM over 600 ns.
  const double per_sm = 2.0 * 32 * 576 * 2 / 600e-9;
  CHECK(ts.memory_s == Approx(ws.bytes / (4 * per_sm)));
  CHECK(ts.fixed_s == Approx(3 * 600e-9));  // block table, first tile, output store; one piece per part
  CHECK(ts.kernels == 2);                   // 4 parts for one sequence: split, so a combine kernel runs
  // B = 128 at 4096 tokens: every SM busy; the HBM bandwidth (× η) is the limit.
  const AttentionCall big = mla_call(128, 4096, 16);
  const KernelWork wb = table_call_work(AttentionKernel::kMla, 128, 4096, 1, 16, 1, 576);
  const DecodeCallTime tb = datasheet_decode_call(hw, big, wb.bytes, wb.flops, Dtype::kBf16);
  CHECK(tb.memory_s == Approx(wb.bytes / (4.8e12 * hw.datasheet_efficiency.memory)));
  CHECK(tb.memory_s > tb.compute_s);
  // h_q 128, s_q 2: 256 rows, 4 row blocks per part; intensity ~ 2·256 FLOP/B: compute-bound.
  const AttentionCall heavy = mla_call(128, 4096, 128, 2);
  const KernelWork wh = table_call_work(AttentionKernel::kMla, 128, 4096, 2, 128, 1, 576);
  const DecodeCallTime th = datasheet_decode_call(hw, heavy, wh.bytes, wh.flops, Dtype::kBf16);
  CHECK(th.compute_s > th.memory_s);
}

TEST_CASE("GEMM tables: the same shape is exact, another shape takes the nearest one's rate") {
  std::vector<GemmEfficiencyTable> tables;
  tables.emplace_back(GemmShapeKey{"lt_bf16", "bf16", 8192, 8192, 1}, std::vector<GemmPoint>{{1, 1.5, 0}});
  tables.emplace_back(GemmShapeKey{"lt_bf16", "bf16", 1024, 8192, 1}, std::vector<GemmPoint>{{1, 0.2, 0}});
  tables.emplace_back(GemmShapeKey{"lt_fp8_e4m3", "fp8_e4m3", 8192, 8192, 1},
                      std::vector<GemmPoint>{{1, 3, 0}});
  const GemmTableMatch exact = nearest_gemm_table(tables, "bf16", 8192, 8192, 1);
  REQUIRE(exact.table == &tables[0]);
  CHECK(exact.exact);
  const GemmTableMatch near = nearest_gemm_table(tables, "bf16", 1500, 8192, 1);
  REQUIRE(near.table == &tables[1]);
  CHECK_FALSE(near.exact);
  CHECK(nearest_gemm_table(tables, "fp8", 8192, 8192, 1).table == &tables[2]);
  CHECK(nearest_gemm_table(tables, "f32", 8192, 8192, 1).table == nullptr);
}

TEST_CASE("the step splits its time by provenance, and the parts add up to the step") {
  const ModelSpec m = test::llama3_8b();
  const StepWorkload w = build_step(m, uniform_decode(16, 4096));
  const StepCost c = cost_step(w, DeviceModel(test::h100(), DeviceMode::kDatasheet));
  double sum = 0;
  for (const double t : c.time_by_provenance) sum += t;
  CHECK(sum == Approx(c.step_time_s));
  CHECK(c.share(Provenance::kAnalytic) == Approx(1.0));
}

namespace {

/// Whether uniform_schedule_shape gives schedule_shape's counts for `batch` sequences of `pages` pages.
bool same_shape(long long pages, long long batch, const attention::ScheduleOptions& o) {
  const attention::ScheduleShape walked = attention::schedule_shape(pages * batch, batch, o);
  const attention::ScheduleShape counted = uniform_schedule_shape(pages, batch, o);
  const bool same = walked.parts == counted.parts && walked.segments == counted.segments &&
                    walked.max_splits == counted.max_splits;
  if (!same) {
    UNSCOPED_INFO("pages " << pages << " batch " << batch << " sms " << o.num_sms << " ctas " << o.ctas_per_sm
                           << " row blocks " << o.row_blocks << " cost " << o.fixed_cost_pages << ": walked "
                           << walked.parts << "/" << walked.segments << "/" << walked.max_splits
                           << ", counted " << counted.parts << "/" << counted.segments << "/"
                           << counted.max_splits);
  }
  return same;
}

}  // namespace

TEST_CASE("the split-KV shape counted in closed form is the walked schedule's, small and large") {
  // Every small uniform batch: 1..40 pages, 1..40 sequences, 1..80 target parts, piece costs 0..3.
  long long mismatches = 0;
  for (int cost = 0; cost <= 3; ++cost) {
    for (long long pages = 1; pages <= 40; ++pages) {
      for (long long batch = 1; batch <= 40; ++batch) {
        for (int target = 1; target <= 80; ++target) {
          attention::ScheduleOptions o;
          o.num_sms = target;
          o.fixed_cost_pages = cost;
          if (!same_shape(pages, batch, o)) ++mismatches;
        }
      }
    }
  }
  // Random large ones: up to 2^36 pages a sequence, 2^20 sequences, GPUs of up to 400 SMs.
  std::uint64_t state = 12345;
  const auto next = [&state] {  // xorshift64
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  for (int i = 0; i < 100000; ++i) {
    const long long pages = 1 + static_cast<long long>(next() % (std::uint64_t{1} << (next() % 37)));
    const long long batch = 1 + static_cast<long long>(next() % (std::uint64_t{1} << (next() % 21)));
    if (pages > (1LL << 61) / batch) continue;
    attention::ScheduleOptions o;
    o.num_sms = 1 + static_cast<int>(next() % 400);
    o.ctas_per_sm = 1 + static_cast<int>(next() % 4);
    o.row_blocks = 1 + static_cast<int>(next() % 64);
    o.fixed_cost_pages = static_cast<int>(next() % 5);
    if (!same_shape(pages, batch, o)) ++mismatches;
  }
  CHECK(mismatches == 0);
  // The same input errors.
  CHECK_THROWS_AS(uniform_schedule_shape(0, 4, attention::ScheduleOptions{}), std::invalid_argument);
  CHECK_THROWS_AS(uniform_schedule_shape(4, 0, attention::ScheduleOptions{}), std::invalid_argument);
}
