#pragma once
/// The file a shard writes (`--shard I/N` of sweep, serve sweeps and plan) and `mlasim merge` reads: JSON
/// Lines, `<kind>-shard.jsonl`. The first line is the header: schema mlasim-shard, the kind, the mlasim
/// version, the config echoed as the outputs echo it (file, content, overrides), the config's absolute path,
/// the shard, the whole study's item count, the shard's first item and item count, and the kind's own header
/// members. Then one line per item (a sweep point, a serve sweep row, a plan layout), in order. Numbers are
/// written so that they read back to the same double; a non-finite one (NaN, an infinity) as {"$f": "nan"},
/// {"$f": "inf"} or {"$f": "-inf"}, which the reader turns back into the number. Read line by line, so memory
/// stays small however large the shard.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "reports/json_output.hpp"
#include "sim/shard.hpp"

namespace mlasim {

inline constexpr JsonSchema kShardSchema{"mlasim-shard", 1};

/// What a shard file says about itself.
struct ShardHeader {
  std::string kind;  ///< "sweep", "serve-sweep", "plan"
  std::string mlasim_version;
  std::string config_file;             ///< as the shard's command named it (echoed in the outputs)
  std::filesystem::path config_path;   ///< absolute: where merge loads the config again
  std::string config_json;             ///< the config's content, compact JSON (to compare shards)
  std::vector<std::string> overrides;  ///< command-line overrides, as given (`--price h200=3.5`)
  Shard shard;
  std::size_t total = 0;                                            ///< items of the whole study
  std::size_t first = 0;                                            ///< the shard's first item
  std::size_t items = 0;                                            ///< the shard's items
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();  ///< the kind's own header members
};

/// "sweep-shard.jsonl".
[[nodiscard]] std::string shard_file_name(std::string_view kind);

/// The header of shard `shard` of a study of `total` items run from `config_file` (`config_json` its
/// content as YamlDocument::to_json_text wrote it). mlasim_version is this program's; first and items come
/// from shard_range.
[[nodiscard]] ShardHeader make_shard_header(std::string_view kind, const std::string& config_file,
                                            const std::string& config_json,
                                            const std::vector<std::string>& overrides, const Shard& shard,
                                            std::size_t total);

/// The file's text: the header, then one line per item (`items.size()` must equal header.items). A file
/// written piece by piece is shard_header_line, then shard_item_line of each item: the same bytes.
[[nodiscard]] std::string shard_file_text(const ShardHeader& header,
                                          const std::vector<nlohmann::ordered_json>& items);
[[nodiscard]] std::string shard_header_line(const ShardHeader& header);
[[nodiscard]] std::string shard_item_line(const nlohmann::ordered_json& item);

/// Reads the shard file at `path` (or in the folder `path`) of kind `kind`: returns the header and calls
/// `on_item(item, index_in_shard)` for each item line, in order. An exception other than InputError thrown
/// by `on_item` (a nlohmann type error, std::invalid_argument) becomes an InputError at that line. Throws
/// InputError naming the file and line when it is missing, of another kind or format version, or cut short.
/// With an empty `on_item`, reads the header only (and does not count the items).
ShardHeader read_shard_file(const std::filesystem::path& path, std::string_view kind,
                            const std::function<void(const nlohmann::ordered_json&, std::size_t)>& on_item,
                            std::filesystem::path* file_read = nullptr);

/// A shard file's header and where it was read.
struct ShardSource {
  std::filesystem::path path;
  ShardHeader header;
};

/// Checks that `shards` are the shards of one study, each once, none missing, each holding its block, all
/// written by this mlasim: InputError naming the files otherwise. Returns their positions in `shards` in
/// shard order.
[[nodiscard]] std::vector<std::size_t> check_shards(const std::vector<ShardSource>& shards);

}  // namespace mlasim
