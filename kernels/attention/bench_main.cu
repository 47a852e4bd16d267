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
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/attention/bench_check.hpp"
#include "kernels/attention/bench_csv.hpp"
#include "kernels/attention/bench_fill.hpp"
#include "kernels/attention/bench_grid.hpp"
#include "kernels/attention/bench_registry.cuh"
#include "kernels/attention/bench_summary.hpp"
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
  std::set<std::string>
      skip_at_first_point;        ///< variants not rerun at --first-point (they ran before a crash)
  std::string peer_inputs_dir;    ///< non-empty: write peer_inputs.csv and block tables there (peers.py)
  bool list_variants = false;     ///< print the compiled variants' ids and exit (no GPU needed)
  bool summarize = false;         ///< write best.csv and print the summary from the CSVs in --out (no GPU)
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

/// Random bf16 in [-1, 1), never zero: bench_fill.hpp's hash of (seed, index), which peers.py reproduces.
__global__ void fill_random_bf16(__nv_bfloat16* p, size_t n, std::uint64_t seed) {
  auto* raw = reinterpret_cast<std::uint16_t*>(p);
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    raw[i] = att::fill_bf16_bits(seed, i);
  }
}

/// bench_fill.hpp's FillChecksum of a bf16 tensor: sums[0] += bits, sums[1] += bits x weight(index).
__global__ void checksum_bf16(const __nv_bfloat16* p, size_t n, unsigned long long* sums) {
  const auto* raw = reinterpret_cast<const std::uint16_t*>(p);
  unsigned long long s0 = 0, s1 = 0;
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    const unsigned long long b = raw[i];
    s0 += b;
    s1 += b * att::checksum_weight(i);
  }
  atomicAdd(&sums[0], s0);
  atomicAdd(&sums[1], s1);
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

att::FillChecksum checksum_on_device(const __nv_bfloat16* p, size_t n) {
  DeviceArray<unsigned long long> c(2);
  MLASIM_CUDA_CHECK(cudaMemset(c.get(), 0, 2 * sizeof(unsigned long long)));
  checksum_bf16<<<1024, 256>>>(p, n, c.get());
  MLASIM_CUDA_CHECK_LAUNCH();
  const auto v = c.download();
  att::FillChecksum out;
  out.sum0 = v[0];
  out.sum1 = v[1];
  return out;
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

att::ScheduleOptions schedule_options(const DecodeVariant& v, const att::DecodeProblem& p, int sms) {
  return att::variant_schedule_options(v, p.s_q, p.n_q_heads, p.n_kv_heads, sms);
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

// ------------------------------------------------------------------ checks

struct CheckCase {
  std::string kernel;
  std::vector<int> lens;  ///< small cases: the lengths; large cases: empty (batch, lo, hi below)
  int s_q, n_h, n_kv, d;
  int sms_override;  ///< 0: the device's SMs; otherwise forces more (small) or fewer splits
  bool unsplit;
  // Large cases (checked on sampled rows, inputs filled on the device): batch and lengths in [lo, hi].
  bool large = false;
  int batch = 0, lo = 0, hi = 0;
};

/// Every check case; indices are what --check-case takes. Cases 0..11 are small (every output row compared
/// with the reference), grouped by kernel; 12.. are large (B = 64/128, contexts up to 32k, scattered pages,
/// the device's real split schedule), compared on sampled rows. A case runs for every variant of its kernel
/// that applies to its shape.
std::vector<CheckCase> all_check_cases() {
  std::vector<CheckCase> c = {
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
  auto large = [&](const char* kernel, int batch, int lo, int hi, int s_q, int n_h, int n_kv, int d) {
    CheckCase k{kernel, {}, s_q, n_h, n_kv, d, 0, false};
    k.large = true;
    k.batch = batch;
    k.lo = lo;
    k.hi = hi;
    c.push_back(k);
  };
  large("mla", 128, 32768, 32768, 1, 16, 1, 576);  // 12: 4.5 GiB cache, long splits
  large("mla", 128, 2048, 6144, 2, 128, 1, 576);   // 13: compute-bound shape, variable lengths, causal s_q 2
  large("mla", 64, 8192, 24576, 2, 64, 1, 576);    // 14
  large("gqa", 128, 32768, 32768, 1, 64, 8, 128);  // 15: Llama-3-70B at 32k, 16 GiB of K+V
  large("gqa", 128, 4096, 12288, 1, 71, 1, 64);    // 16: Falcon MQA, 5 row blocks
  large("gqa", 64, 8192, 8192, 1, 32, 32, 128);    // 17: MHA, 8 GiB
  return c;
}

/// Indices of the cases a run checks. --quick keeps 4 small ones that cover both kernels (MLA s_q 2 split,
/// MLA h_q 128, GQA group 4 s_q 2, Falcon MQA d 64) and one large case per kernel (12, 15).
std::vector<int> selected_check_cases(const Options& opt, const std::vector<CheckCase>& cases) {
  if (opt.check_case >= 0) return {opt.check_case};
  if (opt.quick) return {1, 3, 7, 9, 12, 15};
  std::vector<int> v;
  for (int i = 0; i < static_cast<int>(cases.size()); ++i) v.push_back(i);
  return v;
}

bool case_applies(const DecodeVariant& v, const CheckCase& c) {
  return att::variant_runs(v, c.kernel, c.n_h, c.n_kv, c.d, c.s_q);
}

struct CheckOutcome {
  std::set<std::string> failed_variants;
  int run = 0, failed = 0, skipped_deadline = 0, skipped_memory = 0;
};

/// The result of one case before it becomes a check.csv row.
struct CaseResult {
  int batch = 0;
  std::string lens;
  int splits_max = 0, segments = 0;
  long long rows_checked = 0;
  double err = 0.0, lse_err = 0.0;
  size_t nonfinite = 0;
};

float softmax_scale_of(const std::string& kernel, int d) {
  return kernel == "mla" ? 1.0f / std::sqrt(192.0f) : 1.0f / std::sqrt(static_cast<float>(d));
}

/// Poisons every output buffer with NaN, runs the variant once and waits for it: what is not NaN afterwards
/// was written by this launch.
void launch_poisoned(const DecodeVariant& v, DeviceProblem& d, const DecodeArgs& a) {
  d.out.poison();
  d.lse.poison();
  d.part_o.poison();
  d.part_lse.poison();
  v.launch(a, nullptr);
  MLASIM_CUDA_CHECK_LAUNCH();
  MLASIM_CUDA_CHECK(cudaDeviceSynchronize());
}

/// A small case: host-generated inputs, every output row compared with decode_reference.
CaseResult run_small_case(const DecodeVariant& v, const CheckCase& c, int sms, std::uint64_t case_seed,
                          DeviceProblem& d) {
  const float scale = softmax_scale_of(c.kernel, c.d);
  att::DecodeProblem p = c.kernel == "mla"
                             ? att::make_mla_problem(c.lens, c.s_q, c.n_h, scale, case_seed)
                             : att::make_gqa_problem(c.lens, c.s_q, c.n_h, c.n_kv, c.d, scale, case_seed);
  // NaN in every cache slot past a sequence's end: a kernel must never let them reach its output.
  att::poison_unused_slots(p);
  const att::SplitSchedule s =
      c.unsplit
          ? att::make_unsplit_schedule(c.lens)
          : att::make_split_schedule(c.lens, schedule_options(v, p, c.sms_override ? c.sms_override : sms));
  // Values go up as bf16 bit patterns (the host floats are bf16-exact).
  auto upload_bf16 = [](DeviceArray<__nv_bfloat16>& dst, const std::vector<float>& src) {
    const auto bits = att::to_bf16_bits(src);
    dst.resize(bits.size());
    MLASIM_CUDA_CHECK(cudaMemcpy(dst.get(), bits.data(), bits.size() * 2, cudaMemcpyHostToDevice));
  };
  upload_bf16(d.q, p.q);
  upload_bf16(d.k, p.k);
  if (!is_mla(p)) upload_bf16(d.v, p.v);
  const DecodeArgs a = prepare(d, p, s);
  launch_poisoned(v, d, a);
  std::vector<std::uint16_t> out_bits(d.out.size());
  MLASIM_CUDA_CHECK(cudaMemcpy(out_bits.data(), d.out.get(), out_bits.size() * 2, cudaMemcpyDeviceToHost));
  const std::vector<float> out = att::from_bf16_bits(out_bits);
  const std::vector<float> lse = d.lse.download();
  CaseResult r;
  for (const float x : out) r.nonfinite += std::isfinite(x) ? 0 : 1;
  for (const float x : lse) r.nonfinite += std::isfinite(x) ? 0 : 1;
  const auto ref = att::decode_reference(p);
  r.err = att::relative_l2_error(out, ref.out);
  for (size_t j = 0; j < lse.size(); ++j)
    r.lse_err = std::max(r.lse_err, std::abs(static_cast<double>(lse[j]) - ref.lse[j]));
  if (!std::isfinite(r.lse_err)) r.lse_err = INFINITY;
  r.batch = p.batch;
  std::ostringstream lens;
  for (size_t j = 0; j < c.lens.size(); ++j) lens << (j ? " " : "") << c.lens[j];
  r.lens = lens.str();
  r.splits_max = s.max_splits_per_seq;
  r.segments = s.num_segments;
  r.rows_checked = static_cast<long long>(p.batch) * c.s_q * c.n_h;
  return r;
}

/// Bytes a large case needs on the device (inputs, outputs, partials; the partials sized generously).
double large_case_bytes(const CheckCase& c) {
  const double tokens = static_cast<double>(c.batch) * (c.hi + att::kPageTokens);
  const double kv = tokens * c.n_kv * c.d * 2.0 * (c.kernel == "mla" ? 1.0 : 2.0);
  const double rows = static_cast<double>(c.batch) * c.s_q * c.n_h;
  const int d_v = c.kernel == "mla" ? att::kMlaVDim : c.d;
  return kv + rows * (c.d * 2.0 + d_v * 2.0 + 4.0) + 4.0 * rows * (d_v + 1.0) * 4.0;
}

/// A large case: inputs filled on the device (bench_fill.hpp), the whole output checked for non-finite
/// values, a deterministic sample of rows (bench_check.hpp) compared with the double reference of that row,
/// computed from the sequence's pages as the device holds them.
CaseResult run_large_case(const DecodeVariant& v, const CheckCase& c, int sms, std::uint64_t case_seed,
                          DeviceProblem& d) {
  const bool mla = c.kernel == "mla";
  const std::vector<int> lens = c.lo == c.hi ? std::vector<int>(size_t(c.batch), c.lo)
                                             : att::random_context_lens(c.batch, c.lo, c.hi, case_seed);
  att::DecodeProblem p;  // shape and pages only: the values are generated on the device
  p.batch = c.batch;
  p.s_q = c.s_q;
  p.n_q_heads = c.n_h;
  p.n_kv_heads = c.n_kv;
  p.d_qk = c.d;
  p.d_v = mla ? att::kMlaVDim : c.d;
  p.v_in_k = mla;
  p.softmax_scale = softmax_scale_of(c.kernel, c.d);
  p.pages = att::build_page_table(lens, att::kPageTokens, case_seed);
  const size_t row_elems = size_t(c.n_kv) * c.d;  // one token's K (or V) row in the cache
  const size_t kv_elems = size_t(p.pages.num_pages) * att::kPageTokens * row_elems;
  d.q.resize(size_t(c.batch) * c.s_q * c.n_h * c.d);
  fill_random(d.q.get(), d.q.size(), case_seed ^ 0x51ull);
  d.k.resize(kv_elems);
  fill_random(d.k.get(), kv_elems, case_seed ^ 0x4bull);
  if (!mla) {
    d.v.resize(kv_elems);
    fill_random(d.v.get(), kv_elems, case_seed ^ 0x56ull);
  }
  const att::SplitSchedule s = att::make_split_schedule(lens, schedule_options(v, p, sms));
  const DecodeArgs a = prepare(d, p, s);
  launch_poisoned(v, d, a);
  CaseResult r;
  r.nonfinite = nonfinite_on_device(d.out.get(), d.out.size());
  const std::vector<float> lse = d.lse.download();
  for (const float x : lse) r.nonfinite += std::isfinite(x) ? 0 : 1;

  const int rows_per_seq = c.s_q * c.n_h;
  const std::vector<att::SampledRow> sample =
      att::sample_rows(c.batch, rows_per_seq, mla ? 4 : 6, mla ? 3 : 4, case_seed);
  att::SampledCheckShape sh;
  sh.batch = c.batch;
  sh.s_q = c.s_q;
  sh.n_h = c.n_h;
  sh.n_kv = c.n_kv;
  sh.d_qk = c.d;
  sh.d_v = p.d_v;
  sh.v_in_k = mla;
  sh.softmax_scale = p.softmax_scale;
  // Pages and rows straight from the device: the reference sees exactly what the kernel read.
  const att::SampledCheckResult sc = att::check_sampled_rows(
      sh, p.pages, sample, lse,
      [&](int cache, int phys, std::uint16_t* dst) {
        const size_t elems = size_t(att::kPageTokens) * row_elems;  // MLA: V is K's first 512 (cache 0 only)
        const __nv_bfloat16* src = cache == 0 ? d.k.get() : d.v.get();
        MLASIM_CUDA_CHECK(cudaMemcpy(dst, src + size_t(phys) * elems, elems * 2, cudaMemcpyDeviceToHost));
      },
      [&](int b, std::uint16_t* q_dst, std::uint16_t* o_dst) {
        MLASIM_CUDA_CHECK(cudaMemcpy(q_dst, d.q.get() + size_t(b) * rows_per_seq * c.d,
                                     size_t(rows_per_seq) * c.d * 2, cudaMemcpyDeviceToHost));
        MLASIM_CUDA_CHECK(cudaMemcpy(o_dst, d.out.get() + size_t(b) * rows_per_seq * p.d_v,
                                     size_t(rows_per_seq) * p.d_v * 2, cudaMemcpyDeviceToHost));
      });
  r.err = sc.rel_l2_error;
  r.lse_err = sc.lse_max_abs_error;
  r.batch = c.batch;
  r.lens = c.lo == c.hi ? "uniform " + std::to_string(c.lo)
                        : "variable " + std::to_string(c.lo) + ".." + std::to_string(c.hi);
  r.splits_max = s.max_splits_per_seq;
  r.segments = s.num_segments;
  r.rows_checked = sc.rows;
  return r;
}

/// Checks every selected, runnable variant on every case that applies to it, variant after variant (so the
/// script can tell which variant a crash belongs to).
CheckOutcome run_checks(const Options& opt, int sms, std::uint64_t seed,
                        const std::vector<const DecodeVariant*>& variants, Deadline& deadline,
                        Watchdog& watchdog) {
  const std::vector<CheckCase> cases = all_check_cases();
  const std::vector<int> chosen = selected_check_cases(opt, cases);
  CsvWriter csv(opt.out_dir + "/check.csv", att::check_csv_columns(), opt.csv_mode());
  CheckOutcome outcome;
  DeviceProblem d;
  for (const DecodeVariant* vp : variants) {
    const DecodeVariant& v = *vp;
    const std::string variant = v.id;
    bool incomplete = false, any = false;
    for (const int i : chosen) {
      const CheckCase& c = cases[static_cast<size_t>(i)];
      if (!case_applies(v, c)) continue;
      if (deadline.too_late_for_next_point(2.0)) {
        std::printf("check case %d %s: skipped (deadline)\n", i, variant.c_str());
        ++outcome.skipped_deadline;
        incomplete = true;
        continue;
      }
      if (c.large) {
        size_t free_b = 0, total_b = 0;
        MLASIM_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
        const double need = large_case_bytes(c);
        if (need > 0.85 * static_cast<double>(free_b)) {
          std::printf("check case %d %s: skipped (needs %.1f GiB, %.1f GiB free)\n", i, variant.c_str(),
                      need / 1073741824.0, static_cast<double>(free_b) / 1073741824.0);
          ++outcome.skipped_memory;
          continue;
        }
      }
      const auto t0 = std::chrono::steady_clock::now();
      const std::uint64_t case_seed = seed + 1000003ull * static_cast<std::uint64_t>(i + 1);
      std::printf("check case %d %s: start\n", i, variant.c_str());
      watchdog.arm("check case " + std::to_string(i) + " " + variant);
      const CaseResult r =
          c.large ? run_large_case(v, c, sms, case_seed, d) : run_small_case(v, c, sms, case_seed, d);
      watchdog.disarm();
      const bool ok = r.nonfinite == 0 && r.err <= 1e-2 && r.lse_err <= 1e-2;
      ++outcome.run;
      any = true;
      if (!ok) {
        ++outcome.failed;
        outcome.failed_variants.insert(variant);
      }
      att::CheckRow row;
      row.kernel = c.kernel;
      row.variant = variant;
      row.batch = r.batch;
      row.lens = r.lens;
      row.s_q = c.s_q;
      row.n_h = c.n_h;
      row.n_kv = c.n_kv;
      row.d = c.d;
      row.splits_max = r.splits_max;
      row.segments = r.segments;
      row.rows_checked = r.rows_checked;
      row.rel_l2_error = r.err;
      row.lse_max_abs_error = r.lse_err;
      row.nonfinite_outputs = static_cast<long long>(r.nonfinite);
      row.pass = ok;
      att::write_check_row(csv, row);
      std::printf(
          "check case %d %s B=%d s_q=%d n_h=%d n_kv=%d splits<=%d rows=%lld: rel_err %.2e lse_err %.2e "
          "nonfinite "
          "%zu %s\n",
          i, variant.c_str(), r.batch, c.s_q, c.n_h, c.n_kv, r.splits_max, r.rows_checked, r.err, r.lse_err,
          r.nonfinite, ok ? "ok" : "FAILED");
      deadline.note_point(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    // The variant's verdict once its cases ran (none ran: no verdict, the script treats it as unchecked).
    if (any && !incomplete) {
      std::printf("check variant %s: %s\n", variant.c_str(),
                  outcome.failed_variants.count(variant) ? "FAILED" : "pass");
    } else if (outcome.failed_variants.count(variant)) {
      std::printf("check variant %s: FAILED\n", variant.c_str());
    }
  }
  if (!csv.close()) std::fprintf(stderr, "%s: cannot write %s\n", kProgram, csv.path().c_str());
  return outcome;
}

// ------------------------------------------------------------------ timing

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
  int skipped_deadline = 0;   ///< (point, variant) pairs not run because the deadline came
  int skipped_too_large = 0;  ///< KV cache above --max-kv-gib
  int not_selected = 0;       ///< before --first-point or no selected, runnable variant applies
};

/// Writes peer_inputs.csv's row of point `index` and its block table (block_table_<index>.bin) for peers.py.
void write_peer_input(CsvWriter& csv, const std::string& dir, int index, int priority,
                      const att::GridPoint& g, const att::DecodeProblem& p, std::uint64_t q_seed,
                      std::uint64_t k_seed, std::uint64_t v_seed, const DeviceProblem& d, size_t kv_elems) {
  att::PeerInputRow r;
  r.point = index;
  r.priority = priority;
  r.kernel = g.kernel;
  r.batch = g.batch;
  r.context = g.ctx;
  r.s_q = g.s_q;
  r.n_h = g.shape.n_h;
  r.n_kv = g.shape.n_kv;
  r.d = g.shape.d;
  r.num_pages = p.pages.num_pages;
  r.max_pages = p.pages.max_pages_per_seq;
  r.softmax_scale = p.softmax_scale;
  r.q_seed = q_seed;
  r.k_seed = k_seed;
  r.v_seed = p.v_in_k ? 0 : v_seed;
  r.q_elems = d.q.size();
  r.kv_elems = kv_elems;
  const att::FillChecksum qs = checksum_on_device(d.q.get(), d.q.size());
  const att::FillChecksum ks = checksum_on_device(d.k.get(), kv_elems);
  r.q_sum0 = qs.sum0;
  r.q_sum1 = qs.sum1;
  r.k_sum0 = ks.sum0;
  r.k_sum1 = ks.sum1;
  if (!p.v_in_k) {
    const att::FillChecksum vs = checksum_on_device(d.v.get(), kv_elems);
    r.v_sum0 = vs.sum0;
    r.v_sum1 = vs.sum1;
  }
  r.block_table_file = "block_table_" + std::to_string(index) + ".bin";
  std::ofstream bt(dir + "/" + r.block_table_file, std::ios::binary);
  bt.write(reinterpret_cast<const char*>(p.pages.block_table.data()),
           static_cast<std::streamsize>(p.pages.block_table.size() * sizeof(std::int32_t)));
  if (!bt)
    std::fprintf(stderr, "%s: cannot write %s/%s\n", kProgram, dir.c_str(), r.block_table_file.c_str());
  att::write_peer_input_row(csv, r);
}

GridOutcome time_grid(const Options& opt, int sms, L2Flusher& flusher, std::uint64_t seed, double copy_gbps,
                      double peak_tflops, const std::vector<const DecodeVariant*>& runnable,
                      const std::set<std::string>& failed_variants, Deadline& deadline, Watchdog& watchdog) {
  TimingOptions t;
  t.warmup = opt.warmup;
  t.repeats = opt.repeats;
  CsvWriter mla_csv(opt.out_dir + "/mla_decode.csv", att::timing_csv_columns(), opt.csv_mode());
  CsvWriter gqa_csv(opt.out_dir + "/gqa_decode.csv", att::timing_csv_columns(), opt.csv_mode());
  std::unique_ptr<CsvWriter> peer_csv;
  if (!opt.peer_inputs_dir.empty()) {
    ::mkdir(opt.peer_inputs_dir.c_str(), 0755);
    peer_csv = std::make_unique<CsvWriter>(opt.peer_inputs_dir + "/peer_inputs.csv",
                                           att::peer_inputs_csv_columns(), opt.csv_mode());
  }
  std::set<std::string> runnable_ids;
  for (const DecodeVariant* v : runnable) runnable_ids.insert(v->id);
  const auto& registry = decode_variants();
  DeviceProblem d;
  const std::vector<att::GridPoint> grid = att::timing_grid(opt.quick);
  GridOutcome outcome;
  outcome.points = static_cast<int>(grid.size());
  std::string kv_key;  // KV values are refilled when (kernel, batch, context, lengths, shape) changes

  for (int index = 0; index < static_cast<int>(grid.size()); ++index) {
    const att::GridPoint& g = grid[static_cast<size_t>(index)];
    const att::GridShape sh = g.shape;
    std::vector<const DecodeVariant*> here =
        att::variants_for_point(registry, g.kernel, sh.n_h, sh.n_kv, sh.d, g.s_q, opt.variants, runnable_ids);
    if (index == opt.first_point && !opt.skip_at_first_point.empty()) {
      // A restart after a crash at this point: the variants that already ran here (or crashed) are not rerun.
      std::vector<const DecodeVariant*> keep;
      for (const DecodeVariant* v : here) {
        if (opt.skip_at_first_point.count(v->id) == 0) keep.push_back(v);
      }
      here = keep;
    }
    if (index < opt.first_point || here.empty()) {
      ++outcome.not_selected;
      continue;
    }
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
    p.softmax_scale = softmax_scale_of(g.kernel, sh.d);
    p.pages = att::build_page_table(lens, att::kPageTokens, seed + static_cast<std::uint64_t>(g.ctx));
    const long long sum_ctx = p.total_context();
    const size_t kv_elems = size_t(p.pages.num_pages) * att::kPageTokens * sh.n_kv * sh.d;
    const double kv_bytes = static_cast<double>(kv_elems) * 2.0 * (p.v_in_k ? 1.0 : 2.0);
    if (kv_bytes > opt.max_kv_gib * 1073741824.0) {
      std::printf("skip point %d %s B=%d ctx=%d (%d,%d,%d): KV cache %.1f GiB > --max-kv-gib %.0f\n", index,
                  g.variant().c_str(), g.batch, g.ctx, sh.n_h, sh.n_kv, sh.d, kv_bytes / 1073741824.0,
                  opt.max_kv_gib);
      ++outcome.skipped_too_large;
      continue;
    }
    const std::uint64_t q_seed = seed ^ 0x51ull ^ static_cast<std::uint64_t>(g.s_q * 1000 + sh.n_h);
    const std::uint64_t k_seed = seed ^ 0x4bull, v_seed = seed ^ 0x56ull;
    bool filled = false;
    for (const DecodeVariant* vp : here) {
      const DecodeVariant& v = *vp;
      const std::string variant = v.id;
      if (deadline.too_late_for_next_point()) {
        ++outcome.skipped_deadline;
        continue;
      }
      const auto t0 = std::chrono::steady_clock::now();
      char what[200];
      std::snprintf(what, sizeof what, "point %d %s B=%d ctx=%d %s s_q=%d n_h=%d n_kv=%d", index,
                    variant.c_str(), g.batch, g.ctx, g.variable ? "variable" : "uniform", g.s_q, sh.n_h,
                    sh.n_kv);
      std::printf("%s: start\n", what);
      watchdog.arm(what);
      if (!filled) {
        d.q.resize(size_t(g.batch) * g.s_q * sh.n_h * sh.d);
        fill_random(d.q.get(), d.q.size(), q_seed);
        const std::string key = g.kernel + " " + std::to_string(g.batch) + " " + std::to_string(g.ctx) + " " +
                                (g.variable ? "v" : "u") + " " + std::to_string(sh.n_kv) + " " +
                                std::to_string(sh.d);
        // New KV values per (kernel, batch, context, lengths, KV shape); MLA reuses them across heads and s_q
        // (element i of a fill depends on (seed, i) only, so a prefix of a larger fill is the smaller fill).
        if (key != kv_key || d.k.size() < kv_elems || g.kernel == "gqa") {
          d.k.resize(kv_elems);
          fill_random(d.k.get(), kv_elems, k_seed);
          if (!p.v_in_k) {
            d.v.resize(kv_elems);
            fill_random(d.v.get(), kv_elems, v_seed);
          }
          kv_key = key;
        }
        const int priority = att::peer_priority(g, opt.quick);
        if (peer_csv && priority >= 0) {
          write_peer_input(*peer_csv, opt.peer_inputs_dir, index, priority, g, p, q_seed, k_seed, v_seed, d,
                           kv_elems);
        }
        filled = true;
      }
      const att::SplitSchedule s = att::make_split_schedule(lens, schedule_options(v, p, sms));
      const DecodeArgs a = prepare(d, p, s);
      d.out.poison();
      LaunchInfo info;
      const TimingStats st =
          time_on_gpu([&](cudaStream_t stream) { info = v.launch(a, stream); }, t, &flusher);
      MLASIM_CUDA_CHECK(cudaDeviceSynchronize());
      const unsigned long long bad = nonfinite_on_device(d.out.get(), d.out.size());
      watchdog.disarm();
      if (bad != 0) {
        // Recorded, not fatal: the row is written and marked FAILED, and the grid goes on.
        std::printf("point %d %s: %llu outputs not written or not finite; row marked %s\n", index,
                    variant.c_str(), bad, att::kCheckFailed);
        ++outcome.nonfinite;
      }
      const att::TimingRow row = att::timing_row(
          g, sum_ctx, st.median_s, st.p90_s, st.min_s, st.repeats, copy_gbps, s, info.attention_ctas,
          info.combine_ctas, bad == 0 && failed_variants.count(variant) == 0, variant, peak_tflops);
      att::write_timing_row(g.kernel == "mla" ? mla_csv : gqa_csv, row);
      ++outcome.timed;
      if (!row.check_passed) ++outcome.marked_failed;
      deadline.note_point(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  if (!mla_csv.close() || !gqa_csv.close()) {
    std::fprintf(stderr, "%s: cannot write the timing CSVs under %s\n", kProgram, opt.out_dir.c_str());
  }
  if (peer_csv && !peer_csv->close()) {
    std::fprintf(stderr, "%s: cannot write %s\n", kProgram, peer_csv->path().c_str());
  }
  return outcome;
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

/// A comma-separated list of variant ids, each one of the registry's (bench_registry.cuh).
std::set<std::string> parse_variants(const char* s, const char* name) {
  try {
    return att::parse_variant_list(s, decode_variants());
  } catch (const std::invalid_argument& e) {
    usage_error(std::string(name) + ": " + e.what());
  }
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
    else if (arg == "--skip-at-first-point")
      o.skip_at_first_point = parse_variants(value(), "--skip-at-first-point");
    else if (arg == "--peer-inputs")
      o.peer_inputs_dir = value();
    else if (arg == "--list-variants")
      o.list_variants = true;
    else if (arg == "--summarize")
      o.summarize = true;
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
                  "--time-only --check-case --variants --failed-variants --skip-at-first-point --first-point "
                  "--append "
                  "--deadline-s --point-timeout-s --quick --warmup --repeats --max-kv-gib --peer-inputs "
                  "--list-variants --summarize)");
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

std::string read_file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Writes best.csv and prints the summary from the CSVs in `dir` (and peers.csv when there). Returns false
/// when best.csv cannot be written.
bool summarize_folder(const std::string& dir, const std::string& device_hint) {
  att::SummaryInputs in;
  in.timing = {att::parse_csv_text(read_file_text(dir + "/mla_decode.csv")),
               att::parse_csv_text(read_file_text(dir + "/gqa_decode.csv"))};
  in.peers = att::parse_csv_text(read_file_text(dir + "/peers.csv"));
  const att::CsvTable copy = att::parse_csv_text(read_file_text(dir + "/copy.csv"));
  if (!copy.rows.empty()) in.copy_gbps = att::cell_number(copy.get(copy.rows.back(), "gbps"));
  in.device = device_hint;
  if (in.device.empty()) {
    // fingerprint.yaml's `device: "NVIDIA H200"` line.
    std::stringstream fp(read_file_text(dir + "/fingerprint.yaml"));
    std::string line;
    while (std::getline(fp, line)) {
      if (line.rfind("device:", 0) == 0) {
        const size_t q0 = line.find('"'), q1 = line.rfind('"');
        if (q0 != std::string::npos && q1 > q0) in.device = line.substr(q0 + 1, q1 - q0 - 1);
        break;
      }
    }
  }
  in.peak_tflops = att::datasheet_dense_bf16_tflops(in.device);
  int none = 0;
  const std::string best = att::best_csv_text(in.timing, &none);
  std::ofstream out(dir + "/best.csv", std::ios::binary);
  out << best;
  out.close();
  std::fputs(att::summary_text(in).c_str(), stdout);
  std::printf("best.csv: %d points, %d without a passing variant\n",
              static_cast<int>(std::count(best.begin(), best.end(), '\n')) - 1, none);
  if (!out) {
    std::fprintf(stderr, "%s: cannot write %s/best.csv\n", kProgram, dir.c_str());
    return false;
  }
  return true;
}

int run(int argc, char** argv) {
  // Line-buffered stdout even into a pipe or a file: the progress lines must be out before a crash or a kill.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const Options opt = parse(argc, argv);
  if (opt.list_variants) {
    // The compiled variants, one id a line (scripts/gpu_measure.sh checks these); no GPU needed.
    for (const DecodeVariant& v : decode_variants()) {
      if (v.compiled) std::printf("%s\n", v.id);
    }
    return 0;
  }
  if (opt.summarize) return summarize_folder(opt.out_dir, "") ? 0 : 1;
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
  // The variants that can run here, in registry order; the selected ones that cannot are named, and the
  // script reads "check variant V: unavailable" as neither passed nor failed.
  std::vector<const DecodeVariant*> runnable;
  for (const DecodeVariant& v : decode_variants()) {
    const std::string why = att::variant_unavailable_reason(v, fp.cc_major, fp.cc_minor);
    if (!opt.selected(v.id)) continue;
    if (why.empty() && v.launch != nullptr) {
      runnable.push_back(&v);
    } else if (v.compiled || !opt.variants.empty()) {
      std::printf("check variant %s: unavailable (%s)\n", v.id, why.empty() ? "no launcher" : why.c_str());
    }
  }
  // Fresh random inputs every run (the seed is logged so that a failure can be replayed).
  const std::uint64_t seed = std::random_device{}() * 0x100000001ull ^ std::random_device{}();
  std::printf("seed: %llu\n", static_cast<unsigned long long>(seed));
  Watchdog watchdog(opt.point_timeout_s);

  std::set<std::string> failed_variants = opt.failed_variants;
  bool check_failed_here = false;
  if (!opt.time_only) {
    const CheckOutcome c = run_checks(opt, fp.sms, seed, runnable, deadline, watchdog);
    failed_variants.insert(c.failed_variants.begin(), c.failed_variants.end());
    check_failed_here = c.failed > 0;
    std::string failed_list;
    for (const auto& v : c.failed_variants) failed_list += (failed_list.empty() ? "" : ",") + v;
    std::printf("checks: %d run, %d failed%s%s, %d skipped at the deadline, %d skipped for memory\n", c.run,
                c.failed, failed_list.empty() ? "" : ": ", failed_list.c_str(), c.skipped_deadline,
                c.skipped_memory);
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
  const double copy_gbps = time_copy(opt, flusher, watchdog);
  const double peak = att::datasheet_dense_bf16_tflops(fp.name);
  const GridOutcome g =
      time_grid(opt, fp.sms, flusher, seed, copy_gbps, peak, runnable, failed_variants, deadline, watchdog);
  summarize_folder(opt.out_dir, fp.name);
  std::printf(
      "done: points=%d timed=%d marked_failed=%d nonfinite=%d skipped_deadline=%d skipped_too_large=%d "
      "not_selected=%d\n",
      g.points, g.timed, g.marked_failed, g.nonfinite, g.skipped_deadline, g.skipped_too_large,
      g.not_selected);
  if (g.skipped_deadline > 0) {
    std::printf("deadline: stopped taking points after %.0f s; %d (point, variant) pairs skipped\n",
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
