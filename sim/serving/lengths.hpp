#pragma once
/// Prompt and output lengths of generated requests: fixed, uniform, clipped normal, lognormal, or an
/// empirical histogram read from a file. All draws come from a seeded Rng.
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "sim/random.hpp"

namespace mlasim {

/// The largest token count any input may give (2^50): sums of a few of them stay far from int64 overflow.
inline constexpr std::int64_t kMaxTokens = std::int64_t{1} << 50;

/// A token-length distribution. Draws are clipped to [min, max] and are at least 1.
struct LengthSpec {
  enum class Kind { kFixed, kUniform, kNormal, kLognormal, kHistogram };
  Kind kind = Kind::kFixed;
  std::int64_t value = 1;      ///< kFixed: tokens
  std::int64_t min = 1;        ///< lower clip (kUniform: lower bound, inclusive)
  std::int64_t max = 1 << 30;  ///< upper clip (kUniform: upper bound, inclusive)
  double mean = 0;             ///< kNormal: tokens
  double stddev = 0;           ///< kNormal: tokens
  double median = 0;           ///< kLognormal: e^μ, tokens
  double sigma = 0;            ///< kLognormal: σ of ln(length)
  /// kHistogram: (tokens, weight) bins; a draw picks a bin with probability weight / Σweight.
  std::vector<std::pair<std::int64_t, double>> bins;
  std::string source;  ///< kHistogram: the file the bins came from

  [[nodiscard]] static LengthSpec fixed(std::int64_t tokens);
  /// Largest value a draw can produce (for sizing checks).
  [[nodiscard]] std::int64_t upper_bound() const;
  /// The mean of a draw, clipping and rounding included (normal and lognormal by quadrature over the standard
  /// normal, to well under a token).
  [[nodiscard]] double expected() const;
  /// "fixed 256", "uniform 128..512", ... for summaries.
  [[nodiscard]] std::string describe() const;
};

/// Draws one length from `spec`.
[[nodiscard]] std::int64_t draw_length(const LengthSpec& spec, Rng& rng);

/// Reads an empirical length histogram: a CSV with columns `tokens,weight` found by name (a file without a
/// header is read as `tokens,weight`; lines starting with `#` are comments). Tokens are 1 .. kMaxTokens.
/// Bad rows are InputError at file:line:col naming the column.
[[nodiscard]] LengthSpec load_length_histogram(const std::filesystem::path& path);

}  // namespace mlasim
