#pragma once
/// A complete, realistic measurement run folder generated on the CPU from a known ground truth, in the exact
/// format the GPU run writes (its own CSV writers, column lists, grids and fingerprint format from
/// kernels/): what `mlasim calibrate` and `mlasim validate` are tested on until a GPU is lent, and what the
/// README's documented path runs. The folder says `synthetic: true`; no number in it is a measurement.
#include <cstdint>
#include <filesystem>
#include <string>

#include "sim/device/measured_tables.hpp"

namespace mlasim {

/// The truth a synthetic run is drawn from. Defaults are H200-like (none of them measured: they only have to
/// be plausible, and known).
struct SyntheticTruth {
  std::string device = "NVIDIA H200";
  std::string gpu_id = "h200";
  int sms = 132;
  long long l2_bytes = 52428800;  ///< 50 MiB
  long long memory_bytes = 150'000'000'000;
  std::string started = "2026-12-01T10:00:00Z";
  std::string git_revision = "synthetic";

  /// Bandwidth probe kernels: t = t0 + bytes / BW∞ from HBM; L2-resident (warm) points at l2_bytes_per_s.
  BandwidthRamp copy{3.2e-6, 4.30e12};
  BandwidthRamp read{2.6e-6, 4.45e12};
  BandwidthRamp rmw{3.6e-6, 4.20e12};
  double l2_bytes_per_s = 9.5e12;

  double launch_eager_s = 2.3e-6;   ///< per launch, back to back
  double launch_graph_s = 0.85e-6;  ///< per kernel of a graph replay
  double launch_single_s = 5.2e-6;  ///< one launch between two events (inside every timed call)

  /// GEMM: t = launch_single + gemm_t0 + max(FLOPs / (peak · m / (ceil(m / tile) · tile)), bytes / gemm_bw).
  double gemm_t0_s = 1.5e-6;
  double gemm_bf16_flops_per_s = 720e12;
  double gemm_fp8_flops_per_s = 1300e12;
  double gemm_bytes_per_s = 4.0e12;
  int gemm_tile_m = 64;

  /// Our attention kernels: t = launch_single + fixed + max(bytes / min(BW, active SMs × per-SM BW) × the
  /// busiest part's share, FLOPs / (rate × the SM slots in use)) + (split ? combine fixed + partials / BW :
  /// 0), with the launch shape from the real split-KV schedule of the real lengths
  /// (kernels/attention/schedule).
  double attention_fixed_s = 3.5e-6;
  double combine_fixed_s = 2.0e-6;
  double mla_bytes_per_s = 4.05e12;
  double gqa_bytes_per_s = 3.80e12;
  double per_sm_bytes_per_s = 95e9;
  double mla_flops_per_s = 330e12;
  double gqa_flops_per_s = 240e12;

  double noise = 0.03;             ///< relative standard deviation of every median (log-normal)
  double outlier_fraction = 0.02;  ///< points slowed by outlier_factor (a neighbour, a clock dip)
  double outlier_factor = 1.5;
  std::uint64_t seed = 1;
  bool quick = false;  ///< the GPU programs' --quick grids

  std::string failed_variant;  ///< "mla-d576", "gqa-d128" or "gqa-d64": its checks fail, its rows are FAILED
  bool throttled = false;      ///< the device state shows thermal slowdown (clock reasons 0x20)
};

/// The truth's time of one attention call on `context_lens` (before noise), as the bench would time it.
[[nodiscard]] double synthetic_attention_time(const SyntheticTruth& truth, AttentionKernel kernel,
                                              const std::vector<int>& context_lens, int s_q, int n_h,
                                              int n_kv, int d);

/// Writes the run folder `dir` (run.yaml, probes/, attention/, logs). `dir` must not exist; it is written
/// under a temporary name and renamed, so a failure leaves nothing. Throws InputError when `dir` exists.
void write_synthetic_run(const std::filesystem::path& dir, const SyntheticTruth& truth);

}  // namespace mlasim
