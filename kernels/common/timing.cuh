#pragma once
// Timing harness shared by the kernels and the probes: CUDA events around each repeat, warm-up first,
// L2 flushed between repeats (a memset over a buffer twice the L2), median and p90 reported.
#include <cuda_runtime.h>

#include <vector>

#include "kernels/common/cuda_check.cuh"
#include "kernels/common/stats.hpp"

namespace mlasim::gpu {

struct TimingOptions {
  int warmup = 3;
  int repeats = 20;
  bool flush_l2 = true;
};

/// Evicts the L2 by writing a buffer twice its size.
class L2Flusher {
 public:
  L2Flusher() {
    int dev = 0;
    MLASIM_CUDA_CHECK(cudaGetDevice(&dev));
    int l2 = 0;
    MLASIM_CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
    bytes_ = static_cast<size_t>(l2 > 0 ? l2 : (64 << 20)) * 2;
    MLASIM_CUDA_CHECK(cudaMalloc(&buf_, bytes_));
  }
  ~L2Flusher() { cudaFree(buf_); }
  L2Flusher(const L2Flusher&) = delete;
  L2Flusher& operator=(const L2Flusher&) = delete;
  void flush(cudaStream_t stream) {
    MLASIM_CUDA_CHECK(cudaMemsetAsync(buf_, ++value_ & 0xff, bytes_, stream));
  }

 private:
  void* buf_ = nullptr;
  size_t bytes_ = 0;
  int value_ = 0;
};

/// Times `launch(stream)` (which enqueues the work, e.g. one or more kernel launches) with CUDA events.
/// Returns per-repeat statistics in seconds. The flusher's memset runs outside the timed region.
template <class Launch>
TimingStats time_on_gpu(Launch&& launch, const TimingOptions& opt, L2Flusher* flusher,
                        cudaStream_t stream = nullptr) {
  cudaEvent_t start, stop;
  MLASIM_CUDA_CHECK(cudaEventCreate(&start));
  MLASIM_CUDA_CHECK(cudaEventCreate(&stop));
  for (int i = 0; i < opt.warmup; ++i) {
    launch(stream);
    MLASIM_CUDA_CHECK_LAUNCH();
  }
  MLASIM_CUDA_CHECK(cudaStreamSynchronize(stream));
  std::vector<double> samples;
  samples.reserve(static_cast<size_t>(opt.repeats));
  for (int i = 0; i < opt.repeats; ++i) {
    if (opt.flush_l2 && flusher != nullptr) flusher->flush(stream);
    MLASIM_CUDA_CHECK(cudaEventRecord(start, stream));
    launch(stream);
    MLASIM_CUDA_CHECK_LAUNCH();
    MLASIM_CUDA_CHECK(cudaEventRecord(stop, stream));
    MLASIM_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0.0f;
    MLASIM_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    samples.push_back(static_cast<double>(ms) * 1e-3);
  }
  MLASIM_CUDA_CHECK(cudaEventDestroy(start));
  MLASIM_CUDA_CHECK(cudaEventDestroy(stop));
  return summarize(std::move(samples));
}

}  // namespace mlasim::gpu
