#pragma once
/// A GPU as a hardware profile (hw_profiles/*.yaml) describes it: dense datasheet peaks with their source,
/// plus a calibration block measured on the device (empty until `mlasim calibrate` fills it).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/model_spec.hpp"
#include "models/precision.hpp"

namespace mlasim {

/// Default efficiencies for `datasheet` mode, documented in the profile (fractions of peak, in (0, 1]).
struct DatasheetEfficiency {
  double compute = 0.7;  ///< GEMM / attention FLOP/s reached, fraction of dense peak
  double memory = 0.8;   ///< HBM bandwidth reached, fraction of datasheet
  double network = 0.8;  ///< interconnect bandwidth reached
};

/// Fitted ceilings from the probes (DESIGN.md §9). Every field is optional: an empty block means "not
/// calibrated".
struct Calibration {
  std::optional<double> hbm_bandwidth_bytes_per_s;  ///< BW∞ of t = t0 + bytes/BW∞ (copy probe)
  std::optional<double> hbm_t0_s;                   ///< t0 of that fit
  std::optional<double> launch_overhead_s;          ///< eager empty-kernel launch
  std::map<Dtype, double> gemm_peak_flops_per_s;    ///< measured large-GEMM rate per dtype
  std::string fingerprint;                          ///< device, driver, date, git revision
  [[nodiscard]] bool empty() const {
    return !hbm_bandwidth_bytes_per_s && !hbm_t0_s && !launch_overhead_s && gemm_peak_flops_per_s.empty();
  }
};

/// Scale-up interconnect (NVLink, Infinity Fabric).
struct Interconnect {
  std::string name;                  ///< "NVLink 4"
  double bandwidth_bytes_per_s = 0;  ///< per GPU, one direction
  double latency_s = 0;              ///< per collective step
};

struct HardwareSpec {
  std::string name;    ///< "H100 SXM"
  std::string id;      ///< file stem, "h100-sxm"
  std::string source;  ///< datasheet URL
  double hbm_bytes = 0;
  double hbm_bandwidth_bytes_per_s = 0;
  std::map<Dtype, double> peak_flops_per_s;  ///< dense tensor-core peaks per dtype
  int sms = 0;
  double l2_bytes = 0;
  double launch_overhead_s = 0;  ///< host launch cost per kernel (eager)
  Interconnect interconnect;
  DatasheetEfficiency datasheet_efficiency;
  Calibration calibration;
  std::optional<double> price_per_gpu_hour;  ///< for $/1M tokens, when given

  /// Dense peak for `d`; falls back to bf16 for dtypes the datasheet does not list (fp16 = bf16; fp32 and
  /// int types as listed). Throws InputError when neither exists.
  [[nodiscard]] double peak_flops(Dtype d) const;
};

[[nodiscard]] std::vector<SpecProblem> validate(const HardwareSpec& hw);

}  // namespace mlasim
