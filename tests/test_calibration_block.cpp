// From probe fits to a profile's calibration block and back, and what calibrated mode does with it.
#include <catch2/catch.hpp>
#include <cmath>

#include "sim/calibration/calibration_block.hpp"
#include "sim/config/loader.hpp"
#include "sim/device/device_model.hpp"
#include "sim/output.hpp"
#include "tests/spec_fixtures.hpp"
#include "tests/test_support.hpp"

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

TEST_CASE("the calibration block keeps every bandwidth ramp, the three launch costs and the GEMM tables") {
  const Calibration c = calibration_from_fits(synthetic_fits(), "H100 test");
  REQUIRE(c.hbm_ramp() != nullptr);
  CHECK(c.hbm_ramp()->bw_inf_bytes_per_s == 2.95e12);  // copy's, not read's
  CHECK(c.hbm_ramp()->t0_s == 3.5e-6);
  CHECK(c.bandwidth.at("read").bw_inf_bytes_per_s == 3.1e12);
  CHECK(*c.launch_eager_s == 2.4e-6);
  CHECK(*c.launch_graph_s == 1.1e-6);
  CHECK_FALSE(c.launch_single_s.has_value());
  CHECK(c.gemm.size() == 3);
  CHECK(c.gemm_peak_flops_per_s.at(Dtype::kBf16) == Approx(720e12));
  CHECK(c.gemm_peak_flops_per_s.at(Dtype::kFp8) == Approx(1350e12));
  CHECK(c.fingerprint == "H100 test");
  CHECK(calibration_from_fits(ProbeRunFits{}, "").empty());
}

TEST_CASE("a calibration block written as YAML loads back to the same numbers") {
  Calibration c = calibration_from_fits(synthetic_fits(), "NVIDIA H100 80GB HBM3, 132 SMs, \"quoted\"");
  c.launch_single_s = 5.5e-6;
  c.attention_ramps["mla"] = KernelRamp{9e-6, 3.1e12, 400e12};
  AttentionTable t;
  t.kernel = AttentionKernel::kMla;
  t.s_q = 1;
  t.n_h = 16;
  t.d = 576;
  t.batch = {1, 8};
  t.context = {512, 1024, 2048};
  t.time_s = {10e-6, 11e-6, 12.5e-6, 20e-6, std::nan(""), 40e-6};
  c.attention.push_back(t);
  const std::string block = calibration_to_yaml(c);
  CHECK_THAT(block, Catch::Contains("copy: {t0: 3.5 us, bw_inf: 2.95 TB/s}") &&
                        Catch::Contains("launch: {eager: 2.4 us, graph: 1.1 us, single: 5.5 us}") &&
                        Catch::Contains("gemm_peak: {bf16: 720 TFLOP/s, fp8: 1.35 PFLOP/s}") &&
                        Catch::Contains("- [20, null, 40]"));
  std::string profile = read_text_file(data_dir() / "hw_profiles" / "h100-sxm.yaml");
  const auto at = profile.find("calibration: {}");
  REQUIRE(at != std::string::npos);
  profile.replace(at, std::string("calibration: {}").size(), block.substr(0, block.size() - 1));
  const test::ScratchDir dir("mlasim_test_calibration");
  const HardwareSpec hw = load_hw_profile(dir.write("h100-calibrated.yaml", profile));
  const Calibration& back = hw.calibration;
  CHECK(back.hbm_ramp()->bw_inf_bytes_per_s == Approx(2.95e12).epsilon(1e-6));
  CHECK(back.hbm_ramp()->t0_s == Approx(3.5e-6).epsilon(1e-6));
  CHECK(*back.launch_eager_s == Approx(2.4e-6).epsilon(1e-6));
  CHECK(*back.launch_single_s == Approx(5.5e-6).epsilon(1e-6));
  CHECK(back.gemm_peak_flops_per_s.at(Dtype::kFp8) == Approx(1350e12).epsilon(1e-6));
  REQUIRE(back.gemm.size() == c.gemm.size());
  CHECK(back.gemm[0].key() == c.gemm[0].key());
  CHECK(back.gemm[0].points().back().tflops == Approx(c.gemm[0].points().back().tflops));
  CHECK(back.attention_ramps.at("mla").flops_per_s == Approx(400e12));
  REQUIRE(back.attention.size() == 1);
  CHECK(back.attention[0].at(0, 2) == Approx(12.5e-6));
  CHECK(std::isnan(back.attention[0].at(1, 1)));
  CHECK(back.fingerprint == c.fingerprint);
  CHECK(calibration_to_yaml(back) == block);  // a second round trip changes nothing
  CHECK(calibration_to_yaml(Calibration{}) == "calibration: {}\n");
}

TEST_CASE("calibrated mode: a GEMM takes its measured time at its m; small ops follow the copy ramp") {
  HardwareSpec hw = test::h100();
  hw.calibration = calibration_from_fits(synthetic_fits(), "test");
  const DeviceModel dev(hw, DeviceMode::kCalibrated, LaunchMode::kEager);
  const GemmEfficiencyTable& table = hw.calibration.gemm[0];  // lt_bf16 8192 x 8192: m = 1, 4096, 8192
  REQUIRE(table.key().n == 8192);
  const GemmRoofline roof = hw.calibration.gemm_roofline(Dtype::kBf16);
  REQUIRE(roof.valid());
  CHECK(roof.flops_per_s == 720e12);   // the best bf16 rate measured
  CHECK(roof.bytes_per_s == 2.95e12);  // the copy ramp
  CHECK(roof.t0_s == 3.5e-6);          // its t0 (no single-launch gap measured here)
  const auto gemm_op = [&](double m) {
    Op op;
    op.name = "weights";
    op.op_class = OpClass::kGemm;
    op.count = 4;
    op.gemm_m = m;
    op.gemm_n = 8192;
    op.gemm_k = 8192;
    op.flops = 4 * table.flops_at(m);
    op.weight_bytes = 4 * table.bytes_at(m);
    return op;
  };
  // m = 1, a measured point of this shape: exactly its measured time (1.5 TFLOP/s), plus four eager launches.
  const OpTime t = dev.time_op(gemm_op(1));
  CHECK(t.time_s == Approx(4 * table.flops_at(1) / 1.5e12 + 4 * 2.4e-6));
  CHECK(t.provenance == Provenance::kMeasured);
  // m = 64, between m = 1 and m = 4096: the residual measured / roofline interpolated in log m, by hand.
  const auto residual = [&](double m, double tflops) {
    return table.flops_at(m) / (tflops * 1e12) / roof.time_s(table.flops_at(m), table.bytes_at(m));
  };
  const double r1 = residual(1, 1.5), r4096 = residual(4096, 700.0);
  const double r64 =
      std::exp(std::log(r1) + std::log(64.0) / std::log(4096.0) * (std::log(r4096) - std::log(r1)));
  const OpTime t64 = dev.time_op(gemm_op(64));
  CHECK(t64.time_s == Approx(4 * r64 * roof.time_s(table.flops_at(64), table.bytes_at(64)) + 4 * 2.4e-6));
  CHECK(t64.provenance == Provenance::kInterpolated);
  Op other = gemm_op(64);
  other.gemm_n = 9000;  // not a probed shape: the nearest one's residual, extrapolated
  CHECK(dev.time_op(other).provenance == Provenance::kExtrapolated);

  Op norm;
  norm.name = "norm";
  norm.op_class = OpClass::kOther;
  norm.count = 4;
  norm.activation_bytes = 2.95e12 * 1e-3;  // 1 ms at BW∞
  const OpTime tn = dev.time_op(norm);
  CHECK(tn.memory_s == Approx(1e-3 + 4 * 3.5e-6));
  CHECK(tn.launch_s == Approx(4 * 2.4e-6));
  CHECK(dev.compute_flops_per_s(Dtype::kBf16) == Approx(720e12));
  const DeviceModel graph(hw, DeviceMode::kCalibrated, LaunchMode::kGraph);
  CHECK(graph.time_op(norm).launch_s == Approx(4 * 1.1e-6));
}
