#pragma once
/// One thin function per subcommand. Each parses its own options (Boost.Program_options), calls the library,
/// prints, and returns the exit code. Library errors propagate as exceptions; main() maps them to codes.
#include <string>
#include <vector>

namespace mlasim::cli {

/// argv after the subcommand name.
using Args = std::vector<std::string>;

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
