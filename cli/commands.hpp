#pragma once
/// One thin function per subcommand. Each parses its own options (Boost.Program_options), calls the library,
/// prints, and returns the exit code. Library errors propagate as exceptions; run() maps them to codes.
#include <functional>
#include <string>
#include <vector>

#include "reports/sweep_output.hpp"
#include "sim/config/serve_config.hpp"
#include "sim/plan/plan.hpp"
#include "sim/serving/serve.hpp"
#include "sim/sweep/sweep.hpp"

namespace mlasim::cli {

/// argv after the subcommand name.
using Args = std::vector<std::string>;

/// The whole command line after the program name (`step --model ...`): runs the subcommand and returns the
/// process's exit code. Every exception ends here, as its message on stderr and a code: 2 for bad input
/// (InputError, a Boost option error, out of memory), 1 for an internal failure; a command's own codes (4,
/// 5, 6) pass through. main() calls it, and so does the CLI fuzz target.
int run(const Args& argv_after_program);

int cmd_step(const Args& args);
int cmd_sweep(const Args& args);
int cmd_list(const Args& args);
int cmd_serve(const Args& args);
int cmd_plan(const Args& args);
int cmd_fit_probes(const Args& args);
int cmd_calibrate(const Args& args);
int cmd_validate(const Args& args);
int cmd_synthesize_run(const Args& args);
int cmd_merge(const Args& args);

/// sweep's `--price GPU=USD` options applied to `spec` (and echoed in its cli_overrides); merge applies the
/// shards' again.
void apply_sweep_overrides(SweepSpec& spec, const std::vector<std::string>& prices);

/// A sweep's outputs written to `out_dir` (whole or not at all) as `produce` hands its points, in grid
/// order, to the writer (reports/sweep_output.hpp: sweep.csv and sweep.json streamed, the report at the
/// end), then the summary (unless `quiet`) and the paths written printed, as `mlasim <command>`: sweep and
/// merge write the same. Rows are rendered on, and charts drawn by, up to `jobs` threads and gnuplots.
void write_sweep_outputs(const SweepSpec& spec, const std::function<void(SweepOutputWriter&)>& produce,
                         const std::string& out_dir, bool charts, bool quiet, const char* command,
                         int jobs = 1);

/// Points a sweep evaluates and writes at a time: its memory does not grow with the grid.
inline constexpr std::size_t kSweepChunkPoints = 16384;

/// A serve sweep's outputs (its rows, report, warnings) written to `out_dir` and printed, as `mlasim
/// <command>`: serve and merge write the same. Returns the exit code (5 with `strict` and a request
/// rejected).
int write_serve_sweep_outputs(const ServeConfig& cfg, const std::vector<ServeSummary>& rows,
                              const std::string& out_dir, bool charts, bool quiet, bool strict,
                              const char* command);

/// A plan's outputs written to `out_dir` and its headline printed, as `mlasim <command>`: plan and merge
/// write the same. Returns the exit code (6 when no deployment within the budget meets the SLOs).
int write_plan_outputs(const PlanSpec& spec, const PlanResult& result, const std::string& out_dir,
                       bool charts, bool quiet, const char* command);

}  // namespace mlasim::cli
