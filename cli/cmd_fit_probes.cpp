// mlasim fit-probes DIR: fits the CSVs that kernels/probes/run_on_gpu.sh brought back and prints the report
// (t0, BW∞, L2 plateau per bandwidth kernel; GEMM TFLOP/s at key m; launch overheads).
#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "sim/calibration/calibration_block.hpp"
#include "sim/calibration/probe_report.hpp"
#include "sim/config/loader.hpp"

namespace mlasim::cli {

int cmd_fit_probes(const Args& args) {
  po::options_description desc("mlasim fit-probes options");
  std::string dir;
  // clang-format off
  desc.add_options()
      ("help,h", "show this help")
      ("dir", po::value(&dir)->required(), "folder with bandwidth.csv, gemm.csv, launch.csv from a probe run")
      ("calibration", "print the profile's `calibration:` block (for hw_profiles/<gpu>.yaml) instead of the report");
  // clang-format on
  po::positional_options_description pos;
  pos.add("dir", 1);
  po::variables_map vm;
  if (!parse_options(args, desc, vm, &pos, "usage: mlasim fit-probes DIR")) return 0;
  const ProbeRunFits fits = fit_probe_directory(dir);
  if (vm.count("calibration") == 0U) {
    std::cout << format_probe_report(fits);
    return 0;
  }
  const std::filesystem::path fingerprint = std::filesystem::path(dir) / "fingerprint.yaml";
  const std::string summary =
      std::filesystem::exists(fingerprint) ? fingerprint_summary(fingerprint.string()) : "";
  std::cout << calibration_to_yaml(calibration_from_fits(fits, summary));
  return 0;
}

}  // namespace mlasim::cli
