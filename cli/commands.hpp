#pragma once
/// One thin function per subcommand. Each parses its own options (Boost.Program_options), calls the library,
/// prints, and returns the exit code. Library errors propagate as exceptions; run() maps them to codes.
#include <string>
#include <vector>

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

}  // namespace mlasim::cli
