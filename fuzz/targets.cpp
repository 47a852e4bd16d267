#include "fuzz/targets.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "models/workload.hpp"
#include "sim/calibration/probe_report.hpp"
#include "sim/config/loader.hpp"
#include "sim/config/serve_config.hpp"
#include "sim/device/capacity.hpp"
#include "sim/device/device_model.hpp"
#include "sim/error.hpp"
#include "sim/serving/lengths.hpp"
#include "sim/serving/serve.hpp"
#include "sim/serving/workload_spec.hpp"
#include "sim/sweep/sweep.hpp"

namespace mlasim::fuzz {
namespace {

namespace fs = std::filesystem;

// Evaluations are capped so that a legitimately large but valid input is not mistaken for a hang; the readers
// themselves are never capped here (a slow read of a small file is a finding).
constexpr std::size_t kMaxSweepPoints = 256;
constexpr std::int64_t kMaxServeRequests = 500;
constexpr int kMaxServeReplicas = 8;

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
  const fs::path path = scratch_dir() / name;
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
    (void)cost_step(build_step(model, shape), device, shape.precision, 1);
  }
  (void)compute_capacity(model, hw, Precision{}, Parallelism{});
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
    const ServeSpec& spec = config.spec;
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

}  // namespace

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
