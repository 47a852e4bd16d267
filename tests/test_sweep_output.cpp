// reports/sweep_output.hpp (issue 12, streamed outputs): a sweep written as its points come equals the
// whole-table rendering byte for byte; a sweep too large to tabulate reports a bounded sub-grid, the points
// of which equal a sweep of that sub-grid run on its own; an interrupted `mlasim sweep` leaves nothing
// behind.
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

#include "reports/json_output.hpp"
#include "reports/sweep_output.hpp"
#include "reports/sweep_report.hpp"
#include "reports/table_writers.hpp"
#include "sim/config/loader.hpp"
#include "sim/output.hpp"
#include "tests/test_support.hpp"

using namespace mlasim;
namespace fs = std::filesystem;
using mlasim::test::has_temporary;
using mlasim::test::ScratchDir;
using mlasim::test::slurp;

namespace {

// A small sweep of every kind of point: ok, over capacity, does not fit, invalid (TP 3 divides no head
// count), batch max, two s_q, DP-attention both ways, a priced and an unpriced GPU.
SweepSpec mixed_spec() {
  SweepSpec spec = load_sweep_config("configs/deepseek_v3_attention.yaml");
  spec.tp = {3, 8};
  spec.dp_attention = {false, true};
  spec.batch = {1, 64, BatchChoice::max()};
  spec.s_q = {1, 2};
  return spec;
}

// The files `write` puts in a fresh folder, by name.
std::map<std::string, std::string> files_written(const std::function<void(OutputSet&)>& write) {
  ScratchDir dir;
  OutputSet outputs(dir.path() / "out");
  write(outputs);
  std::map<std::string, std::string> files;
  for (const fs::path& p : outputs.commit())
    files[p.lexically_relative(dir.path() / "out").string()] = slurp(p);
  return files;
}

}  // namespace

TEST_CASE("JsonArrayWriter writes exactly json_text of the whole document, piece by piece") {
  nlohmann::ordered_json doc =
      json_envelope(kSweepSchema, config_file_json("a.yaml", R"({"k": [1, {"x": "y"}]})", {}));
  const std::vector<nlohmann::ordered_json> elements{
      nlohmann::ordered_json::parse(
          R"({"a": 1, "b": [1, 2, {"c": null}], "s": "line\nbreak \"q\"", "e": {}})"),
      nlohmann::ordered_json::parse(R"({"a": 0.1, "b": [], "t": true})"),
      nlohmann::ordered_json::parse(R"([1, [2, [3]]])"), nlohmann::ordered_json::parse(R"("text")")};
  for (std::size_t n = 0; n <= elements.size(); ++n) {
    CAPTURE(n);
    JsonArrayWriter writer(doc, "points");
    std::string streamed = writer.begin();
    nlohmann::ordered_json whole = doc;
    whole["points"] = nlohmann::ordered_json::array();
    for (std::size_t k = 0; k < n; ++k) {
      streamed += writer.element(elements[k]);
      whole["points"].push_back(elements[k]);
    }
    streamed += writer.end();
    CHECK(streamed == json_text(whole));
  }
  CHECK_THROWS_AS(JsonArrayWriter(nlohmann::ordered_json{{"points", 1}}, "points"), InternalError);
}

TEST_CASE("JsonRowText writes a row exactly as the JSON writer writes its object inside the array") {
  Table t({{"int", ""}, {"number", ""}, {"nan", ""}, {"text \"q\"", ""}, {"flag", ""}, {"none", ""}});
  t.add_row({std::int64_t{-7}, 0.1 + 0.2, std::numeric_limits<double>::quiet_NaN(),
             std::string("a\nb\t\"c\" \xff"), true, std::monostate{}});
  t.add_row({std::int64_t{0}, 1e300, std::numeric_limits<double>::infinity(), std::string(), false, 3.0});
  const JsonRowText text(t.columns());
  for (std::size_t r = 0; r < t.rows().size(); ++r) {
    CAPTURE(r);
    CHECK(text.row(t.rows()[r]) == JsonArrayWriter::text_of(row_json(t, r)));
  }
  CHECK(JsonRowText({}).row({}) == JsonArrayWriter::text_of(nlohmann::ordered_json::object()));
  CHECK_THROWS_AS(text.row({true}), InternalError);
}

TEST_CASE("a sweep written as its points come is byte for byte the whole-table report, in any chunks") {
  const SweepSpec spec = mixed_spec();
  const std::vector<SweepPoint> points = run_sweep(spec);
  REQUIRE(points.size() <= kMaxReportedPoints);
  SweepReport whole = build_sweep_report(spec, points, /*charts=*/false);
  std::map<std::string, std::string> expected(whole.files.begin(), whole.files.end());
  REQUIRE(expected.count("sweep.csv") == 1);
  REQUIRE(expected.count("sweep.json") == 1);
  for (const std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{1500}, points.size()}) {
    for (const int jobs : {1, 3}) {
      CAPTURE(chunk, jobs);
      const auto got = files_written([&](OutputSet& outputs) {
        SweepOutputWriter writer(spec, outputs, jobs);
        for (std::size_t begin = 0; begin < points.size(); begin += chunk) {
          writer.add(std::vector<SweepPoint>(
              points.begin() + static_cast<std::ptrdiff_t>(begin),
              points.begin() + static_cast<std::ptrdiff_t>(std::min(points.size(), begin + chunk))));
        }
        CHECK(writer.points() == points.size());
        const SweepReport r = writer.finish(false, 1);
        CHECK(r.summary_markdown == whole.summary_markdown);
        CHECK(r.files.empty());
      });
      CHECK(got == expected);
    }
  }
}

TEST_CASE("the writer refuses points out of grid order, past the grid, or too few") {
  const SweepSpec spec = mixed_spec();
  const std::vector<SweepPoint> points = run_sweep(spec);
  ScratchDir dir;
  {
    OutputSet outputs(dir.path() / "a");
    SweepOutputWriter writer(spec, outputs);
    CHECK_THROWS_AS(writer.add({points[1]}), InternalError);
  }
  {
    OutputSet outputs(dir.path() / "b");
    SweepOutputWriter writer(spec, outputs);
    writer.add(points);
    CHECK_THROWS_AS(writer.add({points[0]}), InternalError);
  }
  {
    OutputSet outputs(dir.path() / "c");
    SweepOutputWriter writer(spec, outputs);
    writer.add({points[0]});
    CHECK_THROWS_AS(writer.finish(false, 1), InternalError);
  }
  // Destroyed uncommitted: nothing left.
  CHECK_FALSE(has_temporary(dir.path()));
}

TEST_CASE("sweep_report_grid: the whole grid when small; else thinned inner axes, then cut outer ones") {
  SweepSpec spec;
  spec.name = "grid";
  spec.models = {resolve_model("llama-3-8b")};
  spec.variants = {parse_variant("native"), parse_variant("mqa")};
  spec.hardware = {resolve_hw("h100-sxm")};
  spec.tp = {1};
  spec.s_q = {1};
  spec.batch = {1, BatchChoice::max()};
  spec.context = {9000, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000};  // not sorted
  REQUIRE(sweep_size(spec) == 36);

  const SweepReportGrid all = sweep_report_grid(spec, 36);
  CHECK(all.whole);
  CHECK(all.description.empty());
  CHECK(sweep_size(all.spec) == 36);

  // 36 > 20: the 9 contexts halved to 5 (ranks 0, 2, 4, 6, 8 by value: 1000, 3000, 5000, 7000, 9000), kept
  // in the config's order; 2 × 2 × 5 = 20.
  const SweepReportGrid g = sweep_report_grid(spec, 20);
  CHECK_FALSE(g.whole);
  CHECK(g.spec.context == std::vector<std::int64_t>{9000, 1000, 3000, 5000, 7000});
  CHECK(g.kept[static_cast<std::size_t>(SweepAxis::kContext)] == std::vector<std::uint32_t>{0, 1, 3, 5, 7});
  CHECK(g.spec.batch == spec.batch);
  CHECK(g.spec.variants.size() == 2);
  CHECK(g.description == "context: 9000, 1000, 3000, 5000, 7000 of the 9");

  // 10 points: contexts down to 2 (5 -> 3 -> 2), then the variants cut to the first: 1 × 2 × 2 = 4. The batch
  // `max` always stays; the batch counts (one) are not thinned.
  const SweepReportGrid h = sweep_report_grid(spec, 5);
  CHECK(h.spec.context == std::vector<std::int64_t>{9000, 1000});
  CHECK(h.spec.variants.size() == 1);
  CHECK(h.spec.batch == spec.batch);
  CHECK(sweep_size(h.spec) == 4);
  CHECK(h.description == "variant: native of the 2; context: 9000, 1000 of the 9");

  // As small as it gets: one value on every axis but the `max` batch.
  const SweepReportGrid one = sweep_report_grid(spec, 1);
  CHECK(sweep_size(one.spec) == 2);
}

TEST_CASE(
    "a sweep larger than the report's limit: every point streamed, the report of a sub-grid that equals "
    "the sub-grid run on its own") {
  SweepSpec spec = load_sweep_config("configs/llama3_70b_attention.yaml");
  spec.context.clear();
  for (std::int64_t c = 1024; c <= 1024 * 1000; c += 1024) spec.context.push_back(c);  // 1,000 contexts
  spec.batch = {1, 8, 32, 128, BatchChoice::max()};
  const std::size_t n = sweep_size(spec);
  REQUIRE(n > kMaxReportedPoints);
  const SweepReportGrid grid = sweep_report_grid(spec);
  REQUIRE_FALSE(grid.whole);
  REQUIRE(sweep_size(grid.spec) <= kMaxReportedPoints);
  const std::vector<SweepPoint> points = run_sweep(spec);

  std::string summary;
  const auto got = files_written([&](OutputSet& outputs) {
    SweepOutputWriter writer(spec, outputs, 2);
    for (std::size_t begin = 0; begin < n; begin += 4096) {
      writer.add(
          std::vector<SweepPoint>(points.begin() + static_cast<std::ptrdiff_t>(begin),
                                  points.begin() + static_cast<std::ptrdiff_t>(std::min(n, begin + 4096))));
    }
    summary = writer.finish(false, 1).summary_markdown;
  });
  // sweep.csv and sweep.json: every point, as the whole-table writers write them.
  const Table table = sweep_table(spec, points);
  CHECK(got.at("sweep.csv") == table_to_csv(with_missing_as(table, "")));
  CHECK(std::count(got.at("sweep.csv").begin(), got.at("sweep.csv").end(), '\n') ==
        static_cast<std::ptrdiff_t>(n + 1));
  const auto json = nlohmann::json::parse(got.at("sweep.json"));
  CHECK(json.at("points").size() == n);

  // The pages: those of the sub-grid run as a sweep of its own, with the scope saying so.
  SweepReportScope scope;
  scope.whole = &spec;
  scope.points = n;
  std::map<std::string, std::size_t> by_status;
  for (const SweepPoint& p : points) ++by_status[std::string(to_string(p.status))];
  for (const char* s : {"ok", "batch-exceeds-capacity", "does-not-fit", "invalid"}) {
    if (by_status.count(s) != 0) scope.by_status.emplace_back(s, by_status[s]);
  }
  scope.description = grid.description;
  const SweepReport sub = build_sweep_pages(grid.spec, run_sweep(grid.spec), false, 1, &scope);
  for (const auto& [name, content] : sub.files) {
    CAPTURE(name);
    CHECK(got.at(name) == content);
  }
  CHECK(summary == sub.summary_markdown);
  CHECK_THAT(summary, Catch::Contains(fmt::format("{} points;", n)));
  CHECK_THAT(summary,
             Catch::Contains(fmt::format("a sub-grid of {} of the {} points", sweep_size(grid.spec), n)));
  CHECK_THAT(summary, Catch::Contains("context: "));
  CHECK_THAT(got.at("report.html"), Catch::Contains("Too many points to tabulate"));
}

TEST_CASE("an interrupted mlasim sweep leaves the previous outputs whole and no temporary behind") {
  ScratchDir dir;
  const fs::path out = dir.path() / "out";
  // A first, small run fills the folder.
  const std::string small =
      dir.write("small.yaml",
                "sweep:\n  name: small\n  models: [llama-3-8b]\n  hardware: [h100-sxm]\n"
                "  batch: [1]\n  context: [1024]\n")
          .string();
  REQUIRE(std::system((std::string(MLASIM_BINARY) + " sweep " + small + " -q --no-charts --out " +
                       out.string() + " >/dev/null")
                          .c_str()) == 0);
  const std::string before = slurp(out / "sweep.csv");
  // A large one (about 1M points: many seconds), interrupted once its streamed files exist.
  const std::string large = dir.write("large.yaml",
                                      "sweep:\n  name: large\n  models: [llama-3-8b]\n"
                                      "  variants: [native, mqa, gqa:4, mla:512/64]\n"
                                      "  hardware: [h100-sxm, h200, a100-80gb, b200]\n  tp: [1, 2, 4, 8]\n"
                                      "  batch: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]\n"
                                      "  context: 1024..1573888 +1024\n")
                                .string();
  for (const int sig : {SIGINT, SIGTERM}) {
    CAPTURE(sig);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      for (const int s : {SIGINT, SIGTERM, SIGHUP}) std::signal(s, SIG_DFL);
      ::execl(MLASIM_BINARY, MLASIM_BINARY, "sweep", large.c_str(), "-q", "--no-charts", "-j", "1", "--out",
              out.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    bool streaming = false;
    for (int i = 0; i < 600 && !streaming; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      streaming = fs::exists(out / ("sweep.json.tmp-" + std::to_string(child)));  // streaming begun
    }
    CHECK(streaming);
    ::kill(child, sig);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status));
    CHECK_FALSE(has_temporary(out));
    CHECK(slurp(out / "sweep.csv") == before);
  }
}

TEST_CASE(
    "merge streams the shards one at a time and names a shard line that is not the grid's point there") {
  ScratchDir dir;
  const std::string config = dir.write("s.yaml",
                                       "sweep:\n  name: s\n  models: [llama-3-8b]\n  hardware: [h100-sxm]\n"
                                       "  batch: [1, 8]\n  context: [1024, 2048, 4096]\n")
                                 .string();
  const std::string bin = MLASIM_BINARY;
  const fs::path a = dir.path() / "a", b = dir.path() / "b", one = dir.path() / "one",
                 out = dir.path() / "out";
  for (const auto& [shard, folder] : {std::pair{"1/2", a}, std::pair{"2/2", b}}) {
    REQUIRE(std::system((bin + " sweep " + config + " -q --shard " + shard + " --out " + folder.string() +
                         " >/dev/null")
                            .c_str()) == 0);
  }
  REQUIRE(std::system(
              (bin + " sweep " + config + " -q --no-charts --out " + one.string() + " >/dev/null").c_str()) ==
          0);
  REQUIRE(std::system((bin + " merge " + b.string() + " " + a.string() + " -q --no-charts --out " +
                       out.string() + " >/dev/null")
                          .c_str()) == 0);
  for (const char* f : {"sweep.csv", "sweep.json", "summary.md", "report.html"}) {
    CAPTURE(f);
    CHECK(slurp(out / f) == slurp(one / f));
  }
  // Shard 2's first two points swapped: its line 3 holds grid point 4 where point 5 belongs.
  const fs::path file = b / "sweep-shard.jsonl";
  std::vector<std::string> lines;
  {
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  REQUIRE(lines.size() == 4);  // the header and points 4, 5, 6
  std::swap(lines[1], lines[2]);
  {
    std::ofstream o(file, std::ios::trunc);
    for (const std::string& line : lines) o << line << "\n";
  }
  const fs::path err = dir.path() / "err.txt";
  const int rc = std::system((bin + " merge " + a.string() + " " + b.string() + " -q --no-charts --out " +
                              (dir.path() / "out2").string() + " >/dev/null 2>" + err.string())
                                 .c_str());
  CHECK(WEXITSTATUS(rc) == 2);
  CHECK_THAT(slurp(err),
             Catch::Contains(file.string() + ":2:") && Catch::Contains("not grid point 4 of the sweep"));
  CHECK_FALSE(fs::exists(dir.path() / "out2" / "sweep.csv"));
  CHECK_FALSE(has_temporary(dir.path() / "out2"));
}
