#pragma once
/// "Did you mean" suggestions for unknown names (keys, variants, models, GPUs).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlasim {

/// Words longer than this get no suggestion (no valid name is that long).
inline constexpr std::size_t kMaxSuggestedWord = 64;

/// How much of a user's value a message echoes (clipped()).
inline constexpr std::size_t kMaxEchoedChars = 64;

/// Edit distance (optimal string alignment: insertions, deletions, substitutions, adjacent swaps),
/// case-insensitive.
[[nodiscard]] std::size_t edit_distance(std::string_view a, std::string_view b);

/// The only candidate that starts with `word` (3+ characters; `h100` -> `h100-sxm`), else the candidate
/// closest to `word` if it is close enough to be a typo (distance at most clamp((|word| + 2) / 3, 1, 3)),
/// else nullopt; a word over kMaxSuggestedWord characters gets nullopt. Ties go to the earlier candidate.
[[nodiscard]] std::optional<std::string> closest_match(std::string_view word,
                                                       const std::vector<std::string>& candidates);

/// `text` when it has at most `max_chars` bytes, else its first `max_chars` bytes (not splitting a UTF-8
/// character) followed by "…": keeps a 10 MB value out of an error message.
[[nodiscard]] std::string clipped(std::string_view text, std::size_t max_chars = kMaxEchoedChars);

/// " (did you mean `x`?)" or "", ready to append to a message.
[[nodiscard]] std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace mlasim
