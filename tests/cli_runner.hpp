#pragma once
// Running the real mlasim program from a test (test_cli, test_jobs): its exit code, stdout and stderr (both
// redirected to files, so stderr is never a terminal), and the files a run wrote. MLASIM_BINARY is the
// program's path, defined by tests/CMakeLists.txt for the tests that use this.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "tests/test_support.hpp"

namespace mlasim::test {

struct Run {
  int code = -1;
  std::string out, err;
};

/// `mlasim ARGS` through the shell, its stdout and stderr kept in `dir` (which must exist).
inline Run run_mlasim_in(const std::filesystem::path& dir, const std::string& args) {
  const std::filesystem::path out = dir / "stdout.txt", err = dir / "stderr.txt";
  const std::string cmd =
      std::string(MLASIM_BINARY) + " " + args + " >" + out.string() + " 2>" + err.string();
  const int status = std::system(cmd.c_str());
  Run r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

/// Every file under `dir`, by path relative to it (with '/'), with its bytes.
inline std::map<std::string, std::string> files_under(const std::filesystem::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file())
      files[std::filesystem::relative(e.path(), dir).generic_string()] = slurp(e.path());
  }
  return files;
}

}  // namespace mlasim::test
