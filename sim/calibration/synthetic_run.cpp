#include "sim/calibration/synthetic_run.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "kernels/attention/bench_csv.hpp"
#include "kernels/attention/bench_grid.hpp"
#include "kernels/attention/kernel_layout.hpp"
#include "kernels/attention/paging.hpp"
#include "kernels/attention/reference.hpp"
#include "kernels/attention/schedule.hpp"
#include "kernels/common/csv.hpp"
#include "kernels/common/fingerprint_yaml.hpp"
#include "kernels/probes/probe_plan.hpp"
#include "sim/error.hpp"
#include "sim/random.hpp"

namespace mlasim {

namespace fs = std::filesystem;
namespace att = attention;

namespace {

/// The schedule the bench builds for a call: our kernels' launch shape.
att::SplitSchedule schedule_for(const SyntheticTruth& truth, AttentionKernel kernel,
                                const std::vector<int>& lens, int s_q, int n_h, int n_kv, int d) {
  return att::make_split_schedule(
      lens, att::kernel_schedule_options(kernel == AttentionKernel::kMla, s_q, n_h, n_kv, d, truth.sms));
}

/// Multiplicative noise: log-normal with the truth's spread, and now and then an outlier.
double noisy(Rng& rng, const SyntheticTruth& truth, double t) {
  double f = std::exp(truth.noise * rng.standard_normal());
  if (rng.uniform01() < truth.outlier_fraction) f *= truth.outlier_factor;
  return t * f;
}

gpu::TimingStats stats_around(double median_s, int repeats) {
  gpu::TimingStats s;
  s.median_s = median_s;
  s.p90_s = median_s * 1.04;
  s.min_s = median_s * 0.97;
  s.max_s = median_s * 1.10;
  s.mean_s = median_s * 1.01;
  s.repeats = repeats;
  return s;
}

void require(bool ok, const fs::path& file) {
  if (!ok) throw InputError(SourceLocation{file.string()}, "", "cannot write the synthetic run file");
}

void write_text(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  require(static_cast<bool>(out.flush()), file);
}

gpu::DeviceFingerprint fingerprint_of(const SyntheticTruth& truth) {
  gpu::DeviceFingerprint f;
  f.name = truth.device;
  f.sms = truth.sms;
  f.cc_major = 9;
  f.cc_minor = 0;
  f.sm_clock_khz = 1980000;
  f.mem_clock_khz = 3201000;
  f.mem_bus_width_bits = 6144;
  f.l2_bytes = truth.l2_bytes;
  f.memory_bytes = truth.memory_bytes;
  f.driver_version = 13000;
  f.runtime_version = 13000;
  return f;
}

// ---------------------------------------------------------------- probes

double gemm_time(const SyntheticTruth& truth, const gpu::GemmShape& s, std::int64_t m, bool fp8) {
  const double tile = truth.gemm_tile_m;
  const double fill = double(m) / (std::ceil(double(m) / tile) * tile);
  const double peak = fp8 ? truth.gemm_fp8_flops_per_s : truth.gemm_bf16_flops_per_s;
  const double compute = gpu::gemm_flops(m, s) / (peak * fill);
  const double memory = gpu::gemm_bytes(m, s, fp8 ? 1.0 : 2.0, 2.0) / truth.gemm_bytes_per_s;
  return truth.launch_single_s + truth.gemm_t0_s + std::max(compute, memory);
}

void write_probes(const fs::path& dir, const SyntheticTruth& truth, Rng& rng) {
  fs::create_directories(dir);
  const std::string command = "mlasim_probes all --out probes (synthetic)";
  write_text(
      dir / "fingerprint.yaml",
      gpu::fingerprint_yaml_text(fingerprint_of(truth), truth.git_revision, command, truth.started,
                                 "nvml_driver: \"synthetic\"\nprobe_command: \"all\"\nquick: " +
                                     std::string(truth.quick ? "true" : "false") + "\nnvml: \"ok\"\n"));
  {  // launch
    gpu::CsvWriter csv((dir / "launch.csv").string(), gpu::probe_csv_columns());
    const auto row = [&](const char* kernel, const char* shape, int grid, int block, double t) {
      gpu::MeasuredPoint p;
      p.probe = "launch";
      p.kernel = kernel;
      p.shape = shape;
      p.grid = grid;
      p.block = block;
      p.time = stats_around(noisy(rng, truth, t), 30);
      gpu::write_probe_row(csv, p);
    };
    row("empty_eager", "launches=1000", 1, 1, truth.launch_eager_s);
    row("empty_eager_full", "launches=1000", truth.sms, 128, truth.launch_eager_s * 1.2);
    row("empty_graph", "launches=1000", 1, 1, truth.launch_graph_s);
    row("empty_single", "launches=1", 1, 1, truth.launch_single_s);
    require(csv.close(), dir / "launch.csv");
  }
  {  // bandwidth: every kernel × working set × grid; the fastest grid is the kernel's ceiling
    gpu::CsvWriter csv((dir / "bandwidth.csv").string(), gpu::probe_csv_columns());
    const std::vector<int> grids = gpu::bandwidth_grid_sizes(truth.sms);
    // Too few CTAs cannot keep enough bytes in flight; eight per SM oversubscribe a little.
    const auto grid_penalty = [&](int grid) {
      const double per_sm = double(grid) / truth.sms;
      return per_sm < 4.0 ? 1.0 + 0.6 * (4.0 / per_sm - 1.0) / 15.0 : 1.0 + 0.01 * (per_sm - 4.0) / 4.0;
    };
    const std::vector<std::int64_t> sets =
        truth.quick ? gpu::bandwidth_working_sets(64LL << 10, 1LL << 30, 8) : gpu::bandwidth_working_sets();
    for (const gpu::BandwidthKernel k :
         {gpu::BandwidthKernel::kRead, gpu::BandwidthKernel::kCopy, gpu::BandwidthKernel::kReadModifyWrite}) {
      const BandwidthRamp& ramp = k == gpu::BandwidthKernel::kRead   ? truth.read
                                  : k == gpu::BandwidthKernel::kCopy ? truth.copy
                                                                     : truth.rmw;
      for (const std::int64_t ws : sets) {
        const double bytes = gpu::bandwidth_bytes_moved(k, ws);
        std::vector<const char*> levels;
        if (ws < truth.l2_bytes) {
          levels = {"l2", "cold"};
        } else {
          levels = {"hbm"};
        }
        for (const char* level : levels) {
          for (const int grid : grids) {
            const bool warm = std::string_view(level) == "l2";
            const double t = ramp.t0_s + bytes / (warm ? truth.l2_bytes_per_s : ramp.bw_inf_bytes_per_s);
            gpu::MeasuredPoint p;
            p.probe = "bandwidth";
            p.kernel = gpu::to_string(k);
            p.shape = "ws=" + std::to_string(ws);
            p.level = level;
            p.dtype = "f32x4";
            p.working_set_bytes = ws;
            p.bytes = bytes;
            p.grid = grid;
            p.block = gpu::kBandwidthBlock;
            p.time = stats_around(noisy(rng, truth, t * grid_penalty(grid)), 20);
            gpu::write_probe_row(csv, p);
          }
        }
      }
    }
    require(csv.close(), dir / "bandwidth.csv");
  }
  {  // GEMM: every shape family × m × dtype
    gpu::CsvWriter csv((dir / "gemm.csv").string(), gpu::probe_csv_columns());
    const std::vector<gpu::GemmShape> shapes =
        truth.quick ? gpu::quick_gemm_shapes() : gpu::default_gemm_shapes();
    for (const bool fp8 : {false, true}) {
      for (const gpu::GemmShape& s : shapes) {
        for (const std::int64_t m : gpu::gemm_m_values()) {
          gpu::MeasuredPoint p;
          p.probe = "gemm";
          p.kernel = fp8 ? "lt_fp8_e4m3" : "lt_bf16";
          p.shape = s.label;
          p.dtype = fp8 ? "fp8_e4m3" : "bf16";
          p.m = m;
          p.n = s.n;
          p.k = s.k;
          p.batch = s.batch;
          p.bytes = gpu::gemm_bytes(m, s, fp8 ? 1.0 : 2.0, 2.0);
          p.flops = gpu::gemm_flops(m, s);
          const double t = noisy(rng, truth, gemm_time(truth, s, m, fp8));
          p.time = stats_around(t, gpu::gemm_repeats_for(t));
          gpu::write_probe_row(csv, p);
        }
      }
    }
    require(csv.close(), dir / "gemm.csv");
  }
  {  // device state before and after each family (NVML)
    gpu::CsvWriter csv((dir / "device_state.csv").string(), {"when", "utc", "sm_clock_mhz", "mem_clock_mhz",
                                                             "temperature_c", "power_w", "clock_reasons"});
    const char* whens[] = {"start",           "before launch", "after launch", "before bandwidth",
                           "after bandwidth", "before gemm",   "after gemm",   "end"};
    int i = 0;
    for (const char* when : whens) {
      const bool hot = truth.throttled && std::string_view(when) == "after gemm";
      csv.cell(when)
          .cell(truth.started)
          .cell(hot ? 1410LL : 1980LL)
          .cell(3201LL)
          .cell(hot ? 89LL : 38LL + i)
          .cell(i == 0 ? "112.0" : "640.5")
          .cell(hot ? 0x20LL : (i == 0 ? 0x1LL : 0x0LL));
      csv.end_row();
      ++i;
    }
    require(csv.close(), dir / "device_state.csv");
  }
  write_text(dir / "run.log", "synthetic probe run: no GPU was used\n");
}

// ---------------------------------------------------------------- attention

void write_attention(const fs::path& dir, const SyntheticTruth& truth, Rng& rng) {
  fs::create_directories(dir);
  write_text(dir / "fingerprint.yaml",
             gpu::fingerprint_yaml_text(fingerprint_of(truth), truth.git_revision,
                                        "mlasim_attention_bench --out attention (synthetic)", truth.started));
  {
    gpu::CsvWriter csv((dir / "check.csv").string(), att::check_csv_columns());
    for (const std::string& variant : att::known_variants()) {
      const bool fails = variant == truth.failed_variant;
      att::CheckRow r;
      r.kernel = variant.substr(0, 3);
      r.variant = variant;
      r.d = std::stoi(variant.substr(variant.find('d') + 1));
      r.batch = 3;
      r.lens = "2 777 4096";
      r.n_h = r.kernel == "mla" ? 64 : 32;
      r.n_kv = r.kernel == "mla" ? 1 : 8;
      r.splits_max = 4;
      r.segments = 9;
      r.rel_l2_error = fails ? 0.41 : 3.1e-3;
      r.lse_max_abs_error = fails ? 2.7 : 1.2e-3;
      r.pass = !fails;
      att::write_check_row(csv, r);
    }
    require(csv.close(), dir / "check.csv");
  }
  const double copy_gbps = 2.0 * double(1LL << 31) / truth.copy.time_s(2.0 * double(1LL << 31)) / 1e9;
  {
    gpu::CsvWriter csv((dir / "copy.csv").string(), att::copy_csv_columns());
    att::CopyRow r;
    r.bytes_copied = 1LL << 31;
    r.bytes_moved = 2 * r.bytes_copied;
    r.median_us = double(r.bytes_moved) / (copy_gbps * 1e9) * 1e6;
    r.p90_us = r.median_us * 1.01;
    r.min_us = r.median_us * 0.99;
    r.repeats = 20;
    r.gbps = copy_gbps;
    att::write_copy_row(csv, r);
    require(csv.close(), dir / "copy.csv");
  }
  gpu::CsvWriter mla((dir / "mla_decode.csv").string(), att::timing_csv_columns());
  gpu::CsvWriter gqa((dir / "gqa_decode.csv").string(), att::timing_csv_columns());
  const std::uint64_t lens_seed = truth.seed * 7919 + 17;
  for (const att::GridPoint& g : att::timing_grid(truth.quick)) {
    const AttentionKernel kernel = g.kernel == "mla" ? AttentionKernel::kMla : AttentionKernel::kGqa;
    const std::vector<int> lens =
        g.variable ? att::random_context_lens(g.batch, std::max(2, g.ctx / 2), g.ctx + g.ctx / 2,
                                              lens_seed + static_cast<std::uint64_t>(g.batch * 131 + g.ctx))
                   : std::vector<int>(static_cast<std::size_t>(g.batch), g.ctx);
    long long sum = 0;
    for (const int l : lens) sum += l;
    const att::SplitSchedule s =
        schedule_for(truth, kernel, lens, g.s_q, g.shape.n_h, g.shape.n_kv, g.shape.d);
    const double t =
        noisy(rng, truth,
              synthetic_attention_time(truth, kernel, lens, g.s_q, g.shape.n_h, g.shape.n_kv, g.shape.d));
    const bool is_mla = kernel == AttentionKernel::kMla;
    const att::ScheduleOptions o =
        att::kernel_schedule_options(is_mla, g.s_q, g.shape.n_h, g.shape.n_kv, g.shape.d, truth.sms);
    // The bench's launches: one CTA per (row block, part); the combine kernel's (s_q·heads, B) grid when
    // split.
    const att::TimingRow row = att::timing_row(
        g, sum, t, t * 1.03, t * 0.98, 20, copy_gbps, s, s.num_parts * o.row_blocks,
        s.max_splits_per_seq > 1 ? g.batch * g.s_q * g.shape.n_h : 0, g.variant() != truth.failed_variant);
    att::write_timing_row(is_mla ? mla : gqa, row);
  }
  require(mla.close(), dir / "mla_decode.csv");
  require(gqa.close(), dir / "gqa_decode.csv");
  write_text(dir / "run.log", "synthetic attention run: no GPU was used\n");
}

std::string run_yaml(const SyntheticTruth& truth) {
  const auto q = [](const std::string& s) { return gpu::yaml_quoted(s); };
  std::string out;
  out += "schema: \"mlasim-measurement-run/1\"\n";
  out += "synthetic: true\n";
  out += "device: " + q(truth.device) + "\n";
  out += "gpu_id: " + q(truth.gpu_id) + "\n";
  out += "driver: \"synthetic\"\n";
  out += "nvcc: \"synthetic\"\n";
  out += "git_revision: " + q(truth.git_revision) + "\n";
  out += "command: " + q(fmt::format("mlasim synthesize-run (seed {}, noise {})", truth.seed, truth.noise)) +
         "\n";
  out += "started: " + q(truth.started) + "\n";
  out += "finished: " + q(truth.started) + "\n";
  out += "host: \"synthetic\"\n";
  out += "deadline_s: 420\n";
  out += "phases:\n";
  out += "  build:     {status: \"skipped\", exit_code: 0, seconds: 0, method: \"cmake\"}\n";
  out += "  probes:    {status: \"ok\", exit_code: 0, seconds: 0}\n";
  out += fmt::format("  attention: {{status: \"{}\", exit_code: 0, seconds: 0}}\n",
                     truth.failed_variant.empty() ? "ok" : "check-failed");
  out += "  sanitizer: {status: \"skipped\", exit_code: 0, seconds: 0}\n";
  return out;
}

}  // namespace

double synthetic_attention_time(const SyntheticTruth& truth, AttentionKernel kernel,
                                const std::vector<int>& lens, int s_q, int n_h, int n_kv, int d) {
  const bool is_mla = kernel == AttentionKernel::kMla;
  const att::SplitSchedule s = schedule_for(truth, kernel, lens, s_q, n_h, n_kv, d);
  long long sum = 0;
  for (const int l : lens) sum += l;
  const double batch = double(lens.size());
  const double bytes = is_mla ? att::mla_bytes(batch, s_q, n_h, double(sum))
                              : att::gqa_bytes(batch, s_q, n_h, n_kv, d, double(sum));
  const double flops =
      is_mla ? att::mla_flops(s_q, n_h, double(sum)) : att::gqa_flops(s_q, n_h, d, double(sum));
  const att::ScheduleOptions o = att::kernel_schedule_options(is_mla, s_q, n_h, n_kv, d, truth.sms);
  const int cps = o.ctas_per_sm;
  const int row_blocks = o.row_blocks;
  const double ctas = double(s.num_parts) * row_blocks;
  const double slots = double(truth.sms) * cps;
  const double waves = std::ceil(ctas / slots);
  const double active_sms = std::min(double(truth.sms), std::ceil(std::min(ctas, slots) / cps));
  // The busiest part sets the time: its pages (plus the per-piece cost) against the mean part's.
  std::vector<double> load(static_cast<std::size_t>(s.num_parts), 0.0);
  for (int p = 0; p < s.num_parts; ++p) {
    for (int seg = s.part_segment_begin[p]; seg < s.part_segment_begin[p + 1]; ++seg) {
      const double tokens = s.seg_token_end[seg] - s.seg_token_begin[seg];
      load[static_cast<std::size_t>(p)] += std::ceil(tokens / att::kPageTokens) + 2.0;
    }
  }
  double total = 0.0, busiest = 0.0;
  for (const double l : load) {
    total += l;
    busiest = std::max(busiest, l);
  }
  const double imbalance = total > 0.0 ? busiest / (total / double(load.size())) : 1.0;
  const double bw =
      std::min(is_mla ? truth.mla_bytes_per_s : truth.gqa_bytes_per_s, active_sms * truth.per_sm_bytes_per_s);
  const double memory = bytes / bw * imbalance;
  const double fill = ctas / (waves * slots);
  const double compute =
      flops / ((is_mla ? truth.mla_flops_per_s : truth.gqa_flops_per_s) * std::min(1.0, fill));
  double t = truth.launch_single_s + truth.attention_fixed_s + std::max(memory, compute);
  if (s.max_splits_per_seq > 1) {
    const double rows = double(s_q) * n_h;
    const double partials = double(s.num_segments) * rows * ((is_mla ? 512 : d) + 1) * 4.0;
    t += truth.combine_fixed_s + 2.0 * partials / (is_mla ? truth.mla_bytes_per_s : truth.gqa_bytes_per_s);
  }
  return t;
}

void write_synthetic_run(const fs::path& dir, const SyntheticTruth& truth) {
  if (dir.empty()) throw InputError("no folder to write the synthetic run to (an empty name)");
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    throw InputError(SourceLocation{dir.string()}, "",
                     "already exists; a synthetic run is written to a new folder");
  }
  const fs::path tmp = dir.string() + fmt::format(".tmp-{}", ::getpid());
  fs::remove_all(tmp, ec);
  try {
    fs::create_directories(tmp);
    Rng rng(truth.seed);
    write_text(tmp / "run.yaml", run_yaml(truth));
    write_probes(tmp / "probes", truth, rng);
    write_attention(tmp / "attention", truth, rng);
    write_text(tmp / "gpu_measure.log",
               "synthetic run generated by mlasim synthesize-run; no GPU was used\n");
    fs::rename(tmp, dir);
  } catch (const fs::filesystem_error& e) {
    // The folder cannot be made there (a name too long, no permission, a read-only or full disk): the
    // user's folder is the cause, not a bug.
    fs::remove_all(tmp, ec);
    throw InputError(SourceLocation{dir.string()}, "",
                     fmt::format("cannot write the synthetic run here: {}", e.code().message()));
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace mlasim
