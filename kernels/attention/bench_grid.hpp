#pragma once
// The timing grid of mlasim_attention_bench, in plain C++17 (no CUDA header) so that host code can enumerate
// exactly the points a GPU run times (tests, a CPU generator of synthetic measurement folders).
#include <string>
#include <vector>

#include "kernels/attention/bench_csv.hpp"
#include "kernels/attention/reference.hpp"

namespace mlasim::attention {

/// Heads and head dim of a timed shape: MLA (h_q, 1, 576); GQA (n_h, n_kv, d) with d in {64, 128}.
struct GridShape {
  int n_h, n_kv, d;
};

/// One point of the timing grid.
struct GridPoint {
  std::string kernel;  ///< "mla" or "gqa"
  int batch, ctx;
  bool variable;  ///< lengths uniform in [ctx/2, 3ctx/2] instead of all = ctx
  int s_q;
  GridShape shape;
  [[nodiscard]] std::string variant() const { return variant_id(kernel, shape.d); }
};

/// The grid in the order it is timed, so that a run cut short at its deadline is still useful: MLA with
/// uniform lengths (batch x context x h_q x s_q), then the GQA/MQA/MHA shapes (shape x batch x context), then
/// MLA with variable lengths. Point indices (the bench's --first-point, its "point K" lines) are positions in
/// this list. Full: 280 + 140 + 280 = 700 points; quick: 32 + 16 + 32 = 80.
inline std::vector<GridPoint> timing_grid(bool quick) {
  const std::vector<int> batches = quick ? std::vector<int>{1, 128} : std::vector<int>{1, 8, 32, 64, 128};
  const std::vector<int> contexts =
      quick ? std::vector<int>{512, 4096} : std::vector<int>{512, 1024, 2048, 4096, 8192, 16384, 32768};
  std::vector<GridPoint> grid;
  auto add_mla = [&](bool variable) {
    for (const int batch : batches) {
      for (const int ctx : contexts) {
        for (const int h_q : {16, 32, 64, 128}) {
          for (const int s_q : {1, 2})
            grid.push_back({"mla", batch, ctx, variable, s_q, GridShape{h_q, 1, 576}});
        }
      }
    }
  };
  add_mla(false);
  // Llama-2-7B-like MHA, Llama-3-8B GQA, Llama-3-70B GQA, Falcon-7B MQA (d 64).
  for (const GridShape sh :
       {GridShape{32, 32, 128}, GridShape{32, 8, 128}, GridShape{64, 8, 128}, GridShape{71, 1, 64}}) {
    for (const int batch : batches) {
      for (const int ctx : contexts) grid.push_back({"gqa", batch, ctx, false, 1, sh});
    }
  }
  add_mla(true);
  return grid;
}

/// The timing row of grid point `g` on a batch holding `sum_context` tokens: its shape, its work (FlashMLA's
/// counting for MLA), the median / p90 / min seconds of `repeats` runs against the copy's GB/s, the
/// schedule's shape and the launch's CTAs. The GPU program and the synthetic generator (sim/calibration) both
/// write rows made here.
inline TimingRow timing_row(const GridPoint& g, long long sum_context, double median_s, double p90_s,
                            double min_s, int repeats, double copy_gbps, const SplitSchedule& s,
                            int attention_ctas, int combine_ctas, bool check_passed) {
  const bool mla = g.kernel == "mla";
  const GridShape& sh = g.shape;
  TimingRow row;
  row.kernel = g.kernel;
  row.batch = g.batch;
  row.context = g.ctx;
  row.lengths = g.variable ? "variable" : "uniform";
  row.s_q = g.s_q;
  row.n_h = sh.n_h;
  row.n_kv = sh.n_kv;
  row.d = sh.d;
  row.sum_context = sum_context;
  const auto ctx = static_cast<double>(sum_context);
  row.flops = mla ? mla_flops(g.s_q, sh.n_h, ctx) : gqa_flops(g.s_q, sh.n_h, sh.d, ctx);
  row.bytes =
      mla ? mla_bytes(g.batch, g.s_q, sh.n_h, ctx) : gqa_bytes(g.batch, g.s_q, sh.n_h, sh.n_kv, sh.d, ctx);
  row.median_us = median_s * 1e6;
  row.p90_us = p90_s * 1e6;
  row.min_us = min_s * 1e6;
  row.repeats = repeats;
  row.gbps = row.bytes / median_s / 1e9;
  row.tflops = row.flops / median_s / 1e12;
  row.pct_of_copy_bw = 100.0 * row.gbps / copy_gbps;
  row.num_parts = s.num_parts;
  row.num_segments = s.num_segments;
  row.max_splits = s.max_splits_per_seq;
  row.attention_ctas = attention_ctas;
  row.combine_ctas = combine_ctas;
  row.check_passed = check_passed;
  return row;
}

}  // namespace mlasim::attention
