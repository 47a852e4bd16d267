// cli::run: the whole command line after the program name. Picks the subcommand, calls its thin wrapper and
// maps exceptions to exit codes (2 for bad input, 1 for internal failures): the one place that does. main.cpp
// calls it; so does the CLI fuzz target (fuzz/targets.cpp).
#include <fmt/format.h>

#include <boost/program_options/errors.hpp>
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "sim/error.hpp"
#include "sim/suggest.hpp"
#include "sim/version.hpp"

namespace mlasim::cli {

namespace {

constexpr const char* kUsage = R"(mlasim — performance simulator for LLM decoding on GPUs

usage: mlasim <command> [options]

commands:
  step     cost one decode step: ops, FLOPs, bytes, time, bound, capacity
  sweep    run a grid (models × variants × GPUs × TP × batch × context) from a YAML file (--shard I/N: a part)
  merge    join the shards of a sweep (sweep --shard I/N) into what one run writes
  serve    discrete-event serving simulation from a YAML file (exit 5: --strict and a request rejected)
  plan     the cheapest deployment meeting percentile SLOs at a target rate (exit 6: none within the budget)
  list     list built-in model cards (list models) or GPU profiles (list hw)
  fit-probes  fit a folder of GPU probe CSVs (kernels/probes/run_on_gpu.sh): t0, BW∞, L2, GEMM rates, launch
  calibrate   fit a GPU measurement run (scripts/gpu_measure.sh) into a profile's calibration block
  synthesize-run  write a measurement run generated from a known truth (no GPU), to try calibrate/validate
  validate    hold out part of a measurement run, calibrate on the rest, report the error (exit 4: --max-mape)

Run `mlasim <command> --help` for the options of a command.
)";

}  // namespace

int run(const Args& argv_after_program) {
  if (argv_after_program.empty()) {
    std::fputs(kUsage, stderr);
    return kExitBadInput;
  }
  const std::string& command = argv_after_program.front();
  const Args args(argv_after_program.begin() + 1, argv_after_program.end());
  try {
    if (command == "step") return cmd_step(args);
    if (command == "sweep") return cmd_sweep(args);
    if (command == "serve") return cmd_serve(args);
    if (command == "plan") return cmd_plan(args);
    if (command == "list") return cmd_list(args);
    if (command == "fit-probes") return cmd_fit_probes(args);
    if (command == "calibrate") return cmd_calibrate(args);
    if (command == "synthesize-run") return cmd_synthesize_run(args);
    if (command == "validate") return cmd_validate(args);
    if (command == "merge") return cmd_merge(args);
    if (command == "--help" || command == "-h" || command == "help") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
    if (command == "--version") {
      fmt::print("mlasim {}\n", kMlasimVersion);  // the version every JSON output carries
      return kExitOk;
    }
    fmt::print(stderr, "mlasim: error: unknown command `{}`{}\n\n{}", command,
               did_you_mean(command, {"step", "sweep", "serve", "plan", "list", "fit-probes", "calibrate",
                                      "validate", "synthesize-run", "merge"}),
               kUsage);
    return kExitBadInput;
  } catch (const InputError& e) {
    fmt::print(stderr, "{}\n", e.what());
    return kExitBadInput;
  } catch (const boost::program_options::error& e) {
    fmt::print(stderr, "mlasim {}: error: {}\n", command, e.what());
    return kExitBadInput;
  } catch (const std::bad_alloc&) {
    // Every size a user controls is bounded where it is read; one that still exhausts memory is an input
    // too large for this machine, not a bug.
    fmt::print(stderr, "mlasim {}: error: input too large (out of memory)\n", command);
    return kExitBadInput;
  } catch (const std::exception& e) {
    fmt::print(stderr, "mlasim {}: internal error: {}\n", command, e.what());
    return kExitInternal;
  }
}

}  // namespace mlasim::cli
