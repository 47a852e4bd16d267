#include "sim/suggest.hpp"

#include <algorithm>
#include <cctype>

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
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1, 0));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates) {
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
