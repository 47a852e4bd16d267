// `mlasim serve` streams requests.csv to a temporary beside its target while the run goes (issue 12): an
// interrupt in the middle of a run must leave the output folder exactly as the previous run left it, with no
// temporary behind. The real program is started, interrupted once its temporary has grown, and the folder
// compared file by file.
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/cli_runner.hpp"
#include "tests/test_support.hpp"

namespace fs = std::filesystem;
using mlasim::test::files_under;
using mlasim::test::run_mlasim_in;

namespace {

/// A serve config of `requests` Llama-3-8B requests with the per-request CSV on.
void write_config(const fs::path& path, std::int64_t requests, int seed) {
  std::ofstream f(path);
  f << "serve:\n  model: llama-3-8b\n  hardware: h100-sxm\n  mode: datasheet\n"
    << "  workload: {arrival: poisson, rate: 50 req/s, requests: " << requests << ", seed: " << seed
    << ", prompt_tokens: 256, output_tokens: 64}\n"
    << "  output: {per_request_csv: true}\n";
}

/// Starts `mlasim ARGS...` with stdout and stderr to `log` and the interrupts at their default action (a
/// shell that started the tests in the background may have left SIGINT ignored, which exec keeps).
pid_t start_mlasim(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<std::string> argv_text{MLASIM_BINARY};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (std::FILE* f = std::freopen(log.c_str(), "w", stdout)) (void)f;
    ::dup2(::fileno(stdout), 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

/// The temporaries (`NAME.tmp-PID`) in `dir`, with their sizes.
std::map<std::string, std::uintmax_t> temporaries(const fs::path& dir) {
  std::map<std::string, std::uintmax_t> out;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.find(".tmp-") != std::string::npos) out[name] = e.file_size(ec);
  }
  return out;
}

/// Waits up to `seconds` for `pid` to end; its wait status, or -1 (then it is killed).
int wait_for(pid_t pid, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

}  // namespace

TEST_CASE("an interrupted serve run leaves the previous outputs whole and no temporary behind") {
  const mlasim::test::ScratchDir scratch("mlasim_test_serve_interrupt");
  const fs::path dir = scratch.path();
  const fs::path out = dir / "out";
  write_config(dir / "short.yaml", 2000, 1);
  // About 10 million requests: minutes of simulation, interrupted long before it ends.
  write_config(dir / "long.yaml", 10'000'000, 2);

  // The previous run's outputs, requests.csv among them.
  REQUIRE(
      run_mlasim_in(dir, "serve -q --no-charts --out " + out.string() + " " + (dir / "short.yaml").string())
          .code == 0);
  const std::map<std::string, std::string> before = files_under(out);
  REQUIRE(before.count("requests.csv") == 1);
  REQUIRE(before.count("summary.json") == 1);
  REQUIRE(temporaries(out).empty());

  for (const int sig : {SIGINT, SIGTERM, SIGHUP}) {
    INFO("signal " << sig);
    const pid_t pid = start_mlasim(
        {"serve", "-q", "--no-charts", "--out", out.string(), (dir / "long.yaml").string()}, dir / "log.txt");
    REQUIRE(pid > 0);
    // Wait until the run has streamed rows into requests.csv's temporary: it is mid-run, with a partial file
    // on the disk. (The first block is flushed after about a megabyte of rows.)
    // (Only requests.csv's: the folder's write probe, `.mlasim-probe.tmp-PID`, comes and goes before.)
    const std::string name = "requests.csv.tmp-" + std::to_string(pid);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    std::uintmax_t size = 0;
    while (std::chrono::steady_clock::now() < until) {
      const auto tmp = temporaries(out);
      if (const auto it = tmp.find(name); it != tmp.end() && it->second > 0) {
        size = it->second;
        break;
      }
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) FAIL("mlasim ended before it was interrupted");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    REQUIRE(size > 0);
    CHECK(temporaries(out).size() == 1);

    REQUIRE(::kill(pid, sig) == 0);
    const int status = wait_for(pid, 60);
    REQUIRE(status != -1);
    // Ended by the signal itself (the cleanup handler re-raises it), not by a normal exit.
    CHECK(WIFSIGNALED(status));
    if (WIFSIGNALED(status)) CHECK(WTERMSIG(status) == sig);

    CHECK(temporaries(out).empty());
    CHECK(files_under(out) == before);
  }

  // The folder is still usable, and a completed run replaces the files whole.
  REQUIRE(
      run_mlasim_in(dir, "serve -q --no-charts --out " + out.string() + " " + (dir / "short.yaml").string())
          .code == 0);
  CHECK(files_under(out) == before);
}
