// GEMM throughput versus m through cuBLASLt: Y[m×n] = X[m×k]·W[k×n] in bf16 (and fp8 e4m3 where the GPU has
// it, compute capability >= 8.9), fp32 accumulation, bf16 output, for the shape families of probe_plan.hpp
// over m = 1 .. 8192. Layout "TN" as inference engines call it (W stored n×k row-major, X m×k row-major; fp8
// on Hopper requires it). Each point is checked against a CPU dot product on sampled outputs before its
// time counts; L2 flushed before every timed run, so the weights come from HBM as in a decode step.
#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/probes/probes.cuh"

namespace mlasim::gpu {

namespace {

enum class GemmDtype { kBf16, kFp8E4M3 };

const char* dtype_name(GemmDtype d) {
  return d == GemmDtype::kBf16 ? "bf16" : "fp8_e4m3";
}
const char* kernel_name(GemmDtype d) {
  return d == GemmDtype::kBf16 ? "lt_bf16" : "lt_fp8_e4m3";
}
std::size_t elem_bytes(GemmDtype d) {
  return d == GemmDtype::kBf16 ? 2 : 1;
}

float bf16_to_float(std::uint16_t bits) {
  const std::uint32_t w = static_cast<std::uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &w, sizeof f);
  return f;
}

/// OCP FP8 E4M3 (bias 7, no infinities, S.1111.111 = NaN), as cuda_fp8.h stores it.
float fp8_e4m3_to_float(std::uint8_t b) {
  const int sign = b >> 7, exp = (b >> 3) & 0xF, mant = b & 0x7;
  if (exp == 0xF && mant == 0x7) return NAN;
  const float mag = exp == 0 ? std::ldexp(static_cast<float>(mant) / 8.0f, -6)
                             : std::ldexp(1.0f + static_cast<float>(mant) / 8.0f, exp - 7);
  return sign ? -mag : mag;
}

/// One cuBLASLt matmul configuration (descriptors and the heuristic's best algorithm).
class LtGemm {
 public:
  LtGemm(cublasLtHandle_t h, std::int64_t m, const GemmShape& s, GemmDtype dt, std::size_t workspace_bytes) {
    const cudaDataType_t in = dt == GemmDtype::kBf16 ? CUDA_R_16BF : CUDA_R_8F_E4M3;
    MLASIM_CUBLAS_CHECK(cublasLtMatmulDescCreate(&desc_, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t t = CUBLAS_OP_T, n = CUBLAS_OP_N;
    MLASIM_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t));
    MLASIM_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSB, &n, sizeof n));
    // Column-major view: A = W as k×n (ld k, transposed), B = X as k×m (ld k), D = Y as n×m (ld n).
    MLASIM_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&a_, in, static_cast<std::uint64_t>(s.k),
                                                   static_cast<std::uint64_t>(s.n), s.k));
    MLASIM_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&b_, in, static_cast<std::uint64_t>(s.k),
                                                   static_cast<std::uint64_t>(m), s.k));
    MLASIM_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&d_, CUDA_R_16BF, static_cast<std::uint64_t>(s.n),
                                                   static_cast<std::uint64_t>(m), s.n));
    if (s.batch > 1) {
      const auto count = static_cast<std::int32_t>(s.batch);
      const std::int64_t sa = s.n * s.k, sb = m * s.k, sd = m * s.n;
      for (auto [layout, stride] : {std::pair{a_, sa}, std::pair{b_, sb}, std::pair{d_, sd}}) {
        MLASIM_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT,
                                                             &count, sizeof count));
        MLASIM_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(
            layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride));
      }
    }
    cublasLtMatmulPreference_t pref = nullptr;
    MLASIM_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    const std::uint64_t ws = workspace_bytes;
    MLASIM_CUBLAS_CHECK(
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    int returned = 0;
    const cublasStatus_t st =
        cublasLtMatmulAlgoGetHeuristic(h, desc_, a_, b_, d_, d_, pref, 1, &heur_, &returned);
    MLASIM_CUBLAS_CHECK(cublasLtMatmulPreferenceDestroy(pref));
    ok_ = st == CUBLAS_STATUS_SUCCESS && returned > 0;
  }
  ~LtGemm() {
    cublasLtMatrixLayoutDestroy(d_);
    cublasLtMatrixLayoutDestroy(b_);
    cublasLtMatrixLayoutDestroy(a_);
    cublasLtMatmulDescDestroy(desc_);
  }
  LtGemm(const LtGemm&) = delete;
  LtGemm& operator=(const LtGemm&) = delete;

  /// Whether cuBLASLt offered an algorithm for this configuration.
  [[nodiscard]] bool ok() const { return ok_; }

  /// Enqueues the matmul; returns cuBLAS's status (the correctness check treats an error as a failed point).
  cublasStatus_t try_run(cublasLtHandle_t h, const void* w, const void* x, void* y, void* workspace,
                         std::size_t workspace_bytes, cudaStream_t s) const {
    const float alpha = 1.0f, beta = 0.0f;
    return cublasLtMatmul(h, desc_, &alpha, w, a_, x, b_, &beta, y, d_, y, d_, &heur_.algo, workspace,
                          workspace_bytes, s);
  }
  void run(cublasLtHandle_t h, const void* w, const void* x, void* y, void* workspace,
           std::size_t workspace_bytes, cudaStream_t s) const {
    MLASIM_CUBLAS_CHECK(try_run(h, w, x, y, workspace, workspace_bytes, s));
  }

 private:
  cublasLtMatmulDesc_t desc_ = nullptr;
  cublasLtMatrixLayout_t a_ = nullptr, b_ = nullptr, d_ = nullptr;
  cublasLtMatmulHeuristicResult_t heur_{};
  bool ok_ = false;
};

/// Device buffers large enough for every shape × m of the run.
struct GemmBuffers {
  void* w = nullptr;  ///< weights, n×k per batch entry
  void* x = nullptr;  ///< activations, m×k per batch entry
  void* y = nullptr;  ///< outputs (bf16), m×n per batch entry
  void* workspace = nullptr;
  std::size_t w_elems = 0, x_elems = 0, y_elems = 0, workspace_bytes = 32u << 20;
};

/// Copies `count` elements at element offset `off` of a bf16/fp8 buffer to floats on the host.
std::vector<float> fetch(const void* base, std::size_t off, std::size_t count, GemmDtype dt, cudaStream_t s) {
  const std::size_t eb = elem_bytes(dt);
  std::vector<std::uint8_t> raw(count * eb);
  MLASIM_CUDA_CHECK(cudaMemcpyAsync(raw.data(), static_cast<const char*>(base) + off * eb, raw.size(),
                                    cudaMemcpyDeviceToHost, s));
  MLASIM_CUDA_CHECK(cudaStreamSynchronize(s));
  std::vector<float> out(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (dt == GemmDtype::kBf16) {
      std::uint16_t b;
      std::memcpy(&b, raw.data() + 2 * i, 2);
      out[i] = bf16_to_float(b);
    } else {
      out[i] = fp8_e4m3_to_float(raw[i]);
    }
  }
  return out;
}

/// Poisons Y, runs once and compares sampled outputs with double-precision dot products of the device inputs:
/// ‖y − ref‖ / ‖ref‖ must stay under 1e-2 (bf16 output rounding is ~4e-3). Returns the relative error.
double check_gemm(cublasLtHandle_t h, const LtGemm& g, const GemmBuffers& buf, std::int64_t m,
                  const GemmShape& s, GemmDtype dt, cudaStream_t st) {
  const std::size_t y_bytes = static_cast<std::size_t>(m * s.n * s.batch) * 2;
  MLASIM_CUDA_CHECK(cudaMemsetAsync(buf.y, 0xff, y_bytes, st));  // bf16 NaN
  // A cuBLAS error here (e.g. the heuristic's algorithm refuses the call) fails this point, not the run.
  const cublasStatus_t status = g.try_run(h, buf.w, buf.x, buf.y, buf.workspace, buf.workspace_bytes, st);
  if (status != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "gemm: cublasLtMatmul failed: %s\n", cublasLtGetStatusString(status));
    return NAN;
  }
  MLASIM_CUDA_CHECK_LAUNCH();
  const auto k = static_cast<std::size_t>(s.k), n = static_cast<std::size_t>(s.n),
             mm = static_cast<std::size_t>(m);
  double err2 = 0.0, ref2 = 0.0;
  for (std::size_t b : {std::size_t{0}, static_cast<std::size_t>(s.batch - 1)}) {
    for (std::size_t row : {std::size_t{0}, mm - 1}) {
      const std::vector<float> x = fetch(buf.x, b * mm * k + row * k, k, dt, st);
      for (std::size_t col : {std::size_t{0}, n / 3, n / 2 + 1, n - 1}) {
        if (col >= n) continue;
        const std::vector<float> w = fetch(buf.w, b * n * k + col * k, k, dt, st);
        double ref = 0.0;
        for (std::size_t i = 0; i < k; ++i) ref += static_cast<double>(w[i]) * static_cast<double>(x[i]);
        const float y = fetch(buf.y, b * mm * n + row * n + col, 1, GemmDtype::kBf16, st)[0];
        err2 += (y - ref) * (y - ref);  // a NaN (unwritten output) makes the error NaN: fails below
        ref2 += ref * ref;
      }
    }
  }
  return std::sqrt(err2 / std::max(ref2, 1e-30));
}

}  // namespace

void run_gemm_probe(ProbeContext& ctx) {
  record_device_state(ctx, "before gemm");
  CsvWriter csv(ctx.options.out_dir + "/gemm.csv", probe_csv_columns());
  cudaStream_t st = ctx.stream;
  const std::vector<GemmShape> shapes = ctx.options.quick ? quick_gemm_shapes() : default_gemm_shapes();
  const std::vector<std::int64_t> ms =
      ctx.options.quick ? std::vector<std::int64_t>{1, 16, 128, 1024, 8192} : gemm_m_values();
  std::vector<GemmDtype> dtypes = {GemmDtype::kBf16};
  const bool has_fp8 = ctx.device.cc_major * 10 + ctx.device.cc_minor >= 89;
  if (ctx.options.fp8 && has_fp8) dtypes.push_back(GemmDtype::kFp8E4M3);
  if (ctx.options.fp8 && !has_fp8) ctx.summary.push_back("gemm: no fp8 (compute capability below 8.9)");

  GemmBuffers buf;
  for (const GemmShape& s : shapes) {
    buf.w_elems = std::max(buf.w_elems, static_cast<std::size_t>(s.n * s.k * s.batch));
    buf.x_elems = std::max(buf.x_elems, static_cast<std::size_t>(ms.back() * s.k * s.batch));
    buf.y_elems = std::max(buf.y_elems, static_cast<std::size_t>(ms.back() * s.n * s.batch));
  }
  MLASIM_CUDA_CHECK(cudaMalloc(&buf.w, buf.w_elems * 2));
  MLASIM_CUDA_CHECK(cudaMalloc(&buf.x, buf.x_elems * 2));
  MLASIM_CUDA_CHECK(cudaMalloc(&buf.y, buf.y_elems * 2));
  MLASIM_CUDA_CHECK(cudaMalloc(&buf.workspace, buf.workspace_bytes));
  cublasLtHandle_t h = nullptr;
  MLASIM_CUBLAS_CHECK(cublasLtCreate(&h));

  int skipped = 0, failed = 0;
  std::vector<std::string> key_lines;
  for (GemmDtype dt : dtypes) {
    if (dt == GemmDtype::kBf16) {
      fill_random_bf16(buf.w, buf.w_elems, 7, st);
      fill_random_bf16(buf.x, buf.x_elems, 8, st);
    } else {
      fill_random_fp8_e4m3(buf.w, buf.w_elems, 9, st);
      fill_random_fp8_e4m3(buf.x, buf.x_elems, 10, st);
    }
    for (const GemmShape& s : shapes) {
      std::string key_line;
      const bool key_shape = dt == GemmDtype::kBf16 && s.label.find("llama3_70b.tp8.") != std::string::npos;
      for (std::int64_t m : ms) {
        if (ctx.skip_for_deadline()) continue;
        const auto t0 = std::chrono::steady_clock::now();
        const LtGemm g(h, m, s, dt, buf.workspace_bytes);
        if (!g.ok()) {
          std::fprintf(stderr,
                       "gemm: cuBLASLt has no algorithm for %s m=%lld n=%lld k=%lld batch=%lld; skipped\n",
                       dtype_name(dt), static_cast<long long>(m), static_cast<long long>(s.n),
                       static_cast<long long>(s.k), static_cast<long long>(s.batch));
          ++skipped;
          continue;
        }
        const double rel = check_gemm(h, g, buf, m, s, dt, st);
        if (!(rel < 1e-2)) {
          std::fprintf(stderr, "gemm check FAILED: %s %s m=%lld: relative error %g\n", dtype_name(dt),
                       s.label.c_str(), static_cast<long long>(m), rel);
          ++failed;
          continue;
        }
        auto launch = [&](cudaStream_t stream) {
          g.run(h, buf.w, buf.x, buf.y, buf.workspace, buf.workspace_bytes, stream);
        };
        TimingOptions pilot;
        pilot.warmup = kGemmWarmup;
        pilot.repeats = kGemmPilot;
        const TimingStats tp = time_on_gpu(launch, pilot, ctx.flusher, st);
        TimingOptions main_opt;
        main_opt.warmup = 0;
        main_opt.repeats = gemm_repeats_for(tp.median_s);
        MeasuredPoint p;
        p.probe = "gemm";
        p.kernel = kernel_name(dt);
        p.shape = s.label;
        p.dtype = dtype_name(dt);
        p.m = m;
        p.n = s.n;
        p.k = s.k;
        p.batch = s.batch;
        p.flops = gemm_flops(m, s);
        p.bytes = gemm_bytes(m, s, static_cast<double>(elem_bytes(dt)), 2.0);
        p.time = time_on_gpu(launch, main_opt, ctx.flusher, st);
        write_point(csv, p, ctx);
        ctx.deadline.note_point(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        if (key_shape && (m == 1 || m == 16 || m == 128 || m == 1024 || m == 8192)) {
          char cell[48];
          std::snprintf(cell, sizeof cell, " m=%lld:%.1f", static_cast<long long>(m),
                        p.flops / p.time.median_s * 1e-12);
          key_line += cell;
        }
      }
      if (key_shape) key_lines.push_back("gemm bf16 TFLOP/s " + s.label + ":" + key_line);
    }
  }
  ctx.summary.insert(ctx.summary.end(), key_lines.begin(), key_lines.end());
  ctx.summary.push_back("gemm: " + std::to_string(shapes.size()) + " families x " +
                        std::to_string(ms.size()) + " m x " + std::to_string(dtypes.size()) + " dtypes; " +
                        std::to_string(skipped) + " skipped (no algorithm), " + std::to_string(failed) +
                        " failed the check");
  ctx.failed_checks += failed;
  MLASIM_CUBLAS_CHECK(cublasLtDestroy(h));
  MLASIM_CUDA_CHECK(cudaFree(buf.workspace));
  MLASIM_CUDA_CHECK(cudaFree(buf.y));
  MLASIM_CUDA_CHECK(cudaFree(buf.x));
  MLASIM_CUDA_CHECK(cudaFree(buf.w));
  if (!csv.close()) std::fprintf(stderr, "mlasim_probes: cannot write gemm.csv\n");
  record_device_state(ctx, "after gemm");
}

}  // namespace mlasim::gpu
