#pragma once
// Clocks, temperature and power read through NVML before and after each probe family, so a measurement
// carries the state the GPU was in (a throttled card reads slow). Plain C++: NVML is opened at run time with
// dlopen rather than linked, because a program linked to libnvidia-ml.so.1 does not even start on a machine
// without the NVIDIA driver (it could then not print its one-line "no GPU" message and exit 3), and the CUDA
// toolkit here ships neither nvml.h nor the stub. When NVML is missing or fails, every field reads
// "unavailable" and the run goes on.
#include <dlfcn.h>

#include <cstdio>
#include <optional>
#include <string>
#include <type_traits>

namespace mlasim::gpu {

/// One reading of the device state; an empty optional means NVML could not report that field.
struct NvmlSnapshot {
  std::optional<unsigned> sm_clock_mhz;   ///< current SM clock [MHz]
  std::optional<unsigned> mem_clock_mhz;  ///< current memory clock [MHz]
  std::optional<unsigned> temperature_c;  ///< GPU die temperature [°C]
  std::optional<double> power_w;          ///< board power draw [W]
  std::optional<unsigned long long>
      clock_reasons;  ///< nvmlClocksThrottleReasons bit mask (0 = none; 1 = idle)
};

/// Formats an optional field for a CSV cell: the value, or "unavailable".
template <class T>
std::string nvml_cell(const std::optional<T>& v) {
  if (!v) return "unavailable";
  if constexpr (std::is_floating_point_v<T>) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", *v);
    return buf;
  } else {
    return std::to_string(*v);
  }
}

/// Opens NVML and finds the device by PCI bus id (as cudaDeviceGetPCIBusId writes it: NVML and CUDA may
/// number devices differently). Never throws; `available()` says whether readings can succeed.
class NvmlReader {
 public:
  explicit NvmlReader(const std::string& pci_bus_id, const char* library = "libnvidia-ml.so.1") {
    lib_ = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (lib_ == nullptr) {
      const char* e = dlerror();
      error_ = std::string("cannot load ") + library + (e ? std::string(": ") + e : std::string());
      return;
    }
    // Signatures from NVML's public C API (nvml.h); every call returns nvmlReturn_t (0 = NVML_SUCCESS).
    init_ = reinterpret_cast<int (*)()>(dlsym(lib_, "nvmlInit_v2"));
    shutdown_ = reinterpret_cast<int (*)()>(dlsym(lib_, "nvmlShutdown"));
    by_pci_ = reinterpret_cast<int (*)(const char*, void**)>(dlsym(lib_, "nvmlDeviceGetHandleByPciBusId_v2"));
    clock_ = reinterpret_cast<int (*)(void*, int, unsigned*)>(dlsym(lib_, "nvmlDeviceGetClockInfo"));
    temp_ = reinterpret_cast<int (*)(void*, int, unsigned*)>(dlsym(lib_, "nvmlDeviceGetTemperature"));
    power_ = reinterpret_cast<int (*)(void*, unsigned*)>(dlsym(lib_, "nvmlDeviceGetPowerUsage"));
    reasons_ = reinterpret_cast<int (*)(void*, unsigned long long*)>(
        dlsym(lib_, "nvmlDeviceGetCurrentClocksThrottleReasons"));
    driver_ = reinterpret_cast<int (*)(char*, unsigned)>(dlsym(lib_, "nvmlSystemGetDriverVersion"));
    if (init_ == nullptr || shutdown_ == nullptr || by_pci_ == nullptr) {
      error_ = "NVML library lacks nvmlInit_v2 / nvmlDeviceGetHandleByPciBusId_v2";
      return;
    }
    if (const int rc = init_(); rc != 0) {
      error_ = "nvmlInit_v2 returned " + std::to_string(rc);
      return;
    }
    initialised_ = true;
    if (const int rc = by_pci_(pci_bus_id.c_str(), &device_); rc != 0) {
      error_ = "nvmlDeviceGetHandleByPciBusId_v2(" + pci_bus_id + ") returned " + std::to_string(rc);
      device_ = nullptr;
    }
  }
  ~NvmlReader() {
    if (initialised_) shutdown_();
    if (lib_ != nullptr) dlclose(lib_);
  }
  NvmlReader(const NvmlReader&) = delete;
  NvmlReader& operator=(const NvmlReader&) = delete;

  [[nodiscard]] bool available() const { return device_ != nullptr; }
  /// Why NVML is unavailable ("" when it is available).
  [[nodiscard]] const std::string& error() const { return error_; }

  /// Reads the current state; fields NVML cannot report stay empty.
  [[nodiscard]] NvmlSnapshot read() const {
    NvmlSnapshot s;
    if (!available()) return s;
    unsigned v = 0;
    // nvmlClockType_t: NVML_CLOCK_SM = 1, NVML_CLOCK_MEM = 2; nvmlTemperatureSensors_t: NVML_TEMPERATURE_GPU
    // = 0.
    if (clock_ && clock_(device_, 1, &v) == 0) s.sm_clock_mhz = v;
    if (clock_ && clock_(device_, 2, &v) == 0) s.mem_clock_mhz = v;
    if (temp_ && temp_(device_, 0, &v) == 0) s.temperature_c = v;
    if (power_ && power_(device_, &v) == 0) s.power_w = v / 1000.0;  // NVML reports milliwatts
    unsigned long long r = 0;
    if (reasons_ && reasons_(device_, &r) == 0) s.clock_reasons = r;
    return s;
  }

  /// Driver version as NVML reports it (e.g. "580.65.06"), or "unavailable".
  [[nodiscard]] std::string driver_version() const {
    char buf[96] = {};
    if (!initialised_ || driver_ == nullptr || driver_(buf, sizeof buf) != 0) return "unavailable";
    return buf;
  }

 private:
  void* lib_ = nullptr;
  void* device_ = nullptr;
  bool initialised_ = false;
  std::string error_;
  int (*init_)() = nullptr;
  int (*shutdown_)() = nullptr;
  int (*by_pci_)(const char*, void**) = nullptr;
  int (*clock_)(void*, int, unsigned*) = nullptr;
  int (*temp_)(void*, int, unsigned*) = nullptr;
  int (*power_)(void*, unsigned*) = nullptr;
  int (*reasons_)(void*, unsigned long long*) = nullptr;
  int (*driver_)(char*, unsigned) = nullptr;
};

}  // namespace mlasim::gpu
