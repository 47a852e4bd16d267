#include "sim/calibration/calibration_block.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "sim/output.hpp"

namespace mlasim {

Calibration calibration_from_fits(const ProbeRunFits& fits, const std::string& fingerprint) {
  Calibration c;
  for (const KernelBandwidthFit& k : fits.bandwidth) {
    c.bandwidth[k.kernel] = BandwidthRamp{k.hbm.t0_s, k.hbm.bw_inf_bytes_per_s, k.min_bytes, k.max_bytes};
  }
  for (const LaunchOverhead& l : fits.launch) {
    if (l.kernel == "empty_eager") c.launch_eager_s = l.median_s;
    if (l.kernel == "empty_graph") c.launch_graph_s = l.median_s;
    if (l.kernel == "empty_single") c.launch_single_s = l.median_s;
  }
  for (const GemmEfficiencyTable& t : fits.gemm) {
    Dtype d;
    if (t.key().dtype == "bf16") {
      d = Dtype::kBf16;
    } else if (t.key().dtype.rfind("fp8", 0) == 0) {
      d = Dtype::kFp8;
    } else {
      continue;
    }
    for (const GemmPoint& p : t.points()) {
      double& best = c.gemm_peak_flops_per_s[d];
      best = std::max(best, p.tflops * 1e12);
    }
    c.gemm.push_back(t);
  }
  c.fingerprint = fingerprint;
  return c;
}

std::string fingerprint_summary(const std::string& path) {
  std::istringstream in(read_text_file(path));
  std::string line, device, sms, runtime, git, date;
  auto value = [](const std::string& l) {
    std::string v = l.substr(l.find(':') + 1);
    v.erase(0, v.find_first_not_of(' '));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return v;
  };
  while (std::getline(in, line)) {
    if (line.rfind("device:", 0) == 0) device = value(line);
    if (line.rfind("sms:", 0) == 0) sms = value(line);
    if (line.rfind("cuda_runtime:", 0) == 0) runtime = value(line);
    if (line.rfind("git_revision:", 0) == 0) git = value(line);
    if (line.rfind("date:", 0) == 0) date = value(line);
  }
  std::vector<std::string> parts;
  if (!device.empty()) parts.push_back(device);
  if (!sms.empty()) parts.push_back(sms + " SMs");
  if (!runtime.empty()) parts.push_back("CUDA runtime " + runtime);
  if (!git.empty()) parts.push_back("git " + git);
  if (!date.empty()) parts.push_back(date);
  return fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace mlasim
