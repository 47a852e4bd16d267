#include "fuzz/targets.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <tuple>

#include "cli/commands.hpp"
#include "models/workload.hpp"
#include "sim/calibration/probe_report.hpp"
#include "sim/calibration/synthetic_run.hpp"
#include "sim/config/loader.hpp"
#include "sim/config/serve_config.hpp"
#include "sim/device/capacity.hpp"
#include "sim/device/device_model.hpp"
#include "sim/error.hpp"
#include "sim/serving/lengths.hpp"
#include "sim/serving/serve.hpp"
#include "sim/serving/workload_spec.hpp"
#include "sim/step/evaluate.hpp"
#include "sim/sweep/sweep.hpp"

// Sanitizer reports must reach the real stderr while the cli target points fd 2 elsewhere.
#if defined(__SANITIZE_ADDRESS__)
#define MLASIM_FUZZ_HAS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MLASIM_FUZZ_HAS_ASAN 1
#endif
#endif
#ifdef MLASIM_FUZZ_HAS_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace mlasim::fuzz {
namespace {

namespace fs = std::filesystem;

// Evaluations are capped so that a legitimately large but valid input is not mistaken for a hang; the readers
// themselves are never capped here (a slow read of a small file is a finding).
constexpr std::size_t kMaxSweepPoints = 256;
constexpr std::int64_t kMaxServeRequests = 500;
constexpr int kMaxServeReplicas = 8;
// Events of one serve run: a few long requests can need millions of steps (20 requests of 225,656 output
// tokens whose KV does not fit together thrash by preemption: 1.45 M steps, 2 s in Release, 20 s here), so
// the run is stopped at this many events, ~2 s here (the config's own `limits.max_events`, when lower,
// stands).
constexpr std::uint64_t kMaxServeEvents = 200'000;
// A command line: at most this many arguments and bytes (a longer input is skipped, not run).
constexpr std::size_t kMaxCliArgs = 32;
constexpr std::size_t kMaxCliBytes = 4096;

/// A folder of this process's own, holding copies of the fixtures that configs refer to by relative path.
const fs::path& scratch_dir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / fmt::format("mlasim-fuzz-{}", ::getpid());
    fs::create_directories(d);
    std::atexit([] {
      std::error_code ignored;
      fs::remove_all(fs::temp_directory_path() / fmt::format("mlasim-fuzz-{}", ::getpid()), ignored);
    });
    // Configs name traces, histograms and cards relative to themselves: the seeds' ones are copied beside.
    const fs::path root(MLASIM_SOURCE_DIR);
    for (const fs::path& from : {root / "tests" / "serve_fixtures", root / "fuzz" / "corpus" / "trace",
                                 root / "fuzz" / "corpus" / "lengths", root / "fuzz" / "corpus" / "card"}) {
      for (const fs::directory_entry& e : fs::directory_iterator(from)) {
        if (e.is_regular_file())
          fs::copy_file(e.path(), d / e.path().filename(), fs::copy_options::overwrite_existing);
      }
    }
    return d;
  }();
  return dir;
}

fs::path write_scratch(std::string_view name, std::string_view bytes) {
  fs::path path = scratch_dir() / name;  // not const: returned by move
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw std::runtime_error("fuzz: cannot write " + path.string());
  return path;
}

const HardwareSpec& reference_gpu() {
  static const HardwareSpec hw = resolve_hw("h100-sxm");
  return hw;
}

const ModelSpec& reference_model() {
  static const ModelSpec model = resolve_model("llama-3-8b");
  return model;
}

/// One decode step and the capacity, the way `mlasim step` costs them.
void cost_one_step(const ModelSpec& model, const HardwareSpec& hw) {
  for (const DeviceMode mode : {DeviceMode::kDatasheet, DeviceMode::kCalibrated}) {
    const DeviceModel device(hw, mode);
    const StepShape shape = uniform_decode(8, 4096);
    (void)evaluate_step(model, device, shape);
  }
}

/// Runs `body`; InputError is the expected answer to bad bytes.
template <typename F>
void expecting_input_errors(F&& body) {
  try {
    body();
  } catch (const InputError&) {
  }
}

void run_card(std::string_view bytes) {
  expecting_input_errors(
      [&] { cost_one_step(load_model_card(write_scratch("card.yaml", bytes)), reference_gpu()); });
}

void run_hf(std::string_view bytes) {
  expecting_input_errors([&] {
    const fs::path dir = scratch_dir() / "hf-model";
    fs::create_directories(dir);
    std::ofstream(dir / "config.json", std::ios::binary | std::ios::trunc)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    cost_one_step(load_hf_config(dir / "config.json"), reference_gpu());
  });
}

void run_profile(std::string_view bytes) {
  expecting_input_errors(
      [&] { cost_one_step(reference_model(), load_hw_profile(write_scratch("gpu.yaml", bytes))); });
}

void run_sweep_config(std::string_view bytes) {
  expecting_input_errors([&] {
    const SweepSpec spec = load_sweep_config(write_scratch("sweep.yaml", bytes));
    if (sweep_size(spec) <= kMaxSweepPoints) (void)run_sweep(spec);
  });
}

void run_serve_config(std::string_view bytes) {
  expecting_input_errors([&] {
    const ServeConfig config = load_serve_config(write_scratch("serve.yaml", bytes));
    ServeSpec spec = config.spec;
    spec.limits.max_events = std::min(spec.limits.max_events, kMaxServeEvents);
    if (spec.workload.num_requests <= kMaxServeRequests && spec.replicas <= kMaxServeReplicas) {
      (void)run_serve(spec);
    }
  });
}

void run_trace(std::string_view bytes) {
  expecting_input_errors([&] { (void)load_trace(write_scratch("trace.csv", bytes)); });
}

void run_lengths(std::string_view bytes) {
  expecting_input_errors([&] { (void)load_length_histogram(write_scratch("lengths.csv", bytes)); });
}

/// The first byte picks the probe file (bandwidth, gemm, launch); the rest is its text, alone in a folder.
void run_probes(std::string_view bytes) {
  if (bytes.empty()) return;
  static constexpr std::array<const char*, 3> kFiles{"bandwidth.csv", "gemm.csv", "launch.csv"};
  const char* file = kFiles[static_cast<unsigned char>(bytes.front()) % kFiles.size()];
  expecting_input_errors([&] {
    const fs::path dir = scratch_dir() / "probes";
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream(dir / file, std::ios::binary)
        .write(bytes.data() + 1, static_cast<std::streamsize>(bytes.size() - 1));
    (void)fit_probe_directory(dir.string());
  });
}

// --- the command line -------------------------------------------------------------------------------------

/// The cli target's working directory, `<scratch>/cli`: the small configs of fuzz/cli_files/, a quick
/// synthetic measurement run (`run`) and its probe folder (`probes`). Built once from a pristine copy and put
/// back whole after any command line that wrote, removed or changed something in it, so that every input
/// starts from the same files and outputs do not pile up.
class CliFolder {
 public:
  CliFolder() : pristine_(scratch_dir() / "cli-pristine"), dir_(scratch_dir() / "cli") {
    fs::remove_all(pristine_);
    fs::create_directories(pristine_);
    for (const fs::directory_entry& e :
         fs::directory_iterator(fs::path(MLASIM_SOURCE_DIR) / "fuzz" / "cli_files")) {
      if (e.is_regular_file()) fs::copy_file(e.path(), pristine_ / e.path().filename());
    }
    SyntheticTruth truth;
    truth.quick = true;
    write_synthetic_run(pristine_ / "run", truth);
    fs::copy(pristine_ / "run" / "probes", pristine_ / "probes", fs::copy_options::recursive);
    reset();
  }

  [[nodiscard]] const fs::path& dir() const { return dir_; }

  /// Puts the folder back when the last command changed it.
  void restore() {
    if (listing() != listing_) reset();
  }

 private:
  /// Every path under the folder with its type, size and modification time.
  using Listing = std::vector<std::tuple<std::string, fs::file_type, std::uintmax_t, fs::file_time_type>>;

  [[nodiscard]] Listing listing() const {
    Listing out;
    for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir_)) {
      const fs::file_type type = e.symlink_status().type();
      out.emplace_back(e.path().string(), type, type == fs::file_type::regular ? e.file_size() : 0,
                       e.last_write_time());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  void reset() {
    fs::remove_all(dir_);
    fs::copy(pristine_, dir_, fs::copy_options::recursive);
    listing_ = listing();
  }

  fs::path pristine_, dir_;
  Listing listing_;
};

CliFolder& cli_folder_state() {
  static CliFolder folder = [] {
    // No chart is drawn: gnuplot would be a child process per chart, slow under the fuzzer.
    ::setenv("MLASIM_GNUPLOT", "none", 1);
    return CliFolder();
  }();
  return folder;
}

/// A stream buffer that drops everything.
class NullBuffer : public std::streambuf {
 protected:
  int_type overflow(int_type c) override { return traits_type::not_eof(c); }
  std::streamsize xsputn(const char* /*s*/, std::streamsize n) override { return n; }
};

/// Where the command line's C stdio goes: stdout to /dev/null, stderr to a file (its text goes into the
/// report when the exit code is a finding). Sanitizer reports keep the real stderr.
struct CliOutput {
  int null_fd = -1, err_fd = -1;
  fs::path err_path;
  CliOutput() : err_path(scratch_dir() / "cli-stderr.txt") {
    null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    err_fd = ::open(err_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (null_fd < 0 || err_fd < 0)
      throw std::runtime_error("fuzz: cannot open /dev/null or " + err_path.string());
#ifdef MLASIM_FUZZ_HAS_ASAN
    const int real_stderr = ::fcntl(2, F_DUPFD_CLOEXEC, 3);
    if (real_stderr >= 0)
      __sanitizer_set_report_fd(reinterpret_cast<void*>(static_cast<std::intptr_t>(real_stderr)));
#endif
  }
  /// The stderr text of the last command line.
  [[nodiscard]] std::string err_text() const {
    std::ifstream in(err_path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
};

/// For one command line: the working directory is the cli folder, std::cout and std::cerr write nowhere, C
/// stdout goes to /dev/null and C stderr to the capture file; the destructor puts everything back.
class QuietCall {
 public:
  QuietCall(const fs::path& dir, const CliOutput& out) : cwd_(fs::current_path()) {
    fs::current_path(dir);  // first: when it throws, nothing else has changed
    std::fflush(stdout);
    std::fflush(stderr);
    saved_out_ = ::fcntl(1, F_DUPFD_CLOEXEC, 3);
    saved_err_ = ::fcntl(2, F_DUPFD_CLOEXEC, 3);
    if (saved_out_ < 0 || saved_err_ < 0 || ::ftruncate(out.err_fd, 0) != 0 || ::dup2(out.null_fd, 1) < 0 ||
        ::dup2(out.err_fd, 2) < 0) {
      put_back();
      throw std::runtime_error("fuzz: cannot redirect stdout and stderr");
    }
    cout_ = std::cout.rdbuf(&null_);
    cerr_ = std::cerr.rdbuf(&null_);
    clog_ = std::clog.rdbuf(&null_);
  }
  ~QuietCall() { put_back(); }
  QuietCall(const QuietCall&) = delete;
  QuietCall& operator=(const QuietCall&) = delete;

 private:
  void put_back() {
    std::fflush(stdout);
    std::fflush(stderr);
    if (saved_out_ >= 0) {
      ::dup2(saved_out_, 1);
      ::close(saved_out_);
      saved_out_ = -1;
    }
    if (saved_err_ >= 0) {
      ::dup2(saved_err_, 2);
      ::close(saved_err_);
      saved_err_ = -1;
    }
    if (cout_ != nullptr) std::cout.rdbuf(cout_);
    if (cerr_ != nullptr) std::cerr.rdbuf(cerr_);
    if (clog_ != nullptr) std::clog.rdbuf(clog_);
    cout_ = cerr_ = clog_ = nullptr;
    std::error_code ignored;
    fs::current_path(cwd_, ignored);
  }

  fs::path cwd_;
  int saved_out_ = -1, saved_err_ = -1;
  NullBuffer null_;
  std::streambuf* cout_ = nullptr;
  std::streambuf* cerr_ = nullptr;
  std::streambuf* clog_ = nullptr;
};

/// Whether an argument can only name something inside the working directory: no path separator (but an MLA
/// variant `mla:512/64`, a relative path at worst), no `..` (also inside `-o..` or `--out=..`), no home
/// directory.
bool stays_in_folder(const std::string& arg) {
  const bool separator =
      arg.find('\\') != std::string::npos || (arg.find('/') != std::string::npos && !arg.starts_with("mla:"));
  return !separator && arg.find("..") == std::string::npos && !arg.starts_with("~");
}

/// The bytes as a command line (cli_command_line), run through cli::run, the `mlasim` program's own function,
/// in the cli folder. Exit codes 0, 2, 4, 5, 6 are answers; 1 (an internal error) or any other is a finding,
/// as is an exception escaping run.
void run_cli(std::string_view bytes) {
  // One CPU for this process, so that `-j` (default: the CPUs of the affinity mask) runs commands on one
  // thread: coverage-instrumented code on several threads crawls (its counters are shared), and a plan that
  // takes 1.6 s on one thread took over 10 s on two, a hang to libFuzzer.
  static const bool one_cpu = [] {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0) return false;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (!CPU_ISSET(cpu, &allowed)) continue;
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      return ::sched_setaffinity(0, sizeof one, &one) == 0;
    }
    return false;
  }();
  (void)one_cpu;
  const std::optional<std::vector<std::string>> command_line = cli_command_line(bytes);
  if (!command_line) return;
  const std::vector<std::string>& args = *command_line;
  static const CliOutput output;
  CliFolder& folder = cli_folder_state();
  int code = 0;
  {
    const QuietCall quiet(folder.dir(), output);
    code = cli::run(args);
  }
  folder.restore();
  // 4: validate --max-mape; 5: --strict (step, serve); 6: plan found no deployment.
  if (code == kExitOk || code == kExitBadInput || code == 4 || code == 5 || code == 6) return;
  std::string line;
  for (const std::string& a : args) line += fmt::format(" '{}'", a);
  throw std::runtime_error(
      fmt::format("`mlasim{}` exited with code {}; its stderr:\n{}", line, code, output.err_text()));
}

}  // namespace

const fs::path& cli_folder() {
  return cli_folder_state().dir();
}

std::optional<std::vector<std::string>> cli_command_line(std::string_view bytes) {
  if (bytes.size() > kMaxCliBytes) return std::nullopt;
  std::vector<std::string> args;
  std::size_t start = 0;
  while (start < bytes.size()) {
    const std::size_t end = std::min(bytes.find('\n', start), bytes.find('\0', start));
    args.emplace_back(
        bytes.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (args.size() > kMaxCliArgs) return std::nullopt;
  if (!std::all_of(args.begin(), args.end(), stays_in_folder)) return std::nullopt;
  if (!args.empty() && args.front() == "calibrate") return std::nullopt;
  return args;
}

const std::vector<Target>& targets() {
  static const std::vector<Target> all{
      {"sweep", run_sweep_config, {"configs/*_attention.yaml", "tests/bad_configs/sweep_*"}},
      {"serve", run_serve_config, {"configs/serve_*.yaml", "tests/serve_fixtures/*.yaml"}},
      {"card", run_card, {"models/cards/*.yaml", "tests/bad_configs/card_*"}},
      {"profile", run_profile, {"hw_profiles/*.yaml", "tests/bad_configs/hw_*"}},
      {"hf", run_hf, {"tests/hf/*/config.json", "tests/bad_configs/hf_*.json"}},
      {"trace", run_trace, {"tests/serve_fixtures/trace_*.csv"}},
      {"lengths", run_lengths, {"tests/serve_fixtures/lengths*.csv"}},
      {"probes", run_probes, {}},
      {"cli", run_cli, {}},
  };
  return all;
}

const Target& target(std::string_view name) {
  for (const Target& t : targets()) {
    if (t.name == name) return t;
  }
  throw std::invalid_argument(fmt::format("no fuzz target `{}`", name));
}

namespace {

/// Files matching `pattern` (relative to `root`): `*` stands for any run of characters within one path
/// component; at most one `*` per component.
void glob(const fs::path& root, const fs::path& pattern, std::vector<fs::path>& out) {
  std::vector<fs::path> level{root};
  for (const fs::path& part : pattern) {
    const std::string p = part.string();
    const std::size_t star = p.find('*');
    std::vector<fs::path> next;
    for (const fs::path& dir : level) {
      if (star == std::string::npos) {
        if (fs::exists(dir / part)) next.push_back(dir / part);
        continue;
      }
      if (!fs::is_directory(dir)) continue;
      const std::string head = p.substr(0, star), tail = p.substr(star + 1);
      for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
        const std::string n = e.path().filename().string();
        if (n.size() >= head.size() + tail.size() && n.starts_with(head) && n.ends_with(tail))
          next.push_back(e.path());
      }
    }
    level = std::move(next);
  }
  for (const fs::path& f : level) {
    if (fs::is_regular_file(f)) out.push_back(f);
  }
}

}  // namespace

std::vector<fs::path> seed_files(const Target& t) {
  const fs::path root(MLASIM_SOURCE_DIR);
  std::vector<fs::path> files;
  glob(root, fs::path("fuzz") / "corpus" / t.name / "*", files);
  for (const std::string_view pattern : t.seeds) glob(root, pattern, files);
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace mlasim::fuzz
