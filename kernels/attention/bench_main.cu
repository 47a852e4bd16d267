// mlasim_attention_bench: checks the decode-attention kernels against the CPU reference on fresh random
// inputs, then times them over the calibration grid and writes CSVs (see kernels/attention/README.md).
//
//   mlasim_attention_bench --out DIR [--git-rev REV] [--command "..."] [--extra-yaml FILE] [--quick]
//                          [--check-only | --time-only] [--check-case N] [--variants LIST] [--failed-variants
//                          LIST]
//                          [--first-point K] [--append] [--deadline-s S] [--point-timeout-s S]
//                          [--warmup N] [--repeats N] [--max-kv-gib G]
// A failed check does not stop the run: its variant ("mla-d576", "gqa-d128", "gqa-d64") is still timed and
// its rows say check = FAILED. Progress lines on stdout (line-buffered; scripts/gpu_measure.sh reads them):
//   check case N VARIANT: start          before the GPU part of check case N (an index into the full list)
//   check case N VARIANT ...: ok|FAILED  after it
//   check variant VARIANT: pass|FAILED   once every selected case of the variant ran
//   point K VARIANT ...: start           before grid point K (an index into the full grid)
//   done: key=value ...                  last line of a run that was not cut short
// Exit codes: 0 done, every check passed; 1 a check failed or a point's output was not finite (everything
// else was still done), or an internal/CUDA error; 2 bad arguments; 3 no GPU (one line on stderr); 4 stopped
// at
// --deadline-s with points left (files complete); 5 the watchdog ended a hung check or point.
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/attention/bench_csv.hpp"
#include "kernels/attention/bench_grid.hpp"
#include "kernels/attention/bf16.hpp"
#include "kernels/attention/decode_kernels.cuh"
#include "kernels/attention/reference.hpp"
#include "kernels/attention/schedule.hpp"
#include "kernels/common/csv.hpp"
#include "kernels/common/cuda_check.cuh"
#include "kernels/common/deadline.hpp"
#include "kernels/common/fingerprint.cuh"
#include "kernels/common/timing.cuh"

namespace att = mlasim::attention;
using namespace mlasim::gpu;

namespace {

constexpr const char* kProgram = "mlasim_attention_bench";

struct Options {
  std::string out_dir = ".";
  std::string git_rev = "unknown";
  std::string command;
  std::string extra_yaml_file;
  bool check_only = false;
  bool time_only = false;                 ///< skip the checks (a previous --check-only run did them)
  int check_case = -1;                    ///< >= 0: run only this check case (implies --check-only)
  std::set<std::string> variants;         ///< empty: all; else only these variants are checked and timed
  std::set<std::string> failed_variants;  ///< with --time-only: rows of these variants say check = FAILED
  int first_point = 0;            ///< grid points with a smaller index are not run (restart after a crash)
  bool append = false;            ///< append to the CSVs instead of starting them afresh
  double deadline_s = 0.0;        ///< 0: none
  double point_timeout_s = 30.0;  ///< watchdog per check case / grid point; 0: off (e.g. under a sanitizer)
  bool quick = false;
  int warmup = 3;
  int repeats = 20;
  double max_kv_gib = 32.0;  ///< grid points whose KV cache exceeds this are skipped (logged)

  [[nodiscard]] bool selected(const std::string& variant) const {
    return variants.empty() || variants.count(variant) != 0;
  }
  [[nodiscard]] CsvWriter::Mode csv_mode() const {
    return append ? CsvWriter::Mode::kAppend : CsvWriter::Mode::kTruncate;
  }
};

/// Device buffer that frees itself; grows on demand.
template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(size_t n) { resize(n); }
  ~DeviceArray() {
    if (ptr_ != nullptr) cudaFree(ptr_);
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  void resize(size_t n) {
    if (n <= capacity_) {
      size_ = n;
      return;
    }
    if (ptr_ != nullptr) MLASIM_CUDA_CHECK(cudaFree(ptr_));
    ptr_ = nullptr;
    MLASIM_CUDA_CHECK(cudaMalloc(&ptr_, std::max<size_t>(n, 1) * sizeof(T)));
    capacity_ = n;
    size_ = n;
  }
  void upload(const std::vector<T>& v) {
    resize(v.size());
    MLASIM_CUDA_CHECK(cudaMemcpy(ptr_, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  [[nodiscard]] std::vector<T> download() const {
    std::vector<T> v(size_);
    MLASIM_CUDA_CHECK(cudaMemcpy(v.data(), ptr_, size_ * sizeof(T), cudaMemcpyDeviceToHost));
    return v;
  }
  /// Fills every byte with 0xff: NaN for bf16 and fp32, so unwritten outputs are caught.
  void poison() { MLASIM_CUDA_CHECK(cudaMemset(ptr_, 0xff, size_ * sizeof(T))); }
  T* get() const { return ptr_; }
  [[nodiscard]] size_t size() const { return size_; }

 private:
  T* ptr_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

/// Random bf16 in [-1, 1), never zero (a zero draw becomes 0.5): a hash of (seed, index).
__global__ void fill_random_bf16(__nv_bfloat16* p, size_t n, std::uint64_t seed) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    std::uint64_t z = seed + 0x9e3779b97f4a7c15ull * (i + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    float v = static_cast<float>(z >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f;
    __nv_bfloat16 b = __float2bfloat16_rn(v);
    if (__bfloat162float(b) == 0.0f) b = __float2bfloat16_rn(0.5f);
    p[i] = b;
  }
}

/// Counts non-finite values (unwritten poison or NaN/Inf results).
__global__ void count_nonfinite(const __nv_bfloat16* p, size_t n, unsigned long long* count) {
  unsigned long long local = 0;
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    if (!isfinite(__bfloat162float(p[i]))) ++local;
  }
  if (local != 0) atomicAdd(count, local);
}

void fill_random(__nv_bfloat16* p, size_t n, std::uint64_t seed) {
  fill_random_bf16<<<1024, 256>>>(p, n, seed);
  MLASIM_CUDA_CHECK_LAUNCH();
}

unsigned long long nonfinite_on_device(const __nv_bfloat16* p, size_t n) {
  DeviceArray<unsigned long long> c(1);
  MLASIM_CUDA_CHECK(cudaMemset(c.get(), 0, sizeof(unsigned long long)));
  count_nonfinite<<<1024, 256>>>(p, n, c.get());
  MLASIM_CUDA_CHECK_LAUNCH();
  return c.download()[0];
}

/// The schedule's arrays on the device.
struct ScheduleBuffers {
  DeviceArray<int> part_segment_begin, seg_seq, seg_token_begin, seg_token_end, seq_segment_begin;
  DeviceSchedule view(const att::SplitSchedule& s) {
    part_segment_begin.upload(s.part_segment_begin);
    seg_seq.upload(s.seg_seq);
    seg_token_begin.upload(s.seg_token_begin);
    seg_token_end.upload(s.seg_token_end);
    seq_segment_begin.upload(s.seq_segment_begin);
    DeviceSchedule d;
    d.part_segment_begin = part_segment_begin.get();
    d.seg_seq = seg_seq.get();
    d.seg_token_begin = seg_token_begin.get();
    d.seg_token_end = seg_token_end.get();
    d.seq_segment_begin = seq_segment_begin.get();
    d.num_parts = s.num_parts;
    d.max_splits_per_seq = s.max_splits_per_seq;
    return d;
  }
};

/// Everything one decode call needs on the device.
struct DeviceProblem {
  DeviceArray<__nv_bfloat16> q, k, v, out;
  DeviceArray<int> block_table, context_lens;
  DeviceArray<float> lse, part_o, part_lse;
  ScheduleBuffers sched;
};

bool is_mla(const att::DecodeProblem& p) {
  return p.v_in_k;
}

att::ScheduleOptions schedule_options(const att::DecodeProblem& p, int sms) {
  return att::kernel_schedule_options(is_mla(p), p.s_q, p.n_q_heads, p.n_kv_heads, p.d_qk, sms);
}

/// Uploads the problem's shape, page table and schedule (not its values) and sizes the outputs.
DecodeArgs prepare(DeviceProblem& d, const att::DecodeProblem& p, const att::SplitSchedule& s) {
  d.block_table.upload(p.pages.block_table);
  d.context_lens.upload(p.pages.context_lens);
  const size_t rows = size_t(p.batch) * p.s_q * p.n_q_heads;
  d.out.resize(rows * p.d_v);
  d.lse.resize(rows);
  const size_t seg_rows = size_t(std::max(s.num_segments, 1)) * p.s_q * p.n_q_heads;
  d.part_o.resize(seg_rows * p.d_v);
  d.part_lse.resize(seg_rows);
  DecodeArgs a;
  a.q = d.q.get();
  a.k = d.k.get();
  a.v = is_mla(p) ? nullptr : d.v.get();
  a.block_table = d.block_table.get();
  a.context_lens = d.context_lens.get();
  a.max_pages_per_seq = p.pages.max_pages_per_seq;
  a.batch = p.batch;
  a.s_q = p.s_q;
  a.n_q_heads = p.n_q_heads;
  a.n_kv_heads = p.n_kv_heads;
  a.head_dim = p.d_qk;
  a.softmax_scale = p.softmax_scale;
  a.schedule = d.sched.view(s);
  a.out = d.out.get();
  a.lse = d.lse.get();
  a.part_o = d.part_o.get();
  a.part_lse = d.part_lse.get();
  return a;
}

LaunchInfo launch(const att::DecodeProblem& p, const DecodeArgs& a, cudaStream_t stream) {
  return is_mla(p) ? launch_mla_decode(a, stream) : launch_gqa_decode(a, stream);
}

std::vector<std::uint16_t> bits_of(const std::vector<float>& v) {
  return att::to_bf16_bits(v);
}

// ------------------------------------------------------------------ checks

struct CheckCase {
  std::string kernel;
  std::vector<int> lens;
  int s_q, n_h, n_kv, d;
  int sms_override;  ///< 0: the device's SMs; otherwise forces more (small) or fewer splits
  bool unsplit;
};

/// Every check case, grouped by variant (MLA, GQA d128, GQA d64); indices are what --check-case takes.
std::vector<CheckCase> all_check_cases() {
  return {
      {"mla", {4096}, 1, 16, 1, 576, 0, false},
      {"mla", {2, 65, 1000, 2049, 64, 300}, 2, 16, 1, 576, 0, false},
      {"mla", {513, 4000, 129}, 1, 64, 1, 576, 8, false},
      {"mla", {2, 777}, 2, 128, 1, 576, 0, false},
      {"mla", {300, 1500}, 1, 40, 1, 576, 0, true},
      {"mla", {1000, 64, 2}, 2, 128, 1, 576, 3, false},
      {"gqa", {2000, 17}, 1, 32, 32, 128, 0, false},
      {"gqa", {4096, 100, 2}, 2, 32, 8, 128, 0, false},
      {"gqa", {1500, 65}, 1, 64, 8, 128, 5, false},
      {"gqa", {3000, 7, 64}, 1, 71, 1, 64, 0, false},
      {"gqa", {800}, 2, 71, 1, 64, 0, true},
      {"gqa", {257, 1024}, 1, 8, 1, 64, 0, false},
  };
}

/// Indices of the cases a run checks. --quick keeps 4 that cover both kernels: MLA s_q 2 split (variable
/// lengths), MLA h_q 128 (4 row blocks), GQA group 4 s_q 2, Falcon MQA d 64 (several row blocks).
std::vector<int> selected_check_cases(const Options& opt, const std::vector<CheckCase>& cases) {
  std::vector<int> idx;
  if (opt.check_case >= 0) return {opt.check_case};
  const std::vector<int> all = opt.quick ? std::vector<int>{1, 3, 7, 9} : [&] {
    std::vector<int> v;
    for (int i = 0; i < static_cast<int>(cases.size()); ++i) v.push_back(i);
    return v;
  }();
  for (const int i : all) {
    const CheckCase& c = cases[static_cast<size_t>(i)];
    if (opt.selected(att::variant_id(c.kernel, c.d))) idx.push_back(i);
  }
  return idx;
}

struct CheckOutcome {
  std::set<std::string> failed_variants;
  int run = 0, failed = 0, skipped_deadline = 0;
};

CheckOutcome run_checks(const Options& opt, int sms, std::uint64_t seed, Deadline& deadline,
                        Watchdog& watchdog) {
  const std::vector<CheckCase> cases = all_check_cases();
  const std::vector<int> chosen = selected_check_cases(opt, cases);
  CsvWriter csv(opt.out_dir + "/check.csv", att::check_csv_columns(), opt.csv_mode());
  CheckOutcome outcome;
  std::set<std::string> incomplete;
  DeviceProblem d;
  for (size_t n = 0; n < chosen.size(); ++n) {
    const int i = chosen[n];
    const auto& c = cases[static_cast<size_t>(i)];
    const std::string variant = att::variant_id(c.kernel, c.d);
    if (deadline.too_late_for_next_point(2.0)) {
      std::printf("check case %d %s: skipped (deadline)\n", i, variant.c_str());
      ++outcome.skipped_deadline;
      incomplete.insert(variant);
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::uint64_t case_seed = seed + 1000003ull * static_cast<std::uint64_t>(i + 1);
    const float scale =
        c.kernel == "mla" ? 1.0f / std::sqrt(192.0f) : 1.0f / std::sqrt(static_cast<float>(c.d));
    const att::DecodeProblem p =
        c.kernel == "mla" ? att::make_mla_problem(c.lens, c.s_q, c.n_h, scale, case_seed)
                          : att::make_gqa_problem(c.lens, c.s_q, c.n_h, c.n_kv, c.d, scale, case_seed);
    const att::SplitSchedule s =
        c.unsplit
            ? att::make_unsplit_schedule(c.lens)
            : att::make_split_schedule(c.lens, schedule_options(p, c.sms_override ? c.sms_override : sms));
    std::printf("check case %d %s: start\n", i, variant.c_str());
    watchdog.arm("check case " + std::to_string(i) + " " + variant);
    // Values go up as bf16 bit patterns (the host floats are bf16-exact).
    auto upload_bf16 = [](DeviceArray<__nv_bfloat16>& dst, const std::vector<float>& src) {
      const auto bits = bits_of(src);
      dst.resize(bits.size());
      MLASIM_CUDA_CHECK(cudaMemcpy(dst.get(), bits.data(), bits.size() * 2, cudaMemcpyHostToDevice));
    };
    upload_bf16(d.q, p.q);
    upload_bf16(d.k, p.k);
    if (!is_mla(p)) upload_bf16(d.v, p.v);
    const DecodeArgs a = prepare(d, p, s);
    d.out.poison();
    d.lse.poison();
    d.part_o.poison();
    d.part_lse.poison();
    launch(p, a, nullptr);
    MLASIM_CUDA_CHECK_LAUNCH();
    MLASIM_CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<std::uint16_t> out_bits(d.out.size());
    MLASIM_CUDA_CHECK(cudaMemcpy(out_bits.data(), d.out.get(), out_bits.size() * 2, cudaMemcpyDeviceToHost));
    const std::vector<float> out = att::from_bf16_bits(out_bits);
    const std::vector<float> lse = d.lse.download();
    watchdog.disarm();
    size_t nonfinite = 0;
    for (const float x : out) nonfinite += std::isfinite(x) ? 0 : 1;
    for (const float x : lse) nonfinite += std::isfinite(x) ? 0 : 1;
    const auto ref = att::decode_reference(p);
    const double err = att::relative_l2_error(out, ref.out);
    double lse_err = 0.0;
    for (size_t j = 0; j < lse.size(); ++j)
      lse_err = std::max(lse_err, std::abs(static_cast<double>(lse[j]) - ref.lse[j]));
    if (!std::isfinite(lse_err)) lse_err = INFINITY;
    const bool ok = nonfinite == 0 && err <= 1e-2 && lse_err <= 1e-2;
    ++outcome.run;
    if (!ok) {
      ++outcome.failed;
      outcome.failed_variants.insert(variant);
    }
    att::CheckRow row;
    row.kernel = c.kernel;
    row.batch = p.batch;
    std::ostringstream lens;
    for (size_t j = 0; j < c.lens.size(); ++j) lens << (j ? " " : "") << c.lens[j];
    row.lens = lens.str();
    row.s_q = c.s_q;
    row.n_h = c.n_h;
    row.n_kv = c.n_kv;
    row.d = c.d;
    row.splits_max = s.max_splits_per_seq;
    row.segments = s.num_segments;
    row.rel_l2_error = err;
    row.lse_max_abs_error = lse_err;
    row.nonfinite_outputs = static_cast<long long>(nonfinite);
    row.pass = ok;
    att::write_check_row(csv, row);
    std::printf(
        "check case %d %s B=%d s_q=%d n_h=%d n_kv=%d splits<=%d: rel_err %.2e lse_err %.2e nonfinite %zu "
        "%s\n",
        i, variant.c_str(), p.batch, c.s_q, c.n_h, c.n_kv, s.max_splits_per_seq, err, lse_err, nonfinite,
        ok ? "ok" : "FAILED");
    deadline.note_point(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    // The variant's verdict once its last selected case ran (cases are grouped by variant).
    const bool last_of_variant =
        n + 1 == chosen.size() || att::variant_id(cases[static_cast<size_t>(chosen[n + 1])].kernel,
                                                  cases[static_cast<size_t>(chosen[n + 1])].d) != variant;
    if (last_of_variant && incomplete.count(variant) == 0) {
      std::printf("check variant %s: %s\n", variant.c_str(),
                  outcome.failed_variants.count(variant) ? "FAILED" : "pass");
    }
  }
  if (!csv.close()) std::fprintf(stderr, "%s: cannot write %s\n", kProgram, csv.path().c_str());
  return outcome;
}

// ------------------------------------------------------------------ timing

struct Summary {
  double copy_gbps = 0.0;
  double mla_gbps[3] = {0, 0, 0};      // b128 ctx4096 uniform s_q 1, h_q 16/32/64
  double mla_tflops_h128[2] = {0, 0};  // s_q 1, 2
  double gqa_gbps = 0.0;               // b64 ctx4096 (64, 8, 128)
};

double time_copy(const Options& opt, L2Flusher& flusher, Watchdog& watchdog) {
  const size_t bytes = size_t(1) << 31;  // 2 GiB copied: 2 GiB read + 2 GiB written
  watchdog.arm("copy");
  DeviceArray<unsigned char> src(bytes), dst(bytes);
  MLASIM_CUDA_CHECK(cudaMemset(src.get(), 0x5a, bytes));
  TimingOptions t;
  t.warmup = opt.warmup;
  t.repeats = opt.repeats;
  const TimingStats st = time_on_gpu(
      [&](cudaStream_t s) {
        MLASIM_CUDA_CHECK(cudaMemcpyAsync(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice, s));
      },
      t, &flusher);
  watchdog.disarm();
  att::CopyRow row;
  row.bytes_copied = static_cast<long long>(bytes);
  row.bytes_moved = static_cast<long long>(2 * bytes);
  row.median_us = st.median_s * 1e6;
  row.p90_us = st.p90_s * 1e6;
  row.min_us = st.min_s * 1e6;
  row.repeats = st.repeats;
  row.gbps = 2.0 * static_cast<double>(bytes) / st.median_s / 1e9;
  CsvWriter csv(opt.out_dir + "/copy.csv", att::copy_csv_columns(), opt.csv_mode());
  att::write_copy_row(csv, row);
  if (!csv.close()) std::fprintf(stderr, "%s: cannot write %s\n", kProgram, csv.path().c_str());
  std::printf("copy: %.1f GB/s (bytes read + written, median of %d)\n", row.gbps, st.repeats);
  return row.gbps;
}

std::vector<int> grid_lens(int batch, int ctx, bool variable, std::uint64_t seed) {
  if (!variable) return std::vector<int>(size_t(batch), ctx);
  // Variable: uniform in [ctx/2, 3ctx/2], so the mean context is about ctx.
  return att::random_context_lens(batch, std::max(2, ctx / 2), ctx + ctx / 2, seed);
}

struct GridOutcome {
  int points = 0;             ///< in the grid
  int timed = 0;              ///< rows written
  int marked_failed = 0;      ///< rows written with check = FAILED
  int nonfinite = 0;          ///< points whose output held non-finite values (marked FAILED)
  int skipped_deadline = 0;   ///< selected points not run because the deadline came
  int skipped_too_large = 0;  ///< KV cache above --max-kv-gib
  int not_selected = 0;       ///< before --first-point or of a variant not in --variants
};

GridOutcome time_grid(const Options& opt, int sms, L2Flusher& flusher, std::uint64_t seed, double copy_gbps,
                      const std::set<std::string>& failed_variants, Deadline& deadline, Watchdog& watchdog,
                      Summary& sum) {
  TimingOptions t;
  t.warmup = opt.warmup;
  t.repeats = opt.repeats;
  CsvWriter mla_csv(opt.out_dir + "/mla_decode.csv", att::timing_csv_columns(), opt.csv_mode());
  CsvWriter gqa_csv(opt.out_dir + "/gqa_decode.csv", att::timing_csv_columns(), opt.csv_mode());
  DeviceProblem d;
  const std::vector<att::GridPoint> grid = att::timing_grid(opt.quick);
  GridOutcome outcome;
  outcome.points = static_cast<int>(grid.size());
  std::string kv_key;  // KV values are refilled when (kernel, batch, context, lengths, shape) changes

  for (int index = 0; index < static_cast<int>(grid.size()); ++index) {
    const att::GridPoint& g = grid[static_cast<size_t>(index)];
    const std::string variant = g.variant();
    if (index < opt.first_point || !opt.selected(variant)) {
      ++outcome.not_selected;
      continue;
    }
    if (deadline.too_late_for_next_point()) {
      ++outcome.skipped_deadline;
      continue;
    }
    const att::GridShape sh = g.shape;
    const auto lens =
        grid_lens(g.batch, g.ctx, g.variable, seed + static_cast<std::uint64_t>(g.batch * 131 + g.ctx));
    att::DecodeProblem p;  // shapes and page table only: the values are generated on the device
    p.batch = g.batch;
    p.s_q = g.s_q;
    p.n_q_heads = sh.n_h;
    p.n_kv_heads = sh.n_kv;
    p.d_qk = sh.d;
    p.d_v = g.kernel == "mla" ? att::kMlaVDim : sh.d;
    p.v_in_k = g.kernel == "mla";
    p.softmax_scale =
        g.kernel == "mla" ? 1.0f / std::sqrt(192.0f) : 1.0f / std::sqrt(static_cast<float>(sh.d));
    p.pages = att::build_page_table(lens, att::kPageTokens, seed + static_cast<std::uint64_t>(g.ctx));
    const long long sum_ctx = p.total_context();
    const size_t kv_elems = size_t(p.pages.num_pages) * att::kPageTokens * sh.n_kv * sh.d;
    const double kv_bytes = static_cast<double>(kv_elems) * 2.0 * (p.v_in_k ? 1.0 : 2.0);
    if (kv_bytes > opt.max_kv_gib * 1073741824.0) {
      std::printf("skip point %d %s B=%d ctx=%d (%d,%d,%d): KV cache %.1f GiB > --max-kv-gib %.0f\n", index,
                  variant.c_str(), g.batch, g.ctx, sh.n_h, sh.n_kv, sh.d, kv_bytes / 1073741824.0,
                  opt.max_kv_gib);
      ++outcome.skipped_too_large;
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    char what[160];
    std::snprintf(what, sizeof what, "point %d %s B=%d ctx=%d %s s_q=%d n_h=%d n_kv=%d", index,
                  variant.c_str(), g.batch, g.ctx, g.variable ? "variable" : "uniform", g.s_q, sh.n_h,
                  sh.n_kv);
    std::printf("%s: start\n", what);
    watchdog.arm(what);
    d.q.resize(size_t(g.batch) * g.s_q * sh.n_h * sh.d);
    fill_random(d.q.get(), d.q.size(), seed ^ 0x51ull ^ static_cast<std::uint64_t>(g.s_q * 1000 + sh.n_h));
    const std::string key = g.kernel + " " + std::to_string(g.batch) + " " + std::to_string(g.ctx) + " " +
                            (g.variable ? "v" : "u") + " " + std::to_string(sh.n_kv) + " " +
                            std::to_string(sh.d);
    // New KV values per (kernel, batch, context, lengths, KV shape); MLA reuses them across heads and s_q.
    if (key != kv_key || d.k.size() < kv_elems || g.kernel == "gqa") {
      d.k.resize(kv_elems);
      fill_random(d.k.get(), kv_elems, seed ^ 0x4bull);
      if (!p.v_in_k) {
        d.v.resize(kv_elems);
        fill_random(d.v.get(), kv_elems, seed ^ 0x56ull);
      }
      kv_key = key;
    }
    const att::SplitSchedule s = att::make_split_schedule(lens, schedule_options(p, sms));
    const DecodeArgs a = prepare(d, p, s);
    d.out.poison();
    LaunchInfo info;
    const TimingStats st =
        time_on_gpu([&](cudaStream_t stream) { info = launch(p, a, stream); }, t, &flusher);
    MLASIM_CUDA_CHECK(cudaDeviceSynchronize());
    const unsigned long long bad = nonfinite_on_device(d.out.get(), d.out.size());
    watchdog.disarm();
    if (bad != 0) {
      // Recorded, not fatal: the row is written and marked FAILED, and the grid goes on.
      std::printf("point %d %s: %llu outputs not written or not finite; row marked %s\n", index,
                  variant.c_str(), bad, att::kCheckFailed);
      ++outcome.nonfinite;
    }
    const att::TimingRow row = att::timing_row(g, sum_ctx, st.median_s, st.p90_s, st.min_s, st.repeats,
                                               copy_gbps, s, info.attention_ctas, info.combine_ctas,
                                               bad == 0 && failed_variants.count(variant) == 0);
    att::write_timing_row(g.kernel == "mla" ? mla_csv : gqa_csv, row);
    ++outcome.timed;
    if (!row.check_passed) ++outcome.marked_failed;
    deadline.note_point(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (row.check_passed && g.kernel == "mla" && g.batch == 128 && g.ctx == 4096 && !g.variable) {
      if (g.s_q == 1 && sh.n_h <= 64) sum.mla_gbps[sh.n_h == 16 ? 0 : sh.n_h == 32 ? 1 : 2] = row.gbps;
      if (sh.n_h == 128) sum.mla_tflops_h128[g.s_q - 1] = row.tflops;
    }
    if (row.check_passed && g.kernel == "gqa" && g.batch == 64 && g.ctx == 4096 && sh.n_h == 64 &&
        sh.n_kv == 8 && sh.d == 128) {
      sum.gqa_gbps = row.gbps;
    }
  }
  if (!mla_csv.close() || !gqa_csv.close()) {
    std::fprintf(stderr, "%s: cannot write the timing CSVs under %s\n", kProgram, opt.out_dir.c_str());
  }
  return outcome;
}

/// Dense bf16 tensor-core peak from the datasheet, for the devices whose name says which part it is; 0 when
/// unknown (the summary then prints TFLOP/s only). H100 SXM and H200 (SXM) share 989 TFLOP/s dense bf16.
double datasheet_dense_bf16_tflops(const std::string& device_name) {
  if (device_name == "NVIDIA H100 80GB HBM3" || device_name == "NVIDIA H200") return 989.0;
  return 0.0;
}

void print_summary(const std::string& device, const Summary& sum) {
  auto gbps = [](double v) {
    char b[32];
    if (v > 0)
      std::snprintf(b, sizeof b, "%8.1f GB/s", v);
    else
      std::snprintf(b, sizeof b, "%13s", "not measured");
    return std::string(b);
  };
  std::printf("\nsummary (%s)\n", device.c_str());
  std::printf("  copy (d2d, read+write)                         %s\n", gbps(sum.copy_gbps).c_str());
  const int heads[3] = {16, 32, 64};
  for (int i = 0; i < 3; ++i) {
    std::printf("  MLA b128 ctx4096 s_q1 h_q%-3d                    %s  (%5.1f%% of copy; goal >= 90%%)\n",
                heads[i], gbps(sum.mla_gbps[i]).c_str(),
                sum.copy_gbps > 0 ? 100.0 * sum.mla_gbps[i] / sum.copy_gbps : 0.0);
  }
  const double peak = datasheet_dense_bf16_tflops(device);
  for (int s = 0; s < 2; ++s) {
    if (peak > 0) {
      std::printf(
          "  MLA b128 ctx4096 s_q%d h_q128                    %8.1f TFLOP/s (%5.1f%% of %.0f, datasheet "
          "dense "
          "bf16 of this part; goal >= 60%%)\n",
          s + 1, sum.mla_tflops_h128[s], 100.0 * sum.mla_tflops_h128[s] / peak, peak);
    } else {
      std::printf("  MLA b128 ctx4096 s_q%d h_q128                    %8.1f TFLOP/s\n", s + 1,
                  sum.mla_tflops_h128[s]);
    }
  }
  std::printf("  GQA b64 ctx4096 (64,8,128)                     %s  (%5.1f%% of copy)\n",
              gbps(sum.gqa_gbps).c_str(), sum.copy_gbps > 0 ? 100.0 * sum.gqa_gbps / sum.copy_gbps : 0.0);
}

// ------------------------------------------------------------------ options

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", kProgram, message.c_str());
  std::exit(2);
}

int parse_int(const char* s, const char* name) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < 0 || v > 1000000) {
    usage_error(std::string(name) + " expects a non-negative integer, got '" + s + "'");
  }
  return static_cast<int>(v);
}

double parse_seconds(const char* s, const char* name) {
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (end == s || *end != '\0' || !(v >= 0.0) || v > 1e6) {
    usage_error(std::string(name) + " expects a non-negative number of seconds, got '" + s + "'");
  }
  return v;
}

/// A comma-separated list of variant ids, each one of known_variants().
std::set<std::string> parse_variants(const char* s, const char* name) {
  std::set<std::string> out;
  std::stringstream ss(s);
  std::string item;
  const auto known = att::known_variants();
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    if (std::find(known.begin(), known.end(), item) == known.end()) {
      usage_error(std::string(name) + ": unknown variant '" + item +
                  "' (known: mla-d576, gqa-d128, gqa-d64)");
    }
    out.insert(item);
  }
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  bool variants_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--out")
      o.out_dir = value();
    else if (arg == "--git-rev")
      o.git_rev = value();
    else if (arg == "--command")
      o.command = value();
    else if (arg == "--extra-yaml")
      o.extra_yaml_file = value();
    else if (arg == "--check-only")
      o.check_only = true;
    else if (arg == "--time-only")
      o.time_only = true;
    else if (arg == "--check-case")
      o.check_case = parse_int(value(), "--check-case");
    else if (arg == "--variants") {
      o.variants = parse_variants(value(), "--variants");
      variants_given = true;
    } else if (arg == "--failed-variants")
      o.failed_variants = parse_variants(value(), "--failed-variants");
    else if (arg == "--first-point")
      o.first_point = parse_int(value(), "--first-point");
    else if (arg == "--append")
      o.append = true;
    else if (arg == "--deadline-s")
      o.deadline_s = parse_seconds(value(), "--deadline-s");
    else if (arg == "--point-timeout-s")
      o.point_timeout_s = parse_seconds(value(), "--point-timeout-s");
    else if (arg == "--quick")
      o.quick = true;
    else if (arg == "--warmup")
      o.warmup = parse_int(value(), "--warmup");
    else if (arg == "--repeats")
      o.repeats = std::max(1, parse_int(value(), "--repeats"));
    else if (arg == "--max-kv-gib")
      o.max_kv_gib = parse_int(value(), "--max-kv-gib");
    else {
      usage_error("unknown option '" + arg +
                  "' (known: --out --git-rev --command --extra-yaml --check-only "
                  "--time-only --check-case --variants --failed-variants --first-point --append --deadline-s "
                  "--point-timeout-s --quick --warmup --repeats --max-kv-gib)");
    }
  }
  if (o.check_case >= 0) {
    if (o.check_case >= static_cast<int>(all_check_cases().size())) {
      usage_error("--check-case " + std::to_string(o.check_case) + " is out of range (0.." +
                  std::to_string(all_check_cases().size() - 1) + ")");
    }
    o.check_only = true;
  }
  if (o.check_only && o.time_only) usage_error("--check-only and --time-only exclude each other");
  if (variants_given && o.variants.empty()) usage_error("--variants: empty list");
  return o;
}

}  // namespace

int run(int argc, char** argv) {
  // Line-buffered stdout even into a pipe or a file: the progress lines must be out before a crash or a kill.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const Options opt = parse(argc, argv);
  Deadline deadline(opt.deadline_s);
  require_gpu(kProgram);
  const DeviceFingerprint fp = read_fingerprint(0);
  std::string extra;
  if (!opt.extra_yaml_file.empty()) {
    std::ifstream in(opt.extra_yaml_file);
    std::stringstream ss;
    ss << in.rdbuf();
    extra = ss.str();
  }
  ::mkdir(opt.out_dir.c_str(), 0755);  // one level, like mlasim_probes; an existing folder is fine
  const std::string fp_path = opt.out_dir + "/fingerprint.yaml";
  const bool keep_fingerprint = opt.append && std::ifstream(fp_path).good();  // a restart keeps the first one
  if (!keep_fingerprint && !write_fingerprint_yaml(fp_path, fp, opt.git_rev, opt.command, extra)) {
    std::fprintf(stderr, "%s: cannot write %s\n", kProgram, fp_path.c_str());
    return 1;
  }
  std::printf("device: %s, %d SMs, cc %d.%d\n", fp.name.c_str(), fp.sms, fp.cc_major, fp.cc_minor);
  // Fresh random inputs every run (the seed is logged so that a failure can be replayed).
  const std::uint64_t seed = std::random_device{}() * 0x100000001ull ^ std::random_device{}();
  std::printf("seed: %llu\n", static_cast<unsigned long long>(seed));
  Watchdog watchdog(opt.point_timeout_s);

  std::set<std::string> failed_variants = opt.failed_variants;
  bool check_failed_here = false;
  if (!opt.time_only) {
    const CheckOutcome c = run_checks(opt, fp.sms, seed, deadline, watchdog);
    failed_variants.insert(c.failed_variants.begin(), c.failed_variants.end());
    check_failed_here = c.failed > 0;
    std::string failed_list;
    for (const auto& v : c.failed_variants) failed_list += (failed_list.empty() ? "" : ",") + v;
    std::printf("checks: %d run, %d failed%s%s, %d skipped at the deadline\n", c.run, c.failed,
                failed_list.empty() ? "" : ": ", failed_list.c_str(), c.skipped_deadline);
    if (check_failed_here) {
      std::fprintf(stderr, "%s: a kernel disagrees with the CPU reference (check.csv); %s\n", kProgram,
                   opt.check_only ? "no timings requested" : "its timing rows will say check = FAILED");
    }
    if (opt.check_only) {
      std::printf("done: checks=%d failed=%d skipped_deadline=%d\n", c.run, c.failed, c.skipped_deadline);
      if (check_failed_here) return 1;
      return c.skipped_deadline > 0 ? kExitDeadline : 0;
    }
  }
  L2Flusher flusher;
  Summary sum;
  sum.copy_gbps = time_copy(opt, flusher, watchdog);
  const GridOutcome g =
      time_grid(opt, fp.sms, flusher, seed, sum.copy_gbps, failed_variants, deadline, watchdog, sum);
  print_summary(fp.name, sum);
  std::printf(
      "done: points=%d timed=%d marked_failed=%d nonfinite=%d skipped_deadline=%d skipped_too_large=%d "
      "not_selected=%d\n",
      g.points, g.timed, g.marked_failed, g.nonfinite, g.skipped_deadline, g.skipped_too_large,
      g.not_selected);
  if (g.skipped_deadline > 0) {
    std::printf("deadline: stopped taking points after %.0f s; %d of the selected points skipped\n",
                deadline.elapsed_s(), g.skipped_deadline);
  }
  if (check_failed_here || g.nonfinite > 0) return 1;
  return g.skipped_deadline > 0 ? kExitDeadline : 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mlasim_attention_bench: internal error: %s\n", e.what());
    return 1;
  }
}
