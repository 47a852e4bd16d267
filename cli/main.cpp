// mlasim: the command line. main() only sets up the process; cli::run (cli/run.cpp) parses the subcommand,
// calls its thin wrapper and maps exceptions to exit codes (2 for bad input, 1 for internal failures). No
// modelling logic lives here.
#include <csignal>

#include "cli/commands.hpp"

int main(int argc, char** argv) {
  // A file-size limit (a full quota) must end as the output set's located write error and a clean rollback,
  // not as a kill by SIGXFSZ in the middle of the commit.
  std::signal(SIGXFSZ, SIG_IGN);
  return mlasim::cli::run(mlasim::cli::Args(argv + 1, argv + argc));
}
