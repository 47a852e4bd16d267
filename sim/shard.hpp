#pragma once
/// Shards: a large study split into parts run apart (one per machine, one per Slurm array task, one per GNU
/// parallel job) and joined afterwards by `mlasim merge` into exactly what one run would have written. The
/// partition is deterministic: shard i of n owns the i-th of n contiguous blocks of the work, in the order
/// one run would do it, blocks differing in size by at most one item.
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace mlasim {

/// Shard `index` of `count`, counted from 1 (`--shard 1/4` is the first of four).
struct Shard {
  int index = 1;
  int count = 1;
  /// One shard of one: the whole study.
  [[nodiscard]] bool whole() const { return count == 1; }
  /// "2/4".
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const Shard&, const Shard&) = default;
};

/// The most shards a study may be split into.
inline constexpr int kMaxShards = 100'000;

/// Reads "I/N" (1 ≤ I ≤ N ≤ kMaxShards). Throws InputError naming `option` and saying what is expected.
[[nodiscard]] Shard parse_shard(std::string_view text, std::string_view option = "--shard");

/// The items of `total` that `shard` owns: [first, second), contiguous, in order.
[[nodiscard]] std::pair<std::size_t, std::size_t> shard_range(std::size_t total, const Shard& shard);

}  // namespace mlasim
