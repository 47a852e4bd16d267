// mlasim fit-probes DIR: fits the CSVs that kernels/probes/run_on_gpu.sh brought back and prints the report
// (t0, BW∞, L2 plateau per bandwidth kernel; GEMM TFLOP/s at key m; launch overheads).
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "sim/calibration/probe_report.hpp"

namespace mlasim::cli {

int cmd_fit_probes(const Args& args) {
  po::options_description desc("mlasim fit-probes options");
  std::string dir;
  desc.add_options()("help,h", "show this help")(
      "dir", po::value(&dir)->required(), "folder with bandwidth.csv, gemm.csv, launch.csv from a probe run");
  po::positional_options_description pos;
  pos.add("dir", 1);
  po::variables_map vm;
  if (!parse_options(args, desc, vm, &pos, "usage: mlasim fit-probes DIR")) return 0;
  std::cout << format_probe_report(fit_probe_directory(dir));
  return 0;
}

}  // namespace mlasim::cli
