#pragma once
/// A GPU as a hardware profile (hw_profiles/*.yaml) describes it: dense datasheet peaks with their source,
/// plus a calibration block measured on the device (empty until `mlasim calibrate` fills it).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/model_spec.hpp"
#include "models/precision.hpp"
#include "sim/device/measured_tables.hpp"

namespace mlasim {

/// Default efficiencies for `datasheet` mode, documented in the profile (fractions of peak, in (0, 1]).
struct DatasheetEfficiency {
  double compute = 0.7;  ///< GEMM / attention FLOP/s reached, fraction of dense peak
  double memory = 0.8;   ///< HBM bandwidth reached, fraction of datasheet
  double network = 0.8;  ///< interconnect bandwidth reached
};

/// What the GPU measurement run (scripts/gpu_measure.sh) measured, fitted by `mlasim calibrate` (DESIGN.md
/// §9). Every part is optional: an empty block means "not calibrated".
struct Calibration {
  /// Ramp fits t = t0 + bytes / BW∞ of the bandwidth probe kernels, by kernel ("copy", "read", "rmw").
  std::map<std::string, BandwidthRamp> bandwidth;
  std::optional<double> launch_eager_s;  ///< empty kernel, back-to-back eager launches, per launch
  std::optional<double> launch_graph_s;  ///< empty kernel, per kernel of a CUDA-graph replay
  std::optional<double>
      launch_single_s;  ///< one empty launch between two events: the launch gap inside every
                        ///< time the attention bench measures (one launch per timed call)
  std::map<Dtype, double> gemm_peak_flops_per_s;  ///< best measured GEMM rate per dtype (roofline ceiling)
  std::vector<GemmEfficiencyTable> gemm;          ///< TFLOP/s versus m per probed shape and dtype
  std::vector<AttentionTable> attention;          ///< our decode kernels' measured times, per shape
  /// Fitted ramps of our attention kernels, for extrapolation: "mla", "gqa_d128", "gqa_d64", ...
  std::map<std::string, KernelRamp> attention_ramps;
  std::string fingerprint;         ///< device, SMs, driver, CUDA, git revision, date of the run
  std::string source;              ///< the measurement folder it was fitted from
  std::vector<std::string> notes;  ///< what fitting noticed (points dropped as outliers); not written to YAML

  [[nodiscard]] bool empty() const {
    return bandwidth.empty() && !launch_eager_s && !launch_graph_s && !launch_single_s &&
           gemm_peak_flops_per_s.empty() && gemm.empty() && attention.empty() && attention_ramps.empty();
  }
  /// The HBM ramp small memory-bound ops follow: the copy probe's, else the read probe's; nullptr if neither.
  [[nodiscard]] const BandwidthRamp* hbm_ramp() const;
  /// The roofline GEMM tables are interpolated against for math in `d`: the best measured rate of its dtype
  /// family (fp8 for fp8/int8, bf16 otherwise), the HBM ramp, and the launch gap inside every measured time.
  /// Invalid (valid() false) when the rate or the ramp was not measured.
  [[nodiscard]] GemmRoofline gemm_roofline(Dtype d) const;
};

/// The name attention_ramps uses for one of our kernels: "mla", or "gqa_d<head dim>".
[[nodiscard]] std::string attention_ramp_key(AttentionKernel kernel, int head_dim);

/// A link between GPUs: the scale-up interconnect inside a node (NVLink, Infinity Fabric) or the scale-out
/// network between nodes (InfiniBand / RoCE, one NIC per GPU).
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
  double launch_overhead_s = 0;  ///< launch cost per kernel, eager (the host launches each kernel)
  double graph_launch_overhead_s =
      0;                        ///< launch cost per kernel replayed from a CUDA graph (decode in vLLM/SGLang)
  double memory_latency_s = 0;  ///< loaded HBM latency: sets the fixed cost and per-SM bandwidth of small
                                ///< kernels in datasheet mode (Little's law)
  Interconnect interconnect;    ///< scale-up, inside a node
  /// GPUs one scale-up domain joins (an HGX board: 8; GB200 NVL72: 72). A collective over more ranks than
  /// this crosses nodes and runs over `scale_out`.
  int gpus_per_node = 8;
  /// Scale-out network between nodes, per GPU (YAML `scale_out`); bandwidth 0 when the profile gives none,
  /// and then a layout over more than gpus_per_node GPUs is an error.
  Interconnect scale_out;
  DatasheetEfficiency datasheet_efficiency;
  Calibration calibration;
  std::optional<double> price_per_gpu_hour;  ///< for $/1M tokens, when given

  /// Dense peak for `d`; falls back to bf16 for dtypes the datasheet does not list (fp16 = bf16; fp32 and
  /// int types as listed). Throws InputError when neither exists.
  [[nodiscard]] double peak_flops(Dtype d) const;
};

[[nodiscard]] std::vector<SpecProblem> validate(const HardwareSpec& hw);

}  // namespace mlasim
