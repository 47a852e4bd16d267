// Tests of kernels/common/csv.hpp: rows reach the file as they are finished, so a crash, a NaN abort or a
// kill at a deadline keeps every finished row; append mode continues a file after a restart. Registered in
// tests/CMakeLists.txt ("GPU run hardening" block).
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "kernels/common/csv.hpp"
#include "sim/output.hpp"
#include "tests/test_support.hpp"

using mlasim::gpu::CsvWriter;

namespace {
std::string read_all(const std::filesystem::path& p) {
  return mlasim::read_text_file(p);
}
}  // namespace

TEST_CASE("each finished row is in the file before close()") {
  const mlasim::test::ScratchDir dir("mlasim_test_csv");
  const auto path = dir.path() / "rows.csv";
  CsvWriter w(path.string(), {"a", "b"});
  CHECK(read_all(path) == "a,b\n");  // the header is written at construction
  w.cell(1).cell("x").end_row();
  CHECK(read_all(path) == "a,b\n1,x\n");
  w.cell(2.5).cell("y").end_row();
  CHECK(read_all(path) == "a,b\n1,x\n2.5,y\n");
  w.cell(3);  // a row in progress is not in the file
  CHECK(read_all(path) == "a,b\n1,x\n2.5,y\n");
  CHECK(w.rows() == 2);
  CHECK(w.ok());
}

TEST_CASE("a writer killed mid-run (SIGKILL, no close, no destructor) leaves every finished row") {
  const mlasim::test::ScratchDir dir("mlasim_test_csv");
  const auto path = dir.path() / "killed.csv";
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    CsvWriter w(path.string(), {"point", "median_us"});
    w.cell(0).cell(12.5).end_row();
    w.cell(1).cell(13.5).end_row();
    w.cell(2);  // the point the kill interrupts
    std::raise(SIGKILL);
    ::_exit(0);  // not reached
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK(read_all(path) == "point,median_us\n0,12.5\n1,13.5\n");
}

TEST_CASE("append mode keeps the rows, cuts a torn last line and writes no second header") {
  const mlasim::test::ScratchDir dir("mlasim_test_csv");
  const auto path = dir.write("restart.csv", "a,b\n1,x\n2,y-torn-by-a-kil");
  {
    CsvWriter w(path.string(), {"a", "b"}, CsvWriter::Mode::kAppend);
    w.cell(3).cell("z").end_row();
    CHECK(w.close());
  }
  CHECK(read_all(path) == "a,b\n1,x\n3,z\n");
}

TEST_CASE("append mode starts a missing or empty file with its header") {
  const mlasim::test::ScratchDir dir("mlasim_test_csv");
  const auto missing = dir.path() / "new.csv";
  {
    CsvWriter w(missing.string(), {"a", "b"}, CsvWriter::Mode::kAppend);
    w.cell(1).cell(2).end_row();
  }
  CHECK(read_all(missing) == "a,b\n1,2\n");
  const auto empty = dir.write("empty.csv", "");
  {
    CsvWriter w(empty.string(), {"a"}, CsvWriter::Mode::kAppend);
    w.cell(7).end_row();
  }
  CHECK(read_all(empty) == "a\n7\n");
}

TEST_CASE("append mode refuses a file with another header") {
  const mlasim::test::ScratchDir dir("mlasim_test_csv");
  const auto path = dir.write("other.csv", "x,y\n1,2\n");
  CHECK_THROWS_AS(CsvWriter(path.string(), {"a", "b"}, CsvWriter::Mode::kAppend), std::runtime_error);
  CHECK(read_all(path) == "x,y\n1,2\n");
}

TEST_CASE("a row with the wrong number of cells is a logic error and writes nothing") {
  const mlasim::test::ScratchDir dir("mlasim_test_csv");
  const auto path = dir.path() / "wrong.csv";
  CsvWriter w(path.string(), {"a", "b"});
  w.cell(1);
  CHECK_THROWS_AS(w.end_row(), std::logic_error);
  w.cell(1).cell(2).end_row();  // the writer is usable afterwards
  CHECK(read_all(path) == "a,b\n1,2\n");
}

TEST_CASE("a file that cannot be opened makes ok() and close() false, without throwing") {
  CsvWriter w("/nonexistent-dir-for-mlasim-test/x.csv", {"a"});
  w.cell(1).end_row();
  CHECK_FALSE(w.ok());
  CHECK_FALSE(w.close());
}

TEST_CASE("cells with commas, quotes or line breaks are quoted; doubles print as %.9g") {
  const mlasim::test::ScratchDir dir("mlasim_test_csv");
  const auto path = dir.path() / "quote.csv";
  {
    CsvWriter w(path.string(), {"s", "d"});
    w.cell("a,b \"c\"").cell(0.1).end_row();
    w.cell("line\nbreak").cell(1e-6).end_row();
  }
  CHECK(read_all(path) == "s,d\n\"a,b \"\"c\"\"\",0.1\n\"line\nbreak\",1e-06\n");
}
