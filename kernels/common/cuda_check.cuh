#pragma once
// Every CUDA call is checked: MLASIM_CUDA_CHECK(cudaMalloc(...)); after each launch
// MLASIM_CUDA_CHECK_LAUNCH().
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>

#define MLASIM_CUDA_CHECK(call)                                                      \
  do {                                                                               \
    const cudaError_t mlasim_err_ = (call);                                          \
    if (mlasim_err_ != cudaSuccess) {                                                \
      std::fprintf(stderr, "%s:%d: CUDA error: %s: %s\n", __FILE__, __LINE__, #call, \
                   cudaGetErrorString(mlasim_err_));                                 \
      std::exit(1);                                                                  \
    }                                                                                \
  } while (0)

#define MLASIM_CUDA_CHECK_LAUNCH() MLASIM_CUDA_CHECK(cudaGetLastError())

namespace mlasim::gpu {

/// Exit code of a GPU program that finds no GPU (documented in kernels/README.md).
inline constexpr int kExitNoGpu = 3;

/// Exits with a one-line message and code 3 when no CUDA device is usable; returns the device count.
inline int require_gpu(const char* program) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    std::fprintf(stderr, "%s: no CUDA GPU found (%s); this program measures kernels on a GPU and needs one\n",
                 program, err != cudaSuccess ? cudaGetErrorString(err) : "0 devices");
    std::exit(kExitNoGpu);
  }
  return count;
}

}  // namespace mlasim::gpu
