#pragma once
/// One shard of a sweep, on disk: what `mlasim sweep --shard I/N` writes instead of its report
/// (sweep-shard.jsonl, reports/shard_file.hpp: one line per point, an array of its fields in the order the
/// header's `extra.fields` names them), and what `mlasim merge` reads back to write exactly the outputs one
/// whole run would have written.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "reports/shard_file.hpp"
#include "sim/shard.hpp"
#include "sim/sweep/sweep.hpp"

namespace mlasim {

inline constexpr const char* kSweepShardKind = "sweep";

/// The shard file's text for `shard`'s block of `spec`'s grid: `points` are the points of
/// shard_range(sweep_size(spec), shard), in grid order.
[[nodiscard]] std::string sweep_shard_text(const SweepSpec& spec, const Shard& shard,
                                           const std::vector<SweepPoint>& points);

/// The same text piece by piece: the header line, then the lines of the next points.
[[nodiscard]] std::string sweep_shard_header_line(const SweepSpec& spec, const Shard& shard);
[[nodiscard]] std::string sweep_shard_lines(const std::vector<SweepPoint>& points);

/// A sweep shard read back.
struct SweepShardFile {
  std::filesystem::path path;  ///< the file read
  ShardHeader header;
  std::vector<SweepPoint> points;
};

/// Reads `path` (a shard file, or a folder holding sweep-shard.jsonl). Throws InputError naming the file and
/// line when it is missing, is not a sweep shard, or a line does not read.
[[nodiscard]] SweepShardFile read_sweep_shard(const std::filesystem::path& path);

/// read_sweep_shard point by point, for a shard too large to hold: `on_point` gets each point in order (the
/// result's `points` stay empty); with an empty `on_point`, the header only is read and checked.
[[nodiscard]] SweepShardFile read_sweep_shard(const std::filesystem::path& path,
                                              const std::function<void(SweepPoint&&)>& on_point);

/// The shards joined, in grid order: every point of the grid once (check_shards says why not).
[[nodiscard]] std::vector<SweepPoint> join_sweep_shards(const std::vector<SweepShardFile>& shards);

}  // namespace mlasim
