// The fuzz corpus as a test: every file of fuzz/corpus/<target>/ (seeds and every input a fuzzer ever found
// crashing, hanging or overflowing) and every project example that seeds a target is run through that target,
// as the libFuzzer programs run them. Bad input must end as InputError inside the target; anything that
// escapes (InternalError, std::bad_alloc, a standard-library exception) fails here, and a sanitizer report or
// a hang fails the program.
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "fuzz/targets.hpp"

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

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
