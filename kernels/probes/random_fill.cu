// Random inputs for the probes: a counter-based hash (SplitMix64 finaliser, Steele et al. 2014) maps each
// index to a uniform value in [-1, 1), so fills are reproducible, parallel and never all zeros.
#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include "kernels/probes/probes.cuh"

namespace mlasim::gpu {

namespace {

__device__ __forceinline__ float uniform_pm1(std::uint64_t i, std::uint64_t seed) {
  std::uint64_t z = i + seed * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * (2.0f / 16777216.0f) - 1.0f;  // 24 random bits
}

template <class T, class Convert>
__global__ void fill_kernel(T* data, std::size_t n, std::uint64_t seed, Convert convert) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    data[i] = convert(uniform_pm1(i, seed));
  }
}

struct ToF32 {
  __device__ float operator()(float v) const { return v; }
};
struct ToBf16 {
  __device__ __nv_bfloat16 operator()(float v) const { return __float2bfloat16(v); }
};
struct ToFp8 {
  __device__ __nv_fp8_e4m3 operator()(float v) const { return __nv_fp8_e4m3(v); }
};

template <class T, class Convert>
void launch_fill(T* data, std::size_t n, std::uint64_t seed, cudaStream_t stream) {
  int dev = 0, sms = 0;
  MLASIM_CUDA_CHECK(cudaGetDevice(&dev));
  MLASIM_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  fill_kernel<<<sms * 4, 256, 0, stream>>>(data, n, seed, Convert{});
  MLASIM_CUDA_CHECK_LAUNCH();
}

}  // namespace

void fill_random_f32(float* data, std::size_t n, std::uint64_t seed, cudaStream_t stream) {
  launch_fill<float, ToF32>(data, n, seed, stream);
}
void fill_random_bf16(void* data, std::size_t n, std::uint64_t seed, cudaStream_t stream) {
  launch_fill<__nv_bfloat16, ToBf16>(static_cast<__nv_bfloat16*>(data), n, seed, stream);
}
void fill_random_fp8_e4m3(void* data, std::size_t n, std::uint64_t seed, cudaStream_t stream) {
  launch_fill<__nv_fp8_e4m3, ToFp8>(static_cast<__nv_fp8_e4m3*>(data), n, seed, stream);
}

void record_device_state(ProbeContext& ctx, const std::string& when) {
  MLASIM_CUDA_CHECK(cudaDeviceSynchronize());
  const NvmlSnapshot s = ctx.nvml != nullptr ? ctx.nvml->read() : NvmlSnapshot{};
  ctx.device_state->cell(when)
      .cell(utc_now_iso8601())
      .cell(nvml_cell(s.sm_clock_mhz))
      .cell(nvml_cell(s.mem_clock_mhz))
      .cell(nvml_cell(s.temperature_c))
      .cell(nvml_cell(s.power_w))
      .cell(nvml_cell(s.clock_reasons));
  ctx.device_state->end_row();
}

}  // namespace mlasim::gpu
