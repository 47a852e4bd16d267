// HBM and L2 bandwidth versus bytes moved: read-only (a reduction whose per-CTA sums are stored, so the loads
// cannot be dropped), copy, and read-modify-write, each with 16-byte accesses in a grid-stride loop with four
// independent loads in flight per thread, over working sets of 64 KiB .. 4 GiB and grids of 1/4x .. 8x SMs.
// Working sets below the L2 size are timed twice: warm (no flush: the L2 plateau, level "l2") and right
// after an L2 flush (level "cold", read from HBM). Larger ones are flushed (level "hbm").
#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/probes/probes.cuh"

namespace mlasim::gpu {

namespace {

__device__ __forceinline__ float sum4(const float4& v) {
  return (v.x + v.y) + (v.z + v.w);
}

__global__ void read_kernel(const float4* __restrict__ src, std::size_t n, float* __restrict__ partial) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  float acc = 0.0f;
  for (; i + 3 * stride < n; i += 4 * stride) {
    const float4 a = src[i], b = src[i + stride], c = src[i + 2 * stride], d = src[i + 3 * stride];
    acc += (sum4(a) + sum4(b)) + (sum4(c) + sum4(d));
  }
  for (; i < n; i += stride) acc += sum4(src[i]);
  // Warp then CTA reduction; one float per CTA is stored.
  for (int off = 16; off > 0; off >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, off);
  __shared__ float warp_sums[32];
  if ((threadIdx.x & 31) == 0) warp_sums[threadIdx.x >> 5] = acc;
  __syncthreads();
  if (threadIdx.x == 0) {
    float total = 0.0f;
    for (unsigned w = 0; w < (blockDim.x + 31) / 32; ++w) total += warp_sums[w];
    partial[blockIdx.x] = total;
  }
}

__global__ void copy_kernel(const uint4* __restrict__ src, uint4* __restrict__ dst, std::size_t n) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  for (; i + 3 * stride < n; i += 4 * stride) {
    const uint4 a = src[i], b = src[i + stride], c = src[i + 2 * stride], d = src[i + 3 * stride];
    dst[i] = a;
    dst[i + stride] = b;
    dst[i + 2 * stride] = c;
    dst[i + 3 * stride] = d;
  }
  for (; i < n; i += stride) dst[i] = src[i];
}

// x ← x·s + c keeps values bounded over many repeats (|x| ≤ 1 stays ≤ 1 for s = 0.5, c = 0.25).
__device__ __forceinline__ float4 update(float4 v) {
  return make_float4(fmaf(v.x, 0.5f, 0.25f), fmaf(v.y, 0.5f, 0.25f), fmaf(v.z, 0.5f, 0.25f),
                     fmaf(v.w, 0.5f, 0.25f));
}

__global__ void rmw_kernel(float4* __restrict__ data, std::size_t n) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  for (; i + 3 * stride < n; i += 4 * stride) {
    const float4 a = data[i], b = data[i + stride], c = data[i + 2 * stride], d = data[i + 3 * stride];
    data[i] = update(a);
    data[i + stride] = update(b);
    data[i + 2 * stride] = update(c);
    data[i + 3 * stride] = update(d);
  }
  for (; i < n; i += stride) data[i] = update(data[i]);
}

/// Launches one bandwidth kernel over a working set starting at `base`.
void launch_kernel(BandwidthKernel k, char* base, std::int64_t ws, int grid, float* partial, cudaStream_t s) {
  const auto bytes = static_cast<std::size_t>(ws);
  switch (k) {
    case BandwidthKernel::kRead:
      read_kernel<<<grid, kBandwidthBlock, 0, s>>>(reinterpret_cast<const float4*>(base), bytes / 16,
                                                   partial);
      break;
    case BandwidthKernel::kCopy:
      copy_kernel<<<grid, kBandwidthBlock, 0, s>>>(reinterpret_cast<const uint4*>(base),
                                                   reinterpret_cast<uint4*>(base + bytes / 2), bytes / 32);
      break;
    case BandwidthKernel::kReadModifyWrite:
      rmw_kernel<<<grid, kBandwidthBlock, 0, s>>>(reinterpret_cast<float4*>(base), bytes / 16);
      break;
  }
}

/// Correctness of the three kernels on a 1 MiB set before any time counts: outputs poisoned first, then
/// compared with a CPU computation (double-precision sum for the reduction, exact for copy and rmw).
bool check_kernels(char* base, float* partial, int grid, cudaStream_t s) {
  const std::int64_t ws = 1 << 20;
  const std::size_t nf = static_cast<std::size_t>(ws) / sizeof(float);
  std::vector<float> host(nf), out(nf);
  bool ok = true;

  MLASIM_CUDA_CHECK(cudaMemcpyAsync(host.data(), base, ws, cudaMemcpyDeviceToHost, s));
  MLASIM_CUDA_CHECK(cudaMemsetAsync(partial, 0xff, grid * sizeof(float), s));  // NaN poison
  launch_kernel(BandwidthKernel::kRead, base, ws, grid, partial, s);
  MLASIM_CUDA_CHECK_LAUNCH();
  std::vector<float> parts(static_cast<std::size_t>(grid));
  MLASIM_CUDA_CHECK(cudaMemcpyAsync(parts.data(), partial, grid * sizeof(float), cudaMemcpyDeviceToHost, s));
  MLASIM_CUDA_CHECK(cudaStreamSynchronize(s));
  double ref = 0.0, got = 0.0, mag = 0.0;
  for (float v : host) ref += v, mag += std::fabs(v);
  for (float v : parts) got += v;
  if (!(std::fabs(got - ref) <= 1e-5 * mag)) {
    std::fprintf(stderr, "bandwidth check FAILED: read sum %.6g, CPU %.6g\n", got, ref);
    ok = false;
  }

  const std::size_t half = nf / 2;
  MLASIM_CUDA_CHECK(cudaMemsetAsync(base + ws / 2, 0xff, ws / 2, s));
  launch_kernel(BandwidthKernel::kCopy, base, ws, grid, partial, s);
  MLASIM_CUDA_CHECK_LAUNCH();
  MLASIM_CUDA_CHECK(cudaMemcpyAsync(out.data(), base, ws, cudaMemcpyDeviceToHost, s));
  MLASIM_CUDA_CHECK(cudaStreamSynchronize(s));
  if (std::memcmp(out.data(), out.data() + half, half * sizeof(float)) != 0) {
    std::fprintf(stderr, "bandwidth check FAILED: copy destination differs from source\n");
    ok = false;
  }

  launch_kernel(BandwidthKernel::kReadModifyWrite, base, ws, grid, partial, s);
  MLASIM_CUDA_CHECK_LAUNCH();
  std::vector<float> after(nf);
  MLASIM_CUDA_CHECK(cudaMemcpyAsync(after.data(), base, ws, cudaMemcpyDeviceToHost, s));
  MLASIM_CUDA_CHECK(cudaStreamSynchronize(s));
  for (std::size_t i = 0; i < nf; ++i) {
    if (after[i] != std::fmaf(out[i], 0.5f, 0.25f)) {
      std::fprintf(stderr, "bandwidth check FAILED: rmw element %zu is %g, want %g\n", i, after[i],
                   std::fmaf(out[i], 0.5f, 0.25f));
      ok = false;
      break;
    }
  }
  return ok;
}

}  // namespace

void run_bandwidth_probe(ProbeContext& ctx) {
  record_device_state(ctx, "before bandwidth");
  CsvWriter csv(ctx.options.out_dir + "/bandwidth.csv", probe_csv_columns());
  cudaStream_t s = ctx.stream;
  const std::int64_t l2 = ctx.device.l2_bytes;

  std::vector<std::int64_t> sets =
      ctx.options.quick ? bandwidth_working_sets(64LL << 10, 1LL << 30, 8) : bandwidth_working_sets();
  // Drop working sets that do not fit in the free memory (keeping 1 GiB for cuBLAS and the flusher).
  std::size_t free_b = 0, total_b = 0;
  MLASIM_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  while (!sets.empty() && sets.back() + (1LL << 30) > static_cast<std::int64_t>(free_b)) {
    std::fprintf(stderr, "bandwidth: skipping working set %lld B (free memory %zu B)\n",
                 static_cast<long long>(sets.back()), free_b);
    sets.pop_back();
  }
  if (sets.empty()) return;
  const std::int64_t max_ws = sets.back();
  char* base = nullptr;
  MLASIM_CUDA_CHECK(cudaMalloc(&base, static_cast<std::size_t>(max_ws)));
  fill_random_f32(reinterpret_cast<float*>(base), static_cast<std::size_t>(max_ws) / sizeof(float), 42, s);
  std::vector<int> grids = bandwidth_grid_sizes(ctx.device.sms);
  if (ctx.options.quick) grids = {ctx.device.sms, 4 * ctx.device.sms};
  float* partial = nullptr;
  MLASIM_CUDA_CHECK(cudaMalloc(&partial, static_cast<std::size_t>(grids.back()) * sizeof(float)));

  if (!check_kernels(base, partial, ctx.device.sms, s)) {
    ++ctx.failed_checks;
    ctx.summary.push_back("bandwidth: correctness check FAILED, no points written");
    MLASIM_CUDA_CHECK(cudaFree(partial));
    MLASIM_CUDA_CHECK(cudaFree(base));
    return;
  }
  // The check modified the first MiB; refill so every launch reads random data.
  fill_random_f32(reinterpret_cast<float*>(base), static_cast<std::size_t>(max_ws) / sizeof(float), 43, s);

  TimingOptions topt;
  topt.warmup = 3;
  topt.repeats = ctx.options.quick ? 5 : 20;
  for (BandwidthKernel kern :
       {BandwidthKernel::kRead, BandwidthKernel::kCopy, BandwidthKernel::kReadModifyWrite}) {
    double best_hbm = 0.0, best_l2 = 0.0;
    for (std::int64_t ws : sets) {
      const bool fits = ws < l2;
      // fits in L2: warm ("l2", no flush) then cold ("cold", flushed); otherwise flushed ("hbm").
      for (int pass = 0; pass < (fits ? 2 : 1); ++pass) {
        const char* level = !fits ? "hbm" : pass == 0 ? "l2" : "cold";
        TimingOptions o = topt;
        o.flush_l2 = !(fits && pass == 0);
        for (int grid : grids) {
          if (ctx.skip_for_deadline()) continue;
          const auto t0 = std::chrono::steady_clock::now();
          MeasuredPoint p;
          p.probe = "bandwidth";
          p.kernel = to_string(kern);
          p.shape = "ws=" + std::to_string(ws);
          p.level = level;
          p.dtype = "f32x4";
          p.working_set_bytes = ws;
          p.bytes = bandwidth_bytes_moved(kern, ws);
          p.grid = grid;
          p.block = kBandwidthBlock;
          p.time = time_on_gpu([&](cudaStream_t st) { launch_kernel(kern, base, ws, grid, partial, st); }, o,
                               ctx.flusher, s);
          write_point(csv, p, ctx);
          ctx.deadline.note_point(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
          const double bw = p.bytes / p.time.median_s;
          if (std::string(level) == "hbm") best_hbm = std::max(best_hbm, bw);
          if (std::string(level) == "l2") best_l2 = std::max(best_l2, bw);
        }
      }
    }
    char line[160];
    std::snprintf(line, sizeof line,
                  "bandwidth %-4s: best HBM %.0f GB/s, best L2-resident %.0f GB/s (raw; fit on CPU)",
                  to_string(kern), best_hbm * 1e-9, best_l2 * 1e-9);
    ctx.summary.push_back(line);
  }
  MLASIM_CUDA_CHECK(cudaFree(partial));
  MLASIM_CUDA_CHECK(cudaFree(base));
  if (!csv.close()) std::fprintf(stderr, "mlasim_probes: cannot write bandwidth.csv\n");
  record_device_state(ctx, "after bandwidth");
}

}  // namespace mlasim::gpu
