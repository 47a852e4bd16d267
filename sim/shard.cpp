#include "sim/shard.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "sim/error.hpp"

namespace mlasim {

std::string Shard::to_string() const {
  return fmt::format("{}/{}", index, count);
}

Shard parse_shard(std::string_view text, std::string_view option) {
  const auto fail = [&](const std::string& why) -> Shard {
    throw InputError(fmt::format("{} {}: {} (expected I/N, shard I of N counted from 1, e.g. {} 1/4)", option,
                                 text.empty() ? std::string("''") : std::string(text), why, option));
  };
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return fail("no '/'");
  const auto read = [](std::string_view s, int& v) {
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc{} && ptr == s.data() + s.size() && !s.empty();
  };
  Shard s;
  if (!read(text.substr(0, slash), s.index) || !read(text.substr(slash + 1), s.count)) {
    return fail("not two whole numbers");
  }
  if (s.count < 1 || s.count > kMaxShards) return fail(fmt::format("N must be 1 to {}", kMaxShards));
  if (s.index < 1 || s.index > s.count) return fail(fmt::format("I must be 1 to N ({})", s.count));
  return s;
}

std::pair<std::size_t, std::size_t> shard_range(std::size_t total, const Shard& shard) {
  const auto n = static_cast<std::size_t>(shard.count);
  const auto i = static_cast<std::size_t>(shard.index - 1);
  // The first total % n blocks hold one item more than the others.
  const std::size_t q = total / n, r = total % n;
  const auto start = [&](std::size_t k) { return q * k + std::min(k, r); };
  return {start(i), start(i + 1)};
}

}  // namespace mlasim
