#pragma once
// The device fingerprint every measurement folder carries (fingerprint.yaml): device name, SMs, clocks, L2,
// memory, driver and runtime versions, plus the date, git revision and exact command. Plain C++17 with no
// CUDA header, so host code (the synthetic run generator of mlasim calibrate's tests) writes the same format;
// fingerprint.cuh reads the device and writes it.
#include <ctime>
#include <sstream>
#include <string>

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

/// The fingerprint as YAML text, dated `date` (ISO 8601). `git_rev` and `command` come from the calling
/// script (the GPU machine may have no git); `extra_yaml` is appended verbatim (e.g. nvidia-smi's driver
/// line).
inline std::string fingerprint_yaml_text(const DeviceFingerprint& f, const std::string& git_rev,
                                         const std::string& command, const std::string& date,
                                         const std::string& extra_yaml = {}) {
  std::ostringstream out;
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
      << "date: \"" << date << "\"\n"
      << "git_revision: " << yaml_quoted(git_rev) << "\n"
      << "command: " << yaml_quoted(command) << "\n"
      << extra_yaml;
  return out.str();
}

}  // namespace mlasim::gpu
