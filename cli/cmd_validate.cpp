// mlasim validate RUN_DIR: holds out part of a GPU measurement run, calibrates on the rest, and reports how
// far the calibrated and the datasheet models are from the held-out measurements (DESIGN.md §9).
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "reports/validate_report.hpp"
#include "sim/calibration/validate.hpp"
#include "sim/config/loader.hpp"
#include "sim/error.hpp"
#include "sim/output.hpp"

namespace mlasim::cli {

namespace fs = std::filesystem;

namespace {

/// Exit code when a family's calibrated MAPE is above --max-mape (2 stays bad input, 1 internal failure).
constexpr int kExitAboveMaxMape = 4;

/// `percent` with the fewest decimals (one at least) that print it above `limit`, so that a MAPE just above
/// the gate never reads as equal to it (`0.0% is above 0%`); NaN as `nan`.
std::string percent_above(double percent, double limit) {
  if (!std::isfinite(percent)) return fmt::format("{}", percent);
  for (int decimals = 1; decimals <= 15; ++decimals) {
    const std::string text = fmt::format("{:.{}f}", percent, decimals);
    if (std::strtod(text.c_str(), nullptr) > limit) return text;
  }
  return fmt::format("{}", percent);  // the shortest text that reads back as `percent`
}

}  // namespace

int cmd_validate(const Args& args) {
  po::options_description desc("mlasim validate options");
  std::string dir, profile_option, out;
  int every = ValidateOptions{}.every;
  bool no_context_ends = false, allow_throttled = false, no_charts = false;
  double max_mape_percent = 0.0;
  // clang-format off
  desc.add_options()
      ("help,h", "show this help")
      ("run", po::value(&dir)->required(), "measurement run folder (measurements/<gpu>-<date>/)")
      ("profile,p", po::value(&profile_option),
       "profile to validate (id or path); default: the built-in profile of the GPU the run measured")
      ("out,o", po::value(&out), "output folder (default RUN_DIR/validation/; files replaced whole)")
      ("every", po::value(&every)->default_value(every),
       "hold out every K-th point of each attention table, GEMM shape and bandwidth kernel (K >= 2)")
      ("no-context-ends", po::bool_switch(&no_context_ends),
       "do not also hold out the smallest and largest context of each attention table")
      ("max-mape", po::value(&max_mape_percent),
       "exit with code 4 when a family's calibrated MAPE is above P percent")
      ("allow-throttled", po::bool_switch(&allow_throttled),
       "validate even when the device state shows thermal or hardware slowdown")
      ("no-charts", po::bool_switch(&no_charts), "no charts: no charts/ folder, gnuplot is not run");
  // clang-format on
  po::positional_options_description pos;
  pos.add("run", 1);
  po::variables_map vm;
  const std::string usage =
      "usage: mlasim validate RUN_DIR [--profile P] [--out DIR] [--every K] [--no-context-ends]\n"
      "                       [--max-mape P] [--allow-throttled] [--no-charts]\n"
      "exit codes: 0 done, 4 a family's calibrated MAPE above --max-mape, 2 bad input, 1 internal error";
  if (!parse_options(args, desc, vm, &pos, usage)) return 0;
  const bool gate = vm.count("max-mape") != 0U;
  if (gate && !(max_mape_percent >= 0.0 && std::isfinite(max_mape_percent))) {
    throw InputError(SourceLocation{}, "--max-mape",
                     fmt::format("must be a percentage >= 0 (got {})", max_mape_percent));
  }

  const MeasurementRun run = load_measurement_run(dir);
  const HardwareSpec profile = load_hw_profile(profile_for_run(profile_option, run));
  ValidateOptions options;
  options.every = every;
  options.hold_out_context_ends = !no_context_ends;
  options.allow_throttled = allow_throttled;
  prepare_output_dir(out.empty() ? fs::path(dir) / "validation" : fs::path(out));  // fail now, not after
  const ValidationReport report = validate_run(run, profile, options);

  // Render everything first; only then touch the disk (outputs are whole or absent).
  const fs::path out_dir = out.empty() ? fs::path(dir) / "validation" : fs::path(out);
  OutputSet outputs(out_dir);
  const std::string note = add_validate_report(outputs, report, !no_charts);
  (void)outputs.commit();
  if (!note.empty() && !no_charts) std::cerr << "mlasim validate: " << note << "\n";

  std::cout << fmt::format("validated {} against {}\n  {}\n  {} held-out points, {} training points\n\n",
                           report.profile, report.run_dir, report.fingerprint, report.points.size(),
                           report.training_points);
  std::cout << validation_family_table(report) << "\n";
  for (const std::string& n : report.notes) std::cout << "note: " << n << "\n";
  std::cout << fmt::format("wrote {} (validate.csv, validate.json, validate.md, validate.html{})\n",
                           out_dir.string(), no_charts ? "" : ", charts/");
  if (gate) {
    const std::vector<std::string> above = families_above(report, max_mape_percent / 100.0);
    if (!above.empty()) {
      for (const std::string& family : above) {
        for (const FamilyValidation& f : report.families) {
          if (f.family != family) continue;
          std::cerr << fmt::format("mlasim validate: {}: calibrated MAPE {}% is above --max-mape {}%\n",
                                   family, percent_above(100.0 * f.calibrated.mape, max_mape_percent),
                                   max_mape_percent);
        }
      }
      return kExitAboveMaxMape;
    }
  }
  return 0;
}

}  // namespace mlasim::cli
