#pragma once
/// One GPU measurement run as scripts/gpu_measure.sh leaves it (measurements/README.md): the manifest
/// (run.yaml), the device fingerprints the GPU programs wrote, the probe CSVs, the attention kernels' check
/// and timing CSVs and the device state. Plain data; load_measurement_run (sim/config/loader.hpp) fills it
/// from a folder, tests and the synthetic generator build it in C++. The CSV parsers here locate every error
/// at file:line:col.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/calibration/probe_csv.hpp"
#include "sim/device/hardware_spec.hpp"
#include "sim/device/measured_tables.hpp"
#include "sim/error.hpp"

namespace mlasim {

/// How one phase of the run ended (run.yaml `phases`).
struct PhaseStatus {
  std::string status;  ///< "ok", "failed", "timeout", "no-gpu", "skipped", "check-failed", "partial"
  int exit_code = 0;
  double seconds = 0.0;
  std::string method;  ///< build only: "cmake" or "nvcc"
  SourceLocation where;
};

/// run.yaml.
struct RunManifest {
  std::string schema;      ///< "mlasim-measurement-run/1"
  bool synthetic = false;  ///< written by `mlasim synthesize-run` from a known truth, not measured on a GPU
  std::string device;      ///< nvidia-smi's name, "none" without a GPU
  std::string gpu_id;      ///< folder slug, e.g. "h200"
  std::string driver, nvcc, git_revision, command, started, finished, host;
  double deadline_s = 0.0;
  std::map<std::string, PhaseStatus> phases;  ///< build, probes, attention, sanitizer
  std::string file;                           ///< where it was read from
};

/// A fingerprint.yaml written by a GPU program (probes/ or attention/).
struct RunFingerprint {
  std::string device;  ///< cudaDeviceProp name, e.g. "NVIDIA H200"
  int sms = 0;
  std::string compute_capability;
  std::string date, git_revision, cuda_runtime, driver;
  double sm_clock_max_hz = 0.0;  ///< 0 when not recorded
  std::string file;
};

/// One timed point of an attention kernel (mla_decode.csv / gqa_decode.csv).
struct AttentionRow {
  AttentionKernel kernel = AttentionKernel::kMla;
  int batch = 0;
  int context = 0;  ///< nominal context length
  bool variable_lengths = false;
  int s_q = 1, n_h = 0, n_kv = 1, d = 0;
  double sum_context = 0.0;         ///< ΣL of the batch
  double flops = 0.0, bytes = 0.0;  ///< per call
  double median_s = 0.0, p90_s = 0.0, min_s = 0.0;
  int repeats = 0;
  int num_parts = 0, num_segments = 0, max_splits = 0, attention_ctas = 0, combine_ctas = 0;
  bool check_passed = true;  ///< false: its kernel variant failed the correctness check
  /// The bench's kernel variant ("mla-d576", "mla-d576-sm90a", "gqa-d128-deep", ...); runs older than the
  /// variant column name the baseline of (kernel, d).
  std::string variant;
  SourceLocation where;
};

/// One correctness check (check.csv).
struct CheckRow {
  std::string kernel;  ///< "mla" or "gqa"
  int d = 0;
  std::string lens;
  std::string variant;  ///< as AttentionRow::variant
  double rel_l2_error = 0.0;
  bool pass = false;
  SourceLocation where;
};

/// One NVML reading (probes/device_state.csv); fields NVML could not read are empty.
struct DeviceStateRow {
  std::string when;
  std::optional<double> sm_clock_mhz, mem_clock_mhz, temperature_c, power_w;
  std::optional<std::uint64_t> clock_reasons;  ///< nvmlClocksThrottleReasons mask
  SourceLocation where;
};

/// Everything one run left behind.
struct MeasurementRun {
  std::string dir;
  RunManifest manifest;
  std::optional<RunFingerprint> probes_fingerprint, attention_fingerprint;
  std::vector<ProbeRow> probe_rows;  ///< bandwidth, gemm, launch
  std::vector<AttentionRow> attention_rows;
  std::vector<CheckRow> checks;
  std::vector<DeviceStateRow> device_state;
  std::vector<std::string> notes;  ///< what the reader noticed (a truncated last line, a missing file)

  /// The device name of the run: the fingerprints' (cudaDeviceProp), else the manifest's.
  [[nodiscard]] std::string device() const;
};

/// Timing columns the attention CSVs must have (kernels/attention/bench_csv.hpp writes them).
[[nodiscard]] const std::vector<std::string_view>& attention_csv_required_columns();

/// Parsers of the attention CSVs and the device-state CSV; `file` labels errors. `notes` gets a line when a
/// truncated last line was dropped.
[[nodiscard]] std::vector<AttentionRow> parse_attention_csv(std::string_view text, const std::string& file,
                                                            std::vector<std::string>* notes = nullptr);
[[nodiscard]] std::vector<CheckRow> parse_check_csv(std::string_view text, const std::string& file);
/// The baseline variant id of a (kernel, d) pair, "mla-d576" / "gqa-d128" (what a run without the variant
/// column measured).
[[nodiscard]] std::string baseline_variant(std::string_view kernel, int d);

/// Several kernel variants may time the same point (the bench's registry). Keeps, per point, the fastest row
/// of a variant that passed its check, so the tables and ramps see one time per point, the best correct one.
/// A variant that failed its check is set aside when another variant of its (kernel, d) family passed (a
/// note says so); when none did, its rows and checks stay and refusal_reasons refuses the run, as for a
/// single-variant run. Returns the notes (also appended to run.notes): what was set aside and which
/// variant won how many points.
std::vector<std::string> choose_fastest_variants(MeasurementRun& run);

[[nodiscard]] std::vector<DeviceStateRow> parse_device_state_csv(std::string_view text,
                                                                 const std::string& file);

/// nvmlClocksThrottleReasons bits that mean the card slowed itself (nvml.h): HW slowdown (0x8), SW thermal
/// (0x20), HW thermal (0x40), HW power brake (0x80). Idle (0x1), application clocks (0x2), the power cap
/// (0x4, a loaded card at its power limit) and sync boost (0x10) do not count as throttling.
inline constexpr std::uint64_t kThrottleMask = 0x8 | 0x20 | 0x40 | 0x80;

/// Why `run` must not calibrate `profile` (empty: it may): a check that failed (naming the check rows), a
/// fingerprint that names another GPU than the profile, clocks that show throttling, no usable data.
/// `allow_throttled` drops the throttling reason (the card's state is then the caller's responsibility).
[[nodiscard]] std::vector<std::string> refusal_reasons(const MeasurementRun& run, const HardwareSpec& profile,
                                                       bool allow_throttled = false);

/// Whether a device name from a fingerprint (e.g. "NVIDIA H200", "NVIDIA H100 80GB HBM3") is the GPU of a
/// profile (id "h200", name "H200 SXM"): the profile id's model token (h200, h100, a100, b200, mi300x, l40s,
/// h800) must appear as a word of the device name, and no other known model token may.
[[nodiscard]] bool device_matches_profile(std::string_view device, const HardwareSpec& profile);

}  // namespace mlasim
