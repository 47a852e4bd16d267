#include "sim/suggest.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

namespace mlasim {

namespace {
std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
}  // namespace

std::size_t edit_distance(std::string_view a_in, std::string_view b_in) {
  const std::string a = lowered(a_in);
  const std::string b = lowered(b_in);
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  // Optimal string alignment needs rows i-2, i-1 and i only: O(m) memory, whatever the word's length.
  std::vector<std::size_t> before(m + 1, 0);  // row i-2
  std::vector<std::size_t> prev(m + 1, 0);    // row i-1
  std::vector<std::size_t> cur(m + 1, 0);     // row i
  for (std::size_t j = 0; j <= m; ++j) prev[j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cur[j] = std::min(cur[j], before[j - 2] + 1);
      }
    }
    std::swap(before, prev);
    std::swap(prev, cur);
  }
  return prev[m];
}

std::string clipped(std::string_view text, std::size_t max_chars) {
  if (text.size() <= max_chars) return std::string(text);
  std::size_t cut = max_chars;
  // Do not split a UTF-8 sequence: back up over continuation bytes (10xxxxxx).
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0U) == 0x80U) --cut;
  return std::string(text.substr(0, cut)) + "…";
}

std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  // No name is that long; a huge word is not a typo, and comparing it would cost |word| x |candidate| each.
  if (word.size() > kMaxSuggestedWord) return std::nullopt;
  // A unique candidate that starts with the word wins over a small edit: `h100` means `h100-sxm`, not `h200`.
  if (word.size() >= 3) {
    const std::string w = lowered(word);
    std::optional<std::string> prefix_match;
    int prefixed = 0;
    for (const std::string& c : candidates) {
      if (c.size() > w.size() && lowered(c).rfind(w, 0) == 0) {
        prefix_match = c;
        ++prefixed;
      }
    }
    if (prefixed == 1) return prefix_match;
  }
  // A typo is a few edits; allowing more on long words keeps `experts_per_tok` -> `experts_per_token`.
  const std::size_t limit = std::clamp<std::size_t>((word.size() + 2) / 3, 1, 3);
  std::optional<std::string> best;
  std::size_t best_distance = limit + 1;
  for (const std::string& c : candidates) {
    const std::size_t dist = edit_distance(word, c);
    if (dist < best_distance) {
      best_distance = dist;
      best = c;
    }
  }
  return best;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  const auto m = closest_match(word, candidates);
  return m ? " (did you mean `" + *m + "`?)" : std::string{};
}

}  // namespace mlasim
