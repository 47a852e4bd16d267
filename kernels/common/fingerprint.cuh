#pragma once
// The device fingerprint every measurement file carries: device name, SMs, clocks, L2, memory, driver and
// runtime versions, plus the date, git revision and exact command that the caller passes in.
#include <cuda_runtime.h>

#include <ctime>
#include <fstream>
#include <string>

#include "kernels/common/cuda_check.cuh"

namespace mlasim::gpu {

struct DeviceFingerprint {
  std::string name;
  int sms = 0;
  int cc_major = 0;
  int cc_minor = 0;
  int sm_clock_khz = 0;
  int mem_clock_khz = 0;
  int mem_bus_width_bits = 0;
  long long l2_bytes = 0;
  long long memory_bytes = 0;
  int driver_version = 0;   ///< e.g. 13000 for CUDA 13.0 driver API
  int runtime_version = 0;  ///< e.g. 13000
};

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

/// UTC date-time as ISO 8601.
inline std::string utc_now_iso8601() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

/// `s` as a YAML double-quoted scalar: backslash, quote and control characters escaped (commands and device
/// names end up in run manifests that a YAML parser must read).
inline std::string yaml_quoted(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out + "\"";
}

/// Writes the fingerprint as a small YAML file. `git_rev` and `command` come from the calling script
/// (the GPU machine may have no git); `extra_yaml` is appended verbatim (e.g. nvidia-smi's driver line).
inline bool write_fingerprint_yaml(const std::string& path, const DeviceFingerprint& f, const std::string& git_rev,
                                   const std::string& command, const std::string& extra_yaml = {}) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return false;
  out << "device: " << yaml_quoted(f.name) << "\n"
      << "compute_capability: \"" << f.cc_major << "." << f.cc_minor << "\"\n"
      << "sms: " << f.sms << "\n"
      << "sm_clock_max: " << f.sm_clock_khz / 1000 << " MHz\n"
      << "memory_clock_max: " << f.mem_clock_khz / 1000 << " MHz\n"
      << "memory_bus_width_bits: " << f.mem_bus_width_bits << "\n"
      << "l2: " << f.l2_bytes << " B\n"
      << "memory: " << f.memory_bytes << " B\n"
      << "cuda_driver_api: " << f.driver_version << "\n"
      << "cuda_runtime: " << f.runtime_version << "\n"
      << "date: \"" << utc_now_iso8601() << "\"\n"
      << "git_revision: " << yaml_quoted(git_rev) << "\n"
      << "command: " << yaml_quoted(command) << "\n"
      << extra_yaml;
  return static_cast<bool>(out.flush());
}

}  // namespace mlasim::gpu
