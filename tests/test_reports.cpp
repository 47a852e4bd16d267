// Reports: chart data and scripts as exact text, HTML escaping, the roofline's ridge, and the sweep's report
// page with and without gnuplot (DESIGN.md §10).
#include <fmt/format.h>

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
#include "reports/step_report.hpp"
#include "reports/sweep_report.hpp"
#include "reports/table_writers.hpp"
#include "sim/config/loader.hpp"
#include "sim/error.hpp"
#include "sim/output.hpp"
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
  r.series.push_back({"a", {10.0}, {1e13}, {false}, -1, false});
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
  // The y axis reads TFLOP/s in plain numbers, one tick per decade of the frame (1e12 to 1e16 FLOP/s).
  CHECK_THAT(gp, Catch::Contains("set ylabel 'TFLOP/s'\n"));
  CHECK_THAT(
      gp, Catch::Contains("set ytics ('1' 1e+12, '10' 1e+13, '100' 1e+14, '1000' 1e+15, '10000' 1e+16)\n"));
  CHECK(gp.find("%c") == std::string::npos);  // no SI suffix (1P, 100T)
  CHECK_THAT(gp, Catch::Contains("pt 7 ps 0.8 lc rgb '#1f77b4' title 'a'"));
  r.series[0].triangles = true;
  CHECK_THAT(to_gnuplot(r, "roof.dat"), Catch::Contains("pt 9 ps 0.8 lc rgb '#1f77b4' title 'a'"));
}

TEST_CASE("a line chart's x range spans its ticks too, and a linear y axis can start at zero") {
  LineChart c = tiny_chart();
  c.x_values = {1024};
  c.series = {Series{"a", {2.0}, {}, false, -1}};
  CHECK_THAT(to_gnuplot(c, "tiny.dat"), Catch::Contains("set xrange [922.88:2272.4]\n"));  // as tiny_chart's
  CHECK(to_gnuplot(c, "tiny.dat").find("set yrange") == std::string::npos);
  c.y_from_zero = true;
  CHECK_THAT(to_gnuplot(c, "tiny.dat"), Catch::Contains("set yrange [0:*]\n"));
  c.y.log = true;  // a log axis has no zero
  CHECK(to_gnuplot(c, "tiny.dat").find("set yrange") == std::string::npos);
}

TEST_CASE("a chart asking for larger text gets it, its title two points larger, and its key where it says") {
  LineChart c = tiny_chart();
  c.font_points = 14;
  c.key = "below";
  const std::string gp = to_gnuplot(c, "tiny.dat");
  CHECK_THAT(gp, Catch::Contains("font 'sans,14'"));
  CHECK_THAT(gp, Catch::Contains("set title 'step time, it''s tiny' font ',16'\n"));
  CHECK_THAT(gp, Catch::Contains("set key below\n"));
  c.series[0].flagged = {false, true};
  c.hollow_key = "hollow: batch > KV capacity";
  CHECK_THAT(to_gnuplot(c, "tiny.dat"), Catch::Contains("title 'hollow: batch > KV capacity'"));
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
  // The chart's name becomes the SVG's <title>: gnuplot's own replaced, or one added first.
  CHECK(titled_svg("<svg a='1'>\n<title>Gnuplot</title>\n<g><title>gnuplot_plot_1</title></g></svg>",
                   "a < b") ==
        "<svg a='1'>\n<title>a &lt; b</title>\n<g><title>gnuplot_plot_1</title></g></svg>");
  CHECK(titled_svg("<svg a='1'><g><title>plot</title></g></svg>", "t") ==
        "<svg a='1'>\n<title>t</title><g><title>plot</title></g></svg>");
  HtmlPage page("p");
  page.add_banner("Not <charted>", {"a & b", "c"});
  page.add_figures({{"<svg>\n<title>Gnuplot</title>\n<g id='x'/></svg>", "caption", "the chart"}});
  const std::string html = page.str();
  CHECK_THAT(html, Catch::Contains(
                       "<div class=\"banner\" role=\"note\">\n<p><strong>Not &lt;charted&gt;</strong></p>\n"
                       "<ul>\n<li>a &amp; b</li>\n<li>c</li>\n</ul>\n</div>\n"));
  CHECK_THAT(html, Catch::Contains("<svg>\n<title>the chart</title>\n<g id='f1_x'/></svg>"));
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
  CHECK_THAT(html, Catch::Contains("<h3>Step time</h3>"));
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

TEST_CASE("one gnuplot process renders each chart exactly as a gnuplot of its own, each distinct one once") {
  const test::EnvGuard env("MLASIM_GNUPLOT", nullptr);
  const std::optional<std::filesystem::path> gnuplot = find_gnuplot();
  if (!gnuplot) {
    WARN("gnuplot is not on PATH: rendering not tested here (CI has it)");
    return;
  }
  // Every chart of a sweep report (line charts, stacked areas), a roofline and a scatter chart with lines.
  const SweepReport report = [] {
    const test::EnvGuard none("MLASIM_GNUPLOT", "none");  // the scripts and data, not rendered
    return build_sweep_report(llama_sweep(), run_sweep(llama_sweep()), true);
  }();
  std::vector<GnuplotJob> jobs;
  for (const auto& [name, text] : report.files) {
    if (name.size() < 10 || name.substr(0, 7) != "charts/" || name.substr(name.size() - 3) != ".gp") continue;
    const std::string stem = name.substr(7, name.size() - 10);
    jobs.push_back(
        {stem + ".gp", text, {{stem + ".dat", file_of(report, "charts/" + stem + ".dat")}}, stem + ".svg"});
  }
  REQUIRE(jobs.size() >= 8);
  Roofline roof;
  roof.name = "roof";
  roof.title = "roof";
  roof.ceilings.push_back({"gpu", 1e15, 2e12, true, -1});
  roof.series.push_back({"a", {10.0, 300.0}, {1e13, 4e14}, {false, true}, -1, false});
  jobs.push_back(gnuplot_job(roof));
  ScatterChart scatter;
  scatter.name = "scatter";
  scatter.title = "predicted versus measured";
  scatter.x = Axis{"measured (ms)", true, 10, {}, {}};
  scatter.y = Axis{"predicted (ms)", true, 10, {}, {}};
  scatter.lines.push_back({ReferenceLine::Kind::kProportional, 1.0, "no error", false});
  scatter.series.push_back({"points", {1.0, 2.0, 5.0}, {1.1, 1.9, 5.5}, false, -1, false, true, false});
  jobs.push_back(gnuplot_job(scatter));
  jobs.push_back(jobs[1]);  // the same figure twice

  std::vector<std::string> alone;
  for (const GnuplotJob& j : jobs) alone.push_back(run_gnuplot(*gnuplot, {j}).front());
  const std::vector<std::string> batched = run_gnuplot(*gnuplot, jobs, 1);
  const std::vector<std::string> three = run_gnuplot(*gnuplot, jobs, 3);
  REQUIRE(batched.size() == jobs.size());
  REQUIRE(three.size() == jobs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    INFO(jobs[i].script_name);
    CHECK_THAT(alone[i], Catch::Contains("</svg>"));
    CHECK(batched[i] == alone[i]);
    CHECK(three[i] == alone[i]);
  }

  // Two figures whose files have the same names do not see each other's files.
  LineChart other = tiny_chart();
  other.title = "another tiny chart";
  other.series[0].y = {2.5, 1.0};
  const std::vector<GnuplotJob> clash{gnuplot_job(tiny_chart()), gnuplot_job(other)};
  const std::vector<std::string> two = run_gnuplot(*gnuplot, clash, 1);
  CHECK(two[0] == run_gnuplot(*gnuplot, {clash[0]}).front());
  CHECK(two[1] == run_gnuplot(*gnuplot, {clash[1]}).front());
  CHECK_THAT(two[1], Catch::Contains("another tiny chart"));

  // How many processes ran and what each loaded: a wrapper logs its batch script, then runs gnuplot.
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "mlasim-test-gnuplot-batch";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::filesystem::path wrapper = dir / "gnuplot-logged";
  write_file_atomically(
      wrapper, fmt::format("#!/bin/sh\ncat \"$1\" >> {0}/log\necho run >> {0}/runs\nexec {1} \"$@\"\n",
                           dir.string(), gnuplot->string()));
  std::filesystem::permissions(wrapper, std::filesystem::perms::owner_all);
  (void)run_gnuplot(wrapper, jobs, 1);
  const auto count = [](const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  CHECK(count(read_text_file(dir / "runs"), "run") == 1);
  CHECK(count(read_text_file(dir / "log"), "\nload '") == jobs.size() - 1);  // the repeat is not drawn again

  // A failure in the middle of a batch names that job's script and quotes gnuplot, not the batch's markers.
  std::vector<GnuplotJob> failing{jobs[0], {"bad.gp", "plot no_such_function(x)\n", {}, "bad.svg"}, jobs[2]};
  try {
    (void)run_gnuplot(*gnuplot, failing, 1);
    FAIL("expected InternalError");
  } catch (const InternalError& e) {
    CHECK_THAT(e.what(), Catch::Contains("on script bad.gp"));
    CHECK_THAT(e.what(), Catch::Contains("no_such_function"));
    CHECK_THAT(e.what(), !Catch::Contains("mlasim-gnuplot-job"));
  }
  std::filesystem::remove_all(dir);
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
  // Every inline SVG is named by its <title>: the group, the batch and the chart, not gnuplot's "Gnuplot".
  std::size_t svgs_seen = 0;
  for (std::size_t at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1)) {
    ++svgs_seen;
    const std::size_t open = html.find("<title>", at), close = html.find("</title>", at);
    REQUIRE(close != std::string::npos);
    const std::string title = html.substr(open + 7, close - open - 7);
    INFO(title);
    CHECK(open < html.find("<g", at));
    CHECK_THAT(title, Catch::StartsWith("Llama-3-70B on H100 SXM x4, TP 4") ||
                          Catch::Matches("Llama-3-70B: .* at capacity"));
  }
  // At capacity: 3 (tokens/s per GPU and per user, USD per 1M tokens: the H100 has a price); the group's
  // capacity: 2; per batch (1, 16, 64, max): step time, 2 throughputs, roofline, 5 splits.
  CHECK(svgs_seen == 3 + 2 + 4 * (4 + 5));
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
    CHECK_THAT(dat, Catch::Contains("# ceiling: measured = model ceiling: peak 7e+14 FLOP/s, bandwidth "
                                    "3e+12 B/s"));
    CHECK(dat.find("model ceiling (calibrated)") == std::string::npos);
    CHECK_THAT(dat, Catch::Contains("# ceiling: datasheet (bf16)"));
  }
  CHECK(rooflines == 4);  // batch 1, 16, 64, max
  CHECK_THAT(file_of(r, "report.html"), Catch::Contains("Measured: our decode kernels"));

  // KV cache in fp8: the model's ceiling (fp8 rate) is another roof; the measured one is drawn beside it.
  SweepSpec fp8 = spec;
  fp8.precision.kv_cache = Dtype::kFp8;
  fp8.batch = {1};
  const std::vector<SweepPoint> fp8_points = run_sweep(fp8);
  const SweepReport f = build_sweep_report(fp8, fp8_points, true);
  for (const auto& [name, dat] : f.files) {
    if (name.find("_roofline.dat") == std::string::npos) continue;
    CHECK_THAT(dat, Catch::Contains("# ceiling: model ceiling (calibrated)"));
    CHECK_THAT(dat, Catch::Contains("# ceiling: measured (copy BW∞, bf16 GEMM): peak 7e+14 FLOP/s"));
    CHECK(dat_block(dat, "# series: measured: mla kernel").size() == 3);
  }
}

namespace {

const SweepSpec& deepseek_sweep() {
  static const SweepSpec spec = load_sweep_config("configs/deepseek_v3_attention.yaml");
  return spec;
}

// The numbers of data column `column` (1-based) of a line chart's data file, header lines skipped.
std::vector<std::string> dat_column(const std::string& dat, int column) {
  std::vector<std::string> out;
  std::istringstream in(dat);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string field;
    for (int i = 0; i < column; ++i) fields >> field;
    out.push_back(field);
  }
  return out;
}

}  // namespace

TEST_CASE("configurations that do not fit are named at the top of both pages and drawn nowhere") {
  const test::EnvGuard env("MLASIM_GNUPLOT", "none");
  const std::vector<SweepPoint> points = run_sweep(deepseek_sweep());
  const std::vector<std::string> off = configurations_that_do_not_fit(deepseek_sweep(), points);
  // DeepSeek-V3's fp8 weights alone overfill 8 × H100: one line for the whole group. On H200 MHA with
  // DP-attention caches whole MHA heads of its own sequences on each GPU: not one 4k sequence fits.
  REQUIRE(off.size() == 4);
  CHECK_THAT(off[0], Catch::StartsWith("DeepSeek-V3 on H100 SXM x8, TP 8, every variant, DP-attention on and "
                                       "off: does not fit at any context; the weights (") &&
                         Catch::EndsWith("per GPU) leave no room for a KV cache in 80 GB of HBM"));
  CHECK_THAT(off[3],
             Catch::StartsWith("DeepSeek-V3 mha, H200 SXM x8, TP 8, DP-attention on: does not fit at 4k "
                               "tokens of context or more ("));
  const SweepReport r = build_sweep_report(deepseek_sweep(), points, true);
  const std::string md = file_of(r, "summary.md");
  CHECK(md.find("\n## Headline") < md.find("**Not charted: configurations that do not fit**"));
  CHECK(md.find("**Not charted: configurations that do not fit**") < md.find("\n## Status"));
  for (const std::string& line : off) CHECK_THAT(md, Catch::Contains("- " + line + "\n"));
  const std::string html = file_of(r, "report.html");
  CHECK(html.find("<div class=\"banner\"") < html.find("<h2 id=\"charts\">"));
  CHECK_THAT(html, Catch::Contains("Nothing to chart: no configuration of this group runs and fits"));
  for (const auto& [name, text] : r.files) {
    INFO(name);
    CHECK(name.find("h100-sxm") == std::string::npos);  // no chart of the H100 group
  }
  // MHA with DP-attention on H200: drawn at 1k and 2k, no point (NaN) from 4k on, in the step time and in
  // both throughputs; the hollow flag column only marks batch-exceeds-capacity points.
  for (const char* chart : {"step_time", "tokens_per_s_per_gpu", "tokens_per_s_per_user"}) {
    INFO(chart);
    const std::string dat = file_of(r, fmt::format("charts/DeepSeek-V3_h200_tp8_b1_sq1_{}.dat", chart));
    REQUIRE_FALSE(dat.empty());
    // Lines: native off, native on, gqa:8 off, gqa:8 on, mha off, mha on; each a value and a flag column.
    CHECK_THAT(dat, Catch::Contains("#   12: mha, DP on ("));
    const std::vector<std::string> mha_dp = dat_column(dat, 12);
    REQUIRE(mha_dp.size() == 8);
    CHECK(mha_dp[0] != "NaN");
    CHECK(mha_dp[1] != "NaN");
    for (std::size_t i = 2; i < mha_dp.size(); ++i) CHECK(mha_dp[i] == "NaN");
    for (const std::string& flag : dat_column(dat, 13)) CHECK(flag == "0");
  }
  // No stacked chart for a line with nothing to draw; MHA with DP-attention at batch 128 still has 1k, 2k.
  const std::string split = file_of(r, "charts/DeepSeek-V3_h200_tp8_b128_sq1_step_split_mha_dp1.dat");
  CHECK(dat_column(split, 1) == std::vector<std::string>{"1024", "2048"});
  CHECK_THAT(file_of(r, "charts/DeepSeek-V3_h200_tp8_b128_sq1_step_split_mha_dp1.gp"),
             Catch::Contains("set xrange [922.88:145433]"));  // the other charts' x range, 1k to 128k
}

TEST_CASE("a layout that cannot run is named with its reason, once per variant") {
  SweepSpec spec;
  spec.source = "test";
  spec.models = {resolve_model("llama-3-8b")};
  spec.variants = {parse_variant("native"), parse_variant("mqa")};
  spec.hardware = {resolve_hw("h100-sxm")};
  spec.tp = {1, 3};
  spec.batch = {1, 8};
  spec.context = {1024, 4096};
  spec.s_q = {1};
  const std::vector<std::string> off = configurations_that_do_not_fit(spec, run_sweep(spec));
  REQUIRE(off.size() == 2);
  CHECK_THAT(off[0],
             Catch::StartsWith("Llama-3-8B native, H100 SXM x3, TP 3: cannot run: tp (3) must divide"));
  CHECK_THAT(off[1], Catch::StartsWith("Llama-3-8B mqa, H100 SXM x3, TP 3: cannot run: tp (3) must divide"));
  spec.tp = {1};
  CHECK(configurations_that_do_not_fit(spec, run_sweep(spec)).empty());
}

TEST_CASE("a sweep's charts: DP-attention off and on as lines of one chart, linear throughput, plain ticks") {
  const test::EnvGuard env("MLASIM_GNUPLOT", "none");
  const SweepReport r = build_sweep_report(deepseek_sweep(), run_sweep(deepseek_sweep()), true);
  const std::string step = file_of(r, "charts/DeepSeek-V3_h200_tp8_b32_sq1_step_time.gp");
  CHECK_THAT(step, Catch::Contains("dt 1 lc rgb '#1f77b4' title 'native, DP off'"));
  CHECK_THAT(step, Catch::Contains("dt 2 lc rgb '#1f77b4' title 'native, DP on'"));  // same colour, dashed
  CHECK_THAT(step, Catch::Contains("set title 'step time, batch 32' font"));         // short: details below
  CHECK_THAT(step, Catch::Contains("set ytics ('10' 10, '20' 20, '50' 50, '100' 100, '200' 200, '500' 500, "
                                   "'1000' 1000)\n"));  // 1-2-5 across 10 to 1000 ms
  for (const char* chart : {"tokens_per_s_per_gpu", "tokens_per_s_per_user"}) {
    INFO(chart);
    const std::string gp = file_of(r, fmt::format("charts/DeepSeek-V3_h200_tp8_b32_sq1_{}.gp", chart));
    CHECK(gp.find("set logscale y") == std::string::npos);
    CHECK_THAT(gp, Catch::Contains("set yrange [0:*]\n"));
  }
  std::size_t scripts = 0;
  for (const auto& [name, text] : r.files) {
    if (name.size() < 3 || name.substr(name.size() - 3) != ".gp") continue;
    ++scripts;
    INFO(name);
    CHECK(text.find("%c") == std::string::npos);  // no SI suffix such as 100m for 0.1
    CHECK((name.find("_dp0") == std::string::npos || name.find("_step_split_") != std::string::npos));
  }
  // At capacity 3; the H200 group only: capacity 2; per batch (1, 32, 128, max) 4 charts and 6 splits (3
  // variants × DP).
  CHECK(scripts == 3 + 2 + 4 * (4 + 6));
  const std::string roofline = file_of(r, "charts/DeepSeek-V3_h200_tp8_b32_sq1_roofline.gp");
  CHECK_THAT(roofline, Catch::Contains("pt 9 ps 0.8 lc rgb '#1f77b4' title 'native, DP on'"));  // triangles
  CHECK_THAT(roofline, Catch::Contains("pt 7 ps 0.8 lc rgb '#1f77b4' title 'native, DP off'"));
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

TEST_CASE("a sweep's summary and page open with the headline; batch max has its own charts") {
  const test::EnvGuard env("MLASIM_GNUPLOT", "none");
  const SweepSpec& spec = deepseek_sweep();
  const std::vector<SweepPoint> points = run_sweep(spec);
  const SweepReport r = build_sweep_report(spec, points, true);
  const std::string md = file_of(r, "summary.md");
  // The first section of summary.md is the headline; every one of its rows is MLA with DP-attention on H200
  // (the only configuration that fits at 128k, and the most per GPU everywhere in this sweep).
  CHECK(md.find("\n## ") == md.find("\n## Headline: the best configuration at each context"));
  const std::string head = sweep_headline_markdown(spec, points);
  CHECK(md.find(head) != std::string::npos);
  CHECK_THAT(head,
             Catch::Contains("| 128k | DeepSeek-V3 native on h200 TP 8 DP-attn | 24 | DeepSeek-V3 native on "
                             "h200 TP 8 DP-attn | 24 |"));
  CHECK(head.find("h100-sxm") == std::string::npos);  // never fits: never in the headline
  const std::string html = file_of(r, "report.html");
  const std::size_t headline = html.find("<h2>Headline: the best configuration at each context</h2>");
  REQUIRE(headline != std::string::npos);
  CHECK(headline < html.find("<div class=\"banner\""));
  CHECK(html.find("Headline: the best", headline + 20) == std::string::npos);  // once, at the top
  CHECK_THAT(html, Catch::Contains("<h2 id=\"at-capacity\">At capacity (batch max)</h2>"));
  CHECK_THAT(html, Catch::Contains("batch max (at capacity), s_q 1</h3>"));
  CHECK_THAT(html, Catch::Contains("1, 32, 128, max (the largest batch that fits at each point)"));

  // At capacity: a line per configuration that fits somewhere (H200: 3 variants × DP off and on), y = the
  // max point's tokens/s per GPU at each context, NaN where it does not fit.
  const std::string dat = file_of(r, "charts/DeepSeek-V3_at_capacity_sq1_tokens_per_s_per_gpu.dat");
  REQUIRE_FALSE(dat.empty());
  CHECK(dat.find("h100-sxm") == std::string::npos);
  CHECK_THAT(dat, Catch::Contains("#   2: native on h200 TP 8 (output tokens/s per GPU)"));
  CHECK_THAT(dat, Catch::Contains("#   7: mha on h200 TP 8 DP-attn (output tokens/s per GPU)"));
  const std::vector<std::string> native_dp = dat_column(dat, 3);
  REQUIRE(native_dp.size() == 8);
  const std::size_t max_pos = 3, h200 = 1, dp_on = 1;
  for (std::size_t c = 0; c < 8; ++c) {
    const SweepPoint& p = points[sweep_index(spec, 0, 0, h200, 0, dp_on, max_pos, c, 0)];
    REQUIRE(p.batch_is_max);
    CHECK(native_dp[c] == fmt::format("{:.6g}", p.tokens_per_s_per_gpu));
  }
  const std::vector<std::string> mha_dp = dat_column(dat, 7);
  CHECK(mha_dp[1] != "NaN");
  CHECK(mha_dp[2] == "NaN");  // from 4k on not one MHA sequence fits on a GPU
  const std::string usd = file_of(r, "charts/DeepSeek-V3_at_capacity_sq1_usd_per_million_output_tokens.gp");
  CHECK_THAT(usd, Catch::Contains("set logscale y"));
  // The group's per-batch charts go on at batch max: one set more, under its own name.
  CHECK_FALSE(file_of(r, "charts/DeepSeek-V3_h200_tp8_bmax_sq1_tokens_per_s_per_gpu.dat").empty());
  CHECK_THAT(file_of(r, "charts/DeepSeek-V3_h200_tp8_bmax_sq1_step_time.gp"),
             Catch::Contains("set title 'step time, batch max' font"));

  // Without `max` in the grid there is no at-capacity section, and the headline says what it used instead.
  SweepSpec no_max = spec;
  no_max.batch = {1, 32, 128};
  const std::vector<SweepPoint> fixed = run_sweep(no_max);
  const SweepReport f = build_sweep_report(no_max, fixed, true);
  CHECK(file_of(f, "report.html").find("at-capacity") == std::string::npos);
  CHECK_THAT(file_of(f, "summary.md"),
             Catch::Contains("at the largest batch of the grid that fits at that context "
                             "(the grid has no `max`"));
}

TEST_CASE("a step's cost: the replica's GPUs at the profile's price over its tokens, or no price") {
  // 80 output tokens in 8 ms: 10,000 tokens/s on 8 GPUs at 5.408 USD per GPU-hour: 43.264 USD per hour and
  // 43.264 / (10,000 × 3600) × 1e6 = 1.2018 USD per 1M output tokens.
  StepCost cost;
  cost.step_time_s = 0.008;
  cost.tokens = 80;
  cost.output_tokens = 80;
  cost.emitted_tokens = 80;
  const ModelSpec model = resolve_model("deepseek-v3");
  Precision precision;
  precision.weights = Dtype::kFp8;
  const Capacity cap =
      compute_capacity(model, resolve_hw("h200"), precision, Parallelism{8, true});  // DP-attention: 8 GPUs
  StepResult priced;
  priced.inputs.model = "DeepSeek-V3";
  priced.inputs.hardware_name = "H200 SXM";
  priced.inputs.tp = 8;
  priced.inputs.dp_attention = true;
  priced.cost = cost;
  StepShape shape = uniform_decode(80, 4096);
  shape.parallel = Parallelism{8, true};
  shape.precision = precision;
  priced.totals = step_totals(cost, cap, model, shape, 5.408);
  const auto j = step_json(priced).at("totals");
  CHECK(j.at("tokens_per_s").get<double>() == Approx(10'000.0));
  CHECK(j.at("gpus").get<int>() == 8);
  CHECK(j.at("price_per_gpu_hour").get<double>() == 5.408);
  CHECK(j.at("usd_per_hour").get<double>() == Approx(43.264));
  CHECK(j.at("usd_per_million_output_tokens").get<double>() == Approx(1.20178).epsilon(1e-4));
  CHECK(j.at("usd_per_million_total_tokens").get<double>() == Approx(1.20178).epsilon(1e-4));
  const std::string text = step_text(priced, false);
  CHECK_THAT(text,
             Catch::Contains("cost                 43.26 USD per hour (8 GPUs x 5.408 USD per GPU-hour), "
                             "1.202 USD per 1M output tokens\n"));
  CHECK_THAT(step_text(priced, true), Catch::Contains("1.202 USD per 1M output tokens"));

  StepResult unpriced = priced;
  unpriced.totals = step_totals(cost, cap, model, shape, std::nullopt);
  const auto u = step_json(unpriced).at("totals");
  for (const char* key : {"price_per_gpu_hour", "usd_per_hour", "usd_per_million_output_tokens",
                          "usd_per_million_total_tokens"}) {
    INFO(key);
    CHECK(u.at(key).is_null());
  }
  CHECK_THAT(step_text(unpriced, false), Catch::Contains("cost                 no price in the profile"));
  CHECK_THAT(step_text(unpriced, true), Catch::Contains("no price in the profile"));

  // --format csv --totals: the cost columns hold the numbers, or nothing without a price.
  const Table with_price = step_totals_table(priced, "ok");
  CHECK(std::get<double>(with_price.rows()[0][with_price.column_index("usd_per_hour")]) == Approx(43.264));
  CHECK(std::get<double>(with_price.rows()[0][with_price.column_index("tokens_per_s")]) == Approx(10'000.0));
  const Table no_price = with_missing_as(step_totals_table(unpriced, "ok"), "");
  for (const char* key : {"price_per_gpu_hour", "usd_per_hour", "usd_per_million_output_tokens",
                          "usd_per_million_total_tokens"}) {
    INFO(key);
    CHECK(std::get<std::string>(no_price.rows()[0][no_price.column_index(key)]).empty());
  }
}

TEST_CASE("a step's ops table ends with a total row: the sums of the op rows, in SI units") {
  // Two ops run back to back: 3 ms of GEMM over 32 launches, 1 ms of all-reduce; hand-summed below.
  StepCost cost;
  Op gemm;
  gemm.name = "ffn";
  gemm.op_class = OpClass::kGemm;
  gemm.count = 32;
  gemm.flops = 2.5e13;
  gemm.weight_bytes = 4e10;
  Op reduce;
  reduce.name = "allreduce";
  reduce.op_class = OpClass::kCommunication;
  reduce.count = 32;
  reduce.comm_bytes = 5e5;
  OpTime t_gemm, t_reduce;
  t_gemm.time_s = 0.003;
  t_reduce.time_s = 0.001;
  cost.ops = {TimedOp{gemm, t_gemm}, TimedOp{reduce, t_reduce}};
  cost.step_time_s = 0.004;
  cost.serial_time_s = 0.004;  // one micro-batch: the step is the ops back to back
  cost.flops = 2.5e13;
  cost.bytes = 4e10;
  const Table t = step_ops_table(cost);
  REQUIRE(t.rows().size() == 3);
  const auto& total = t.rows()[2];
  CHECK(std::get<std::string>(total[t.column_index("op")]) == "total");
  CHECK(std::get<std::string>(total[t.column_index("class")]) == "total");
  CHECK(std::get<std::int64_t>(total[t.column_index("count")]) == 64);
  CHECK(std::get<double>(total[t.column_index("flops")]) == 2.5e13);
  CHECK(std::get<double>(total[t.column_index("bytes")]) == 4e10);
  CHECK(std::get<double>(total[t.column_index("comm_bytes")]) == 5e5);
  CHECK(std::get<double>(total[t.column_index("time_s")]) == 0.004);
  CHECK(std::get<double>(total[t.column_index("share")]) == 1.0);
  CHECK(std::get<double>(total[t.column_index("intensity")]) == 625.0);  // 2.5e13 / 4e10
  CHECK(std::get<double>(t.rows()[0][t.column_index("share")]) == Approx(0.75));
  // The CSV keeps SI units; the table for reading shows ms, %, TFLOP and GB.
  CHECK_THAT(table_to_csv(t),
             Catch::Contains("\ntotal,total,64,25000000000000,40000000000,500000,625,0.004,1,,\n"));
  const std::string md = table_to_markdown(t);
  CHECK_THAT(md, Catch::Contains("| op | class | count | flops (TFLOP) | bytes (GB) | comm_bytes (kB) | "
                                 "intensity | time (ms) | share (%) | bound | provenance |"));
  CHECK_THAT(md, Catch::Contains("| ffn | gemm | 32 | 25 | 40 | 0 | 625 | 3 | 75 | memory | analytic |"));
  CHECK_THAT(md, Catch::Contains("| total | total | 64 | 25 | 40 | 500 | 625 | 4 | 100 |  |  |"));
}
