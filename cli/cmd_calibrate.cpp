// mlasim calibrate RUN_DIR: fits a GPU measurement run (scripts/gpu_measure.sh) into the calibration block of
// the GPU's profile, in place or into a new profile file.
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "sim/calibration/calibrate.hpp"
#include "sim/config/loader.hpp"
#include "sim/error.hpp"
#include "sim/output.hpp"

namespace mlasim::cli {

namespace fs = std::filesystem;

int cmd_calibrate(const Args& args) {
  po::options_description desc("mlasim calibrate options");
  std::string dir, profile_option, out;
  bool allow_throttled = false;
  // clang-format off
  desc.add_options()
      ("help,h", "show this help")
      ("run", po::value(&dir)->required(), "measurement run folder (measurements/<gpu>-<date>/)")
      ("profile,p", po::value(&profile_option),
       "profile to calibrate (id or path); default: the built-in profile of the GPU the run measured")
      ("out,o", po::value(&out), "write the calibrated profile here instead of changing the profile in place")
      ("allow-throttled", po::bool_switch(&allow_throttled),
       "calibrate even when the device state shows thermal or hardware slowdown");
  // clang-format on
  po::positional_options_description pos;
  pos.add("run", 1);
  po::variables_map vm;
  if (!parse_options(args, desc, vm, &pos, "usage: mlasim calibrate RUN_DIR [--profile P] [--out FILE]"))
    return 0;

  const MeasurementRun run = load_measurement_run(dir);
  const fs::path profile_path = profile_for_run(profile_option, run);
  const HardwareSpec profile = load_hw_profile(profile_path);
  const fs::path target = out.empty() ? profile_path : fs::path(out);
  std::error_code ec;
  const bool built_in =
      fs::equivalent(target.parent_path().empty() ? "." : target.parent_path(), hw_profiles_dir(), ec);
  if (run.manifest.synthetic && built_in) {
    throw InputError(
        SourceLocation{run.manifest.file}, "synthetic",
        fmt::format("this run was generated (synthetic: true), not measured; it may not calibrate the "
                    "built-in profile {}: write it elsewhere with --out FILE",
                    target.string()));
  }
  const Calibration calibration = calibrate(run, profile, CalibrateOptions{allow_throttled});
  const std::string text =
      replace_calibration_block(read_text_file(profile_path), calibration_to_yaml(calibration));

  // Read the new profile back before anything is replaced: a block that does not load is a bug, not an
  // output.
  const fs::path scratch = fs::temp_directory_path() / fmt::format("mlasim-calibrate-{}.yaml", ::getpid());
  write_file_atomically(scratch, text);
  try {
    (void)load_hw_profile(scratch);
  } catch (const InputError& e) {
    fs::remove(scratch, ec);
    throw InternalError(fmt::format("the calibrated profile does not load back: {}", e.what()));
  }
  fs::remove(scratch, ec);
  write_file_atomically(target, text);

  int grid_points = 0;
  for (const AttentionTable& t : calibration.attention) {
    for (const double v : t.time_s) grid_points += std::isnan(v) ? 0 : 1;
  }
  std::cout << fmt::format("calibrated {} from {}\n  {}\n", profile.id, run.dir, calibration.fingerprint);
  for (const auto& [kernel, r] : calibration.bandwidth) {
    std::cout << fmt::format("  bandwidth {:<5} t0 {:.2f} us, BW∞ {:.0f} GB/s\n", kernel, r.t0_s * 1e6,
                             r.bw_inf_bytes_per_s * 1e-9);
  }
  if (calibration.launch_eager_s || calibration.launch_graph_s) {
    std::cout << fmt::format("  launch    eager {:.2f} us, graph {:.2f} us per kernel\n",
                             calibration.launch_eager_s.value_or(0) * 1e6,
                             calibration.launch_graph_s.value_or(0) * 1e6);
  }
  std::cout << fmt::format("  GEMM      {} shape tables\n", calibration.gemm.size());
  std::cout << fmt::format("  attention {} tables ({} measured points)\n", calibration.attention.size(),
                           grid_points);
  for (const auto& [family, r] : calibration.attention_ramps) {
    std::cout << fmt::format("  ramp {:<9} t0 {:.2f} us, {:.0f} GB/s, {:.0f} TFLOP/s\n", family, r.t0_s * 1e6,
                             r.bytes_per_s * 1e-9, r.flops_per_s * 1e-12);
  }
  for (const std::string& note : run.notes) std::cout << "  note: " << note << "\n";
  std::cout << "wrote " << target.string() << "\n";
  return 0;
}

}  // namespace mlasim::cli
