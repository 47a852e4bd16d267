// Reports: chart data and scripts as exact text, HTML escaping, the roofline's ridge, and the sweep's report
// page with and without gnuplot (DESIGN.md §10).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "reports/chart.hpp"
#include "reports/gnuplot.hpp"
#include "reports/html.hpp"
#include "reports/pivot.hpp"
#include "reports/sweep_report.hpp"
#include "sim/config/loader.hpp"
#include "sim/error.hpp"
#include "sim/sweep/sweep.hpp"
#include "tests/test_support.hpp"

using namespace mlasim;

namespace {

LineChart tiny_chart() {
  LineChart c;
  c.name = "tiny";
  c.title = "step time, it's tiny";
  c.x = Axis{"context (tokens)", true, 2, {{1024, "1k"}, {2048, "2k"}}, {}};
  c.y = Axis{"time (ms)", false, 10, {}, {}};
  c.x_values = {1024, 2048};
  c.series.push_back(Series{"mha", {1.5, 3.0}, {false, true}, false, -1});
  c.series.push_back(Series{"mla_x", {0.5, std::nan("")}, {}, true, 4});
  return c;
}

std::string file_of(const SweepReport& r, const std::string& name) {
  for (const auto& [n, text] : r.files) {
    if (n == name) return text;
  }
  return "";
}

const SweepSpec& llama_sweep() {
  static const SweepSpec spec = load_sweep_config("configs/llama3_70b_attention.yaml");
  return spec;
}

}  // namespace

TEST_CASE("a line chart's data file has a commented header and one row per x, NaN where there is no point") {
  CHECK(to_dat(tiny_chart()) ==
        "# step time, it's tiny\n"
        "# columns:\n"
        "#   1: context (tokens)\n"
        "#   2: mha (time (ms))\n"
        "#   3: mha flagged (1: status not ok, drawn hollow)\n"
        "#   4: mla_x (time (ms))\n"
        "1024 1.5 0 0.5\n"
        "2048 3 1 NaN\n");
}

TEST_CASE("a line chart's gnuplot script writes NAME.svg from the data file, text quoted literally") {
  CHECK(to_gnuplot(tiny_chart(), "tiny.dat") ==
        "# tiny: step time, it's tiny\n"
        "# Written by mlasim. `gnuplot tiny.gp` in this folder reads tiny.dat and writes tiny.svg.\n"
        "set terminal svg size 800,480 dynamic noenhanced font 'sans,11' background '#ffffff'\n"
        "set output 'tiny.svg'\n"
        "set encoding utf8\n"
        "set title 'step time, it''s tiny'\n"
        "set grid\n"
        "set key outside right top\n"
        "set xlabel 'context (tokens)'\n"
        "set logscale x 2\n"
        "set xtics ('1k' 1024, '2k' 2048)\n"
        "set xrange [922.88:2272.4]\n"
        "set ylabel 'time (ms)'\n"
        "plot 'tiny.dat' using 1:2 with lines lw 2 dt 1 lc rgb '#1f77b4' title 'mha', \\\n"
        "     '' using 1:($3 == 0 ? $2 : NaN) with points pt 7 ps 0.6 lc rgb '#1f77b4' notitle, \\\n"
        "     '' using 1:($3 != 0 ? $2 : NaN) with points pt 6 ps 0.9 lc rgb '#1f77b4' notitle, \\\n"
        "     '' using 1:4 with linespoints lw 2 pt 7 ps 0.6 dt 2 lc rgb '#9467bd' title 'mla_x', \\\n"
        "     NaN with points pt 6 ps 0.9 lc rgb '#444444' title 'hollow: status not ok'\n");
}

TEST_CASE("a stacked chart fills each series between the sum below it and that sum plus its value") {
  LineChart c = tiny_chart();
  c.style = ChartStyle::kStackedArea;
  const std::string gp = to_gnuplot(c, "tiny.dat");
  CHECK_THAT(gp, Catch::Contains("using 1:(0):($2) with filledcurves"));
  CHECK_THAT(gp, Catch::Contains("using 1:($2):($2+$4) with filledcurves"));  // column 3 is mha's flags
}

TEST_CASE("on a log axis a non-positive value is no point") {
  LineChart c = tiny_chart();
  c.y.log = true;
  c.series[0].y = {0.0, -1.0};
  c.series[1].y = {0.0, std::nan("")};
  CHECK_THAT(to_dat(c), Catch::EndsWith("1024 NaN 0 NaN\n2048 NaN 1 NaN\n"));
  CHECK_FALSE(has_drawable_points(c));
  CHECK(has_drawable_points(tiny_chart()));
}

TEST_CASE("the roofline's ridge is peak / bandwidth, and the data has the slope, the ridge and the roof") {
  const Ceiling h100{"H100 SXM datasheet (bf16)", 989e12, 3.35e12, true, -1};
  CHECK(h100.ridge_flop_per_byte() == Approx(989e12 / 3.35e12));
  CHECK(h100.ridge_flop_per_byte() == Approx(295.2).epsilon(1e-3));
  Roofline r;
  r.name = "roof";
  r.title = "roof";
  r.ceilings.push_back({"gpu", 1e15, 2e12, true, -1});
  r.series.push_back({"a", {10.0}, {1e13}, {false}, -1});
  CHECK(to_dat(r) ==
        "# roof\n"
        "# Blocks separated by two blank lines (gnuplot `index`): first the ceilings, three points each\n"
        "# (slope start, ridge, roof end), then the points of each series.\n"
        "# ceiling: gpu: peak 1e+15 FLOP/s, bandwidth 2e+12 B/s, ridge 500 FLOP/B\n"
        "# intensity_flop_per_byte flops_per_s\n"
        "1 2e+12\n"
        "500 1e+15\n"
        "10000 1e+15\n"
        "\n\n"
        "# series: a\n"
        "# intensity_flop_per_byte achieved_flops_per_s flagged\n"
        "10 1e+13 0\n");
  const std::string gp = to_gnuplot(r, "roof.dat");
  CHECK_THAT(gp, Catch::Contains("set logscale x 10\nset logscale y 10\n"));
  CHECK_THAT(gp, Catch::Contains("set label 1 'ridge 500 FLOP/B' at 500,1e+15 point"));
  CHECK_THAT(gp, Catch::Contains("index 0 using 1:2 with lines lw 2 dt 2"));  // datasheet: dashed
}

TEST_CASE("HTML escapes text, renders Markdown tables as tables, and keeps inline SVG ids unique") {
  CHECK(html_escape("<a href=\"x\">Tom & 'Jerry'</a>") ==
        "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");
  const std::string md =
      markdown_to_html("## Step <time>\n\n| ctx | `mha` |\n|---|---|\n| 1k | <b>2</b> |\n", 1);
  CHECK(md ==
        "<h3>Step &lt;time&gt;</h3>\n<table>\n<thead><tr><th>ctx</th><th><code>mha</code></th></tr></thead>\n"
        "<tbody>\n<tr><td>1k</td><td>&lt;b&gt;2&lt;/b&gt;</td></tr>\n</tbody>\n</table>\n");
  const std::string svg =
      inline_svg("<?xml version=\"1.0\"?>\n<svg><g id='gpPt1'/><use xlink:href='#gpPt1'/></svg>", "f3_");
  CHECK(svg == "<svg><g id='f3_gpPt1'/><use xlink:href='#f3_gpPt1'/></svg>");
  Table t({{"name", "a <name>"}, {"value", ""}});
  t.add_row({std::string("x<y"), 1.23456789});
  CHECK(table_to_html(t) ==
        "<table>\n<thead><tr><th title=\"a &lt;name&gt;\">name</th><th>value</th></tr></thead>\n<tbody>\n"
        "<tr><td>x&lt;y</td><td>1.235</td></tr>\n</tbody>\n</table>\n");
}

TEST_CASE("without gnuplot the sweep report still has the data, the scripts and the tables, and says so") {
  const test::EnvGuard env("MLASIM_GNUPLOT", "none");
  const std::vector<SweepPoint> points = run_sweep(llama_sweep());
  const SweepReport r = build_sweep_report(llama_sweep(), points, true);
  CHECK_THAT(r.note, Catch::StartsWith("charts not rendered"));
  const std::string html = file_of(r, "report.html");
  CHECK_THAT(html, Catch::Contains("charts not rendered"));
  CHECK_THAT(html, Catch::Contains("<h3>Step time (ms)</h3>"));
  CHECK_THAT(html, Catch::Contains("<th>context</th>"));
  CHECK_THAT(html, Catch::Contains("configs/llama3_70b_attention.yaml"));
  CHECK(html.find("<svg") == std::string::npos);
  CHECK(html.find("<script") == std::string::npos);
  std::size_t dat = 0, gp = 0;
  for (const auto& [name, text] : r.files) {
    if (name.rfind("charts/", 0) != 0) continue;
    dat += name.size() > 4 && name.substr(name.size() - 4) == ".dat" ? 1U : 0U;
    gp += name.size() > 3 && name.substr(name.size() - 3) == ".gp" ? 1U : 0U;
  }
  CHECK(dat > 0);
  CHECK(dat == gp);

  const SweepReport off = build_sweep_report(llama_sweep(), points, false);
  REQUIRE(off.files.size() == 4);  // --no-charts: the tables and the page, no charts/
  CHECK(off.files[0].first == "sweep.csv");
  CHECK(off.files[3].first == "report.html");
  CHECK_THAT(file_of(off, "report.html"), Catch::Contains("charts not drawn (--no-charts)"));
}

TEST_CASE("a gnuplot that fails names the script and nothing is returned") {
  const test::EnvGuard env("MLASIM_GNUPLOT", "/bin/false");
  const std::vector<SweepPoint> points = run_sweep(llama_sweep());
  try {
    (void)build_sweep_report(llama_sweep(), points, true);
    FAIL("expected InternalError");
  } catch (const InternalError& e) {
    CHECK_THAT(e.what(), Catch::Contains("exited with code 1 on script"));
    CHECK_THAT(e.what(), Catch::Contains(".gp"));
  }
  const test::EnvGuard missing("MLASIM_GNUPLOT", "/no/such/gnuplot");
  CHECK_THROWS_AS(find_gnuplot(), InputError);
}

TEST_CASE("with gnuplot the report embeds one SVG per chart, byte-identical run after run") {
  const test::EnvGuard env("MLASIM_GNUPLOT", nullptr);
  const std::optional<std::filesystem::path> gnuplot = find_gnuplot();
  if (!gnuplot) {
    WARN("gnuplot is not on PATH: rendering not tested here (CI has it)");
    return;
  }
  const std::vector<std::string> svgs = run_gnuplot(
      *gnuplot,
      {{"tiny.gp", to_gnuplot(tiny_chart(), "tiny.dat"), {{"tiny.dat", to_dat(tiny_chart())}}, "tiny.svg"}});
  REQUIRE(svgs.size() == 1);
  CHECK_THAT(svgs[0], Catch::Contains("<svg"));
  CHECK_THAT(svgs[0], Catch::Contains("mla_x"));  // noenhanced: the underscore stays text

  CHECK_THROWS_WITH(run_gnuplot(*gnuplot, {{"bad.gp", "plot no_such_function(x)\n", {}, "bad.svg"}}),
                    Catch::Contains("bad.gp") && Catch::Contains("no_such_function"));

  const std::vector<SweepPoint> points = run_sweep(llama_sweep());
  const SweepReport a = build_sweep_report(llama_sweep(), points, true);
  const SweepReport b = build_sweep_report(llama_sweep(), points, true);
  CHECK(a.note.empty());
  REQUIRE(a.files.size() == b.files.size());
  for (std::size_t i = 0; i < a.files.size(); ++i) {
    INFO(a.files[i].first);
    CHECK(a.files[i] == b.files[i]);
  }
  const std::string html = file_of(a, "report.html");
  CHECK_THAT(html, Catch::Contains("<svg"));
  CHECK(html.find("<?xml") == std::string::npos);
  CHECK(html.find("id=\"gnuplot_canvas\"") == std::string::npos);  // every id carries its figure's prefix
  CHECK_THAT(html, Catch::Contains("id=\"f1_gnuplot_canvas\""));
}

namespace {

// The llama sweep on an H100 whose calibration holds one small MLA table (h_q 16, s_q 1; batch 1 and 8 ×
// context 1k and 4k, one node not measured), a copy ramp and a bf16 GEMM peak.
SweepSpec llama_sweep_with_mla_table(DeviceMode mode) {
  SweepSpec spec = llama_sweep();
  Calibration& cal = spec.hardware.at(0).calibration;
  AttentionTable t;
  t.kernel = AttentionKernel::kMla;
  t.s_q = 1;
  t.n_h = 16;
  t.n_kv = 1;
  t.d = 576;
  t.batch = {1, 8};
  t.context = {1024, 4096};
  t.time_s = {10e-6, 20e-6, 40e-6, std::nan("")};
  cal.attention = {t};
  cal.bandwidth["copy"] = BandwidthRamp{2e-6, 3e12, 1e6, 1e9};
  cal.gemm_peak_flops_per_s[Dtype::kBf16] = 700e12;
  spec.device_mode = mode;
  return spec;
}

// The lines of one block of a roofline data file (after its two header lines), "" when absent.
std::vector<std::string> dat_block(const std::string& dat, const std::string& header) {
  std::vector<std::string> out;
  const std::size_t at = dat.find(header + "\n");
  if (at == std::string::npos) return out;
  std::size_t pos = dat.find('\n', dat.find('\n', at) + 1) + 1;  // skip the block's two comment lines
  while (pos < dat.size() && dat[pos] != '\n') {
    const std::size_t nl = dat.find('\n', pos);
    out.push_back(dat.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

}  // namespace

TEST_CASE(
    "in calibrated mode the attention roofline shows the measured kernel points and the measured ceiling") {
  const test::EnvGuard env("MLASIM_GNUPLOT", "none");
  const SweepSpec spec = llama_sweep_with_mla_table(DeviceMode::kCalibrated);
  const std::vector<SweepPoint> sweep = run_sweep(spec);
  const SweepReport r = build_sweep_report(spec, sweep, true);
  int rooflines = 0;
  for (const auto& [name, dat] : r.files) {
    if (name.find("_roofline.dat") == std::string::npos) continue;
    ++rooflines;
    INFO(name);
    // FlashMLA's counting (DESIGN.md §11), per call: FLOPs = 2·s_q·h_q·(576 + 512)·ΣL,
    // bytes = 2·(576·ΣL + B·s_q·h_q·(576 + 512)).
    const auto flops = [](double b, double l) { return 2.0 * 1 * 16 * (576 + 512) * b * l; };
    const auto bytes = [](double b, double l) { return 2.0 * (576 * b * l + b * 1 * 16 * (576 + 512)); };
    const std::vector<std::string> points = dat_block(dat, "# series: measured: mla kernel");
    REQUIRE(points.size() == 3);  // (8, 4096) was not measured
    const double expected[3][3] = {{1, 1024, 10e-6}, {1, 4096, 20e-6}, {8, 1024, 40e-6}};
    for (std::size_t i = 0; i < 3; ++i) {
      const auto [b, l, t] = std::tuple{expected[i][0], expected[i][1], expected[i][2]};
      double x = 0, y = 0;
      int flag = -1;
      std::istringstream(points[i]) >> x >> y >> flag;
      CHECK(x == Approx(flops(b, l) / bytes(b, l)).epsilon(1e-5));
      CHECK(y == Approx(flops(b, l) / t).epsilon(1e-5));
      CHECK(flag == 0);
    }
    CHECK(flops(1, 1024) == 35651584.0);  // the numbers by hand: b 1, L 1k
    CHECK(bytes(1, 1024) == 1214464.0);
    CHECK(dat.find("measured: gqa kernel") == std::string::npos);  // no GQA table
    // KV cache in bf16: the model's solid ceiling is the measured one (copy BW∞, bf16 GEMM peak), drawn once.
    CHECK_THAT(dat,
               Catch::Contains("# ceiling: H100 SXM measured = model ceiling: peak 7e+14 FLOP/s, bandwidth "
                               "3e+12 B/s"));
    CHECK(dat.find("model ceiling (calibrated)") == std::string::npos);
    CHECK_THAT(dat, Catch::Contains("# ceiling: H100 SXM datasheet (bf16)"));
  }
  CHECK(rooflines == 3);  // batch 1, 16, 64
  CHECK_THAT(file_of(r, "report.html"), Catch::Contains("Measured: our decode kernels"));

  // KV cache in fp8: the model's ceiling (fp8 rate) is another roof; the measured one is drawn beside it.
  SweepSpec fp8 = spec;
  fp8.precision.kv_cache = Dtype::kFp8;
  fp8.batch = {1};
  const std::vector<SweepPoint> fp8_points = run_sweep(fp8);
  const SweepReport f = build_sweep_report(fp8, fp8_points, true);
  for (const auto& [name, dat] : f.files) {
    if (name.find("_roofline.dat") == std::string::npos) continue;
    CHECK_THAT(dat, Catch::Contains("# ceiling: H100 SXM model ceiling (calibrated)"));
    CHECK_THAT(dat, Catch::Contains("# ceiling: H100 SXM measured (copy BW∞, bf16 GEMM): peak 7e+14 FLOP/s"));
    CHECK(dat_block(dat, "# series: measured: mla kernel").size() == 3);
  }
}

TEST_CASE("a datasheet sweep's report is unchanged by a calibration in its profile") {
  const test::EnvGuard env("MLASIM_GNUPLOT", "none");
  const SweepSpec with = llama_sweep_with_mla_table(DeviceMode::kDatasheet);
  const std::vector<SweepPoint> points = run_sweep(with);
  const SweepReport a = build_sweep_report(with, points, true);
  const std::vector<SweepPoint> plain_points = run_sweep(llama_sweep());
  const SweepReport b = build_sweep_report(llama_sweep(), plain_points, true);
  REQUIRE(a.files.size() == b.files.size());
  for (std::size_t i = 0; i < a.files.size(); ++i) {
    INFO(a.files[i].first);
    CHECK(a.files[i] == b.files[i]);
    // sweep.csv and sweep.json name a measured_share column; the page and the charts show nothing measured.
    if (a.files[i].first.rfind("sweep.", 0) != 0)
      CHECK(a.files[i].second.find("measured") == std::string::npos);
  }
}
