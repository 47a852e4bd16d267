// mlasim_probe_fit <folder>: fits the CSVs that kernels/probes/run_on_gpu.sh brought back and prints the
// report (t0, BW∞, L2 plateau per bandwidth kernel; GEMM TFLOP/s at key m; launch overheads).
#include <cstdio>
#include <exception>

#include "sim/calibration/probe_report.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: mlasim_probe_fit <folder with bandwidth.csv, gemm.csv, launch.csv>\n");
    return mlasim::kExitBadInput;
  }
  try {
    const mlasim::ProbeRunFits fits = mlasim::fit_probe_directory(argv[1]);
    std::fputs(mlasim::format_probe_report(fits).c_str(), stdout);
    return mlasim::kExitOk;
  } catch (const mlasim::InputError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return mlasim::kExitBadInput;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mlasim_probe_fit: internal error: %s\n", e.what());
    return mlasim::kExitInternal;
  }
}
