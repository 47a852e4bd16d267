// mlasim_probes: measures the GPU ceilings mlasim's calibrated device model needs (DESIGN.md §6, §9):
// HBM/L2 bandwidth versus bytes, cuBLASLt GEMM throughput versus m, and kernel-launch overhead.
// Usage: mlasim_probes <all|bandwidth|gemm|launch|plan> [--out DIR] [--git-rev REV] [--quick] [--no-fp8]
//                      [--deadline-s S] [--append]
// Without a GPU it prints one line and exits with code 3 (`plan` needs no GPU). Progress lines on stdout
// (line-buffered; scripts/gpu_measure.sh reads them): "probes: FAMILY: start", "probes: FAMILY: done", and a
// last "done: key=value ..." line when the run was not cut short. Exit codes: 0 ok; 1 a CUDA/cuBLAS error or
// a failed correctness check (the failed points are not written; the other families still ran); 2 bad usage;
// 3 no GPU; 4 stopped at --deadline-s with points left (the files hold every point measured).
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/probes/probes.cuh"

namespace {

using namespace mlasim::gpu;

constexpr const char* kProgram = "mlasim_probes";
const std::vector<std::string> kCommands = {"all", "bandwidth", "gemm", "launch", "plan"};

void print_usage(std::FILE* to) {
  std::fprintf(
      to,
      "usage: %s <all|bandwidth|gemm|launch|plan> [--out DIR] [--git-rev REV] [--quick] [--no-fp8]\n"
      "       [--deadline-s S] [--append]\n"
      "  all        run every probe family (launch, bandwidth, gemm, in that order)\n"
      "  plan       print the GEMM shapes, working sets and the run-time estimate (no GPU needed)\n"
      "  --out DIR  where the CSVs and fingerprint.yaml go (default .)\n"
      "  --git-rev  revision recorded in the fingerprint (default $MLASIM_GIT_REV, else 'unknown')\n"
      "  --quick    a few points per family (smoke test)\n"
      "  --no-fp8   skip the fp8 e4m3 GEMMs\n"
      "  --deadline-s S  stop taking new points S seconds after the start (files stay complete)\n"
      "  --append   append to device_state.csv (a restart of the families a crash left undone)\n"
      "exit codes: 0 ok, 1 failure (CUDA error or a failed correctness check), 2 bad usage, 3 no GPU,\n"
      "            4 stopped at the deadline with points left\n",
      kProgram);
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

[[noreturn]] void bad_usage(const std::string& message) {
  std::fprintf(stderr, "%s: error: %s\n", kProgram, message.c_str());
  print_usage(stderr);
  std::exit(2);
}

void print_plan(const ProbeOptions& opt) {
  const auto shapes = opt.quick ? quick_gemm_shapes() : default_gemm_shapes();
  const auto ms = gemm_m_values();
  std::printf("GEMM families (%zu), m = 1 .. %lld (%zu values), dtypes bf16%s:\n", shapes.size(),
              static_cast<long long>(ms.back()), ms.size(), opt.fp8 ? " + fp8_e4m3" : "");
  for (const GemmShape& s : shapes) {
    std::printf("  n=%-7lld k=%-6lld batch=%-4lld %s\n", static_cast<long long>(s.n),
                static_cast<long long>(s.k), static_cast<long long>(s.batch), s.label.c_str());
  }
  const auto ws = bandwidth_working_sets();
  std::printf(
      "bandwidth working sets (%zu): %lld B .. %lld B; grids 1/4x .. 8x SMs; kernels read, copy, rmw\n",
      ws.size(), static_cast<long long>(ws.front()), static_cast<long long>(ws.back()));
  std::printf(
      "estimated device work (an estimate, not a measurement; H100-class rates and a 50 MB L2, so a "
      "faster GPU such as an H200 takes at most about this): GEMM %.0f s, bandwidth %.0f s (plus build, "
      "start-up and host overhead)\n",
      estimate_gemm_seconds(shapes, ms, opt.fp8), estimate_bandwidth_seconds(ws, 6, 50LL << 20, 3, 20));
}

std::string join_command(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) out += (i ? " " : "") + std::string(argv[i]);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) bad_usage("no command given");
  const std::string command = argv[1];
  if (command == "-h" || command == "--help") {
    print_usage(stdout);
    return 0;
  }
  bool known = false;
  for (const auto& c : kCommands) known = known || c == command;
  if (!known) {
    std::string best;
    std::size_t best_d = 3;
    for (const auto& c : kCommands) {
      const std::size_t d = edit_distance(command, c);
      if (d < best_d) best_d = d, best = c;
    }
    bad_usage("unknown command '" + command + "'" + (best.empty() ? "" : " (did you mean '" + best + "'?)") +
              "; known: all, bandwidth, gemm, launch, plan");
  }
  ProbeOptions opt;
  const char* env_rev = std::getenv("MLASIM_GIT_REV");
  std::string git_rev = env_rev != nullptr && *env_rev != '\0' ? env_rev : "unknown";
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--out" && i + 1 < argc) {
      opt.out_dir = argv[++i];
    } else if (a == "--git-rev" && i + 1 < argc) {
      git_rev = argv[++i];
    } else if (a == "--quick") {
      opt.quick = true;
    } else if (a == "--no-fp8") {
      opt.fp8 = false;
    } else if (a == "--append") {
      opt.append = true;
    } else if (a == "--deadline-s" && i + 1 < argc) {
      char* end = nullptr;
      const char* v = argv[++i];
      opt.deadline_s = std::strtod(v, &end);
      if (end == v || *end != '\0' || !(opt.deadline_s >= 0.0) || opt.deadline_s > 1e6) {
        bad_usage(std::string("--deadline-s expects a non-negative number of seconds, got '") + v + "'");
      }
    } else {
      bad_usage("unknown or incomplete option '" + a + "'");
    }
  }
  if (command == "plan") {
    print_plan(opt);
    return 0;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines must be out before a crash or a kill
  const Deadline deadline(opt.deadline_s);

  require_gpu(kProgram);  // one line and exit 3 without a GPU
  MLASIM_CUDA_CHECK(cudaSetDevice(0));
  ::mkdir(opt.out_dir.c_str(), 0755);

  ProbeContext ctx;
  ctx.options = opt;
  ctx.deadline = deadline;
  ctx.device = read_fingerprint(0);
  char pci[32] = {};
  MLASIM_CUDA_CHECK(cudaDeviceGetPCIBusId(pci, sizeof pci, 0));
  NvmlReader nvml(pci);
  if (!nvml.available())
    std::fprintf(stderr, "%s: NVML unavailable (%s); recording 'unavailable'\n", kProgram,
                 nvml.error().c_str());
  ctx.nvml = &nvml;
  MLASIM_CUDA_CHECK(cudaStreamCreateWithFlags(&ctx.stream, cudaStreamNonBlocking));
  L2Flusher flusher;
  ctx.flusher = &flusher;
  CsvWriter state(
      opt.out_dir + "/device_state.csv",
      {"when", "utc", "sm_clock_mhz", "mem_clock_mhz", "temperature_c", "power_w", "clock_reasons"},
      opt.append ? CsvWriter::Mode::kAppend : CsvWriter::Mode::kTruncate);
  ctx.device_state = &state;

  const std::string cmd = join_command(argc, argv);
  const std::string extra = "nvml_driver: \"" + nvml.driver_version() + "\"\n" + "pci_bus_id: \"" + pci +
                            "\"\n" + "probe_command: \"" + command + "\"\n" +
                            "quick: " + (opt.quick ? "true" : "false") + "\n" + "nvml: \"" +
                            (nvml.available() ? std::string("ok") : "unavailable: " + nvml.error()) + "\"\n";
  if (!write_fingerprint_yaml(opt.out_dir + "/fingerprint.yaml", ctx.device, git_rev, cmd, extra)) {
    std::fprintf(stderr, "%s: cannot write %s/fingerprint.yaml\n", kProgram, opt.out_dir.c_str());
    return 1;
  }
  std::printf("%s: %s, %d SMs, cc %d.%d, L2 %lld B, %lld B memory\n", kProgram, ctx.device.name.c_str(),
              ctx.device.sms, ctx.device.cc_major, ctx.device.cc_minor, ctx.device.l2_bytes,
              ctx.device.memory_bytes);
  std::fflush(stdout);

  record_device_state(ctx, "start");
  // Launch, bandwidth, GEMM: the cheap families first, so a deadline cuts the long GEMM sweep, not them.
  const std::pair<const char*, void (*)(ProbeContext&)> families[] = {
      {"launch", run_launch_probe}, {"bandwidth", run_bandwidth_probe}, {"gemm", run_gemm_probe}};
  for (const auto& [name, probe] : families) {
    if (command != "all" && command != name) continue;
    std::printf("probes: %s: start\n", name);
    probe(ctx);
    std::printf("probes: %s: done\n", name);
  }
  record_device_state(ctx, "end");
  if (!state.close()) std::fprintf(stderr, "%s: cannot write device_state.csv\n", kProgram);

  std::printf("\n== summary (%s) ==\n", ctx.device.name.c_str());
  for (const std::string& line : ctx.summary) std::printf("%s\n", line.c_str());
  MLASIM_CUDA_CHECK(cudaStreamDestroy(ctx.stream));
  std::printf("done: points=%d failed_checks=%d skipped_deadline=%d\n", ctx.points_written, ctx.failed_checks,
              ctx.skipped_deadline);
  if (ctx.skipped_deadline > 0) {
    std::printf("deadline: stopped taking points after %.0f s; %d points skipped\n", ctx.deadline.elapsed_s(),
                ctx.skipped_deadline);
  }
  if (ctx.failed_checks > 0) {
    std::fprintf(stderr, "%s: %d correctness check(s) FAILED; their points were not written\n", kProgram,
                 ctx.failed_checks);
    return 1;
  }
  return ctx.skipped_deadline > 0 ? kExitDeadline : 0;
}
