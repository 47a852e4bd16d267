// sim/output.hpp: output sets are written whole or not at all, a reused folder never mixes two runs, and
// inputs are read only from regular files of a sane size.
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "sim/error.hpp"
#include "sim/output.hpp"
#include "tests/test_support.hpp"

using namespace mlasim;
namespace fs = std::filesystem;
using mlasim::test::error_of;
using mlasim::test::has_temporary;
using mlasim::test::ScratchDir;
using mlasim::test::slurp;

namespace {

/// The names in `dir` (one level), sorted.
std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("L7: read_text_file refuses devices, FIFOs and files over the size limit, at once") {
  CHECK(error_of([] { (void)read_text_file("/dev/zero"); }) ==
        "/dev/zero: error: not a regular file (a device, FIFO or socket); give a file");
  ScratchDir dir;
  const fs::path fifo = dir.path() / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_THAT(error_of([&] { (void)read_text_file(fifo); }), Catch::Contains("not a regular file"));
  const fs::path huge = dir.write("huge.yaml", "");
  fs::resize_file(huge, kMaxInputFileBytes + 1);  // sparse: no disk used
  CHECK_THAT(error_of([&] { (void)read_text_file(huge); }),
             Catch::StartsWith(huge.string() + ": error: the file has 67108865 bytes"));
  const fs::path ok = dir.write("ok.yaml", "a: 1\n");
  CHECK(read_text_file(ok) == "a: 1\n");
  CHECK(error_of([&] { (void)read_text_file(dir.path()); }) ==
        dir.path().string() + ": error: is a directory, not a file");
}

TEST_CASE("M1: a set that fails part-way changes nothing and leaves no temporaries") {
  ScratchDir dir;
  const fs::path out = dir.path() / "out";
  OutputSet old(out);
  old.add("a.csv", "old a\n");
  old.add("b.csv", "old b\n");
  (void)old.commit();
  // b.csv's temporary cannot be created (a folder holds its name): a.csv was already staged.
  fs::create_directories(out / ("b.csv.tmp-" + std::to_string(::getpid())));
  OutputSet next(out);
  next.add("a.csv", "new a\n");
  next.add("b.csv", "new b\n");
  next.add("c.csv", "new c\n");
  const std::string err = error_of([&] { (void)next.commit(); });
  CHECK_THAT(err, Catch::StartsWith((out / "b.csv").string() + ": error: cannot write:"));
  fs::remove(out / ("b.csv.tmp-" + std::to_string(::getpid())));
  CHECK(slurp(out / "a.csv") == "old a\n");
  CHECK(slurp(out / "b.csv") == "old b\n");
  CHECK_FALSE(fs::exists(out / "c.csv"));
  CHECK_FALSE(has_temporary(out));
}

TEST_CASE("M1: a file-size limit (ulimit -f) while writing leaves the previous set whole") {
  ScratchDir dir;
  const fs::path out = dir.path() / "out";
  OutputSet old(out);
  old.add("small.csv", "old\n");
  old.add("big.csv", "old\n");
  (void)old.commit();
  // In a child: a 64 KiB file-size limit, SIGXFSZ ignored (as `trap '' XFSZ; ulimit -f 64` does).
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{64 * 1024, 64 * 1024};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    OutputSet next(out);
    next.add("small.csv", "new\n");
    next.add("big.csv", std::string(1 << 20, 'x'));
    try {
      (void)next.commit();
    } catch (const InputError& e) {
      const bool names_target =
          std::string(e.what()).find("big.csv: error: cannot write") != std::string::npos;
      ::_exit(names_target ? 2 : 3);
    }
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 2);
  CHECK(slurp(out / "small.csv") == "old\n");
  CHECK(slurp(out / "big.csv") == "old\n");
  CHECK_FALSE(has_temporary(out));
}

TEST_CASE("L8: a reused folder keeps no file of the previous set, and the user's own files") {
  ScratchDir dir;
  const fs::path out = dir.path() / "out";
  OutputSet first(out);
  first.add("sweep.csv", "1\n");
  first.add("summary.md", "1\n");
  first.add("charts/a.dat", "1\n");
  first.add("charts/b.dat", "1\n");
  (void)first.commit();
  dir.write("out/notes.txt", "mine\n");
  OutputSet second(out);
  second.add("summary.md", "2\n");
  second.add("requests.csv", "2\n");
  second.add("charts/a.dat", "2\n");
  (void)second.commit();
  CHECK(listing(out) ==
        std::vector<std::string>{kOutputManifest, "charts", "notes.txt", "requests.csv", "summary.md"});
  CHECK(listing(out / "charts") == std::vector<std::string>{"a.dat"});
  CHECK(slurp(out / "charts" / "a.dat") == "2\n");
  // Without charts: the charts/ folder goes.
  OutputSet third(out);
  third.add("summary.md", "3\n");
  (void)third.commit();
  CHECK(listing(out) == std::vector<std::string>{kOutputManifest, "notes.txt", "summary.md"});
}

TEST_CASE("M1: temporaries left by an interrupted earlier run are removed by the next commit") {
  ScratchDir dir;
  const fs::path out = dir.path() / "out";
  // pid 999999999 is above any pid_max: that process is gone.
  dir.write("out/requests.csv.tmp-999999999", "partial");
  dir.write("out/charts/x.dat.tmp-999999999", "partial");
  OutputSet set(out);
  set.add("summary.md", "s\n");
  set.add("charts/y.dat", "y\n");
  (void)set.commit();
  CHECK_FALSE(has_temporary(out));
  CHECK(slurp(out / "summary.md") == "s\n");
}

TEST_CASE("L10: prepare_output_dir creates the folder, or fails at once naming it") {
  ScratchDir dir;
  const fs::path out = dir.path() / "a" / "b";
  prepare_output_dir(out);
  CHECK(fs::is_directory(out));
  CHECK(fs::is_empty(out));
  const fs::path file = dir.write("file", "x");
  CHECK_THAT(error_of([&] { prepare_output_dir(file); }),
             Catch::Equals(file.string() + ": error: exists and is not a directory"));
  CHECK_THAT(error_of([&] { prepare_output_dir(file / "out"); }),
             Catch::StartsWith((file / "out").string() + ": error: cannot create directory:"));
  // An empty path: a message that says so, not the system's "Invalid argument".
  CHECK_THAT(error_of([&] { prepare_output_dir(fs::path()); }),
             Catch::Equals("error: the output folder is an empty path: give a folder"));
}

TEST_CASE("a streamed file is written piece by piece and renamed into place with the rest of the set") {
  ScratchDir dir;
  const fs::path out = dir.path() / "out";
  OutputSet old(out);
  old.add("rows.csv", "old\n");
  (void)old.commit();

  OutputSet set(out);
  set.add("summary.md", "s\n");
  OutputStream& rows = set.stream("rows.csv");
  std::string expected;
  for (int i = 0; i < 200000; ++i) {  // 1.3 MB: past the stream's 1 MiB buffer
    const std::string row = std::to_string(i) + ",x\n";
    rows.write(row);
    expected += row;
  }
  rows.write(std::string(3U << 20U, 'y'));  // one piece larger than the buffer
  expected += std::string(3U << 20U, 'y');
  CHECK(rows.size() == expected.size());
  // Until the commit the old file stands; the new rows are in a temporary.
  CHECK(slurp(out / "rows.csv") == "old\n");
  CHECK(has_temporary(out));
  const std::vector<fs::path> written = set.commit();
  CHECK(written == std::vector<fs::path>{out / "summary.md", out / "rows.csv"});
  CHECK(slurp(out / "rows.csv") == expected);
  CHECK(slurp(out / "summary.md") == "s\n");
  CHECK_FALSE(has_temporary(out));
}

TEST_CASE("a set destroyed without a commit removes its streamed temporaries and changes nothing") {
  ScratchDir dir;
  const fs::path out = dir.path() / "out";
  OutputSet old(out);
  old.add("rows.csv", "old\n");
  (void)old.commit();
  {
    OutputSet set(out);
    set.stream("rows.csv").write("new rows\n");
    set.stream("more.csv").write("more\n");
    CHECK(has_temporary(out));
  }
  CHECK_FALSE(has_temporary(out));
  CHECK(slurp(out / "rows.csv") == "old\n");
  CHECK_FALSE(fs::exists(out / "more.csv"));
}

TEST_CASE("an interrupt (SIGINT, SIGTERM, SIGHUP) removes the streamed temporaries and ends the process") {
  for (const int sig : {SIGINT, SIGTERM, SIGHUP}) {
    ScratchDir dir;
    const fs::path out = dir.path() / "out";
    OutputSet old(out);
    old.add("rows.csv", "old\n");
    (void)old.commit();
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      for (const int s : {SIGINT, SIGTERM, SIGHUP}) std::signal(s, SIG_DFL);  // not Catch's handlers
      OutputSet set(out);
      set.stream("rows.csv").write(std::string(5U << 20U, 'r'));
      set.stream("sub/more.csv").write("more\n");
      ::raise(sig);
      ::_exit(0);  // not reached: the signal ends the process
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CAPTURE(sig);
    REQUIRE(WIFSIGNALED(status));  // the handler lets the signal end the process, as without it
    CHECK(WTERMSIG(status) == sig);
    CHECK_FALSE(has_temporary(out));
    CHECK(slurp(out / "rows.csv") == "old\n");
  }
}

TEST_CASE("a streamed file that cannot be written names its target") {
  ScratchDir dir;
  const fs::path out = dir.path() / "out";
  fs::create_directories(out / ("rows.csv.tmp-" + std::to_string(::getpid())));  // a folder holds its name
  OutputSet set(out);
  CHECK_THAT(error_of([&] { (void)set.stream("rows.csv"); }),
             Catch::StartsWith((out / "rows.csv").string() + ": error: cannot write:"));
}
