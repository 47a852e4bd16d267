// mlasim calibrate and validate on measurement runs generated from a known truth (sim/calibration/
// synthetic_run.hpp): the folder reads back, calibration recovers the truth, held-out points are predicted to
// about the injected noise, and bad runs are refused with clear reasons.
#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "sim/calibration/calibrate.hpp"
#include "sim/calibration/synthetic_run.hpp"
#include "sim/calibration/validate.hpp"
#include "sim/config/loader.hpp"
#include "sim/csv.hpp"
#include "sim/device/attention_kernel_model.hpp"
#include "sim/device/device_model.hpp"
#include "sim/output.hpp"
#include "tests/spec_fixtures.hpp"
#include "tests/test_support.hpp"

using namespace mlasim;
namespace fs = std::filesystem;

namespace {

/// One generated run per truth, shared by the test cases of this program.
const MeasurementRun& run_of(const std::string& name, const SyntheticTruth& truth) {
  static test::ScratchDir dir("mlasim_test_calibrate");
  static std::map<std::string, MeasurementRun> runs;
  if (auto it = runs.find(name); it != runs.end()) return it->second;
  const fs::path where = dir.path() / name;
  write_synthetic_run(where, truth);
  return runs.emplace(name, load_measurement_run(where)).first->second;
}

const MeasurementRun& default_run() {
  return run_of("default", SyntheticTruth{});
}

HardwareSpec h200() {
  return resolve_hw("h200");
}

}  // namespace

TEST_CASE("a synthetic run reads back whole: manifest, fingerprints, every CSV") {
  const MeasurementRun& run = default_run();
  CHECK(run.manifest.synthetic);
  CHECK(run.manifest.device == "NVIDIA H200");
  CHECK(run.manifest.phases.at("attention").status == "ok");
  REQUIRE(run.probes_fingerprint.has_value());
  CHECK(run.probes_fingerprint->sms == 132);
  CHECK(run.probes_fingerprint->sm_clock_max_hz == Approx(1980e6));
  CHECK(run.attention_rows.size() == 700);  // kernels/attention/bench_grid.hpp's full grid
  CHECK(run.checks.size() == 3);
  CHECK(run.device_state.size() == 8);
  std::size_t gemm = 0, bandwidth = 0, launch = 0;
  for (const ProbeRow& r : run.probe_rows) {
    gemm += r.probe == "gemm";
    bandwidth += r.probe == "bandwidth";
    launch += r.probe == "launch";
  }
  CHECK(gemm == 57 * 14 * 2);
  CHECK(bandwidth > 500);
  CHECK(launch == 4);
  CHECK(run.notes.empty());
  CHECK(refusal_reasons(run, h200()).empty());
}

TEST_CASE("the same seed writes byte-identical runs; another seed does not") {
  test::ScratchDir dir("mlasim_test_calibrate_seed");
  SyntheticTruth t;
  t.quick = true;
  write_synthetic_run(dir.path() / "a", t);
  write_synthetic_run(dir.path() / "b", t);
  t.seed = 2;
  write_synthetic_run(dir.path() / "c", t);
  const auto text = [&](const char* run, const char* file) {
    return read_text_file(dir.path() / run / file);
  };
  for (const char* f : {"run.yaml", "probes/gemm.csv", "probes/bandwidth.csv", "attention/mla_decode.csv"}) {
    CHECK(text("a", f) == text("b", f));
  }
  CHECK(text("a", "attention/mla_decode.csv") != text("c", "attention/mla_decode.csv"));
  CHECK_THROWS_WITH(write_synthetic_run(dir.path() / "a", t), Catch::Contains("already exists"));
}

TEST_CASE("calibrate recovers the truth: bandwidth ramps, launch costs, GEMM rates, attention tables") {
  const SyntheticTruth truth;
  const Calibration c = calibrate(default_run(), h200());
  // The copy ramp from 30 working sets with 3% noise and 2% outliers (the robust fit down-weights them).
  REQUIRE(c.hbm_ramp() != nullptr);
  CHECK(c.hbm_ramp()->bw_inf_bytes_per_s == Approx(truth.copy.bw_inf_bytes_per_s).epsilon(0.02));
  CHECK(c.hbm_ramp()->t0_s == Approx(truth.copy.t0_s).epsilon(0.25));
  CHECK(c.bandwidth.at("read").bw_inf_bytes_per_s == Approx(truth.read.bw_inf_bytes_per_s).epsilon(0.02));
  // One measured point each: within a few noise widths.
  CHECK(*c.launch_eager_s == Approx(truth.launch_eager_s).epsilon(0.12));
  CHECK(*c.launch_graph_s == Approx(truth.launch_graph_s).epsilon(0.12));
  CHECK(*c.launch_single_s == Approx(truth.launch_single_s).epsilon(0.12));
  // The best GEMM rate is a large-m point of some shape: the truth's peak, a little above with noise.
  CHECK(c.gemm_peak_flops_per_s.at(Dtype::kBf16) == Approx(truth.gemm_bf16_flops_per_s).epsilon(0.12));
  CHECK(c.gemm.size() == 2 * 57);
  // Every uniform and variable shape of the grid: MLA 4 h_q × 2 s_q × 2 length kinds, 4 GQA shapes.
  CHECK(c.attention.size() == 20);
  CHECK(c.attention_ramps.count("mla") == 1);
  CHECK(c.attention_ramps.count("gqa_d128") == 1);
  CHECK(c.attention_ramps.count("gqa_d64") == 1);
  CHECK_THAT(c.fingerprint, Catch::StartsWith("SYNTHETIC") && Catch::Contains("NVIDIA H200, 132 SMs"));
  // The block survives YAML: written, loaded back into a profile, written again unchanged.
  const std::string block = calibration_to_yaml(c);
  test::ScratchDir dir("mlasim_test_calibrate_yaml");
  const std::string profile =
      replace_calibration_block(read_text_file(hw_profiles_dir() / "h200.yaml"), block);
  const HardwareSpec back = load_hw_profile(dir.write("h200-calibrated.yaml", profile));
  CHECK(calibration_to_yaml(back.calibration) == block);
}

TEST_CASE("calibrated predictions of held-out points land near the injected noise; datasheet ones do not") {
  const ValidationReport r = validate_run(default_run(), h200());
  REQUIRE(r.families.size() == 5);
  for (const FamilyValidation& f : r.families) {
    INFO(f.family << ": calibrated MAPE " << f.calibrated.mape << " (p95 " << f.calibrated.p95 << ", worst "
                  << f.calibrated.worst << " at " << f.calibrated.worst_point << "), datasheet MAPE "
                  << f.datasheet.mape);
    CHECK(f.points > 0);
    // 3% log-normal noise has a mean absolute error of 2.4%; 2% of points are outliers 50% slow; the
    // interpolation and the extrapolation to the held-out context ends add a little.
    CHECK(f.calibrated.mape < 0.06);
    CHECK(f.calibrated.mape < f.datasheet.mape);
  }
  // Determinism: the same run and options give the same report.
  const ValidationReport again = validate_run(default_run(), h200());
  REQUIRE(again.points.size() == r.points.size());
  for (std::size_t i = 0; i < r.points.size(); ++i)
    CHECK(again.points[i].calibrated_s == r.points[i].calibrated_s);
}

TEST_CASE("with no noise, calibrated predictions of held-out MLA points inside the grid are close to exact") {
  SyntheticTruth t;
  t.noise = 0.0;
  t.outlier_fraction = 0.0;
  const MeasurementRun& run = run_of("noiseless", t);
  ValidateOptions o;
  o.hold_out_context_ends = false;  // interpolation only
  const ValidationReport r = validate_run(run, h200(), o);
  for (const FamilyValidation& f : r.families) {
    INFO(f.family << ": worst " << f.calibrated.worst << " at " << f.calibrated.worst_point);
    if (f.family == std::string(kFamilyMla) || f.family == std::string(kFamilyGqa))
      CHECK(f.calibrated.mape < 0.03);
  }
}

TEST_CASE("a run whose kernel failed its check is refused, naming the check") {
  SyntheticTruth t;
  t.quick = true;
  t.failed_variant = "gqa-d64";
  const MeasurementRun& run = run_of("failed", t);
  CHECK(run.manifest.phases.at("attention").status == "check-failed");
  const std::vector<std::string> reasons = refusal_reasons(run, h200());
  REQUIRE(reasons.size() == 2);
  CHECK_THAT(reasons[0], Catch::Contains("check.csv:4") && Catch::Contains("gqa kernel (d 64) failed"));
  CHECK_THAT(reasons[1], Catch::Contains("timing rows of gqa d 64") && Catch::Contains("FAILED"));
  CHECK_THROWS_WITH(calibrate(run, h200()), Catch::Contains("refusing to calibrate `h200`"));
  CHECK_THROWS_AS(validate_run(run, h200()), InputError);
}

TEST_CASE("a run of another GPU, or a throttled one, is refused") {
  SyntheticTruth t;
  t.quick = true;
  const MeasurementRun& h200_run = run_of("quick", t);
  const std::vector<std::string> wrong = refusal_reasons(h200_run, resolve_hw("h100-sxm"));
  REQUIRE(wrong.size() == 1);
  CHECK_THAT(wrong[0], Catch::Contains("measured `NVIDIA H200` but the profile is `h100-sxm`"));
  t.throttled = true;
  const MeasurementRun& hot = run_of("throttled", t);
  const std::vector<std::string> reasons = refusal_reasons(hot, h200());
  REQUIRE(reasons.size() == 1);
  CHECK_THAT(reasons[0], Catch::Contains("device_state.csv:8") &&
                             Catch::Contains("throttled at `after gemm`") && Catch::Contains("0x20"));
  CHECK(refusal_reasons(hot, h200(), /*allow_throttled=*/true).empty());
}

TEST_CASE("device names match their profiles by model, not by substring") {
  const HardwareSpec h100 = resolve_hw("h100-sxm"), h200 = resolve_hw("h200"), h800 = resolve_hw("h800");
  CHECK(device_matches_profile("NVIDIA H100 80GB HBM3", h100));
  CHECK(device_matches_profile("NVIDIA H200", h200));
  CHECK_FALSE(device_matches_profile("NVIDIA H200", h100));
  CHECK_FALSE(device_matches_profile("NVIDIA GH200 480GB", h200));
  CHECK_FALSE(device_matches_profile("NVIDIA H800", h100));
  CHECK(device_matches_profile("NVIDIA H800", h800));
}

TEST_CASE("a calibrated profile times a decode step from the measured tables and says so") {
  HardwareSpec hw = h200();
  hw.calibration = calibrate(default_run(), hw);
  const ModelSpec m = test::deepseek_v3();
  StepShape shape = uniform_decode(64, 4096);
  shape.parallel = Parallelism{8, true};
  const StepWorkload w = build_step(m, shape);
  const DeviceModel device(hw, DeviceMode::kCalibrated);
  const StepCost cal = cost_step(w, device);
  CHECK(cal.share(Provenance::kAnalytic) < 0.2);
  CHECK(cal.share(Provenance::kAnalytic) > 0.0);  // the collectives: no probe measures the links
  const auto provenance_of = [](const StepCost& c, const std::string& name) {
    for (const TimedOp& op : c.ops) {
      if (op.op.name == name) return op.time.provenance;
    }
    FAIL("no op " << name);
    return Provenance::kAnalytic;
  };
  // 64 sequences over 8 DP ranks: 8 per rank at 4096 tokens with 128 heads, a node of the measured grid
  // (batch 8, context 4096, h_q·s_q 128); q_b_proj of DeepSeek-V3 at TP 1 is a probed shape and m = 64 a
  // probed m.
  CHECK(provenance_of(cal, "attention_decode_mla_absorbed") == Provenance::kMeasured);
  CHECK(provenance_of(cal, "q_b_proj") == Provenance::kMeasured);
  // 80 sequences: 10 per rank, between measured batches; m = 80 between probed m.
  StepShape between = uniform_decode(80, 3000);
  between.parallel = Parallelism{8, true};
  const StepCost c80 = cost_step(build_step(m, between), device);
  CHECK(provenance_of(c80, "attention_decode_mla_absorbed") == Provenance::kInterpolated);
  CHECK(provenance_of(c80, "q_b_proj") == Provenance::kInterpolated);
  // 2000 sequences at 100k tokens: beyond the grid on both axes.
  StepShape beyond = uniform_decode(2000, 100000);
  beyond.parallel = Parallelism{8, true};
  const StepCost far = cost_step(build_step(m, beyond), device);
  CHECK(provenance_of(far, "attention_decode_mla_absorbed") == Provenance::kExtrapolated);
  CHECK(cal.step_time_s > 0.0);
}

TEST_CASE("replacing the calibration block keeps every other line and comment") {
  const std::string profile =
      "# comment on top\nname: X\ncalibration: {}\n# trailing comment\nprice_per_gpu_hour: 2 USD\n";
  CHECK(replace_calibration_block(profile, "calibration:\n  source: \"r\"\n") ==
        "# comment on top\nname: X\ncalibration:\n  source: \"r\"\n# trailing comment\nprice_per_gpu_hour: 2 "
        "USD\n");
  const std::string nested =
      "name: X\ncalibration:\n  bandwidth:\n    copy: {t0: 1 us, bw_inf: 1 TB/s}\n\n  # old\nsms: 3\n";
  CHECK(replace_calibration_block(nested, "calibration: {}\n") == "name: X\ncalibration: {}\nsms: 3\n");
  CHECK(replace_calibration_block("name: X", "calibration: {}\n") == "name: X\ncalibration: {}\n");
}

TEST_CASE("a CSV cut short by a killed run loses only its torn last line, and says so") {
  const std::string header =
      "kernel,batch,context,lengths,s_q,n_h,n_kv,d,sum_context,flops,bytes,median_us,p90_us,min_us,repeats,"
      "num_parts,num_segments,max_splits,attention_ctas,combine_ctas,check\n";
  const std::string row =
      "mla,1,512,uniform,1,16,1,576,512,17825792,624640,12.8,13.2,12.5,20,4,4,4,4,16,pass\n";
  std::vector<std::string> notes;
  const auto rows = parse_attention_csv(header + row + "mla,8,512,unif", "t.csv", &notes);
  CHECK(rows.size() == 1);
  REQUIRE(notes.size() == 1);
  CHECK_THAT(notes[0], Catch::Contains("t.csv: the last line was cut short"));
  // A short row that ends with a newline is an error, located.
  CHECK_THROWS_WITH(parse_attention_csv(header + "mla,8\n" + row, "t.csv"),
                    Catch::StartsWith("t.csv:2:1: error: row has 2 cells"));
  CHECK_THROWS_WITH(parse_attention_csv(
                        header + "mlx,1,512,uniform,1,16,1,576,512,1,1,1,1,1,20,4,4,4,4,16,pass\n", "t.csv"),
                    Catch::StartsWith("t.csv:2:1: error: kernel: unknown kernel 'mlx'"));
}

TEST_CASE("an isolated slow point is dropped as an outlier; a step, an edge and a fast point are kept") {
  AttentionTable t;
  t.kernel = AttentionKernel::kMla;
  t.batch = {1, 8, 64};
  t.context = {512, 1024, 2048, 4096};
  // time ∝ batch^0.5 · context^0.8, smooth; then one point made 1.5x slower.
  for (const double b : t.batch) {
    for (const double l : t.context) t.time_s.push_back(1e-6 * std::sqrt(b) * std::pow(l, 0.8));
  }
  const std::vector<double> clean = t.time_s;
  t.time_s[1 * 4 + 2] *= 1.5;  // batch 8, context 2048: inside on both axes
  t.time_s[0 * 4 + 3] *= 1.5;  // batch 1, context 4096: the last context and the first batch, an edge on both
  t.time_s[2 * 4 + 1] *= 0.7;  // batch 64, context 1024: fast, kept (noise is one-sided)
  std::vector<SourceLocation> where(t.time_s.size());
  where[6] = SourceLocation{"mla_decode.csv", 17, 0};
  const std::vector<std::string> notes = drop_isolated_spikes(t, where);
  REQUIRE(notes.size() == 1);
  CHECK_THAT(notes[0], Catch::StartsWith("mla_decode.csv:17: mla batch 8 context 2048 dropped"));
  CHECK(std::isnan(t.time_s[6]));
  CHECK(t.time_s[3] == clean[3] * 1.5);
  CHECK(t.time_s[9] == clean[9] * 0.7);
  // A step up that stays up (a wave boundary) is not an isolated point: nothing is dropped.
  AttentionTable step = t;
  step.time_s = clean;
  for (std::size_t ci = 2; ci < 4; ++ci) {
    for (std::size_t bi = 0; bi < 3; ++bi) step.time_s[bi * 4 + ci] *= 1.4;
  }
  CHECK(drop_isolated_spikes(step, {}).empty());
}

TEST_CASE("a bad run folder is refused with file:line:col") {
  test::ScratchDir dir("mlasim_test_calibrate_bad");
  SyntheticTruth t;
  t.quick = true;
  const fs::path run = dir.path() / "run";
  write_synthetic_run(run, t);
  std::string manifest = read_text_file(run / "run.yaml");
  const std::string good = manifest;
  const auto error_of_run = [&] {
    try {
      (void)load_measurement_run(run);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  manifest.replace(manifest.find("device:"), 7, "devise:");
  write_file_atomically(run / "run.yaml", manifest);
  CHECK_THAT(error_of_run(),
             Catch::StartsWith((run / "run.yaml").string() + ":3:1: error: devise: unknown key "
                                                             "`devise`; did you mean `device`?"));
  manifest = good;
  manifest.replace(manifest.find("mlasim-measurement-run/1"), 24, "mlasim-measurement-run/9");
  write_file_atomically(run / "run.yaml", manifest);
  CHECK_THAT(error_of_run(), Catch::Contains("run.yaml:1:9: error: schema: unknown schema"));
  write_file_atomically(run / "run.yaml", good);
  std::string csv = read_text_file(run / "attention" / "gqa_decode.csv");
  csv.replace(csv.find(",pass"), 5, ",maybe");
  write_file_atomically(run / "attention" / "gqa_decode.csv", csv);
  CHECK_THAT(error_of_run(),
             Catch::Contains("gqa_decode.csv:2:") && Catch::Contains("check: 'maybe' is neither"));
  fs::remove(run / "run.yaml");
  CHECK_THAT(error_of_run(), Catch::Contains("run.yaml is missing"));
}

TEST_CASE(
    "several kernel variants per point: the fastest correct one is used and recorded; a failed one is set "
    "aside") {
  // A quick synthetic run, then mla_decode.csv rewritten as the bench's registry writes it: every point timed
  // by three variants. mla-d576-sm90a is 0.8x the baseline from batch 32 up and 1.25x below it; mla-d576-bad
  // is twice as fast everywhere but failed its check (check.csv says so, its rows say FAILED).
  test::ScratchDir dir("mlasim_test_calibrate_variants");
  const auto write_text_file = [](const fs::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  };
  SyntheticTruth truth;
  truth.quick = true;
  const fs::path where = dir.path() / "run";
  write_synthetic_run(where, truth);
  const fs::path mla_csv = where / "attention" / "mla_decode.csv";
  const std::string text = read_text_file(mla_csv);
  const std::vector<AttentionRow> original = parse_attention_csv(text, "original");
  const CsvFile csv = CsvFile::parse(text, "original", {}, "attention timing CSV");
  const std::size_t c_variant = csv.column("variant"), c_batch = csv.column("batch"),
                    c_check = csv.column("check");
  const std::vector<std::size_t> c_times = {csv.column("median_us"), csv.column("p90_us"),
                                            csv.column("min_us")};
  std::string rewritten = text.substr(0, text.find('\n') + 1);
  for (const CsvRecord& r : csv.rows()) {
    for (const std::string variant : {"mla-d576", "mla-d576-sm90a", "mla-d576-bad"}) {
      const double scale = variant == "mla-d576"       ? 1.0
                           : variant == "mla-d576-bad" ? 0.5
                           : r.integer(c_batch) >= 32  ? 0.8
                                                       : 1.25;
      std::vector<std::string> cells;
      for (std::size_t i = 0; i < csv.names().size(); ++i) {
        std::string cell = r.text(i);
        if (i == c_variant) cell = variant;
        if (i == c_check && variant == "mla-d576-bad") cell = "FAILED";
        if (std::find(c_times.begin(), c_times.end(), i) != c_times.end())
          cell = fmt::format("{:.9g}", r.real(i) * scale);
        cells.push_back(cell);
      }
      rewritten += fmt::format("{}\n", fmt::join(cells, ","));
    }
  }
  write_text_file(mla_csv, rewritten);
  const fs::path check_csv = where / "attention" / "check.csv";
  write_text_file(check_csv, read_text_file(check_csv) +
                                 "mla,mla-d576-bad,3,2 777 4096,1,64,1,576,4,9,0,0.52,3.1,0,NO\n");

  const MeasurementRun run = load_measurement_run(where);
  REQUIRE(run.attention_rows.size() ==
          original.size() +
              (parse_attention_csv(read_text_file(where / "attention" / "gqa_decode.csv"), "g")).size());
  std::size_t sm90a = 0;
  for (const AttentionRow& r : run.attention_rows) {
    if (r.kernel != AttentionKernel::kMla) continue;
    const auto same = std::find_if(original.begin(), original.end(), [&](const AttentionRow& o) {
      return o.batch == r.batch && o.context == r.context && o.s_q == r.s_q && o.n_h == r.n_h &&
             o.variable_lengths == r.variable_lengths;
    });
    REQUIRE(same != original.end());
    CHECK(r.variant == (r.batch >= 32 ? "mla-d576-sm90a" : "mla-d576"));
    CHECK(r.median_s == Approx(same->median_s * (r.batch >= 32 ? 0.8 : 1.0)).epsilon(1e-6));
    CHECK(r.check_passed);
    sm90a += r.variant == "mla-d576-sm90a" ? 1 : 0;
  }
  CHECK(sm90a > 0);
  const std::string notes = fmt::format("{}", fmt::join(run.notes, "\n"));
  CHECK_THAT(notes, Catch::Contains("check.csv:5") && Catch::Contains("variant mla-d576-bad failed") &&
                        Catch::Contains("set aside"));
  CHECK_THAT(notes, Catch::Contains(fmt::format("the fastest correct one is used: mla-d576 at {}, "
                                                "mla-d576-sm90a at {}",
                                                original.size() - sm90a, sm90a)));
  // Nothing left to refuse; the tables record which variant each cell holds, and YAML keeps it.
  CHECK(refusal_reasons(run, h200()).empty());
  const Calibration c = calibrate(run, h200());
  int recorded = 0;
  for (const AttentionTable& t : c.attention) {
    if (t.kernel != AttentionKernel::kMla) {
      CHECK(t.variant.empty());  // GQA: the baselines alone, nothing to record
      continue;
    }
    REQUIRE(t.variant.size() == t.time_s.size());
    for (std::size_t bi = 0; bi < t.batch.size(); ++bi) {
      for (std::size_t ci = 0; ci < t.context.size(); ++ci) {
        const std::string& v = t.variant[bi * t.context.size() + ci];
        if (std::isnan(t.at(bi, ci))) {
          CHECK(v.empty());
        } else {
          CHECK(v == (t.batch[bi] >= 32 ? "mla-d576-sm90a" : "mla-d576"));
          ++recorded;
        }
      }
    }
  }
  CHECK(recorded > 0);
  const std::string block = calibration_to_yaml(c);
  CHECK_THAT(block, Catch::Contains("variant:") && Catch::Contains("mla-d576-sm90a"));
  const std::string profile =
      replace_calibration_block(read_text_file(hw_profiles_dir() / "h200.yaml"), block);
  const HardwareSpec back = load_hw_profile(dir.write("h200-calibrated.yaml", profile));
  CHECK(calibration_to_yaml(back.calibration) == block);

  // With the baseline failing too, no MLA variant but sm90a passes: the baseline is set aside as well; with
  // every MLA variant failing, the run is refused as before.
  write_text_file(check_csv, read_text_file(check_csv) +
                                 "mla,mla-d576-sm90a,3,2 777 4096,1,64,1,576,4,9,0,0.52,3.1,0,NO\n" +
                                 "mla,mla-d576,3,2 777 4096,1,64,1,576,4,9,0,0.52,3.1,0,NO\n");
  const MeasurementRun all_failed = load_measurement_run(where);
  CHECK_FALSE(refusal_reasons(all_failed, h200()).empty());
}
