#pragma once
/// One shard of a sweep, on disk: what `mlasim sweep --shard I/N` writes instead of its report, and what
/// `mlasim merge` reads back to write exactly the outputs one whole run would have written.
///
/// The file (sweep-shard.jsonl) is JSON Lines: a first line with the envelope (schema mlasim-sweep-shard,
/// the mlasim version, the config echoed as in sweep.json, the config's absolute path, the shard, the grid's
/// size, the shard's first point and the names of the fields), then one line per point: an array of the
/// point's fields in that order, numbers written so that they read back to the same double (non-finite
/// ones as the strings "nan", "inf", "-inf"). Line by line, so memory stays small however large the shard.
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "reports/json_output.hpp"
#include "sim/shard.hpp"
#include "sim/sweep/sweep.hpp"

namespace mlasim {

inline constexpr JsonSchema kSweepShardSchema{"mlasim-sweep-shard", 1};
inline constexpr const char* kSweepShardFile = "sweep-shard.jsonl";

/// The shard file's text for points [first, first + points.size()) of `spec`'s grid (shard_range of
/// `shard`). `config_path` is the config as merge will load it again (absolute).
[[nodiscard]] std::string sweep_shard_text(const SweepSpec& spec, const std::filesystem::path& config_path,
                                           const Shard& shard, std::size_t first,
                                           const std::vector<SweepPoint>& points);

/// A shard file read back.
struct SweepShardFile {
  std::filesystem::path path;  ///< the file read
  std::string mlasim_version;
  std::filesystem::path config_path;  ///< absolute: where merge loads it from
  std::string config_file;            ///< as the shard's command named it (echoed in the outputs)
  std::string config_json;            ///< the config's content as JSON text (compact), to compare shards
  std::vector<std::string> overrides;
  Shard shard;
  std::size_t grid_points = 0;
  std::size_t first = 0;
  std::vector<SweepPoint> points;
};

/// Reads `path` (a shard file, or a folder holding sweep-shard.jsonl). Throws InputError naming the file and
/// line when it is missing, is not a sweep shard, or a line does not read.
[[nodiscard]] SweepShardFile read_sweep_shard(const std::filesystem::path& path);

/// The shards joined, in grid order: every point of the grid once. Throws InputError naming the files when
/// they come from different configs, overrides, grids or mlasim versions, when a shard is missing or given
/// twice, or when a shard does not hold its block of points.
[[nodiscard]] std::vector<SweepPoint> join_sweep_shards(const std::vector<SweepShardFile>& shards);

}  // namespace mlasim
