#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "kernels/common/csv.hpp"
#include "kernels/probes/probe_plan.hpp"
#include "sim/calibration/bandwidth_fit.hpp"
#include "sim/calibration/gemm_fit.hpp"
#include "sim/calibration/probe_csv.hpp"
#include "sim/calibration/probe_report.hpp"
#include "tests/test_support.hpp"

using namespace mlasim;

namespace {

// Working sets as the probe sweeps them: 64 KiB .. 4 GiB, geometric, 30 points.
std::vector<double> geometric_sizes(double lo, double hi, int count) {
  std::vector<double> out;
  for (int i = 0; i < count; ++i) out.push_back(lo * std::pow(hi / lo, i / static_cast<double>(count - 1)));
  return out;
}

constexpr double kL2Bytes = 50e6;  // H100 SXM datasheet L2 (DESIGN.md §11)

/// Synthetic HBM points from t = t0 + bytes/bw with multiplicative log-normal noise and `outliers` points
/// made 1.6x slower (a neighbour's burst, a clock dip): the kind of contamination a real run shows.
std::vector<BandwidthPoint> synthetic_ramp(double t0_s, double bw, double noise, int outliers, unsigned seed,
                                           double min_bytes = kL2Bytes) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> gauss(0.0, noise);
  std::vector<BandwidthPoint> pts;
  for (double b : geometric_sizes(65536.0, 4294967296.0, 30)) {
    if (b < min_bytes) continue;
    pts.push_back({b, (t0_s + b / bw) * std::exp(gauss(rng))});
  }
  for (int i = 0; i < outliers; ++i) pts[(static_cast<std::size_t>(i) * 5 + 1) % pts.size()].time_s *= 1.6;
  return pts;
}

std::string probe_header() {
  return "probe,kernel,shape,level,dtype,working_set_bytes,m,n,k,batch,bytes,flops,grid,block,median_s,p90_s,"
         "gbps,"
         "tflops,repeats\n";
}

}  // namespace

TEST_CASE("noise-free ramp points give back t0 and BW∞ exactly") {
  const auto pts = synthetic_ramp(4e-6, 3.0e12, 0.0, 0, 1);
  const RampFit fit = fit_bandwidth_ramp(pts);
  CHECK(fit.t0_s == Approx(4e-6).epsilon(1e-9));
  CHECK(fit.bw_inf_bytes_per_s == Approx(3.0e12).epsilon(1e-9));
  CHECK(fit.points == static_cast<int>(pts.size()));
  CHECK(fit.rms_rel_residual < 1e-9);
}

TEST_CASE("the robust ramp fit recovers BW∞ within 2% and t0 within 1.5 us despite 2% noise and outliers") {
  // Only the 12 points above the L2 (64 MB .. 4 GiB; the smallest takes ~25 us, so t0 = 4 us is weakly
  // determined), 2% noise, 2 outliers at +60%, over 20 seeds: every seed must pass.
  for (unsigned seed = 1; seed <= 20; ++seed) {
    INFO("seed " << seed);
    const auto pts = synthetic_ramp(4e-6, 3.0e12, 0.02, 2, seed);
    const RampFit fit = fit_bandwidth_ramp(pts);
    CHECK(fit.bw_inf_bytes_per_s == Approx(3.0e12).epsilon(0.02));
    CHECK(fit.t0_s == Approx(4e-6).margin(1.5e-6));
    CHECK(fit.downweighted >= 2);
  }
}

TEST_CASE("with the cold small working sets in the fit, t0 is recovered within 5%") {
  // All 30 sizes from 64 KiB (L2 flushed, so read from HBM), 2% noise, 3 outliers at +60%, 20 seeds.
  for (unsigned seed = 1; seed <= 20; ++seed) {
    INFO("seed " << seed);
    const auto pts = synthetic_ramp(4e-6, 3.0e12, 0.02, 3, seed, 0.0);  // all 30 sizes from 64 KiB
    const RampFit fit = fit_bandwidth_ramp(pts);
    CHECK(fit.bw_inf_bytes_per_s == Approx(3.0e12).epsilon(0.02));
    CHECK(fit.t0_s == Approx(4e-6).epsilon(0.05));
  }
}

TEST_CASE("outliers pull an ordinary least-squares fit but not the Huber fit") {
  auto pts = synthetic_ramp(4e-6, 3.0e12, 0.0, 0, 1);
  for (std::size_t i = pts.size() - 3; i < pts.size(); ++i) pts[i].time_s *= 1.5;  // the three largest, slow
  RampFitOptions ols;
  ols.huber_c = 1e30;  // every weight stays 1: plain (relative) least squares
  const RampFit plain = fit_bandwidth_ramp(pts, ols);
  const RampFit robust = fit_bandwidth_ramp(pts);
  CHECK(plain.bw_inf_bytes_per_s < 0.9 * 3.0e12);
  CHECK(robust.bw_inf_bytes_per_s == Approx(3.0e12).epsilon(0.01));
  CHECK(robust.downweighted == 3);
}

TEST_CASE("a negative fixed cost is clamped to zero") {
  std::vector<BandwidthPoint> pts;
  for (double b : {1e8, 2e8, 4e8, 8e8}) pts.push_back({b, b / 2e12 - 1e-6});  // would fit t0 = -1 us
  const RampFit fit = fit_bandwidth_ramp(pts);
  CHECK(fit.t0_s == 0.0);
  CHECK(fit.bw_inf_bytes_per_s > 0.0);
}

TEST_CASE("the ramp fit refuses too few points or a single size") {
  const std::vector<BandwidthPoint> two = {{1e8, 1e-4}, {2e8, 2e-4}};
  CHECK_THROWS_WITH(fit_bandwidth_ramp(two, {}, "bandwidth kernel 'read'"),
                    Catch::Contains("bandwidth kernel 'read'") && Catch::Contains("at least 3 points"));
  const std::vector<BandwidthPoint> same = {{1e8, 1e-4}, {1e8, 1.1e-4}, {1e8, 0.9e-4}};
  CHECK_THROWS_AS(fit_bandwidth_ramp(same), InputError);
  const std::vector<BandwidthPoint> bad = {{1e8, 0.0}, {2e8, 1e-4}, {3e8, 2e-4}};
  CHECK_THROWS_AS(fit_bandwidth_ramp(bad), InputError);
}

TEST_CASE("the L2 plateau is the top of the L2 points, not dragged down by launch-bound or spilling sizes") {
  // Launch-bound below 1 us, 10 TB/s above, and the largest size half out of L2: plateau 10 TB/s within 3%.
  std::mt19937 rng(7);
  std::normal_distribution<double> gauss(0.0, 0.02);
  std::vector<BandwidthPoint> pts;
  for (double b : geometric_sizes(65536.0, 4294967296.0, 30)) {
    if (b >= kL2Bytes) continue;
    double t = std::max(1e-6, b / 10e12);
    if (b > 0.8 * kL2Bytes) t *= 2.0;
    pts.push_back({b, t * std::exp(gauss(rng))});
  }
  REQUIRE(pts.size() >= 12);
  CHECK(l2_plateau_bytes_per_s(pts) == Approx(10e12).epsilon(0.03));
  CHECK_THROWS_AS(l2_plateau_bytes_per_s(std::vector<BandwidthPoint>{}), InputError);
}

TEST_CASE("bandwidth rows are fitted per kernel from the fastest grid, HBM points only") {
  // Two kernels, three grids: the ideal grid follows the model, the others are 30% slower. The l2 rows
  // (much faster) must not enter the ramp fit.
  std::vector<ProbeRow> rows;
  const struct {
    const char* name;
    double t0, bw;
  } kernels[] = {{"read", 3e-6, 3.1e12}, {"copy", 5e-6, 2.8e12}};
  for (const auto& k : kernels) {
    for (double ws : geometric_sizes(65536.0, 4294967296.0, 30)) {
      for (int grid : {66, 132, 264}) {
        ProbeRow r;
        r.probe = "bandwidth";
        r.kernel = k.name;
        r.level = ws < kL2Bytes ? "l2" : "hbm";
        r.working_set_bytes = static_cast<std::int64_t>(ws);
        r.bytes = ws;
        r.grid = grid;
        const double t = ws < kL2Bytes ? std::max(2e-6, ws / 9e12) : k.t0 + ws / k.bw;
        r.median_s = grid == 264 ? t : 1.3 * t;
        r.p90_s = r.median_s;
        r.repeats = 20;
        rows.push_back(r);
      }
    }
  }
  const auto fits = fit_bandwidth_rows(rows);
  REQUIRE(fits.size() == 2);
  CHECK(fits[0].kernel == "copy");  // sorted by name
  CHECK(fits[1].kernel == "read");
  CHECK(fits[0].hbm.bw_inf_bytes_per_s == Approx(2.8e12).epsilon(1e-6));
  CHECK(fits[0].hbm.t0_s == Approx(5e-6).epsilon(1e-6));
  CHECK(fits[1].hbm.bw_inf_bytes_per_s == Approx(3.1e12).epsilon(1e-6));
  CHECK(fits[1].hbm_points == 12);
  CHECK(fits[1].l2_points == 18);
  CHECK(fits[1].has_l2);
  CHECK(fits[1].l2_plateau_bytes_per_s == Approx(9e12).epsilon(1e-6));
}

TEST_CASE("a kernel without enough HBM points is an error that names it") {
  std::vector<ProbeRow> rows(2);
  rows[0].probe = rows[1].probe = "bandwidth";
  rows[0].kernel = rows[1].kernel = "rmw";
  rows[0].level = rows[1].level = "hbm";
  rows[0].working_set_bytes = 100000000;
  rows[1].working_set_bytes = 200000000;
  rows[0].bytes = 2e8;
  rows[1].bytes = 4e8;
  rows[0].median_s = 1e-4;
  rows[1].median_s = 2e-4;
  CHECK_THROWS_WITH(fit_bandwidth_rows(rows), Catch::Contains("'rmw'"));
}

// ---- GEMM tables ----

namespace {
/// A saturating rate: weight-bound (∝ m) for small m, compute-bound (peak) for large m.
double true_rate(double m) {
  return 700.0 * m / (m + 96.0);
}
}  // namespace

TEST_CASE("the GEMM table returns measured points exactly and interpolates between them in log m") {
  std::vector<GemmPoint> pts;
  for (std::int64_t m = 1; m <= 8192; m *= 2) pts.push_back({m, true_rate(static_cast<double>(m)), 0.0});
  std::reverse(pts.begin(), pts.end());  // any input order
  const GemmEfficiencyTable table(GemmShapeKey{"lt_bf16", "bf16", 1280, 8192, 1}, pts, "llama3_70b.tp8.qkv");
  REQUIRE(table.points().front().m == 1);
  for (std::int64_t m = 1; m <= 8192; m *= 2) {
    const GemmRate r = table.rate_at(static_cast<double>(m));
    CHECK(r.provenance == Provenance::kMeasured);
    CHECK(r.tflop_per_s == true_rate(static_cast<double>(m)));
  }
  // Between powers of two the log-log interpolation of this curve stays within 3% (its worst is at the knee).
  for (double m : {3.0, 24.0, 96.0, 150.0, 1000.0, 6000.0}) {
    INFO("m = " << m);
    const GemmRate r = table.rate_at(m);
    CHECK(r.provenance == Provenance::kInterpolated);
    CHECK(r.tflop_per_s == Approx(true_rate(m)).epsilon(0.03));
  }
  // Interpolation is monotone where the data are.
  double prev = 0.0;
  for (double m = 1.0; m <= 8192.0; m *= 1.1) {
    const double r = table.rate_at(m).tflop_per_s;
    CHECK(r >= prev);
    prev = r;
  }
  CHECK(table.time_s(128.0) == Approx(2.0 * 128 * 1280 * 8192 / (true_rate(128.0) * 1e12)));
}

TEST_CASE("outside the measured m the GEMM table extrapolates by the two regimes and says so") {
  const GemmEfficiencyTable table(GemmShapeKey{"lt_bf16", "bf16", 4096, 4096, 1},
                                  {{4, 10.0, 0.0}, {64, 160.0, 0.0}, {1024, 600.0, 0.0}});
  const GemmRate low = table.rate_at(2.0);
  CHECK(low.provenance == Provenance::kExtrapolated);
  CHECK(low.tflop_per_s == Approx(5.0));  // same time as m = 4: weight-read bound
  CHECK(table.time_s(2.0) == Approx(table.time_s(4.0)));
  const GemmRate high = table.rate_at(4096.0);
  CHECK(high.provenance == Provenance::kExtrapolated);
  CHECK(high.tflop_per_s == Approx(600.0));
  CHECK_THROWS_AS(table.rate_at(0.5), InputError);
  CHECK(std::string(to_string(Provenance::kInterpolated)) == "interpolated");
}

TEST_CASE("GEMM rows become one table per (kernel, dtype, n, k, batch), labels joined") {
  std::vector<ProbeRow> rows;
  auto add = [&](const char* kernel, const char* shape, std::int64_t m, std::int64_t n, std::int64_t k,
                 std::int64_t batch, double tflops, int line) {
    ProbeRow r;
    r.probe = "gemm";
    r.kernel = kernel;
    r.dtype = "bf16";
    r.shape = shape;
    r.m = m;
    r.n = n;
    r.k = k;
    r.batch = batch;
    r.flops = 2.0 * static_cast<double>(m * n * k * batch);
    r.tflops = tflops;
    r.median_s = r.flops / (tflops * 1e12);
    r.p90_s = r.median_s;
    r.repeats = 10;
    r.where = SourceLocation{"gemm.csv", line, 0};
    rows.push_back(r);
  };
  add("lt_bf16", "llama3_8b.tp1.o", 1, 4096, 4096, 1, 2.0, 2);
  add("lt_bf16", "llama3_70b.tp2.o", 2, 4096, 4096, 1, 4.0, 3);
  add("lt_bf16", "dsv3.mla.w_uk", 1, 512, 128, 128, 1.0, 4);
  add("lt_bf16", "dsv3.mla.w_uk", 2, 512, 128, 128, 2.0, 5);
  ProbeRow other;
  other.probe = "launch";
  rows.push_back(other);
  const auto tables = build_gemm_tables(rows);
  REQUIRE(tables.size() == 2);
  CHECK(tables[0].key().n == 512);  // ordered by key
  CHECK(tables[0].key().batch == 128);
  CHECK(tables[1].label() == "llama3_8b.tp1.o|llama3_70b.tp2.o");
  CHECK(tables[1].rate_at(std::sqrt(2.0)).tflop_per_s == Approx(std::sqrt(8.0)));

  add("lt_bf16", "again", 2, 4096, 4096, 1, 4.0, 9);
  CHECK_THROWS_WITH(build_gemm_tables(rows), Catch::Contains("gemm.csv:9") && Catch::Contains("gemm.csv:3"));
}

// ---- CSV reader ----

TEST_CASE("the reader parses what the GPU program's CSV writer writes") {
  const std::string path = "test_calibration_fit_roundtrip.csv";
  {
    std::vector<std::string> header;
    for (auto c : probe_csv_required_columns()) header.emplace_back(c);
    header.emplace_back("note");  // extra columns are ignored
    gpu::CsvWriter w(path, header);
    w.cell("gemm")
        .cell("lt_bf16")
        .cell("llama3_70b.tp8.qkv, fused")
        .cell("-")
        .cell("bf16")
        .cell(0)
        .cell(1)
        .cell(1280)
        .cell(8192)
        .cell(1)
        .cell(21e6)
        .cell(2.0 * 1280 * 8192)
        .cell(0)
        .cell(0)
        .cell(9.5e-6)
        .cell(1.1e-5)
        .cell(2210.5)
        .cell(2.2)
        .cell(20)
        .cell("say \"hi\"");
    w.end_row();
    w.cell("bandwidth")
        .cell("read")
        .cell("ws=4294967296")
        .cell("hbm")
        .cell("u32x4")
        .cell(4294967296LL)
        .cell(0)
        .cell(0)
        .cell(0)
        .cell(0)
        .cell(4294967296.0)
        .cell(0.0)
        .cell(264)
        .cell(512)
        .cell(1.4e-3)
        .cell(1.5e-3)
        .cell(3067.8)
        .cell(0.0)
        .cell(20)
        .cell("");
    w.end_row();
    REQUIRE(w.close());
  }
  const auto rows = read_probe_csv(path);
  std::remove(path.c_str());
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].shape == "llama3_70b.tp8.qkv, fused");
  CHECK(rows[0].n == 1280);
  CHECK(rows[0].median_s == Approx(9.5e-6));
  CHECK(rows[0].where.to_string() == path + ":2");
  CHECK(rows[1].working_set_bytes == 4294967296LL);
  CHECK(rows[1].level == "hbm");
  CHECK(rows[1].grid == 264);
}

TEST_CASE("bad probe CSV rows are errors naming file:line:col and the column") {
  const std::string good = "bandwidth,read,ws,hbm,u32x4,65536,0,0,0,0,65536,0,132,512,2e-6,3e-6,32.7,0,20\n";
  SECTION("a non-number") {
    const std::string text =
        probe_header() + good +
        "bandwidth,read,ws,hbm,u32x4,65536,0,0,0,0,65536,0,132,512,fast,3e-6,32.7,0,20\n";
    CHECK_THROWS_WITH(parse_probe_csv(text, "bw.csv"),
                      Catch::StartsWith("bw.csv:3:59: error: median_s: 'fast' is not a number"));
  }
  SECTION("a wrong cell count") {
    CHECK_THROWS_WITH(parse_probe_csv(probe_header() + "bandwidth,read\n", "bw.csv"),
                      Catch::StartsWith("bw.csv:2:1: error: row has 2 cells but the header has 19 columns"));
  }
  SECTION("a missing column") {
    CHECK_THROWS_WITH(parse_probe_csv("probe,kernel\n", "x.csv"),
                      Catch::StartsWith("x.csv:1:1: error: shape: the header lacks column 'shape'"));
  }
  SECTION("p90 below the median") {
    const std::string text =
        probe_header() + "bandwidth,read,ws,hbm,u32x4,65536,0,0,0,0,65536,0,132,512,2e-6,1e-6,32.7,0,20\n";
    CHECK_THROWS_WITH(parse_probe_csv(text, "bw.csv"),
                      Catch::Contains("bw.csv:2:") && Catch::Contains("p90_s"));
  }
  SECTION("an unknown probe or level") {
    CHECK_THROWS_WITH(parse_probe_csv(probe_header() + "bandwith" + good.substr(9), "bw.csv"),
                      Catch::Contains("bw.csv:2:1: error: probe: unknown probe 'bandwith'"));
    const std::string text =
        probe_header() + "bandwidth,read,ws,dram,u32x4,65536,0,0,0,0,65536,0,132,512,2e-6,3e-6,32.7,0,20\n";
    CHECK_THROWS_WITH(parse_probe_csv(text, "bw.csv"), Catch::Contains("bw.csv:2:19: error: level"));
  }
  SECTION("a negative integer and a zero time") {
    const std::string neg =
        probe_header() + "bandwidth,read,ws,hbm,u32x4,-5,0,0,0,0,65536,0,132,512,2e-6,3e-6,32.7,0,20\n";
    CHECK_THROWS_WITH(parse_probe_csv(neg, "bw.csv"), Catch::Contains("working_set_bytes: -5 is negative"));
    const std::string zero =
        probe_header() + "bandwidth,read,ws,hbm,u32x4,65536,0,0,0,0,65536,0,132,512,0,0,32.7,0,20\n";
    CHECK_THROWS_WITH(parse_probe_csv(zero, "bw.csv"),
                      Catch::Contains("median_s: a measured time must be positive"));
  }
  SECTION("an unterminated quote") {
    CHECK_THROWS_WITH(parse_probe_csv(probe_header() + "gemm,\"abc\n", "g.csv"),
                      Catch::StartsWith("g.csv:2:6: error: unterminated quoted cell"));
  }
  SECTION("an empty file and a missing file") {
    CHECK_THROWS_WITH(parse_probe_csv("\n\n", "e.csv"), Catch::Contains("empty probe CSV"));
    CHECK_THROWS_WITH(read_probe_csv("no/such/dir/bandwidth.csv"),
                      Catch::StartsWith("no/such/dir/bandwidth.csv: error: cannot open"));
  }
  SECTION("blank lines and CRLF endings are fine") {
    std::string text = probe_header() + "\r\n" + good;
    const auto rows = parse_probe_csv(text, "bw.csv");
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].where.line == 3);
  }
}

// ---- a whole run folder, as run_on_gpu.sh brings it back ----

TEST_CASE("a folder of probe CSVs fits into the report calibration needs") {
  namespace fs = std::filesystem;
  const test::ScratchDir scratch("mlasim_test_probe_run");
  const fs::path& dir = scratch.path();
  const auto columns = gpu::probe_csv_columns();
  {
    // Bandwidth: read with t0 = 3 us, BW∞ = 3000 GB/s above the L2; 9000 GB/s warm below it.
    gpu::CsvWriter bw((dir / "bandwidth.csv").string(), columns);
    for (std::int64_t ws : gpu::bandwidth_working_sets()) {
      const auto b = static_cast<double>(ws);
      const bool l2 = ws < static_cast<std::int64_t>(kL2Bytes);
      const double t = l2 ? std::max(1e-6, b / 9e12) : 3e-6 + b / 3e12;
      bw.cell("bandwidth")
          .cell("read")
          .cell("ws=" + std::to_string(ws))
          .cell(l2 ? "l2" : "hbm")
          .cell("f32x4")
          .cell(ws)
          .cell(0)
          .cell(0)
          .cell(0)
          .cell(0)
          .cell(b)
          .cell(0.0)
          .cell(132)
          .cell(512)
          .cell(t)
          .cell(t)
          .cell(b / t * 1e-9)
          .cell(0.0)
          .cell(20);
      bw.end_row();
    }
    REQUIRE(bw.close());
    gpu::CsvWriter gemm((dir / "gemm.csv").string(), columns);
    for (std::int64_t m : gpu::gemm_m_values()) {
      const gpu::GemmShape s{"llama3_70b.tp8.qkv", 1280, 8192, 1};
      const double rate = true_rate(static_cast<double>(m)) * 1e12;
      const double f = gpu::gemm_flops(m, s);
      gemm.cell("gemm")
          .cell("lt_bf16")
          .cell(s.label)
          .cell("-")
          .cell("bf16")
          .cell(0)
          .cell(m)
          .cell(s.n)
          .cell(s.k)
          .cell(s.batch)
          .cell(gpu::gemm_bytes(m, s, 2, 2))
          .cell(f)
          .cell(0)
          .cell(0)
          .cell(f / rate)
          .cell(f / rate)
          .cell(0.0)
          .cell(rate * 1e-12)
          .cell(10);
      gemm.end_row();
    }
    REQUIRE(gemm.close());
    gpu::CsvWriter launch((dir / "launch.csv").string(), columns);
    launch.cell("launch")
        .cell("empty_graph")
        .cell("launches=1000")
        .cell("-")
        .cell("-")
        .cell(0)
        .cell(0)
        .cell(0)
        .cell(0)
        .cell(0)
        .cell(0.0)
        .cell(0.0)
        .cell(1)
        .cell(1)
        .cell(1.5e-6)
        .cell(1.7e-6)
        .cell(0.0)
        .cell(0.0)
        .cell(30);
    launch.end_row();
    REQUIRE(launch.close());
  }
  const ProbeRunFits fits = fit_probe_directory(dir.string());
  REQUIRE(fits.bandwidth.size() == 1);
  CHECK(fits.bandwidth[0].hbm.t0_s == Approx(3e-6).epsilon(1e-6));
  CHECK(fits.bandwidth[0].hbm.bw_inf_bytes_per_s == Approx(3e12).epsilon(1e-6));
  CHECK(fits.bandwidth[0].l2_plateau_bytes_per_s == Approx(9e12).epsilon(1e-6));
  const std::string report = format_probe_report(fits);
  CHECK_THAT(report, Catch::Contains("bandwidth read  t0 3.00 us, BW∞ 3000 GB/s"));
  CHECK_THAT(report, Catch::Contains("L2 plateau 9000 GB/s"));
  CHECK_THAT(report, Catch::Contains("m=1: 7.2 m=16: 100.0 m=128: 400.0"));
  CHECK_THAT(report, Catch::Contains("launch empty_graph      1.50 us per launch (p90 1.70 us)"));
  fs::remove_all(dir);
  CHECK_THROWS_WITH(fit_probe_directory(dir.string()), Catch::Contains("not a folder of probe CSVs"));
}
