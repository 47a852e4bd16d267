#pragma once
/// "Did you mean" suggestions for unknown names (keys, variants, models, GPUs).
#include <string>
#include <string_view>
#include <vector>

namespace mlasim {

/// Levenshtein distance, case-insensitive.
[[nodiscard]] std::size_t edit_distance(std::string_view a, std::string_view b);

/// The closest candidate when it is close enough to be a typo (distance ≤ max(2, len/3)), else "".
[[nodiscard]] std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

/// " (did you mean `x`?)" or "", ready to append to a message.
[[nodiscard]] std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace mlasim
