// cli/progress.hpp: the progress line is drawn only on a terminal, only after the delay, in place, and
// cleared.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <string>

#include "cli/progress.hpp"

using mlasim::cli::ProgressLine;

namespace {

/// Everything written to `f` so far.
std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string out;
  for (int c = std::fgetc(f); c != EOF; c = std::fgetc(f)) out.push_back(static_cast<char>(c));
  return out;
}

/// A temporary file, closed (and removed) at scope exit.
struct TempFile {
  std::FILE* f = std::tmpfile();
  ~TempFile() {
    if (f != nullptr) std::fclose(f);
  }
};

}  // namespace

TEST_CASE("the progress text: done of total, the rate, the time left") {
  // 1200 of 4000 points in 2 s: 600 points/s; 2800 left at that rate is 4.7 s.
  CHECK(ProgressLine::text("sweep", "points", 1200, 4000, 2.0, "") ==
        "mlasim sweep: 1200/4000 points, 600 points/s, ETA 5 s");
  // 3 of 12 layouts in 30 s: 0.1 layouts/s, 9 left: 90 s.
  CHECK(ProgressLine::text("plan", "layouts", 3, 12, 30.0, ", 40 simulations") ==
        "mlasim plan: 3/12 layouts, 0.1 layouts/s, ETA 1 min 30 s, 40 simulations");
  // Nothing done yet: no rate, no ETA; all done: no ETA.
  CHECK(ProgressLine::text("serve", "runs", 0, 8, 3.0, "") == "mlasim serve: 0/8 runs");
  CHECK(ProgressLine::text("serve", "runs", 8, 8, 4.0, "") == "mlasim serve: 8/8 runs, 2 runs/s");
  CHECK(ProgressLine::text("sweep", "points", 1, 100'001, 1.0, "") ==
        "mlasim sweep: 1/100001 points, 1 points/s, ETA 27 h 46 min");
}

TEST_CASE("no progress line when the output is not a terminal, or when it is disabled (-q)") {
  for (const bool terminal : {false, true}) {
    const bool enabled = !terminal;  // not a terminal (enabled), or a terminal with -q (disabled)
    TempFile file;
    REQUIRE(file.f != nullptr);
    {
      ProgressLine line("sweep", "points", enabled, terminal, file.f, std::chrono::seconds(0));
      line.update(5, 10);
      line.update(10, 10);
      line.finish("10 points");
    }
    CHECK(contents(file.f).empty());
  }
}

TEST_CASE("no progress line before the delay has passed") {
  TempFile file;
  REQUIRE(file.f != nullptr);
  {
    ProgressLine line("sweep", "points", true, true, file.f, std::chrono::hours(1));
    line.update(5, 10);
    line.finish("done");
  }
  CHECK(contents(file.f).empty());
}

TEST_CASE("on a terminal after the delay the line is drawn in place and cleared at the end") {
  TempFile file;
  REQUIRE(file.f != nullptr);
  {
    ProgressLine line("serve", "runs", true, true, file.f, std::chrono::seconds(0));
    line.update(1, 4);
    line.update(2, 4);  // within 0.25 s of the first: not redrawn
    line.finish();
  }
  const std::string out = contents(file.f);
  CHECK(out.rfind("\r\033[Kmlasim serve: 1/4 runs", 0) == 0);
  CHECK(out.find("2/4") == std::string::npos);
  CHECK(out.size() > 6);
  CHECK(out.substr(out.size() - 4) == "\r\033[K");  // cleared: nothing of it stays on the screen
  CHECK(out.find('\n') == std::string::npos);
}

TEST_CASE("a summary replaces the line once it was shown") {
  TempFile file;
  REQUIRE(file.f != nullptr);
  {
    ProgressLine line("plan", "layouts", true, true, file.f, std::chrono::seconds(0));
    line.update(3, 12, ", 40 simulations");
    line.finish("12 layouts, 90 simulations");
  }
  const std::string out = contents(file.f);
  const std::string summary = "\r\033[Kmlasim plan: 12 layouts, 90 simulations in ";
  REQUIRE(out.find(summary) != std::string::npos);
  CHECK(out.back() == '\n');
  CHECK(out.find(" s\n") == out.size() - 3);
}
