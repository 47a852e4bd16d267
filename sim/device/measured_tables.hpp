#pragma once
/// Tables measured on a GPU and the lookups calibrated mode runs on them (DESIGN.md §6, §9): GEMM efficiency
/// versus m per shape, our decode-attention kernels' times over batch × context per shape, fitted ramps for
/// extrapolation, and a multilinear interpolation in log space over a rectilinear grid. Plain data plus
/// lookups; the fits that produce them live in sim/calibration, the YAML form in sim/config.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/provenance.hpp"

namespace mlasim {

// ---------------------------------------------------------------- ramps

/// t = t0 + bytes / BW∞: the bandwidth ramp of one copy-like kernel (DESIGN.md §6).
struct BandwidthRamp {
  double t0_s = 0.0;                ///< fixed cost per launch [s]
  double bw_inf_bytes_per_s = 0.0;  ///< asymptotic bandwidth [B/s]
  double min_bytes = 0.0;           ///< smallest and largest bytes per launch the fit saw (0: unknown)
  double max_bytes = 0.0;
  [[nodiscard]] double time_s(double bytes) const { return t0_s + bytes / bw_inf_bytes_per_s; }
  [[nodiscard]] bool valid() const { return bw_inf_bytes_per_s > 0.0 && t0_s >= 0.0; }
};

/// A kernel family's fitted ramp, t = t0 + max(bytes / BW, FLOPs / rate): how calibrated mode extrapolates
/// outside a measured grid (and transfers a measured time to another shape or dtype of the same kernel).
struct KernelRamp {
  double t0_s = 0.0;         ///< fixed cost per call [s]
  double bytes_per_s = 0.0;  ///< effective bandwidth of the memory-bound points [B/s]
  double flops_per_s = 0.0;  ///< effective rate of the compute-bound points [FLOP/s]; 0 = never bound
  [[nodiscard]] double time_s(double bytes, double flops) const;
  [[nodiscard]] bool valid() const { return bytes_per_s > 0.0 && t0_s >= 0.0 && flops_per_s >= 0.0; }
};

// ---------------------------------------------------------------- GEMM efficiency

/// Identity of one GEMM shape family: everything but m.
struct GemmShapeKey {
  std::string kernel;      ///< e.g. "lt_bf16", "lt_fp8_e4m3"
  std::string dtype;       ///< input element type, e.g. "bf16", "fp8_e4m3"
  std::int64_t n = 0;      ///< output columns
  std::int64_t k = 0;      ///< reduction depth
  std::int64_t batch = 1;  ///< independent GEMMs per launch (MLA's per-head BMMs: heads)
  auto operator<=>(const GemmShapeKey&) const = default;
};

/// One measured point of a shape family.
struct GemmPoint {
  std::int64_t m = 0;     ///< rows (tokens)
  double tflops = 0.0;    ///< achieved rate [TFLOP/s]
  double median_s = 0.0;  ///< median time [s] (0 when only the rate is known)
};

/// A dimensionless table lookup (a residual measured / model) and where it comes from.
struct Residual {
  double value = 1.0;
  Provenance provenance = Provenance::kMeasured;
};

/// Result of a rate lookup.
struct GemmRate {
  double tflop_per_s = 0.0;                       ///< achieved rate [TFLOP/s]
  Provenance provenance = Provenance::kMeasured;  ///< measured, interpolated or extrapolated
};

/// The roofline GEMM times are interpolated against: t = t0 + max(FLOPs / peak, bytes / BW) (DESIGN.md §6).
struct GemmRoofline {
  double t0_s = 0.0;
  double flops_per_s = 0.0;
  double bytes_per_s = 0.0;
  [[nodiscard]] bool valid() const { return flops_per_s > 0.0 && bytes_per_s > 0.0 && t0_s >= 0.0; }
  [[nodiscard]] double time_s(double flops, double bytes) const {
    return t0_s + std::max(flops / flops_per_s, bytes / bytes_per_s);
  }
};

/// Achieved TFLOP/s versus m for one shape family.
class GemmEfficiencyTable {
 public:
  /// `points` may come in any order; m must be distinct and >= 1, rates > 0. Throws InputError otherwise.
  GemmEfficiencyTable(GemmShapeKey key, std::vector<GemmPoint> points, std::string label = {});

  [[nodiscard]] const GemmShapeKey& key() const { return key_; }
  /// Shape label(s) from the CSV, e.g. "llama3_70b.tp8.qkv".
  [[nodiscard]] const std::string& label() const { return label_; }
  /// Points sorted by m.
  [[nodiscard]] const std::vector<GemmPoint>& points() const { return points_; }

  /// Rate at m tokens (m >= 1, may be fractional). Between measured m: linear in (log m, log rate), exact
  /// for the power laws of both regimes (rate ∝ m while weight-bound, flat once compute-bound). Below the
  /// smallest m: the time stays that of the smallest m (weight-read bound), so the rate scales with m.
  /// Above the largest m: the rate stays that of the largest m (compute-bound). Both are kExtrapolated.
  [[nodiscard]] GemmRate rate_at(double m) const;

  /// Time of the GEMM at m tokens [s]: 2·m·n·k·batch FLOPs (DESIGN.md §5) over rate_at(m).
  [[nodiscard]] double time_s(double m) const;

  /// FLOPs and fewest bytes of one launch at m (kernels/probes/probe_plan.hpp's counting: inputs in the
  /// table's dtype, bf16 output).
  [[nodiscard]] double flops_at(double m) const;
  [[nodiscard]] double bytes_at(double m) const;

  /// measured / roofline at m: the table's points divided by `roof` at their own work, interpolated in
  /// (log m, log residual); at the end value outside the measured m (extrapolated). What the roofline misses
  /// (tile quantization, fixed costs) varies slowly with m, so this stays close across the roofline's knee,
  /// where interpolating the rate itself overshoots. A prediction is roof.time_s(FLOPs, bytes) × residual.
  [[nodiscard]] Residual residual_at(double m, const GemmRoofline& roof) const;

 private:
  GemmShapeKey key_;
  std::vector<GemmPoint> points_;
  std::string label_;
};

/// The table calibrated mode uses for a GEMM of shape (n, k, batch) in `dtype` ("bf16", "fp8"): the same
/// shape when measured, else the nearest measured shape of that dtype (distance in log n, log k, log batch).
/// `exact` says whether the shape itself was measured. nullptr when no table has that dtype.
struct GemmTableMatch {
  const GemmEfficiencyTable* table = nullptr;
  bool exact = false;
};
[[nodiscard]] GemmTableMatch nearest_gemm_table(const std::vector<GemmEfficiencyTable>& tables,
                                                std::string_view dtype, double n, double k, double batch);

// ---------------------------------------------------------------- attention kernels

/// Our decode-attention kernels (kernels/attention): MLA absorbed, and MHA/GQA/MQA.
enum class AttentionKernel { kMla, kGqa };
[[nodiscard]] std::string_view to_string(AttentionKernel k);
/// "mla" or "gqa"; throws InputError otherwise.
[[nodiscard]] AttentionKernel parse_attention_kernel(std::string_view text);

/// Measured median time of one decode call (attention + split-KV combine, as the bench times it: CUDA events
/// around one eager launch, L2 flushed) over batch × context, for one shape.
struct AttentionTable {
  AttentionKernel kernel = AttentionKernel::kMla;
  bool variable_lengths = false;  ///< lengths uniform in [L/2, 3L/2] instead of all L
  int s_q = 1;
  int n_h = 0;                  ///< query heads
  int n_kv = 1;                 ///< KV heads (MLA: 1 latent head)
  int d = 0;                    ///< qk head dim (MLA: 576)
  std::vector<double> batch;    ///< ascending
  std::vector<double> context;  ///< ascending, tokens per sequence (mean for variable lengths)
  std::vector<double> time_s;   ///< [batch][context], row-major; NaN where not measured
  /// Variable lengths: the mean context each measured batch actually had ([batch][context] like time_s; the
  /// nominal context ± the draw). Empty: every batch held exactly its nominal context.
  std::vector<double> mean_context;
  /// The kernel variant timed at each cell ([batch][context] like time_s; "" where not measured): the fastest
  /// correct one when several ran (choose_fastest_variants). Empty: the baseline kernel everywhere.
  std::vector<std::string> variant;

  [[nodiscard]] double at(std::size_t bi, std::size_t ci) const { return time_s[bi * context.size() + ci]; }
  /// The mean context of the batch measured at (bi, ci).
  [[nodiscard]] double mean_context_at(std::size_t bi, std::size_t ci) const {
    return mean_context.empty() ? context[ci] : mean_context[bi * context.size() + ci];
  }
};

// ---------------------------------------------------------------- interpolation

/// Values on a rectilinear grid of positive coordinates, interpolated multilinearly in (log x, log value):
/// exact at grid points, monotone along an axis wherever the data are, and exact for power laws in each
/// axis. Missing values are NaN.
class LogGrid {
 public:
  /// `axes` each ascending and positive; `values` row-major over the axes (last axis fastest), positive or
  /// NaN. A missing node with measured nodes on both sides along some axis (a hole: a point skipped, failed
  /// or held out) is filled by log-linear interpolation along the last such axis first; it still counts as
  /// not measured. Throws InputError on a size mismatch or a bad axis.
  LogGrid(std::vector<std::vector<double>> axes, std::vector<double> values);

  struct Lookup {
    bool found = false;    ///< the point lies inside the grid and every corner around it is known
    double value = 0.0;    ///< when found
    bool on_node = false;  ///< the point is a measured grid node (its own measurement)
  };
  /// Interpolates at `x` (one coordinate per axis).
  [[nodiscard]] Lookup at(std::span<const double> x) const;
  /// `x` clamped into the grid's box, axis by axis.
  [[nodiscard]] std::vector<double> clamp(std::span<const double> x) const;
  /// The measured node nearest to `x` in log space (NaN nodes skipped): its coordinates and value. found is
  /// false when no node is measured.
  struct Node {
    bool found = false;
    std::vector<double> x;
    double value = 0.0;
  };
  [[nodiscard]] Node nearest_node(std::span<const double> x) const;

  [[nodiscard]] const std::vector<std::vector<double>>& axes() const { return axes_; }

 private:
  std::vector<std::vector<double>> axes_;
  std::vector<double> log_values_;
  std::vector<bool> measured_;
  std::vector<std::size_t> strides_;
  void fill_holes();
};

}  // namespace mlasim
