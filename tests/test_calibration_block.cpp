// From probe fits to a profile's calibration block and back, and what calibrated mode does with it.
#include <catch2/catch.hpp>
#include <cmath>

#include "sim/calibration/calibration_block.hpp"
#include "sim/config/loader.hpp"
#include "sim/device/device_model.hpp"
#include "sim/output.hpp"
#include "tests/test_support.hpp"
#include "tests/spec_fixtures.hpp"

using namespace mlasim;

namespace {

ProbeRunFits synthetic_fits() {
  ProbeRunFits f;
  KernelBandwidthFit read, copy;
  read.kernel = "read";
  read.hbm.t0_s = 2e-6;
  read.hbm.bw_inf_bytes_per_s = 3.1e12;
  copy.kernel = "copy";
  copy.hbm.t0_s = 3.5e-6;
  copy.hbm.bw_inf_bytes_per_s = 2.95e12;
  f.bandwidth = {copy, read};
  f.gemm.emplace_back(GemmShapeKey{"lt_bf16", "bf16", 8192, 8192, 1},
                      std::vector<GemmPoint>{{1, 1.5, 0}, {4096, 700.0, 0}, {8192, 720.0, 0}});
  f.gemm.emplace_back(GemmShapeKey{"lt_bf16", "bf16", 1024, 8192, 1},
                      std::vector<GemmPoint>{{8192, 650.0, 0}});
  f.gemm.emplace_back(GemmShapeKey{"lt_fp8_e4m3", "fp8_e4m3", 8192, 8192, 1},
                      std::vector<GemmPoint>{{8192, 1350.0, 0}});
  f.launch = {{"empty_eager", 2.4e-6, 2.6e-6}, {"empty_graph", 1.1e-6, 1.2e-6}};
  return f;
}

}  // namespace

TEST_CASE("the calibration block takes the copy ramp, the eager launch and the best GEMM rate per dtype") {
  const Calibration c = calibration_from_fits(synthetic_fits(), "H100 test");
  CHECK(*c.hbm_bandwidth_bytes_per_s == 2.95e12);
  CHECK(*c.hbm_t0_s == 3.5e-6);
  CHECK(*c.launch_overhead_s == 2.4e-6);
  CHECK(c.gemm_peak_flops_per_s.at(Dtype::kBf16) == Approx(720e12));
  CHECK(c.gemm_peak_flops_per_s.at(Dtype::kFp8) == Approx(1350e12));
  CHECK(c.fingerprint == "H100 test");
  CHECK(calibration_from_fits(ProbeRunFits{}, "").empty());
}

TEST_CASE("a calibration block written as YAML loads back to the same numbers") {
  const Calibration c = calibration_from_fits(synthetic_fits(), "NVIDIA H100 80GB HBM3, 132 SMs, \"quoted\"");
  const std::string block = calibration_to_yaml(c);
  CHECK_THAT(block, Catch::Contains("hbm_bandwidth: 2.95 TB/s") && Catch::Contains("hbm_t0: 3.5 us") &&
                        Catch::Contains("gemm_peak: {bf16: 720 TFLOP/s, fp8: 1.35 PFLOP/s}"));
  std::string profile = read_text_file(data_dir() / "hw_profiles" / "h100-sxm.yaml");
  const auto at = profile.find("calibration: {}");
  REQUIRE(at != std::string::npos);
  profile.replace(at, std::string("calibration: {}").size(), block.substr(0, block.size() - 1));
  const test::ScratchDir dir("mlasim_test_calibration");
  const HardwareSpec hw = load_hw_profile(dir.write("h100-calibrated.yaml", profile));
  CHECK(*hw.calibration.hbm_bandwidth_bytes_per_s == Approx(2.95e12).epsilon(1e-6));
  CHECK(*hw.calibration.hbm_t0_s == Approx(3.5e-6).epsilon(1e-6));
  CHECK(*hw.calibration.launch_overhead_s == Approx(2.4e-6).epsilon(1e-6));
  CHECK(hw.calibration.gemm_peak_flops_per_s.at(Dtype::kFp8) == Approx(1350e12).epsilon(1e-6));
  CHECK(hw.calibration.fingerprint == c.fingerprint);
  CHECK(calibration_to_yaml(Calibration{}) == "calibration: {}\n");
}

TEST_CASE("calibrated mode: t = t0 + bytes / BW∞ per launch, measured GEMM peak, measured launch cost") {
  HardwareSpec hw = test::h100();
  hw.calibration = calibration_from_fits(synthetic_fits(), "test");
  const DeviceModel dev(hw, DeviceMode::kCalibrated);
  Op op;
  op.name = "weights";
  op.op_class = OpClass::kGemm;
  op.count = 4;
  op.weight_bytes = 2.95e12 * 1e-3;  // 1 ms at BW∞
  const OpTime t = dev.time_op(op, Precision{}, 1);
  CHECK(t.memory_s == Approx(1e-3 + 4 * 3.5e-6));
  CHECK(t.launch_s == Approx(4 * 2.4e-6));
  CHECK(t.time_s == Approx(1e-3 + 4 * 3.5e-6 + 4 * 2.4e-6));
  CHECK(dev.compute_flops_per_s(Dtype::kBf16) == Approx(720e12));
  op.flops = 720e12 * 5e-3;  // 5 ms at the measured bf16 peak: compute-bound now
  CHECK(dev.time_op(op, Precision{}, 1).bound == Bound::kCompute);
}
