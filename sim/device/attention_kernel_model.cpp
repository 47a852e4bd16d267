#include "sim/device/attention_kernel_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <tuple>

#include "kernels/attention/kernel_layout.hpp"
#include "kernels/attention/reference.hpp"
#include "kernels/attention/schedule.hpp"
#include "sim/error.hpp"

namespace mlasim {

namespace layout = attention::layout;

DecodeKernelDesign decode_kernel_design(const AttentionCall& call) {
  DecodeKernelDesign d;
  d.page_tokens = layout::kPageTokens;
  d.fixed_cost_pages = attention::ScheduleOptions{}.fixed_cost_pages;
  if (call.mla) {
    d.kernel = AttentionKernel::kMla;
    d.rows_per_cta = layout::mla::kRows;
    d.ctas_per_sm = layout::mla::kCtasPerSm;
    // A 3-stage ring of 32-token tiles: two tiles are in flight while the third is consumed.
    d.bytes_in_flight_per_cta = double(layout::mla::kStages - 1) * layout::mla::kTile * call.qk_dim * 2.0;
  } else {
    d.kernel = AttentionKernel::kGqa;
    d.rows_per_cta = layout::gqa::kRows;
    d.ctas_per_sm = layout::gqa::ctas_per_sm(call.qk_dim <= 64 ? 64 : 128);
    // Each warp keeps one 16-token K and V tile in flight (2-stage ring per warp).
    d.bytes_in_flight_per_cta = double(layout::gqa::kWarps) * (layout::gqa::kStages - 1) * 2.0 *
                                layout::gqa::kTile * call.qk_dim * 2.0;
  }
  return d;
}

namespace {

__extension__ typedef __int128 Wide;  // products of page counts and part counts beyond 64 bits

/// The least x >= 0 with lo <= (a·x) mod m <= hi (0 <= a < m, 0 <= lo <= hi < m), or -1 when there is none:
/// Euclid's recursion on (a, m). Without a multiple of a in [lo, hi] the least x is ceil((lo + m·y) / a) for
/// the least y whose [lo + m·y, hi + m·y] holds one, i.e. with (m·y) mod a in [a − hi mod a, a − lo mod a].
/// Int holds m² (Wide, or 64 bits for m < 2^31).
template <class Int>
Int first_hit(Int a, Int m, Int lo, Int hi) {
  if (lo == 0) return 0;
  if (a == 0) return -1;
  const Int x = (lo + a - 1) / a;  // the least x with a·x >= lo
  if (a * x <= hi) return x;
  const Int y = first_hit<Int>(m % a, a, a - hi % a, a - lo % a);
  if (y < 0) return -1;
  return (lo + m * y + a - 1) / a;
}

template <class Int>
Int gcd_of(Int a, Int b) {
  while (b != 0) {
    const Int r = a % b;
    a = b;
    b = r;
  }
  return a;
}

/// The most of the steps n in [1, end) that share one floor(n·w / len): the deepest run of part starts
/// inside one sequence.
template <class Int>
Int longest_run(Int w, Int len, Int end) {
  if (w >= len) return 1;  // every start a sequence further on
  const Int last = (end - 1) * w / len;
  if (last == 0) return end - 1;
  Int best = std::max((len - 1) / w, end - (last * len + w - 1) / w);  // the first and the last sequences
  if (last >= 2) {
    // Sequence s in between holds ceil((s + 1)·len / w) − ceil(s·len / w) starts: q, or q + 1 where
    // (s·len − 1) mod w >= w − r, i.e. (s·r) mod w in [w − r + 1, w − 1] or 0.
    const Int q = len / w, r = len % w;
    Int inner = q;
    if (r > 0) {
      const Int zero = w / gcd_of<Int>(r, w);
      const Int hit = r >= 2 ? first_hit<Int>(r, w, w - r + 1, w - 1) : Int{-1};
      if (zero <= last - 1 || (hit >= 1 && hit <= last - 1)) inner = q + 1;
    }
    best = std::max(best, inner);
  }
  return best;
}

/// uniform_schedule_shape's counting for `batch` sequences of `pages` pages, `parts` parts, piece cost `cost`
/// and `w` pages plus costs from one part's start to the next.
template <class Int>
attention::ScheduleShape count_uniform(Int pages, Int batch, Int parts, Int cost, Int w) {
  const Int len = pages + cost;
  attention::ScheduleShape shape;
  shape.parts = 1;
  shape.segments = static_cast<long long>(batch);
  shape.max_splits = 1;
  if (parts <= 1) return shape;
  // n0: the first n >= 1 with (n·w) mod len == 0 or in [pages, len).
  const Int a = w % len;
  Int n0 = len / gcd_of<Int>(a, len);
  if (pages <= len - 1) {
    const Int hit = first_hit<Int>(a, len, pages, len - 1);
    if (hit >= 1 && hit < n0) n0 = hit;
  }
  const Int n_break = (batch * len + w - 1) / w;  // the first start past the last sequence
  const Int end = std::min({n0, parts, n_break});
  shape.parts += static_cast<long long>(end - 1);
  shape.segments += static_cast<long long>(end - 1);
  if (end > 1) shape.max_splits = static_cast<int>(1 + longest_run<Int>(w, len, end));
  if (end == n0 && n0 < parts) {
    const Int seq = (n0 * w + len - 1) / len;  // the sequence part n0 starts
    if (seq < batch) {
      ++shape.parts;
      // Whole repeats of parts 1..n0 (each n0 parts, n0 − 1 cuts, none deeper than the first's), then a
      // partial one.
      const Int repeats = std::min((parts - 1 - n0) / n0, (batch - 1 - seq) / seq);
      shape.parts += static_cast<long long>(repeats * n0);
      shape.segments += static_cast<long long>(repeats * (n0 - 1));
      const Int base = seq * (repeats + 1);
      const Int tail_break = ((batch - base) * len + w - 1) / w;
      const Int tail = std::min({parts - n0 * (repeats + 1), tail_break, n0});
      if (tail > 1) {
        shape.parts += static_cast<long long>(tail - 1);
        shape.segments += static_cast<long long>(tail - 1);
      }
    }
  }
  return shape;
}

}  // namespace

attention::ScheduleShape uniform_schedule_shape(long long pages_per_sequence, long long batch,
                                                const attention::ScheduleOptions& opt) {
  if (pages_per_sequence < 1 || batch < 1 || batch > (1LL << 30)) {
    throw std::invalid_argument("schedule: need a page per sequence and at least one sequence");
  }
  // attention::schedule_shape's uniform walk: part n starts n·w further along a line on which each sequence
  // takes its pages and then the piece cost (len = pages + cost); a start that lands in a cost, or exactly on
  // a sequence's start, puts the part at the next sequence's start (phase 0), after which the first n0 parts
  // repeat. Before that first phase 0 (step n0) every start cuts a sequence. Here n0, the repeats and the
  // runs of cuts inside one sequence are counted in closed form.
  const long long total = batch * pages_per_sequence;
  const long long parts = std::min<long long>(attention::target_parts(opt), total);
  const long long payload = attention::split_payload(total, batch, parts, opt.fixed_cost_pages);
  const long long cost = opt.fixed_cost_pages;
  const long long w = payload - cost;  // >= 1
  // Every product the count forms is of two of len, w, batch and parts: 64 bits hold them below 2^31 each.
  constexpr long long kNarrow = (1LL << 31) - 1;
  if (pages_per_sequence + cost <= kNarrow && w <= kNarrow && parts <= kNarrow) {
    return count_uniform<long long>(pages_per_sequence, batch, parts, cost, w);
  }
  return count_uniform<Wide>(pages_per_sequence, batch, parts, cost, w);
}

SplitKvLaunch split_kv_launch(const DecodeKernelDesign& design, const AttentionCall& call, int sms) {
  SplitKvLaunch l;
  const double batch = std::max(call.sequences, 1.0);
  const double kv_heads = std::max(call.kv_heads, 1.0);
  const double rows_per_kv_head = std::max(call.s_q() * call.q_heads / kv_heads, 1.0);
  l.row_blocks = kv_heads * std::ceil(rows_per_kv_head / design.rows_per_cta);
  // kernels/attention/schedule.cpp: parts = SMs × CTAs/SM / row blocks, at most one per page of the batch.
  attention::ScheduleOptions opt;
  opt.num_sms = std::max(sms, 1);
  opt.ctas_per_sm = design.ctas_per_sm;
  opt.row_blocks = static_cast<int>(std::min(l.row_blocks, 1e9));
  // The schedule of the batch's sums (a mixed batch with the same sums runs alike: pages are balanced).
  const double mean_context = call.context_sum / batch;
  // The schedule indexes sequences with an int and counts pages in 64 bits: a batch beyond that is input no
  // GPU runs (step --batch 2e9, or 1e9 sequences of 1e12 tokens), an error rather than an overflow.
  const double pages_per_sequence = std::ceil(std::max(mean_context, 1.0) / design.page_tokens);
  if (std::ceil(batch) > double(1LL << 30) || std::ceil(batch) * pages_per_sequence > 0x1p62) {
    throw InputError(
        fmt::format("an attention call over {} sequences of {} tokens on average is too large to "
                    "model (at most 2^30 sequences and 2^62 KV pages)",
                    std::ceil(batch), mean_context));
  }
  const auto sequences = static_cast<long long>(std::ceil(batch));
  const attention::ScheduleShape shape =
      uniform_schedule_shape(static_cast<long long>(pages_per_sequence), sequences, opt);
  l.parts = double(shape.parts);
  // Mixed lengths: the parts' runs of equal work cut sequences wherever their boundaries fall, so with
  // several parts some sequence is split (a combine pass) and each boundary adds a piece.
  const bool mixed_split = call.mixed_lengths && shape.parts > 1;
  l.ctas = l.row_blocks * l.parts;
  const double slots = double(opt.num_sms) * design.ctas_per_sm;
  l.waves = std::ceil(l.ctas / slots);
  l.active_sms = std::min(double(opt.num_sms), std::ceil(std::min(l.ctas, slots) / design.ctas_per_sm));
  l.slot_fill = l.ctas / (l.waves * slots);
  l.combine = shape.max_splits > 1 || mixed_split;
  l.segments = mixed_split ? std::max(double(shape.segments), batch + l.parts - 1.0) : double(shape.segments);
  return l;
}

DecodeCallTime datasheet_decode_call(const HardwareSpec& hw, const AttentionCall& call, double bytes,
                                     double flops, Dtype math_dtype) {
  return datasheet_decode_call(hw, call, bytes, flops, hw.peak_flops(math_dtype));
}

DecodeCallTime datasheet_decode_call(const HardwareSpec& hw, const AttentionCall& call, double bytes,
                                     double flops, double peak_flops_per_s) {
  const DecodeKernelDesign design = decode_kernel_design(call);
  const SplitKvLaunch l = split_kv_launch(design, call, hw.sms);
  const double latency = hw.memory_latency_s;
  const double bw = hw.hbm_bandwidth_bytes_per_s * hw.datasheet_efficiency.memory;
  // Little's law: an SM streams at most (bytes in flight) / latency.
  const double per_sm_bw = design.bytes_in_flight_per_cta * design.ctas_per_sm / latency;
  const double reachable_bw = std::min(bw, l.active_sms * per_sm_bw);
  DecodeCallTime t;
  // A wave that leaves slots empty streams at the partial rate: over all waves the slots are slot_fill busy.
  t.memory_s = bytes / reachable_bw / (l.waves > 1.0 ? l.slot_fill : 1.0);
  const double compute_fill = l.active_sms / hw.sms * (l.waves > 1.0 ? l.slot_fill : 1.0);
  t.compute_s = flops / (peak_flops_per_s * hw.datasheet_efficiency.compute * compute_fill);
  t.body_s = std::max(t.memory_s, t.compute_s);
  // Prologue: the block table, then the first KV tile (two dependent HBM round trips); epilogue: the output
  // store drains (one more). Every further piece a CTA walks restarts its pipeline (one round trip each).
  const double pieces_per_part = l.segments / l.parts;
  t.fixed_s = (2.0 + pieces_per_part) * latency;
  if (l.combine) {
    // Split pieces write fp32 partial outputs + LSE; the combine kernel reads them and writes the bf16 output
    // after waiting for its first load and its last store.
    const double rows_per_seq = call.s_q() * call.q_heads;
    const double partial_bytes = l.segments * rows_per_seq * (call.v_dim + 1.0) * 4.0;
    const double out_bytes = call.sequences * rows_per_seq * call.v_dim * 2.0;
    t.combine_s = 2.0 * latency + (2.0 * partial_bytes + out_bytes) / bw;
    t.kernels = 2;
  }
  return t;
}

KernelWork table_call_work(AttentionKernel kernel, double batch, double context, double s_q, double n_h,
                           double n_kv, double d) {
  const double sum_context = batch * context;
  if (kernel == AttentionKernel::kMla) {
    return {attention::mla_bytes(batch, s_q, n_h, sum_context), attention::mla_flops(s_q, n_h, sum_context)};
  }
  return {attention::gqa_bytes(batch, s_q, n_h, n_kv, d, sum_context),
          attention::gqa_flops(s_q, n_h, d, sum_context)};
}

// ---------------------------------------------------------------- calibrated

namespace {

std::vector<double> sorted_union(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

std::size_t index_of(const std::vector<double>& axis, double v) {
  return static_cast<std::size_t>(std::lower_bound(axis.begin(), axis.end(), v) - axis.begin());
}

bool close(double a, double b) {
  return std::abs(a - b) <= 1e-9 * std::max(std::abs(a), std::abs(b));
}

/// A lookup of the residual (measured / ramp) in one grid, times the ramp at the call's own work.
struct GridEstimate {
  double time_s = 0.0;
  bool inside = false;   ///< the coordinates were inside the grid with every corner measured
  bool on_node = false;  ///< ... and on a node
};

GridEstimate estimate(const LogGrid& residuals, const std::vector<double>& x, const KernelRamp& ramp,
                      double bytes, double flops) {
  GridEstimate e;
  double residual = 0.0;
  if (const LogGrid::Lookup in = residuals.at(x); in.found) {
    residual = in.value;
    e.inside = true;
    e.on_node = in.on_node;
  } else if (const LogGrid::Lookup edge = residuals.at(residuals.clamp(x)); edge.found) {
    residual = edge.value;
  } else {
    const LogGrid::Node node = residuals.nearest_node(x);
    if (!node.found) return e;
    residual = node.value;
  }
  e.time_s = residual * ramp.time_s(bytes, flops);
  return e;
}

}  // namespace

CalibratedAttention::CalibratedAttention(const Calibration& calibration) {
  ramps_.assign(calibration.attention_ramps.begin(), calibration.attention_ramps.end());
  // The grids hold residuals, measured / ramp(work of that call): what the family's ramp misses (waves, fixed
  // costs, occupancy) varies slowly, so interpolating it in log space is close even across the change from
  // memory- to compute-bound, and a prediction is ramp(the call's own work) × residual (DESIGN.md §9).
  const auto residual = [](const KernelRamp& r, double t, const KernelWork& w) {
    return t / r.time_s(w.bytes, w.flops);
  };
  // MLA: the tables of one lengths kind join one grid over (batch, context, h_q·s_q); two tables with the
  // same rows (h_q 32 s_q 1 and h_q 16 s_q 2 do the same work) meet at their geometric mean.
  std::vector<const AttentionTable*> mla_by_kind[2];
  for (const AttentionTable& t : calibration.attention) {
    if (t.kernel == AttentionKernel::kMla) {
      mla_by_kind[t.variable_lengths ? 1 : 0].push_back(&t);
      continue;
    }
    const KernelRamp* r = ramp(attention_ramp_key(AttentionKernel::kGqa, t.d));
    if (r == nullptr) continue;
    std::vector<double> values(t.time_s.size());
    for (std::size_t bi = 0; bi < t.batch.size(); ++bi) {
      for (std::size_t ci = 0; ci < t.context.size(); ++ci) {
        const KernelWork w = table_call_work(AttentionKernel::kGqa, t.batch[bi], t.mean_context_at(bi, ci),
                                             t.s_q, t.n_h, t.n_kv, t.d);
        values[bi * t.context.size() + ci] = residual(*r, t.at(bi, ci), w);
      }
    }
    gqa_.push_back(Grid{t, LogGrid({t.batch, t.context}, std::move(values))});
    gqa_.back().shape.time_s.clear();
  }
  const KernelRamp* mla_ramp = ramp(attention_ramp_key(AttentionKernel::kMla, 0));
  for (const std::vector<const AttentionTable*>& mla : mla_by_kind) {
    if (mla.empty() || mla_ramp == nullptr) continue;
    std::vector<double> batches, contexts, rows;
    for (const AttentionTable* t : mla) {
      batches.insert(batches.end(), t->batch.begin(), t->batch.end());
      contexts.insert(contexts.end(), t->context.begin(), t->context.end());
      rows.push_back(double(t->n_h) * t->s_q);
    }
    batches = sorted_union(std::move(batches));
    contexts = sorted_union(std::move(contexts));
    rows = sorted_union(std::move(rows));
    std::vector<double> log_sum(batches.size() * contexts.size() * rows.size(), 0.0);
    std::vector<int> count(log_sum.size(), 0);
    for (const AttentionTable* t : mla) {
      const std::size_t r = index_of(rows, double(t->n_h) * t->s_q);
      for (std::size_t bi = 0; bi < t->batch.size(); ++bi) {
        for (std::size_t ci = 0; ci < t->context.size(); ++ci) {
          const double time = t->at(bi, ci);
          if (std::isnan(time)) continue;
          const KernelWork w = table_call_work(AttentionKernel::kMla, t->batch[bi],
                                               t->mean_context_at(bi, ci), t->s_q, t->n_h, 1.0, t->d);
          const std::size_t flat =
              (index_of(batches, t->batch[bi]) * contexts.size() + index_of(contexts, t->context[ci])) *
                  rows.size() +
              r;
          log_sum[flat] += std::log(residual(*mla_ramp, time, w));
          ++count[flat];
        }
      }
    }
    std::vector<double> values(log_sum.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      values[i] = count[i] > 0 ? std::exp(log_sum[i] / count[i]) : std::nan("");
    }
    AttentionTable shape = *mla.front();
    shape.time_s.clear();
    mla_.push_back(Grid{shape, LogGrid({batches, contexts, rows}, std::move(values))});
  }
}

const KernelRamp* CalibratedAttention::ramp(const std::string& key) const {
  for (const auto& [k, r] : ramps_) {
    if (k == key && r.valid()) return &r;
  }
  return nullptr;
}

std::optional<KernelPrediction> CalibratedAttention::predict(const AttentionCall& call, double bytes,
                                                             double flops) const {
  if (call.prefill || call.sequences <= 0.0 || call.context_sum <= 0.0) return std::nullopt;
  const double batch = call.sequences;
  // The split-KV schedule balances pages (plus a per-piece cost) over its parts, so a mixed-length batch runs
  // like the uniform batch of the same B and ΣL (kernels/attention/schedule.hpp): look it up at the mean.
  const double context = call.context_sum / batch;
  const double s_q = call.s_q();
  if (call.mla) {
    const KernelRamp* r = ramp(attention_ramp_key(AttentionKernel::kMla, 0));
    if (mla_.empty() || r == nullptr) return std::nullopt;
    // The grid of the call's lengths kind (uniform or mixed), else the other one (then extrapolated).
    const Grid* grid = &mla_.front();
    for (const Grid& g : mla_) {
      if (g.shape.variable_lengths == call.mixed_lengths) grid = &g;
    }
    const bool same_kind = grid->shape.variable_lengths == call.mixed_lengths;
    const double rows = call.q_heads * s_q;
    const double d = grid->shape.d;
    const auto work_at = [&](const std::vector<double>& x) {
      return table_call_work(AttentionKernel::kMla, x[0], x[1], 1.0, x[2], 1.0, d);
    };
    const GridEstimate e = estimate(grid->grid, {batch, context, rows}, *r, bytes, flops);
    if (e.time_s <= 0.0) return std::nullopt;
    const KernelWork own = work_at({batch, context, rows});
    const bool same_work = same_kind && close(own.bytes, bytes) && close(own.flops, flops);
    KernelPrediction p{e.time_s, Provenance::kExtrapolated};
    if (e.inside && same_work) p.provenance = e.on_node ? Provenance::kMeasured : Provenance::kInterpolated;
    return p;
  }
  // GQA/MQA/MHA: the kernel streams B·n_kv (sequence, KV head) pairs, each serving the group's rows; a table
  // of another shape with the same rows per KV head answers for the same number of pairs.
  const double kv_heads = std::max(call.kv_heads, 1.0);
  const double group_rows = call.q_heads / kv_heads * s_q;
  const double pairs = batch * kv_heads;
  std::vector<const Grid*> candidates;
  double best_d_distance = 1e300;
  bool have_kind = false;  // a table of the call's lengths kind exists: use only those
  for (const Grid& g : gqa_) have_kind = have_kind || g.shape.variable_lengths == call.mixed_lengths;
  for (const Grid& g : gqa_) {
    if (have_kind && g.shape.variable_lengths != call.mixed_lengths) continue;
    const double dist = std::abs(std::log(double(g.shape.d)) - std::log(double(std::max(call.qk_dim, 1))));
    if (dist < best_d_distance - 1e-12) {
      best_d_distance = dist;
      candidates.clear();
    }
    if (dist <= best_d_distance + 1e-12) candidates.push_back(&g);
  }
  if (candidates.empty()) return std::nullopt;
  struct Evaluated {
    double rows = 0.0;
    GridEstimate e;
    bool same_shape = false;
  };
  std::map<double, Evaluated> by_rows;  // the first table of each rows-per-KV-head value
  for (const Grid* g : candidates) {
    const AttentionTable& s = g->shape;
    const double t_rows = double(s.n_h) / s.n_kv * s.s_q;
    if (by_rows.count(t_rows) != 0) continue;
    const KernelRamp* r = ramp(attention_ramp_key(AttentionKernel::kGqa, s.d));
    if (r == nullptr) continue;
    const double t_batch = pairs / s.n_kv;
    const auto work_at = [&](const std::vector<double>& x) {
      return table_call_work(AttentionKernel::kGqa, x[0], x[1], s.s_q, s.n_h, s.n_kv, s.d);
    };
    Evaluated ev;
    ev.rows = t_rows;
    ev.e = estimate(g->grid, {t_batch, context}, *r, bytes, flops);
    const KernelWork own = work_at({t_batch, context});
    ev.same_shape = s.variable_lengths == call.mixed_lengths && close(s.n_h, call.q_heads) &&
                    close(s.n_kv, kv_heads) && close(s.s_q, s_q) && s.d == call.qk_dim &&
                    close(own.bytes, bytes) && close(own.flops, flops);
    if (ev.e.time_s > 0.0) by_rows.emplace(t_rows, ev);
  }
  if (by_rows.empty()) return std::nullopt;
  for (const auto& [t_rows, ev] : by_rows) {
    if (!close(t_rows, group_rows)) continue;
    KernelPrediction p{ev.e.time_s, Provenance::kExtrapolated};
    if (ev.same_shape && ev.e.inside)
      p.provenance = ev.e.on_node ? Provenance::kMeasured : Provenance::kInterpolated;
    return p;
  }
  // Between two measured group sizes: log-linear in the rows per KV head; outside them: the nearest one.
  auto hi = by_rows.lower_bound(group_rows);
  if (hi == by_rows.begin() || hi == by_rows.end()) {
    const Evaluated& ev = hi == by_rows.end() ? std::prev(hi)->second : hi->second;
    return KernelPrediction{ev.e.time_s, Provenance::kExtrapolated};
  }
  const auto lo = std::prev(hi);
  const double f = (std::log(group_rows) - std::log(lo->first)) / (std::log(hi->first) - std::log(lo->first));
  const double t = std::exp(std::log(lo->second.e.time_s) +
                            f * (std::log(hi->second.e.time_s) - std::log(lo->second.e.time_s)));
  return KernelPrediction{t, Provenance::kExtrapolated};
}

}  // namespace mlasim
