#pragma once
// The timing grid of mlasim_attention_bench, in plain C++17 (no CUDA header) so that host code can enumerate
// exactly the points a GPU run times (tests, a CPU generator of synthetic measurement folders).
#include <string>
#include <vector>

#include "kernels/attention/bench_csv.hpp"
#include "kernels/attention/reference.hpp"

namespace mlasim::attention {

/// Dense bf16 tensor-core peak from the datasheet, for the devices whose name says which part it is; 0 when
/// unknown. H100 SXM and H200 (SXM) share 989 TFLOP/s dense bf16.
inline double datasheet_dense_bf16_tflops(const std::string& device_name) {
  if (device_name == "NVIDIA H100 80GB HBM3" || device_name == "NVIDIA H200") return 989.0;
  return 0.0;
}

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
  /// The baseline variant of the point's kernel (more variants may apply: bench_registry.cuh).
  [[nodiscard]] std::string variant() const { return variant_id(kernel, shape.d); }
};

/// The headline points (issue 13, "What it must show"): MLA at batch 128, context 4096, uniform
/// lengths, h_q 16/32/64/128, s_q 1 and 2; GQA (64, 8, 128) at batch 64, context 4096.
inline bool headline_point(const GridPoint& g) {
  if (g.variable || g.ctx != 4096) return false;
  if (g.kernel == "mla") return g.batch == 128;
  return g.batch == 64 && g.shape.n_h == 64 && g.shape.n_kv == 8 && g.shape.d == 128;
}

/// Whether the PyTorch peers (peers.py) time grid point `g`, and how urgently: 0 for a headline point (timed
/// first), 1 for the rest of their subset, -1 for a point they skip. The subset: uniform lengths, batch 1,
/// 32, 64 or 128, context 1024, 4096 or 16384 (quick grid: its own batches and contexts), MLA h_q 16, 64, 128
/// at s_q 1 and every GQA/MQA/MHA shape.
inline int peer_priority(const GridPoint& g, bool quick) {
  if (g.variable) return -1;
  if (headline_point(g)) return 0;
  if (!quick) {
    if (g.batch != 1 && g.batch != 32 && g.batch != 64 && g.batch != 128) return -1;
    if (g.ctx != 1024 && g.ctx != 4096 && g.ctx != 16384) return -1;
  }
  if (g.kernel == "mla") return g.s_q == 1 && g.shape.n_h != 32 ? 1 : -1;
  return 1;
}

/// The grid in the order it is timed, so that a run cut short at its deadline is still useful: the headline
/// points first (headline_point: 9 points, 8 in the quick grid, which has no batch 64), then, without them,
/// MLA with uniform lengths (batch x context x h_q x s_q), the GQA/MQA/MHA shapes (shape x batch x context),
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
  // Headline points to the front, the rest in their order (a stable partition).
  std::vector<GridPoint> ordered;
  ordered.reserve(grid.size());
  for (const GridPoint& g : grid) {
    if (headline_point(g)) ordered.push_back(g);
  }
  for (const GridPoint& g : grid) {
    if (!headline_point(g)) ordered.push_back(g);
  }
  return ordered;
}

/// The timing row of grid point `g` on a batch holding `sum_context` tokens: its shape, its work (FlashMLA's
/// counting for MLA), the median / p90 / min seconds of `repeats` runs against the copy's GB/s, the
/// schedule's shape and the launch's CTAs. The GPU program and the synthetic generator (sim/calibration) both
/// write rows made here. `variant` is the registry id (empty: the point's baseline variant);
/// `dense_peak_tflops` <= 0 leaves pct_of_dense_peak empty.
inline TimingRow timing_row(const GridPoint& g, long long sum_context, double median_s, double p90_s,
                            double min_s, int repeats, double copy_gbps, const SplitSchedule& s,
                            int attention_ctas, int combine_ctas, bool check_passed,
                            const std::string& variant = "", double dense_peak_tflops = 0.0) {
  const bool mla = g.kernel == "mla";
  const GridShape& sh = g.shape;
  TimingRow row;
  row.kernel = g.kernel;
  row.variant = variant.empty() ? g.variant() : variant;
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
  row.pct_of_dense_peak = dense_peak_tflops > 0.0 ? 100.0 * row.tflops / dense_peak_tflops : -1.0;
  row.num_parts = s.num_parts;
  row.num_segments = s.num_segments;
  row.max_splits = s.max_splits_per_seq;
  row.attention_ctas = attention_ctas;
  row.combine_ctas = combine_ctas;
  row.check_passed = check_passed;
  return row;
}

}  // namespace mlasim::attention
