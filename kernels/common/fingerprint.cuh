#pragma once
// The device fingerprint every measurement file carries: device name, SMs, clocks, L2, memory, driver and
// runtime versions, plus the date, git revision and exact command that the caller passes in.
#include <cuda_runtime.h>

#include <fstream>
#include <string>

#include "kernels/common/cuda_check.cuh"
#include "kernels/common/fingerprint_yaml.hpp"

namespace mlasim::gpu {

inline DeviceFingerprint read_fingerprint(int dev = 0) {
  cudaDeviceProp p{};
  MLASIM_CUDA_CHECK(cudaGetDeviceProperties(&p, dev));
  DeviceFingerprint f;
  f.name = p.name;
  f.sms = p.multiProcessorCount;
  f.cc_major = p.major;
  f.cc_minor = p.minor;
  MLASIM_CUDA_CHECK(cudaDeviceGetAttribute(&f.sm_clock_khz, cudaDevAttrClockRate, dev));
  MLASIM_CUDA_CHECK(cudaDeviceGetAttribute(&f.mem_clock_khz, cudaDevAttrMemoryClockRate, dev));
  MLASIM_CUDA_CHECK(cudaDeviceGetAttribute(&f.mem_bus_width_bits, cudaDevAttrGlobalMemoryBusWidth, dev));
  f.l2_bytes = p.l2CacheSize;
  f.memory_bytes = static_cast<long long>(p.totalGlobalMem);
  MLASIM_CUDA_CHECK(cudaDriverGetVersion(&f.driver_version));
  MLASIM_CUDA_CHECK(cudaRuntimeGetVersion(&f.runtime_version));
  return f;
}

/// Writes the fingerprint as a small YAML file dated now (fingerprint_yaml.hpp has the format).
inline bool write_fingerprint_yaml(const std::string& path, const DeviceFingerprint& f,
                                   const std::string& git_rev, const std::string& command,
                                   const std::string& extra_yaml = {}) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return false;
  out << fingerprint_yaml_text(f, git_rev, command, utc_now_iso8601(), extra_yaml);
  return static_cast<bool>(out.flush());
}

}  // namespace mlasim::gpu
