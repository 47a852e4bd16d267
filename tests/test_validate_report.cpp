// The validation report (DESIGN.md §9, §10): error statistics by hand, validate.csv / .json / .md of a
// hand-built ValidationReport, the scatter chart's data and script as exact text, determinism, and the
// command's exit codes that need no measurement run.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "reports/chart.hpp"
#include "reports/gnuplot.hpp"
#include "reports/validate_report.hpp"
#include "sim/calibration/validate.hpp"
#include "tests/test_support.hpp"

using namespace mlasim;

namespace {

ValidationPoint point(const char* family, const std::string& name, const char* x_label, double x,
                      double measured_s, double calibrated_s, Provenance provenance, double datasheet_s,
                      const std::string& file, int line) {
  ValidationPoint p;
  p.family = family;
  p.point = name;
  p.x_label = x_label;
  p.x = x;
  p.measured_s = measured_s;
  p.calibrated_s = calibrated_s;
  p.calibrated_provenance = provenance;
  p.datasheet_s = datasheet_s;
  p.where = SourceLocation{file, line, 0};
  return p;
}

// Three MLA points (calibrated +10%, -5%, +2%; datasheet +50%, -40%, +30%), two GEMM points (calibrated +20%,
// +10%: MAPE 15%, above the 10% line; datasheet -20%, -25%) and one bandwidth point (+2%; -20%).
ValidationReport hand_report() {
  ValidationReport r;
  r.run_dir = "measurements/h200-2025-01-01";
  r.fingerprint = "NVIDIA H200, 132 SMs, driver 550.54, CUDA 12.4, git abc123, 2025-01-01";
  r.profile = "h200";
  r.options.every = 4;
  r.options.hold_out_context_ends = true;
  r.training_points = 42;
  const std::string mla = "measurements/h200-2025-01-01/attention/mla_decode.csv";
  const std::string gemm = "measurements/h200-2025-01-01/probes/gemm.csv";
  r.points = {
      point(kFamilyMla, "mla b=1 L=1024 h_q=16 s_q=1", "context", 1024, 10e-6, 11e-6,
            Provenance::kInterpolated, 15e-6, mla, 12),
      point(kFamilyMla, "mla b=8 L=4096 h_q=16 s_q=1", "context", 4096, 20e-6, 19e-6,
            Provenance::kExtrapolated, 12e-6, mla, 20),
      point(kFamilyMla, "mla b=64 L=32768 h_q=16 s_q=1", "context", 32768, 100e-6, 102e-6,
            Provenance::kMeasured, 130e-6, mla, 31),
      point(kFamilyGemm, "lt_bf16 n=7168 k=2048 batch=1 m=16 [v3.o_proj]", "m", 16, 50e-6, 60e-6,
            Provenance::kInterpolated, 40e-6, gemm, 7),
      point(kFamilyGemm, "lt_bf16 n=7168 k=2048 batch=1 m=256 [v3.o_proj]", "m", 256, 80e-6, 88e-6,
            Provenance::kExtrapolated, 60e-6, gemm, 9),
      point(kFamilyBandwidth, "copy 1000000 bytes (hbm)", "bytes", 1e6, 5e-6, 5.1e-6,
            Provenance::kInterpolated, 4e-6, "measurements/h200-2025-01-01/probes/bandwidth.csv", 3),
  };
  // Families as validate_run builds them: error_stats over each family's points.
  for (const char* family : {kFamilyMla, kFamilyGemm, kFamilyBandwidth}) {
    std::vector<double> cal, ds;
    std::vector<std::string> names;
    for (const ValidationPoint& p : r.points) {
      if (p.family != family) continue;
      cal.push_back(p.calibrated_error());
      ds.push_back(p.datasheet_error());
      names.push_back(p.point);
    }
    r.families.push_back(
        {family, static_cast<int>(names.size()), error_stats(cal, names), error_stats(ds, names)});
  }
  r.notes = {"measurements/h200-2025-01-01/attention/gqa_decode.csv: missing"};
  return r;
}

std::string file_of(const ValidateReportFiles& r, const std::string& name) {
  for (const auto& [n, text] : r.files) {
    if (n == name) return text;
  }
  return "";
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  bool quoted = false;
  for (const char c : line) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      out.push_back(field);
      field.clear();
    } else {
      field += c;
    }
  }
  out.push_back(field);
  return out;
}

ScatterChart tiny_scatter() {
  ScatterChart c;
  c.name = "tiny_scatter";
  c.title = "predicted vs measured, it's tiny";
  c.x = Axis{"measured (us)", true, 10, {}, "%g"};
  c.y = Axis{"predicted (us)", true, 10, {}, "%g"};
  c.lines = {{ReferenceLine::Kind::kProportional, 1.0, "y = x", false},
             {ReferenceLine::Kind::kProportional, 2.0, "x2", true}};
  c.series.push_back({"a", {1.0, 10.0}, {2.0, 5.0}, false, 3});
  c.series.push_back({"b", {4.0, 0.0}, {std::nan(""), 4.0}, true, -1});
  return c;
}

}  // namespace

TEST_CASE("error_stats: MAPE is the mean |error|, p95 the nearest rank of |error|, worst keeps its sign") {
  const ErrorStats s = error_stats({0.1, -0.3, 0.05, 0.2}, {"a", "b", "c", "d"});
  CHECK(s.mape == Approx((0.1 + 0.3 + 0.05 + 0.2) / 4));
  CHECK(s.p95 == Approx(0.3));  // ceil(0.95 * 4) = 4th of 0.05, 0.1, 0.2, 0.3
  CHECK(s.worst == Approx(-0.3));
  CHECK(s.worst_point == "b");

  std::vector<double> twenty;
  std::vector<std::string> names;
  for (int i = 1; i <= 20; ++i) {
    twenty.push_back((i % 2 == 0 ? -1.0 : 1.0) * i / 100.0);
    names.push_back(std::to_string(i));
  }
  const ErrorStats t = error_stats(twenty, names);
  CHECK(t.mape == Approx(0.105));  // (1 + ... + 20) / 20 / 100
  CHECK(t.p95 == Approx(0.19));    // ceil(0.95 * 20) = 19th smallest
  CHECK(t.worst == Approx(-0.20));
  CHECK(t.worst_point == "20");

  const ErrorStats one = error_stats({-0.07}, {"only"});
  CHECK(one.mape == Approx(0.07));
  CHECK(one.p95 == Approx(0.07));
  CHECK(one.worst == Approx(-0.07));

  const ErrorStats none = error_stats({}, {});
  CHECK(none.mape == 0.0);
  CHECK(none.worst_point.empty());
}

TEST_CASE(
    "validate.csv has one row per held-out point with both predictions and the measured row's file:line") {
  const std::vector<std::string> lines = lines_of(validation_csv(hand_report()));
  REQUIRE(lines.size() == 7);
  CHECK(lines[0] ==
        "family,point,x_label,x,measured_s,calibrated_s,calibrated_error,calibrated_provenance,datasheet_s,"
        "datasheet_error,source");
  const std::vector<std::string> first = csv_fields(lines[1]);
  REQUIRE(first.size() == 11);
  CHECK(first[0] == "MLA decode");
  CHECK(first[1] == "mla b=1 L=1024 h_q=16 s_q=1");
  CHECK(first[2] == "context");
  CHECK(first[3] == "1024");
  CHECK(std::stod(first[4]) == 10e-6);
  CHECK(std::stod(first[5]) == 11e-6);
  CHECK(std::stod(first[6]) == Approx(0.10));
  CHECK(first[7] == "interpolated");
  CHECK(std::stod(first[8]) == 15e-6);
  CHECK(std::stod(first[9]) == Approx(0.50));
  CHECK(first[10] == "measurements/h200-2025-01-01/attention/mla_decode.csv:12");
  const std::vector<std::string> gemm = csv_fields(lines[4]);
  CHECK(gemm[0] == "GEMM");
  CHECK(gemm[2] == "m");
  CHECK(gemm[3] == "16");
  CHECK(std::stod(gemm[6]) == Approx(0.20));
  CHECK(std::stod(gemm[9]) == Approx(-0.20));
  CHECK(csv_fields(lines[6])[0] == "bandwidth");
  CHECK(csv_fields(lines[6])[3] == "1000000");
}

TEST_CASE("validate.json has the inputs, both statistics per family, the points and the notes, typed") {
  const auto j = nlohmann::json::parse(validation_json(hand_report()));
  CHECK(j.at("schema") == "mlasim-validate");
  CHECK(j.at("schema_version") == 1);
  CHECK(j.at("mlasim_version") == MLASIM_VERSION);
  const auto& in = j.at("config");
  CHECK(in.at("run") == "measurements/h200-2025-01-01");
  CHECK(in.at("profile") == "h200");
  CHECK(in.at("fingerprint").is_string());
  CHECK(in.at("every").is_number_integer());
  CHECK(in.at("every") == 4);
  CHECK(in.at("hold_out_context_ends").is_boolean());
  CHECK(in.at("hold_out_context_ends") == true);
  CHECK(in.at("allow_throttled") == false);
  CHECK(j.at("training_points") == 42);
  CHECK(j.at("held_out_points") == 6);
  CHECK(j.at("worst_calibrated_mape").get<double>() == Approx(0.15));
  REQUIRE(j.at("families").size() == 3);
  const auto& mla = j.at("families")[0];
  CHECK(mla.at("family") == "MLA decode");
  CHECK(mla.at("points") == 3);
  CHECK(mla.at("calibrated").at("mape").get<double>() == Approx((0.10 + 0.05 + 0.02) / 3));
  CHECK(mla.at("calibrated").at("p95").get<double>() == Approx(0.10));
  CHECK(mla.at("calibrated").at("worst").get<double>() == Approx(0.10));
  CHECK(mla.at("calibrated").at("worst_point") == "mla b=1 L=1024 h_q=16 s_q=1");
  CHECK(mla.at("datasheet").at("mape").get<double>() == Approx((0.5 + 0.4 + 0.3) / 3));
  REQUIRE(j.at("points").size() == 6);
  const auto& p = j.at("points")[1];
  for (const char* key : {"family", "point", "x_label", "calibrated_provenance", "source"})
    CHECK(p.at(key).is_string());
  for (const char* key :
       {"x", "measured_s", "calibrated_s", "calibrated_error", "datasheet_s", "datasheet_error"}) {
    CHECK(p.at(key).is_number());
  }
  CHECK(p.at("x").get<double>() == 4096.0);
  CHECK(p.at("measured_s").get<double>() == 20e-6);  // seconds, not µs
  CHECK(p.at("calibrated_error").get<double>() == Approx(-0.05));
  CHECK(p.at("calibrated_provenance") == "extrapolated");
  REQUIRE(j.at("notes").size() == 1);
  CHECK(j.at("notes")[0].is_string());
}

TEST_CASE("validate.md shows each family's MAPE, p95 and worst as percents and flags a family above 10%") {
  const std::string md = validation_markdown(hand_report());
  CHECK_THAT(md, Catch::StartsWith("# Validation: `h200` against `measurements/h200-2025-01-01`\n"));
  // MLA: calibrated (10 + 5 + 2) / 3 = 5.67%, p95 the largest of three (nearest rank 3), worst +10% at b=1;
  // datasheet (50 + 40 + 30) / 3 = 40%, p95 and worst +50% at b=1.
  CHECK_THAT(
      md, Catch::Contains("| MLA decode | 3 | 5.7% | 10.0% | +10.0% | mla b=1 L=1024 h_q=16 s_q=1 | 40.0% | "
                          "50.0% | +50.0% | mla b=1 L=1024 h_q=16 s_q=1 |\n"));
  // GEMM: calibrated (20 + 10) / 2 = 15%; datasheet (20 + 25) / 2 = 22.5%, worst -25%.
  CHECK_THAT(md, Catch::Contains(
                     "| GEMM | 2 | 15.0% | 20.0% | +20.0% | lt_bf16 n=7168 k=2048 batch=1 m=16 [v3.o_proj] | "
                     "22.5% | 25.0% | -25.0% | lt_bf16 n=7168 k=2048 batch=1 m=256 [v3.o_proj] |\n"));
  CHECK_THAT(md, Catch::Contains(
                     "| bandwidth | 1 | 2.0% | 2.0% | +2.0% | copy 1000000 bytes (hbm) | 20.0% | 20.0% | "
                     "-20.0% |"));
  CHECK_THAT(md, Catch::Contains("GEMM: calibrated MAPE 15.0% exceeds 10%.\n"));
  CHECK(md.find("MLA decode: calibrated MAPE") == std::string::npos);
  CHECK_THAT(md, Catch::Contains("every 4th point"));
  CHECK_THAT(md, Catch::Contains("other 42 points; 6 held-out points"));
  CHECK_THAT(
      md, Catch::EndsWith("## Notes\n\n- measurements/h200-2025-01-01/attention/gqa_decode.csv: missing\n"));

  CHECK(families_above(hand_report(), 0.10) == std::vector<std::string>{"GEMM"});
  CHECK(families_above(hand_report(), 0.15).empty());  // the gate is MAPE > P, not >=
  CHECK(families_above(hand_report(), 0.05).size() == 2);
}

TEST_CASE(
    "a scatter chart's data file has a block per reference line and per series, in gnuplot index order") {
  // x range: the points' 1..10 padded by 10^0.1 on the log axis: 0.794328..12.5893.
  CHECK(
      to_dat(tiny_scatter()) ==
      "# predicted vs measured, it's tiny\n"
      "# Blocks separated by two blank lines (gnuplot `index`): first the reference lines, two points each\n"
      "# (the ends of the x range), then the points of each series.\n"
      "# line: y = 1 * x (y = x)\n"
      "# x y\n"
      "0.794328 0.794328\n"
      "12.5893 12.5893\n"
      "\n\n"
      "# line: y = 2 * x (x2)\n"
      "# x y\n"
      "0.794328 1.58866\n"
      "12.5893 25.1785\n"
      "\n\n"
      "# series: a\n"
      "# x: measured (us); y: predicted (us)\n"
      "1 2\n"
      "10 5\n"
      "\n\n"
      "# series: b\n"
      "# x: measured (us); y: predicted (us)\n"
      "4 NaN\n"
      "NaN 4\n");
}

TEST_CASE("a scatter chart's script sets both ranges, draws the lines grey and the series as markers") {
  // y range: the points (2, 5) and the lines' ends (0.794 .. 25.18), padded by 10^0.1.
  CHECK(to_gnuplot(tiny_scatter(), "tiny_scatter.dat") ==
        "# tiny_scatter: predicted vs measured, it's tiny\n"
        "# Written by mlasim. `gnuplot tiny_scatter.gp` in this folder reads tiny_scatter.dat and writes "
        "tiny_scatter.svg.\n"
        "set terminal svg size 800,480 dynamic noenhanced font 'sans,11' background '#ffffff'\n"
        "set output 'tiny_scatter.svg'\n"
        "set encoding utf8\n"
        "set title 'predicted vs measured, it''s tiny'\n"
        "set grid\n"
        "set key inside left top reverse Left samplen 1 spacing 0.85 font ',9' opaque\n"
        "set xlabel 'measured (us)'\n"
        "set logscale x 10\n"
        "set format x '%g'\n"
        "set ylabel 'predicted (us)'\n"
        "set logscale y 10\n"
        "set format y '%g'\n"
        "set xrange [0.794328:12.5893]\n"
        "set yrange [0.630957:31.6979]\n"
        "plot 'tiny_scatter.dat' index 0 using 1:2 with lines lw 2 dt 1 lc rgb '#222222' title 'y = x', \\\n"
        "     '' index 1 using 1:2 with lines lw 1 dt 2 lc rgb '#777777' title 'x2', \\\n"
        "     '' index 2 using 1:2 with points pt 7 ps 0.7 lc rgb '#d62728' title 'a', \\\n"
        "     '' index 3 using 1:2 with points pt 6 ps 0.9 lc rgb '#ff7f0e' title 'b'\n");
  ScatterChart linear = tiny_scatter();
  linear.x.log = false;
  linear.y.log = false;
  linear.x.format.clear();
  linear.y.format.clear();
  linear.lines = {{ReferenceLine::Kind::kHorizontal, 0.0, "zero", false}};
  // x 0..10 padded by 5% of the span; y from the points (2, 4, 5) and the line (0), padded likewise, then 45%
  // of the span added on top for the key (5.25 + 0.45 * 5.5 = 7.725).
  const std::string gp = to_gnuplot(linear, "l.dat");
  CHECK_THAT(gp, Catch::Contains("set xrange [-0.5:10.5]\nset yrange [-0.25:7.725]\n"));
  CHECK_THAT(to_dat(linear), Catch::Contains("# line: y = 0 (zero)\n# x y\n-0.5 0\n10.5 0\n"));
  CHECK(has_drawable_points(linear));
  ScatterChart empty = tiny_scatter();
  empty.series = {{"nothing", {0.0}, {1.0}, false, -1}};  // x = 0 on a log axis: no point
  CHECK_FALSE(has_drawable_points(empty));
}

TEST_CASE(
    "the validation charts: predicted versus measured with y = x and ±10%, one error chart per kind of x") {
  const std::vector<ScatterChart> charts = validation_charts(hand_report());
  REQUIRE(charts.size() == 4);
  const ScatterChart& pvm = charts[0];
  CHECK(pvm.name == "validate_predicted_vs_measured");
  CHECK(pvm.x.log);
  CHECK(pvm.y.log);
  REQUIRE(pvm.lines.size() == 3);
  CHECK(pvm.lines[0].value == 1.0);
  CHECK(pvm.lines[1].value == 1.1);
  CHECK(pvm.lines[2].value == 0.9);
  REQUIRE(pvm.series.size() == 6);
  CHECK(pvm.series[0].title == "MLA decode, calibrated");
  CHECK_FALSE(pvm.series[0].hollow);
  CHECK(pvm.series[1].title == "MLA decode, datasheet");
  CHECK(pvm.series[1].hollow);
  CHECK(pvm.series[0].color == pvm.series[1].color);
  CHECK(pvm.series[0].x == std::vector<double>{10.0, 20.0, 100.0});  // µs
  CHECK(pvm.series[1].y[2] == Approx(130.0));
  CHECK(charts[1].name == "validate_error_vs_context");
  CHECK(charts[1].x.log_base == 2);
  CHECK(charts[1].x.ticks.size() == 3);
  CHECK(charts[1].x.ticks[0].second == "1k");
  REQUIRE(charts[1].series.size() == 2);            // MLA only
  CHECK(charts[1].series[0].y[1] == Approx(-5.0));  // percent
  CHECK(charts[1].lines[1].kind == ReferenceLine::Kind::kHorizontal);
  CHECK(charts[1].lines[1].value == 10.0);
  CHECK(charts[2].name == "validate_error_vs_m");
  CHECK(charts[3].name == "validate_error_vs_bytes");
}

TEST_CASE("without gnuplot the validation report has its tables, data and scripts, and says so") {
  const test::EnvGuard env("MLASIM_GNUPLOT", "none");
  const ValidateReportFiles r = build_validate_report(hand_report(), true);
  CHECK_THAT(r.note, Catch::StartsWith("charts not rendered"));
  std::vector<std::string> names;
  for (const auto& f : r.files) names.push_back(f.first);
  CHECK(names == std::vector<std::string>{
                     "validate.csv", "validate.json", "validate.md", "validate.html",
                     "charts/validate_predicted_vs_measured.dat", "charts/validate_predicted_vs_measured.gp",
                     "charts/validate_error_vs_context.dat", "charts/validate_error_vs_context.gp",
                     "charts/validate_error_vs_m.dat", "charts/validate_error_vs_m.gp",
                     "charts/validate_error_vs_bytes.dat", "charts/validate_error_vs_bytes.gp"});
  const std::string html = file_of(r, "validate.html");
  CHECK_THAT(html, Catch::Contains("charts not rendered"));
  CHECK_THAT(html, Catch::Contains("<td>15.0%</td>"));
  CHECK_THAT(html, Catch::Contains("GEMM: calibrated MAPE 15.0% exceeds 10%."));
  CHECK_THAT(html, Catch::Contains("mla_decode.csv:12"));
  CHECK(html.find("<svg") == std::string::npos);
  CHECK(html.find("<script") == std::string::npos);

  const ValidateReportFiles off = build_validate_report(hand_report(), false);
  CHECK(off.files.size() == 4);
  CHECK_THAT(file_of(off, "validate.html"), Catch::Contains("charts not drawn (--no-charts)"));

  OutputSet outputs("unused");
  CHECK(add_validate_report(outputs, hand_report(), false) == "charts not drawn (--no-charts)");
}

TEST_CASE("the validation report is byte-identical run after run, SVGs included when gnuplot is there") {
  {
    const test::EnvGuard env("MLASIM_GNUPLOT", "none");
    CHECK(build_validate_report(hand_report(), true).files ==
          build_validate_report(hand_report(), true).files);
  }
  const test::EnvGuard env("MLASIM_GNUPLOT", nullptr);
  if (!find_gnuplot()) {
    WARN("gnuplot is not on PATH: rendering not tested here (CI has it)");
    return;
  }
  const ValidateReportFiles a = build_validate_report(hand_report(), true);
  const ValidateReportFiles b = build_validate_report(hand_report(), true);
  CHECK(a.note.empty());
  REQUIRE(a.files.size() == b.files.size());
  for (std::size_t i = 0; i < a.files.size(); ++i) {
    INFO(a.files[i].first);
    CHECK(a.files[i] == b.files[i]);
  }
  const std::string html = file_of(a, "validate.html");
  CHECK_THAT(html, Catch::Contains("id=\"f1_gnuplot_canvas\""));
  CHECK_THAT(html, Catch::Contains("id=\"f4_gnuplot_canvas\""));
  CHECK(html.find("<?xml") == std::string::npos);
}

#ifdef MLASIM_BINARY
namespace {

int run_validate(const std::string& args, std::string* out = nullptr) {
  static const test::ScratchDir dir("mlasim_test_validate_cli");
  const std::filesystem::path stdout_file = dir.path() / "stdout.txt";
  const std::string cmd =
      std::string(MLASIM_BINARY) + " validate " + args + " >" + stdout_file.string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  if (out != nullptr) {
    std::ifstream in(stdout_file);
    std::ostringstream ss;
    ss << in.rdbuf();
    *out = ss.str();
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE(
    "mlasim validate: --help documents the exit codes; a missing run or a bad option is bad input (2)") {
  std::string out;
  CHECK(run_validate("--help", &out) == 0);
  CHECK_THAT(out, Catch::Contains("4 a family's calibrated MAPE above --max-mape"));
  CHECK_THAT(out, Catch::Contains("--no-context-ends"));
  CHECK(run_validate("", &out) == 2);
  CHECK(run_validate("/no/such/run", &out) == 2);
  CHECK(run_validate("/no/such/run --max-mape=-3", &out) == 2);
  CHECK_THAT(out, Catch::Contains("--max-mape"));
  CHECK(run_validate("/no/such/run --no-such-option", &out) == 2);
}
#endif
