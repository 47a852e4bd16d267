// fuzz_seeds <target>: prints the seed files of a fuzz target, one per line (fuzz/run.sh copies them into the
// working corpus), so the seeds are listed in one place (fuzz/targets.cpp).
#include <cstdio>
#include <exception>

#include "fuzz/targets.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fputs("usage: fuzz_seeds <target>\n", stderr);
    return 2;
  }
  try {
    for (const auto& f : mlasim::fuzz::seed_files(mlasim::fuzz::target(argv[1])))
      std::printf("%s\n", f.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_seeds: %s\n", e.what());
    return 2;
  }
  return 0;
}
