// mlasim_attention_bench: checks the decode-attention kernels against the CPU reference on fresh random inputs,
// then times them over the calibration grid and writes CSVs (see kernels/attention/README.md).
//
//   mlasim_attention_bench --out DIR [--git-rev REV] [--command "..."] [--extra-yaml FILE]
//                          [--check-only] [--quick] [--warmup N] [--repeats N] [--max-kv-gib G]
// Exit codes: 0 all checks passed (and timings written), 1 a check failed or internal error, 2 bad arguments,
// 3 no GPU (one line on stderr).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/attention/bf16.hpp"
#include "kernels/attention/decode_kernels.cuh"
#include "kernels/attention/reference.hpp"
#include "kernels/attention/schedule.hpp"
#include "kernels/common/csv.hpp"
#include "kernels/common/cuda_check.cuh"
#include "kernels/common/fingerprint.cuh"
#include "kernels/common/timing.cuh"

namespace att = mlasim::attention;
using namespace mlasim::gpu;

namespace {

struct Options {
  std::string out_dir = ".";
  std::string git_rev = "unknown";
  std::string command;
  std::string extra_yaml_file;
  bool check_only = false;
  bool quick = false;
  int warmup = 3;
  int repeats = 20;
  double max_kv_gib = 32.0;  ///< grid points whose KV cache exceeds this are skipped (logged)
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

bool is_mla(const att::DecodeProblem& p) { return p.v_in_k; }

att::ScheduleOptions schedule_options(const att::DecodeProblem& p, int sms) {
  att::ScheduleOptions o;
  o.num_sms = sms;
  if (is_mla(p)) {
    o.ctas_per_sm = kMlaCtasPerSm;
    o.row_blocks = mla_row_blocks(p.s_q, p.n_q_heads);
  } else {
    o.ctas_per_sm = gqa_ctas_per_sm(p.d_qk);
    o.row_blocks = gqa_row_blocks(p.s_q, p.n_q_heads, p.n_kv_heads);
  }
  return o;
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

std::vector<std::uint16_t> bits_of(const std::vector<float>& v) { return att::to_bf16_bits(v); }

// ------------------------------------------------------------------ checks

struct CheckCase {
  std::string kernel;
  std::vector<int> lens;
  int s_q, n_h, n_kv, d;
  int sms_override;  ///< 0: the device's SMs; otherwise forces more (small) or fewer splits
  bool unsplit;
};

bool run_checks(const Options& opt, int sms, std::uint64_t seed, const std::string& csv_path) {
  std::vector<CheckCase> cases = {
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
  // --quick keeps 4 checks that cover both kernels: MLA s_q 2 split (variable lengths), MLA h_q 128 (4 row blocks),
  // GQA group 4 s_q 2, Falcon MQA d 64 (several row blocks); the quick timing grid times GQA too.
  if (opt.quick) cases = {cases[1], cases[3], cases[7], cases[9]};
  CsvWriter csv(csv_path, {"kernel", "batch", "lens", "s_q", "n_h", "n_kv", "d", "splits_max", "segments",
                           "rel_l2_error", "lse_max_abs_error", "nonfinite_outputs", "pass"});
  bool all_ok = true;
  DeviceProblem d;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const std::uint64_t case_seed = seed + 1000003ull * (i + 1);
    const float scale = c.kernel == "mla" ? 1.0f / std::sqrt(192.0f) : 1.0f / std::sqrt(static_cast<float>(c.d));
    const att::DecodeProblem p = c.kernel == "mla"
                                     ? att::make_mla_problem(c.lens, c.s_q, c.n_h, scale, case_seed)
                                     : att::make_gqa_problem(c.lens, c.s_q, c.n_h, c.n_kv, c.d, scale, case_seed);
    const att::SplitSchedule s = c.unsplit ? att::make_unsplit_schedule(c.lens)
                                           : att::make_split_schedule(c.lens, schedule_options(p, c.sms_override ? c.sms_override : sms));
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
    MLASIM_CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<std::uint16_t> out_bits(d.out.size());
    MLASIM_CUDA_CHECK(cudaMemcpy(out_bits.data(), d.out.get(), out_bits.size() * 2, cudaMemcpyDeviceToHost));
    const std::vector<float> out = att::from_bf16_bits(out_bits);
    const std::vector<float> lse = d.lse.download();
    size_t nonfinite = 0;
    for (const float x : out) nonfinite += std::isfinite(x) ? 0 : 1;
    for (const float x : lse) nonfinite += std::isfinite(x) ? 0 : 1;
    const auto ref = att::decode_reference(p);
    const double err = att::relative_l2_error(out, ref.out);
    double lse_err = 0.0;
    for (size_t j = 0; j < lse.size(); ++j) lse_err = std::max(lse_err, std::abs(static_cast<double>(lse[j]) - ref.lse[j]));
    if (!std::isfinite(lse_err)) lse_err = INFINITY;
    const bool ok = nonfinite == 0 && err <= 1e-2 && lse_err <= 1e-2;
    all_ok = all_ok && ok;
    std::ostringstream lens;
    for (size_t j = 0; j < c.lens.size(); ++j) lens << (j ? " " : "") << c.lens[j];
    csv.cell(c.kernel).cell(p.batch).cell(lens.str()).cell(c.s_q).cell(c.n_h).cell(c.n_kv).cell(c.d)
        .cell(s.max_splits_per_seq).cell(s.num_segments).cell(err).cell(lse_err).cell(static_cast<long long>(nonfinite))
        .cell(ok ? "yes" : "NO");
    csv.end_row();
    std::printf("check %-3s B=%d s_q=%d n_h=%d n_kv=%d d=%d splits<=%d: rel_err %.2e lse_err %.2e nonfinite %zu %s\n",
                c.kernel.c_str(), p.batch, c.s_q, c.n_h, c.n_kv, c.d, s.max_splits_per_seq, err, lse_err, nonfinite,
                ok ? "ok" : "FAILED");
  }
  if (!csv.close()) std::fprintf(stderr, "cannot write %s\n", csv_path.c_str());
  return all_ok;
}

// ------------------------------------------------------------------ timing

struct Summary {
  double copy_gbps = 0.0;
  double mla_gbps[3] = {0, 0, 0};  // b128 ctx4096 uniform s_q 1, h_q 16/32/64
  double mla_tflops_h128[2] = {0, 0};  // s_q 1, 2
  double gqa_gbps = 0.0;           // b64 ctx4096 (64, 8, 128)
};

double time_copy(const Options& opt, L2Flusher& flusher, const std::string& csv_path) {
  const size_t bytes = size_t(1) << 31;  // 2 GiB copied: 2 GiB read + 2 GiB written
  DeviceArray<unsigned char> src(bytes), dst(bytes);
  MLASIM_CUDA_CHECK(cudaMemset(src.get(), 0x5a, bytes));
  TimingOptions t;
  t.warmup = opt.warmup;
  t.repeats = opt.repeats;
  const TimingStats st = time_on_gpu(
      [&](cudaStream_t s) { MLASIM_CUDA_CHECK(cudaMemcpyAsync(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice, s)); },
      t, &flusher);
  const double gbps = 2.0 * static_cast<double>(bytes) / st.median_s / 1e9;
  CsvWriter csv(csv_path, {"op", "bytes_copied", "bytes_moved", "median_us", "p90_us", "min_us", "repeats", "gbps"});
  csv.cell("d2d_copy").cell(static_cast<long long>(bytes)).cell(static_cast<long long>(2 * bytes)).cell(st.median_s * 1e6)
      .cell(st.p90_s * 1e6).cell(st.min_s * 1e6).cell(st.repeats).cell(gbps);
  csv.end_row();
  csv.close();
  std::printf("copy: %.1f GB/s (bytes read + written, median of %d)\n", gbps, st.repeats);
  return gbps;
}

std::vector<int> grid_lens(int batch, int ctx, bool variable, std::uint64_t seed) {
  if (!variable) return std::vector<int>(size_t(batch), ctx);
  // Variable: uniform in [ctx/2, 3ctx/2], so the mean context is about ctx.
  return att::random_context_lens(batch, std::max(2, ctx / 2), ctx + ctx / 2, seed);
}

void time_grid(const Options& opt, int sms, L2Flusher& flusher, std::uint64_t seed, double copy_gbps, Summary& sum) {
  const std::vector<int> batches = opt.quick ? std::vector<int>{1, 128} : std::vector<int>{1, 8, 32, 64, 128};
  const std::vector<int> contexts =
      opt.quick ? std::vector<int>{512, 4096} : std::vector<int>{512, 1024, 2048, 4096, 8192, 16384, 32768};
  TimingOptions t;
  t.warmup = opt.warmup;
  t.repeats = opt.repeats;
  const std::vector<std::string> header{"kernel", "batch", "context", "lengths", "s_q", "n_h", "n_kv", "d",
                                        "sum_context", "flops", "bytes", "median_us", "p90_us", "min_us", "repeats",
                                        "gbps", "tflops", "pct_of_copy_bw", "num_parts", "num_segments",
                                        "max_splits", "attention_ctas", "combine_ctas"};
  CsvWriter mla_csv(opt.out_dir + "/mla_decode.csv", header);
  CsvWriter gqa_csv(opt.out_dir + "/gqa_decode.csv", header);
  DeviceProblem d;

  struct Shape { int n_h, n_kv, d; };
  auto run_point = [&](CsvWriter& csv, const std::string& kernel, int batch, int ctx, bool variable, int s_q,
                       Shape sh, bool refill) -> double {
    const auto lens = grid_lens(batch, ctx, variable, seed + static_cast<std::uint64_t>(batch * 131 + ctx));
    att::DecodeProblem p;  // shapes and page table only: the values are generated on the device
    p.batch = batch;
    p.s_q = s_q;
    p.n_q_heads = sh.n_h;
    p.n_kv_heads = sh.n_kv;
    p.d_qk = sh.d;
    p.d_v = kernel == "mla" ? att::kMlaVDim : sh.d;
    p.v_in_k = kernel == "mla";
    p.softmax_scale = kernel == "mla" ? 1.0f / std::sqrt(192.0f) : 1.0f / std::sqrt(static_cast<float>(sh.d));
    p.pages = att::build_page_table(lens, att::kPageTokens, seed + static_cast<std::uint64_t>(ctx));
    const long long sum_ctx = p.total_context();
    const size_t kv_elems = size_t(p.pages.num_pages) * att::kPageTokens * sh.n_kv * sh.d;
    const double kv_bytes = static_cast<double>(kv_elems) * 2.0 * (p.v_in_k ? 1.0 : 2.0);
    if (kv_bytes > opt.max_kv_gib * 1073741824.0) {
      std::printf("skip %s B=%d ctx=%d (%d,%d,%d): KV cache %.1f GiB > --max-kv-gib %.0f\n", kernel.c_str(), batch,
                  ctx, sh.n_h, sh.n_kv, sh.d, kv_bytes / 1073741824.0, opt.max_kv_gib);
      return -1.0;
    }
    d.q.resize(size_t(batch) * s_q * sh.n_h * sh.d);
    fill_random(d.q.get(), d.q.size(), seed ^ 0x51ull ^ static_cast<std::uint64_t>(s_q * 1000 + sh.n_h));
    if (refill || d.k.size() < kv_elems) {
      d.k.resize(kv_elems);
      fill_random(d.k.get(), kv_elems, seed ^ 0x4bull);
      if (!p.v_in_k) {
        d.v.resize(kv_elems);
        fill_random(d.v.get(), kv_elems, seed ^ 0x56ull);
      }
    }
    const att::SplitSchedule s = att::make_split_schedule(lens, schedule_options(p, sms));
    const DecodeArgs a = prepare(d, p, s);
    d.out.poison();
    LaunchInfo info;
    const TimingStats st = time_on_gpu([&](cudaStream_t stream) { info = launch(p, a, stream); }, t, &flusher);
    MLASIM_CUDA_CHECK(cudaDeviceSynchronize());
    const unsigned long long bad = nonfinite_on_device(d.out.get(), d.out.size());
    if (bad != 0) {
      std::fprintf(stderr, "%s B=%d ctx=%d: %llu outputs not written or not finite\n", kernel.c_str(), batch, ctx, bad);
      std::exit(1);
    }
    const double flops = p.v_in_k ? att::mla_flops(s_q, sh.n_h, sum_ctx) : att::gqa_flops(s_q, sh.n_h, sh.d, sum_ctx);
    const double bytes = p.v_in_k ? att::mla_bytes(batch, s_q, sh.n_h, sum_ctx)
                                  : att::gqa_bytes(batch, s_q, sh.n_h, sh.n_kv, sh.d, sum_ctx);
    const double gbps = bytes / st.median_s / 1e9;
    const double tflops = flops / st.median_s / 1e12;
    csv.cell(kernel).cell(batch).cell(ctx).cell(variable ? "variable" : "uniform").cell(s_q).cell(sh.n_h)
        .cell(sh.n_kv).cell(sh.d).cell(sum_ctx).cell(flops).cell(bytes).cell(st.median_s * 1e6).cell(st.p90_s * 1e6)
        .cell(st.min_s * 1e6).cell(st.repeats).cell(gbps).cell(tflops).cell(100.0 * gbps / copy_gbps)
        .cell(s.num_parts).cell(s.num_segments).cell(s.max_splits_per_seq).cell(info.attention_ctas)
        .cell(info.combine_ctas);
    csv.end_row();
    if (kernel == "mla" && batch == 128 && ctx == 4096 && !variable) {
      if (s_q == 1 && sh.n_h <= 64) sum.mla_gbps[sh.n_h == 16 ? 0 : sh.n_h == 32 ? 1 : 2] = gbps;
      if (sh.n_h == 128) sum.mla_tflops_h128[s_q - 1] = tflops;
    }
    if (kernel == "gqa" && batch == 64 && ctx == 4096 && sh.n_h == 64 && sh.n_kv == 8 && sh.d == 128) sum.gqa_gbps = gbps;
    return st.median_s;
  };

  for (const bool variable : {false, true}) {
    for (const int batch : batches) {
      for (const int ctx : contexts) {
        bool refill = true;  // new KV values per (batch, context, lengths); reused across heads and s_q
        for (const int h_q : {16, 32, 64, 128}) {
          for (const int s_q : {1, 2}) {
            run_point(mla_csv, "mla", batch, ctx, variable, s_q, Shape{h_q, 1, 576}, refill);
            refill = false;
          }
        }
      }
    }
    std::printf("mla %s lengths: done\n", variable ? "variable" : "uniform");
  }
  for (const Shape sh : {Shape{32, 32, 128}, Shape{32, 8, 128}, Shape{64, 8, 128}, Shape{71, 1, 64}}) {
    for (const int batch : batches) {
      for (const int ctx : contexts) run_point(gqa_csv, "gqa", batch, ctx, false, 1, sh, true);
    }
    std::printf("gqa (%d,%d,%d): done\n", sh.n_h, sh.n_kv, sh.d);
  }
  if (!mla_csv.close() || !gqa_csv.close()) {
    std::fprintf(stderr, "cannot write CSVs under %s\n", opt.out_dir.c_str());
    std::exit(1);
  }
}

int parse_int(const char* s, const char* name) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < 0 || v > 1000000) {
    std::fprintf(stderr, "mlasim_attention_bench: %s expects a non-negative integer, got '%s'\n", name, s);
    std::exit(2);
  }
  return static_cast<int>(v);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "mlasim_attention_bench: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--out") o.out_dir = value();
    else if (arg == "--git-rev") o.git_rev = value();
    else if (arg == "--command") o.command = value();
    else if (arg == "--extra-yaml") o.extra_yaml_file = value();
    else if (arg == "--check-only") o.check_only = true;
    else if (arg == "--quick") o.quick = true;
    else if (arg == "--warmup") o.warmup = parse_int(value(), "--warmup");
    else if (arg == "--repeats") o.repeats = std::max(1, parse_int(value(), "--repeats"));
    else if (arg == "--max-kv-gib") o.max_kv_gib = parse_int(value(), "--max-kv-gib");
    else {
      std::fprintf(stderr, "mlasim_attention_bench: unknown option '%s' (known: --out --git-rev --command --extra-yaml "
                           "--check-only --quick --warmup --repeats --max-kv-gib)\n", arg.c_str());
      std::exit(2);
    }
  }
  return o;
}

}  // namespace

int run(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  require_gpu("mlasim_attention_bench");
  const DeviceFingerprint fp = read_fingerprint(0);
  std::string extra;
  if (!opt.extra_yaml_file.empty()) {
    std::ifstream in(opt.extra_yaml_file);
    std::stringstream ss;
    ss << in.rdbuf();
    extra = ss.str();
  }
  if (!write_fingerprint_yaml(opt.out_dir + "/fingerprint.yaml", fp, opt.git_rev, opt.command, extra)) {
    std::fprintf(stderr, "mlasim_attention_bench: cannot write %s/fingerprint.yaml\n", opt.out_dir.c_str());
    return 1;
  }
  std::printf("device: %s, %d SMs, cc %d.%d\n", fp.name.c_str(), fp.sms, fp.cc_major, fp.cc_minor);
  // Fresh random inputs every run (the seed is logged so that a failure can be replayed).
  const std::uint64_t seed = std::random_device{}() * 0x100000001ull ^ std::random_device{}();
  std::printf("seed: %llu\n", static_cast<unsigned long long>(seed));
  if (!run_checks(opt, fp.sms, seed, opt.out_dir + "/check.csv")) {
    std::fprintf(stderr, "mlasim_attention_bench: a kernel disagrees with the CPU reference; no timings taken\n");
    return 1;
  }
  if (opt.check_only) return 0;
  L2Flusher flusher;
  Summary sum;
  sum.copy_gbps = time_copy(opt, flusher, opt.out_dir + "/copy.csv");
  time_grid(opt, fp.sms, flusher, seed, sum.copy_gbps, sum);
  std::printf("\nsummary (%s)\n", fp.name.c_str());
  std::printf("  copy (d2d, read+write)                         %8.1f GB/s\n", sum.copy_gbps);
  const int heads[3] = {16, 32, 64};
  for (int i = 0; i < 3; ++i) {
    std::printf("  MLA b128 ctx4096 s_q1 h_q%-3d                    %8.1f GB/s  (%5.1f%% of copy; goal >= 90%%)\n",
                heads[i], sum.mla_gbps[i], 100.0 * sum.mla_gbps[i] / sum.copy_gbps);
  }
  for (int s = 0; s < 2; ++s) {
    std::printf("  MLA b128 ctx4096 s_q%d h_q128                    %8.1f TFLOP/s (%5.1f%% of 989 dense bf16; goal >= 60%%)\n",
                s + 1, sum.mla_tflops_h128[s], 100.0 * sum.mla_tflops_h128[s] / 989.0);
  }
  std::printf("  GQA b64 ctx4096 (64,8,128)                     %8.1f GB/s  (%5.1f%% of copy)\n", sum.gqa_gbps,
              100.0 * sum.gqa_gbps / sum.copy_gbps);
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mlasim_attention_bench: internal error: %s\n", e.what());
    return 1;
  }
}
