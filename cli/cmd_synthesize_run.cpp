// mlasim synthesize-run DIR: writes a measurement run folder generated from a known ground truth (no GPU), in
// the format scripts/gpu_measure.sh leaves, to try `mlasim calibrate` and `mlasim validate` and to test them.
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "sim/calibration/synthetic_run.hpp"
#include "sim/error.hpp"

namespace mlasim::cli {

int cmd_synthesize_run(const Args& args) {
  po::options_description desc("mlasim synthesize-run options");
  std::string dir;
  SyntheticTruth truth;
  double noise_percent = truth.noise * 100.0;
  double outlier_percent = truth.outlier_fraction * 100.0;
  // clang-format off
  desc.add_options()
      ("help,h", "show this help")
      ("dir", po::value(&dir)->required(), "folder to create (must not exist)")
      ("seed", po::value(&truth.seed)->default_value(truth.seed), "random seed (noise, outliers, mixed lengths)")
      ("noise", po::value(&noise_percent)->default_value(noise_percent), "relative noise of every median, percent")
      ("outliers", po::value(&outlier_percent)->default_value(outlier_percent), "points slowed by 1.5x, percent")
      ("quick", po::bool_switch(&truth.quick), "the GPU programs' --quick grids")
      ("device", po::value(&truth.device)->default_value(truth.device), "device name in the fingerprints")
      ("gpu-id", po::value(&truth.gpu_id)->default_value(truth.gpu_id), "folder slug in run.yaml")
      ("fail-check", po::value(&truth.failed_variant),
       "make one kernel variant fail its check: mla-d576, gqa-d128 or gqa-d64")
      ("throttled", po::bool_switch(&truth.throttled), "record thermal slowdown in the device state");
  // clang-format on
  po::positional_options_description pos;
  pos.add("dir", 1);
  po::variables_map vm;
  if (!parse_options(args, desc, vm, &pos, "usage: mlasim synthesize-run DIR [options]")) return 0;
  if (!(noise_percent >= 0.0 && noise_percent <= 50.0)) {
    throw InputError(SourceLocation{}, "--noise",
                     fmt::format("must be between 0 and 50 percent, got {}", noise_percent));
  }
  if (!(outlier_percent >= 0.0 && outlier_percent <= 50.0)) {
    throw InputError(SourceLocation{}, "--outliers",
                     fmt::format("must be between 0 and 50 percent, got {}", outlier_percent));
  }
  if (!truth.failed_variant.empty() && truth.failed_variant != "mla-d576" &&
      truth.failed_variant != "gqa-d128" && truth.failed_variant != "gqa-d64") {
    throw InputError(
        SourceLocation{}, "--fail-check",
        fmt::format("unknown variant `{}`; valid: mla-d576, gqa-d128, gqa-d64", truth.failed_variant));
  }
  truth.noise = noise_percent / 100.0;
  truth.outlier_fraction = outlier_percent / 100.0;
  write_synthetic_run(dir, truth);
  std::cout << fmt::format(
      "wrote {} (synthetic: generated from a known truth, noise {}%, seed {}; not a measurement)\n", dir,
      noise_percent, truth.seed);
  return 0;
}

}  // namespace mlasim::cli
