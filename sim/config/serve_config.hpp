#pragma once
/// Serving experiments (configs/serve_*.yaml with a top-level `serve:`): YAML -> ServeSpec, plus an optional
/// sweep over the request rate or the closed-loop concurrency. Errors are InputError at file:line:col with
/// the key path; unknown keys get a "did you mean". Schema: sim/serving/README.md.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "sim/serving/serve.hpp"

namespace mlasim {

/// What a serve sweep varies.
struct ServeSweepSpec {
  enum class Axis { kNone, kRate, kConcurrency };
  Axis axis = Axis::kNone;
  std::vector<double> rates_per_s;        ///< kRate
  std::vector<std::int64_t> concurrency;  ///< kConcurrency
  [[nodiscard]] std::size_t size() const {
    return axis == Axis::kRate ? rates_per_s.size() : axis == Axis::kConcurrency ? concurrency.size() : 0;
  }
};

struct ServeConfig {
  ServeSpec spec;
  ServeSweepSpec sweep;
};

/// Loads a serve config. Model and hardware names go to the catalogues; paths (model, hardware, trace,
/// histogram files) are relative to the config file.
[[nodiscard]] ServeConfig load_serve_config(const std::filesystem::path& path);

/// A rate grid: a rate (`10 req/s`), or a range with a unit at the end: `1..64 x2 req/s` (geometric, factor
/// > 1) or `5..50 +5 req/s` (arithmetic). Throws InputError without a location (the loader adds it).
[[nodiscard]] std::vector<double> parse_rate_grid(std::string_view text);

}  // namespace mlasim
