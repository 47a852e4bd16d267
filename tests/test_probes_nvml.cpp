#include <catch2/catch.hpp>

#include "kernels/common/nvml_state.hpp"

using namespace mlasim::gpu;

TEST_CASE("a missing NVML library reads as 'unavailable' instead of failing") {
  const NvmlReader reader("00000000:00:00.0", "libnvidia-ml-that-does-not-exist.so.1");
  CHECK_FALSE(reader.available());
  CHECK_THAT(reader.error(), Catch::Contains("cannot load libnvidia-ml-that-does-not-exist.so.1"));
  const NvmlSnapshot s = reader.read();
  CHECK_FALSE(s.sm_clock_mhz.has_value());
  CHECK_FALSE(s.power_w.has_value());
  CHECK(nvml_cell(s.temperature_c) == "unavailable");
  CHECK(reader.driver_version() == "unavailable");
}

TEST_CASE("NVML fields format as plain numbers for the device-state CSV") {
  CHECK(nvml_cell(std::optional<unsigned>{1980}) == "1980");
  CHECK(nvml_cell(std::optional<double>{412.25}) == "412.2");
  CHECK(nvml_cell(std::optional<unsigned long long>{0}) == "0");
}
