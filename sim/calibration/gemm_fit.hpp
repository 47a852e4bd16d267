#pragma once
/// GEMM efficiency versus m (tokens) per (n, k, batch) shape, from the GEMM probe: a table of achieved
/// TFLOP/s and a lookup that interpolates in log m, so skinny decode GEMMs get their measured rate instead
/// of the datasheet peak.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sim/calibration/probe_csv.hpp"
#include "sim/provenance.hpp"

namespace mlasim {


/// Identity of one GEMM shape family: everything but m.
struct GemmShapeKey {
  std::string kernel;     ///< e.g. "lt_bf16", "lt_fp8_e4m3"
  std::string dtype;      ///< input element type, e.g. "bf16"
  std::int64_t n = 0;     ///< output columns
  std::int64_t k = 0;     ///< reduction depth
  std::int64_t batch = 1; ///< independent GEMMs per launch (MLA's per-head BMMs: heads)
  auto operator<=>(const GemmShapeKey&) const = default;
};

/// One measured point of a shape family.
struct GemmPoint {
  std::int64_t m = 0;      ///< rows (tokens)
  double tflops = 0.0;     ///< achieved rate [TFLOP/s]
  double median_s = 0.0;   ///< median time [s]
};

/// Result of a lookup.
struct GemmRate {
  double tflop_per_s = 0.0;  ///< achieved rate [TFLOP/s]
  Provenance provenance = Provenance::kMeasured;  ///< measured, interpolated or extrapolated
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

 private:
  GemmShapeKey key_;
  std::vector<GemmPoint> points_;
  std::string label_;
};

/// Builds one table per shape family from the `gemm` rows (other probes are ignored). Labels of rows that
/// share a family (the same n, k in two models) are joined with '|'. Throws InputError, naming both rows'
/// file:line, when one (family, m) is measured twice.
[[nodiscard]] std::vector<GemmEfficiencyTable> build_gemm_tables(const std::vector<ProbeRow>& rows);

}  // namespace mlasim
