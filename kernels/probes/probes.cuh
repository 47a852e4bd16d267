#pragma once
// Shared pieces of the probe program: the run context, the CSV row every probe writes, cuBLAS checks and
// random fills. See kernels/probes/README.md for the probe designs.
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/common/csv.hpp"
#include "kernels/common/cuda_check.cuh"
#include "kernels/common/deadline.hpp"
#include "kernels/common/fingerprint.cuh"
#include "kernels/common/nvml_state.hpp"
#include "kernels/common/timing.cuh"
#include "kernels/probes/probe_plan.hpp"

#define MLASIM_CUBLAS_CHECK(call)                                                      \
  do {                                                                                 \
    const cublasStatus_t mlasim_st_ = (call);                                          \
    if (mlasim_st_ != CUBLAS_STATUS_SUCCESS) {                                         \
      std::fprintf(stderr, "%s:%d: cuBLAS error: %s: %s\n", __FILE__, __LINE__, #call, \
                   cublasLtGetStatusString(mlasim_st_));                               \
      std::exit(1);                                                                    \
    }                                                                                  \
  } while (0)

namespace mlasim::gpu {

/// What a run measures and where it writes.
struct ProbeOptions {
  std::string out_dir = ".";
  bool quick = false;  ///< a few points per family, for a smoke test
  bool fp8 = true;     ///< also fp8 e4m3 GEMMs when the GPU supports them (compute capability >= 8.9)
  bool append =
      false;  ///< append to device_state.csv (a restart after a crash) instead of starting it afresh
  double deadline_s = 0.0;  ///< stop taking new points this many seconds after the start (0: no deadline)
};

/// State shared by the probes during one run.
struct ProbeContext {
  ProbeOptions options;
  DeviceFingerprint device;
  cudaStream_t stream = nullptr;
  L2Flusher* flusher = nullptr;
  NvmlReader* nvml = nullptr;
  CsvWriter* device_state = nullptr;  ///< device_state.csv: NVML readings before and after each family
  std::vector<std::string> summary;   ///< short lines printed at the end of the run
  int failed_checks = 0;              ///< correctness checks that failed (their points are not written)
  Deadline deadline;                  ///< from --deadline-s; each family stops taking points before it
  int points_written = 0;             ///< rows written to bandwidth.csv, gemm.csv and launch.csv
  int skipped_deadline = 0;           ///< points not measured because the deadline came

  /// True when the next point would end past the deadline; counts it as skipped.
  bool skip_for_deadline() {
    if (!deadline.too_late_for_next_point()) return false;
    ++skipped_deadline;
    return true;
  }
};

/// One measured point, as written to the probe CSVs (columns: probe_csv_columns()).
inline void write_point(CsvWriter& csv, const MeasuredPoint& p, ProbeContext& ctx) {
  write_probe_row(csv, p);
  ++ctx.points_written;
}

/// Records the NVML state under `when` (e.g. "before gemm") in device_state.csv.
void record_device_state(ProbeContext& ctx, const std::string& when);

/// Fills `n` floats with uniform values in [-1, 1) from a counter hash (never zeros as a whole).
void fill_random_f32(float* data, std::size_t n, std::uint64_t seed, cudaStream_t stream);
/// Same, stored as bf16.
void fill_random_bf16(void* data, std::size_t n, std::uint64_t seed, cudaStream_t stream);
/// Same, stored as fp8 e4m3.
void fill_random_fp8_e4m3(void* data, std::size_t n, std::uint64_t seed, cudaStream_t stream);

/// The three probe families; each writes its CSV under ctx.options.out_dir and appends summary lines.
void run_bandwidth_probe(ProbeContext& ctx);
void run_gemm_probe(ProbeContext& ctx);
void run_launch_probe(ProbeContext& ctx);

}  // namespace mlasim::gpu
