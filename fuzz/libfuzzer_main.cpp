// One libFuzzer program per target: built with -DMLASIM_FUZZ_TARGET="<name>" (fuzz/CMakeLists.txt). An
// exception other than InputError is a finding: report it and abort so that libFuzzer keeps the input.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>

#include "fuzz/targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const mlasim::fuzz::Target& t = mlasim::fuzz::target(MLASIM_FUZZ_TARGET);
  try {
    t.run(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_%s: escaped exception: %s\n", MLASIM_FUZZ_TARGET, e.what());
    std::abort();
  }
  return 0;
}
