#include "sim/serving/lengths.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "sim/csv.hpp"
#include "sim/error.hpp"
#include "sim/output.hpp"

namespace mlasim {

LengthSpec LengthSpec::fixed(std::int64_t tokens) {
  LengthSpec s;
  s.kind = Kind::kFixed;
  s.value = tokens;
  return s;
}

std::int64_t LengthSpec::upper_bound() const {
  switch (kind) {
    case Kind::kFixed:
      return value;
    case Kind::kHistogram: {
      std::int64_t m = 1;
      for (const auto& [tokens, weight] : bins) m = std::max(m, tokens);
      return m;
    }
    default:
      return max;
  }
}

std::string LengthSpec::describe() const {
  switch (kind) {
    case Kind::kFixed:
      return fmt::format("fixed {}", value);
    case Kind::kUniform:
      return fmt::format("uniform {}..{}", min, max);
    case Kind::kNormal:
      return fmt::format("normal mean {} stddev {} clipped to {}..{}", mean, stddev, min, max);
    case Kind::kLognormal:
      return fmt::format("lognormal median {} sigma {} clipped to {}..{}", median, sigma, min, max);
    case Kind::kHistogram:
      return fmt::format("histogram {} ({} bins)", source, bins.size());
  }
  return "?";
}

namespace {
std::int64_t clip_round(double x, const LengthSpec& s) {
  const double lo = static_cast<double>(std::max<std::int64_t>(s.min, 1));
  const double hi = static_cast<double>(std::max<std::int64_t>(s.max, 1));
  return static_cast<std::int64_t>(std::llround(std::clamp(x, lo, hi)));
}
}  // namespace

double LengthSpec::expected() const {
  switch (kind) {
    case Kind::kFixed:
      return static_cast<double>(value);
    case Kind::kUniform:
      return 0.5 * static_cast<double>(min + max);
    case Kind::kHistogram: {
      double total = 0.0, sum = 0.0;
      for (const auto& [tokens, weight] : bins) {
        total += weight;
        sum += weight * static_cast<double>(tokens);
      }
      return total > 0.0 ? sum / total : 1.0;
    }
    case Kind::kNormal:
    case Kind::kLognormal: {
      // E[clip_round(f(z))], z ~ N(0, 1), by the trapezoid rule on [-8, 8] (the mass outside is < 1e-15).
      constexpr int kSteps = 4000;
      constexpr double kLo = -8.0, kHi = 8.0, kDz = (kHi - kLo) / kSteps;
      double sum = 0.0, weight = 0.0;
      for (int i = 0; i <= kSteps; ++i) {
        const double z = kLo + kDz * i;
        const double w = std::exp(-0.5 * z * z) * (i == 0 || i == kSteps ? 0.5 : 1.0);
        const double x = kind == Kind::kNormal ? mean + stddev * z : median * std::exp(sigma * z);
        sum += w * static_cast<double>(clip_round(x, *this));
        weight += w;
      }
      return sum / weight;
    }
  }
  return 1.0;
}

std::int64_t draw_length(const LengthSpec& s, Rng& rng) {
  switch (s.kind) {
    case LengthSpec::Kind::kFixed:
      return s.value;
    case LengthSpec::Kind::kUniform:
      return rng.uniform_int(s.min, s.max);
    case LengthSpec::Kind::kNormal:
      return clip_round(s.mean + s.stddev * rng.standard_normal(), s);
    case LengthSpec::Kind::kLognormal:
      return clip_round(s.median * std::exp(s.sigma * rng.standard_normal()), s);
    case LengthSpec::Kind::kHistogram: {
      double total = 0.0;
      for (const auto& bin : s.bins) total += bin.second;
      double u = rng.uniform01() * total;
      for (const auto& [tokens, weight] : s.bins) {
        if (u < weight) return tokens;
        u -= weight;
      }
      return s.bins.back().first;
    }
  }
  throw InternalError("unknown length distribution");
}

LengthSpec load_length_histogram(const std::filesystem::path& path) {
  LengthSpec s;
  s.kind = LengthSpec::Kind::kHistogram;
  s.source = path.string();
  CsvOptions options;
  options.comments = true;
  options.default_header = {"tokens", "weight"};
  const CsvFile csv =
      CsvFile::parse(read_text_file(path), path.string(), {"tokens", "weight"}, "length histogram", options);
  for (std::size_t c = 0; c < csv.names().size(); ++c) {
    const std::string& n = csv.names()[c];
    if (n != "tokens" && n != "weight") {
      throw InputError(
          csv.header_where(c), n,
          fmt::format("unknown column '{}' in a length histogram (its columns: tokens, weight)", n));
    }
  }
  const std::size_t tokens_col = csv.column("tokens"), weight_col = csv.column("weight");
  for (const CsvRecord& row : csv.rows()) {
    const std::int64_t tokens = row.integer(tokens_col, kMaxTokens, "the limit of 2^50 tokens");
    const double weight = row.real(weight_col);
    if (tokens < 1) row.fail(tokens_col, fmt::format("tokens must be at least 1, got {}", tokens));
    s.bins.emplace_back(tokens, weight);
  }
  double total = 0.0;
  for (const auto& bin : s.bins) total += bin.second;
  if (s.bins.empty() || !(total > 0.0) || !std::isfinite(total)) {
    throw InputError(SourceLocation{path.string()}, "",
                     "length histogram has no bins with positive weight (or the weights sum to infinity)");
  }
  s.min = 1;
  s.max = s.upper_bound();
  return s;
}

}  // namespace mlasim
