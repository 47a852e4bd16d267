#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <vector>

#include "sim/error.hpp"
#include "sim/time.hpp"
#include "sim/units.hpp"

using namespace mlasim;

TEST_CASE("decimal prefixes are decimal and binary prefixes binary") {
  CHECK(parse_quantity("80 GB", Dimension::kBytes) == Approx(80e9));
  CHECK(parse_quantity("80 GiB", Dimension::kBytes) == Approx(80.0 * 1073741824.0));
  CHECK(parse_quantity("50 MB", Dimension::kBytes) == Approx(50e6));
  CHECK(parse_quantity("64 KiB", Dimension::kBytes) == Approx(65536.0));
  CHECK(parse_quantity("512B", Dimension::kBytes) == Approx(512.0));
}

TEST_CASE("datasheet quantities parse into base SI units") {
  CHECK(parse_quantity("3.35 TB/s", Dimension::kBandwidth) == Approx(3.35e12));
  CHECK(parse_quantity("989 TFLOP/s", Dimension::kFlopRate) == Approx(989e12));
  CHECK(parse_quantity("1979 TFLOPS", Dimension::kFlopRate) == Approx(1979e12));
  CHECK(parse_quantity("4 us", Dimension::kTime) == Approx(4e-6));
  CHECK(parse_quantity("4 \xC2\xB5s", Dimension::kTime) == Approx(4e-6));
  CHECK(parse_quantity("50 ms", Dimension::kTime) == Approx(0.05));
  CHECK(parse_quantity("1.98 GHz", Dimension::kFrequency) == Approx(1.98e9));
  CHECK(parse_quantity("700 W", Dimension::kPower) == Approx(700.0));
  CHECK(parse_quantity("10 req/s", Dimension::kRate) == Approx(10.0));
}

TEST_CASE("a bare number where a unit is required is an error") {
  CHECK_THROWS_AS(parse_quantity("3.35", Dimension::kBandwidth), InputError);
  CHECK_THROWS_WITH(parse_quantity("3.35", Dimension::kBandwidth), Catch::Contains("has no unit"));
}

TEST_CASE("a unit of the wrong dimension is an error") {
  CHECK_THROWS_AS(parse_quantity("80 GiB", Dimension::kBandwidth), InputError);
  CHECK_THROWS_AS(parse_quantity("3 TB/s", Dimension::kBytes), InputError);
  CHECK_THROWS_AS(parse_quantity("989 TiFLOP/s", Dimension::kFlopRate), InputError);
  CHECK_THROWS_AS(parse_quantity("fast", Dimension::kBandwidth), InputError);
  CHECK_THROWS_AS(parse_quantity("", Dimension::kTime), InputError);
}

TEST_CASE("token counts take k = 1024") {
  CHECK(parse_count("128k") == 131072);
  CHECK(parse_count("4096") == 4096);
  CHECK(parse_count("1M") == 1048576);
  CHECK_THROWS_AS(parse_count("-3"), InputError);
  CHECK_THROWS_AS(parse_count("12q"), InputError);
  CHECK_THROWS_AS(parse_count("1.5k"), InputError);
}

TEST_CASE("simulated time rounds once to integer picoseconds") {
  CHECK(seconds_to_ps(1e-6) == 1'000'000);
  CHECK(seconds_to_ps(1.4e-12) == 1);
  CHECK(seconds_to_ps(1.6e-12) == 2);
  CHECK(ps_to_seconds(kPsPerSecond) == 1.0);
  CHECK_THROWS_AS(seconds_to_ps(-1.0), InternalError);
}

TEST_CASE("formatting chooses a readable prefix") {
  CHECK(format_si(3.35e12, "B/s") == "3.35 TB/s");
  CHECK(format_bytes_binary(73728.0) == "72 KiB");
  CHECK(format_count(131072) == "128k");
  CHECK(format_count(1000) == "1000");
}

TEST_CASE("a prefix is the largest whose factor the value reaches, within the bounds asked") {
  CHECK(si_prefix(3.35e12).symbol == "T");
  CHECK(si_prefix(999.0).symbol == "");
  CHECK(si_prefix(1e3).factor == 1e3);
  CHECK(si_prefix(-2.5e-5).symbol == "u");
  CHECK(si_prefix(1e-12).symbol == "n");  // below every prefix: the smallest
  CHECK(si_prefix(0.0, 1.0).symbol == "");
  CHECK(si_prefix(4e-4, 1.0).factor == 1.0);         // bytes have no milli
  CHECK(si_prefix(300.0, 1e-9, 1.0).factor == 1.0);  // seconds stay seconds, no kiloseconds
  CHECK(binary_prefix(73728.0).symbol == "Ki");
  CHECK(binary_prefix(1023.0).symbol == "");
  CHECK(binary_prefix(3.0 * 1073741824.0).factor == 1073741824.0);
  CHECK(format_si(1.5e-10, "s") == "0.15 ns");
  CHECK(format_bytes_binary(512.0) == "512 B");
}

TEST_CASE("diagnostics read like a compiler's") {
  const InputError e(SourceLocation{"configs/run.yaml", 12, 5}, "attention.n_kv_heads",
                     "(6) must divide n_heads (64)");
  CHECK(std::string(e.what()) ==
        "configs/run.yaml:12:5: error: attention.n_kv_heads: (6) must divide n_heads (64)");
}

// L2 (issue 14): a megabyte value was echoed whole in the error message.
TEST_CASE("a huge bad quantity or count is echoed clipped, not whole") {
  using namespace mlasim;
  const std::string huge(1 << 20, 'x');
  for (const auto& parse : std::vector<std::function<void()>>{
           [&] { (void)parse_quantity(huge, Dimension::kBytes); },
           [&] { (void)parse_quantity("5 " + huge, Dimension::kBytes); },
           [&] { (void)parse_count("5" + huge); }, [&] { (void)parse_count(huge); }}) {
    try {
      parse();
      FAIL("accepted");
    } catch (const InputError& e) {
      CHECK(std::string(e.what()).size() < 400);
      CHECK_THAT(e.what(), Catch::Contains("…"));
    }
  }
}
