// The fuzz corpus as a test: every file of fuzz/corpus/<target>/ (seeds and every input a fuzzer ever found
// crashing, hanging or overflowing) and every project example that seeds a target is run through that target,
// as the libFuzzer programs run them. Bad input must end as InputError inside the target; anything that
// escapes (InternalError, std::bad_alloc, a standard-library exception) fails here, and a sanitizer report or
// a hang fails the program.
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz/targets.hpp"
#include "sim/calibration/probe_report.hpp"
#include "sim/calibration/synthetic_run.hpp"
#include "sim/error.hpp"
#include "tests/test_support.hpp"

using mlasim::test::slurp;

TEST_CASE("every fuzz target has seeds, and each seed ends in a result or a located InputError") {
  using namespace mlasim::fuzz;
  for (const Target& t : targets()) {
    const auto files = seed_files(t);
    INFO("target " << t.name);
    CHECK(files.size() >= 2);
    for (const auto& f : files) {
      INFO("seed " << f.string());
      const std::string bytes = slurp(f);
      const auto start = std::chrono::steady_clock::now();
      CHECK_NOTHROW(t.run(bytes));
      // A hang in the fuzzer's sense (its -timeout is 10 s); sanitizer builds are several times slower.
      CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(30));
    }
  }
}

TEST_CASE("an unknown fuzz target is an error that names it") {
  CHECK_THROWS_WITH(mlasim::fuzz::target("nope"), Catch::Contains("nope"));
}

TEST_CASE("the cli target splits its bytes into arguments at NUL and newline bytes") {
  using mlasim::fuzz::cli_command_line;
  using Args = std::vector<std::string>;
  CHECK(cli_command_line("list\nmodels\n") == Args{"list", "models"});
  CHECK(cli_command_line(std::string_view("step\0--tp\n\n4", 12)) == Args{"step", "--tp", "", "4"});
  CHECK(cli_command_line("list\nhw") == Args{"list", "hw"});
  CHECK(cli_command_line("") == Args{});
  CHECK(cli_command_line("\n") == Args{""});
  CHECK(cli_command_line("step\n--variant\nmla:512/64\n") == Args{"step", "--variant", "mla:512/64"});
}

TEST_CASE("the cli target skips a command line that could reach outside its folder, or is too long") {
  using mlasim::fuzz::cli_command_line;
  for (const char* bytes :
       {"sweep\n/etc/passwd\n-o\nout", "sweep\nsweep.yaml\n-o/tmp", "sweep\nsweep.yaml\n--out=..",
        "sweep\nsweep.yaml\n-o..", "sweep\nsweep.yaml\n-o\n..", "serve\nserve.yaml\n-o\nout\\x",
        "step\n--model\n~root", "step\n--model\nmla:x/../../y", "calibrate\nrun\n--out\nx.yaml",
        "step\n--hw\nhw_profiles/h200.yaml"}) {
    INFO(bytes);
    CHECK_FALSE(cli_command_line(bytes).has_value());
  }
  std::string args;
  for (int i = 0; i < 32; ++i) args += "-h\n";
  CHECK(cli_command_line(args).has_value());
  CHECK_FALSE(cli_command_line(args + "-h").has_value());  // 33 arguments
  CHECK(cli_command_line(std::string(4096, 'x')).has_value());
  CHECK_FALSE(cli_command_line(std::string(4097, 'x')).has_value());
}

TEST_CASE("the cli target writes only inside its folder and gives back the process as it found it") {
  const mlasim::fuzz::Target& cli = mlasim::fuzz::target("cli");
  const std::filesystem::path outside =
      std::filesystem::temp_directory_path() / fmt::format("mlasim-cli-outside-{}", ::getpid());
  std::filesystem::remove_all(outside);
  const std::filesystem::path cwd = std::filesystem::current_path();
  std::streambuf* const cout_buffer = std::cout.rdbuf();
  struct stat err_before {};
  REQUIRE(::fstat(2, &err_before) == 0);

  CHECK_NOTHROW(cli.run("sweep\nsweep.yaml\n-o\n" + outside.string() + "\n"));
  CHECK_NOTHROW(cli.run("sweep\nsweep.yaml\n--out=" + outside.string() + "\n"));
  CHECK_FALSE(std::filesystem::exists(outside));
  // The outputs of a command line are gone after it; the folder's own files are back as they were.
  const std::filesystem::path folder = mlasim::fuzz::cli_folder();
  for (int i = 0; i < 2; ++i) {
    CHECK_NOTHROW(cli.run("synthesize-run\nfresh\n--quick\n"));
    CHECK_NOTHROW(cli.run("sweep\nsweep.yaml\n-o\nout\n--quiet\n"));
    CHECK_NOTHROW(cli.run("validate\nrun\n--every\n3\n"));  // writes run/validation/
    CHECK_NOTHROW(cli.run("sweep\nsweep.yaml\n-o\n.\n"));
  }
  CHECK_FALSE(std::filesystem::exists(folder / "fresh"));
  CHECK_FALSE(std::filesystem::exists(folder / "out"));
  CHECK_FALSE(std::filesystem::exists(folder / "run" / "validation"));
  CHECK_FALSE(std::filesystem::exists(folder / "summary.md"));
  CHECK(std::filesystem::exists(folder / "run" / "run.yaml"));
  CHECK(std::filesystem::exists(folder / "probes" / "gemm.csv"));
  CHECK(std::filesystem::is_regular_file(folder / "sweep.yaml"));
  CHECK(std::filesystem::current_path() == cwd);
  CHECK(std::cout.rdbuf() == cout_buffer);
  struct stat err_after {};
  REQUIRE(::fstat(2, &err_after) == 0);
  CHECK(err_after.st_ino == err_before.st_ino);
  CHECK(err_after.st_dev == err_before.st_dev);
}

TEST_CASE("a folder name the system refuses is a located InputError, not an internal error (cli findings)") {
  const std::string too_long(300, 'a');  // over NAME_MAX (255)
  mlasim::SyntheticTruth truth;
  truth.quick = true;
  CHECK_THROWS_MATCHES(mlasim::write_synthetic_run("", truth), mlasim::InputError,
                       Catch::Matchers::Predicate<mlasim::InputError>([](const mlasim::InputError& e) {
                         return std::string(e.what()).find("empty name") != std::string::npos;
                       }));
  CHECK_THROWS_MATCHES(mlasim::write_synthetic_run(too_long, truth), mlasim::InputError,
                       Catch::Matchers::Predicate<mlasim::InputError>([&](const mlasim::InputError& e) {
                         return e.where().file == too_long &&
                                std::string(e.what()).find("cannot write the synthetic run here") !=
                                    std::string::npos;
                       }));
  CHECK_THROWS_MATCHES(mlasim::fit_probe_directory(too_long), mlasim::InputError,
                       Catch::Matchers::Predicate<mlasim::InputError>([&](const mlasim::InputError& e) {
                         return e.where().file == too_long &&
                                std::string(e.what()).find("not a folder of probe CSVs (") !=
                                    std::string::npos;
                       }));
}
