#pragma once
/// `mlasim validate` (DESIGN.md §9): how wrong are the predictions? A deterministic part of a measurement run
/// is held out, the rest calibrates, and the held-out points are predicted by the calibrated model and by the
/// datasheet model, side by side, so the table shows what calibration buys.
#include <string>
#include <vector>

#include "sim/calibration/measurement_run.hpp"
#include "sim/device/hardware_spec.hpp"
#include "sim/provenance.hpp"

namespace mlasim {

/// Families the report groups points by.
inline constexpr const char* kFamilyMla = "MLA decode";
inline constexpr const char* kFamilyMlaVariable = "MLA decode, mixed lengths";
inline constexpr const char* kFamilyGqa = "GQA/MQA/MHA decode";
inline constexpr const char* kFamilyGemm = "GEMM";
inline constexpr const char* kFamilyBandwidth = "bandwidth";

/// Which points are held out.
struct ValidateOptions {
  /// Every k-th point of each attention table (in batch, context order), of each GEMM shape's m sweep and of
  /// each bandwidth kernel's working sets (the k-th, 2k-th, ...: index % k == k − 1).
  int every = 4;
  /// Also hold out every point at the smallest and at the largest context of each attention table, so the
  /// calibrated model must extrapolate there.
  bool hold_out_context_ends = true;
  bool allow_throttled = false;
};

/// One held-out point and its two predictions. Times are those of one call as the GPU program measured it.
struct ValidationPoint {
  std::string family;   ///< one of the kFamily* names
  std::string point;    ///< what was measured, e.g. "mla b=64 L=4096 h_q=32 s_q=1"
  double x = 0.0;       ///< attention: context; GEMM: m; bandwidth: bytes per launch
  std::string x_label;  ///< "context", "m", "bytes"
  double measured_s = 0.0;
  double calibrated_s = 0.0;
  Provenance calibrated_provenance = Provenance::kAnalytic;
  double datasheet_s = 0.0;
  SourceLocation where;  ///< the measured row
  [[nodiscard]] double calibrated_error() const { return calibrated_s / measured_s - 1.0; }
  [[nodiscard]] double datasheet_error() const { return datasheet_s / measured_s - 1.0; }
};

/// Error statistics of one model over one family's held-out points (relative errors, as fractions).
struct ErrorStats {
  double mape = 0.0;   ///< mean |predicted / measured − 1|
  double p95 = 0.0;    ///< 95th percentile of |error| (nearest rank)
  double worst = 0.0;  ///< largest |error|, signed as it was
  std::string worst_point;
};

struct FamilyValidation {
  std::string family;
  int points = 0;
  ErrorStats calibrated;
  ErrorStats datasheet;
};

struct ValidationReport {
  std::string run_dir;
  std::string fingerprint;  ///< of the run
  std::string profile;      ///< profile id
  ValidateOptions options;
  int training_points = 0;  ///< attention, GEMM and bandwidth points the calibration was fitted on
  std::vector<ValidationPoint> points;     ///< held out, in family order
  std::vector<FamilyValidation> families;  ///< in kFamily* order, families without points left out
  std::vector<std::string> notes;
  /// The largest calibrated MAPE over the families (the gate `--max-mape` compares).
  [[nodiscard]] double worst_calibrated_mape() const;
};

/// Holds out, calibrates on the rest (calibration_from_run), predicts. Refuses (InputError) a run that
/// calibrate would refuse, and one with too few points to hold any out.
[[nodiscard]] ValidationReport validate_run(const MeasurementRun& run, const HardwareSpec& profile,
                                            const ValidateOptions& options = {});

/// Statistics of a list of relative errors (fractions) with a description per error.
[[nodiscard]] ErrorStats error_stats(const std::vector<double>& errors,
                                     const std::vector<std::string>& points);

}  // namespace mlasim
