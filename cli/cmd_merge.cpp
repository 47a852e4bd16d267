// mlasim merge: join the shards of a sweep (`mlasim sweep --shard I/N`, one folder each) into exactly the
// outputs one whole run would have written.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "reports/sweep_shard.hpp"
#include "sim/config/loader.hpp"
#include "sim/error.hpp"
#include "sim/output.hpp"

namespace mlasim::cli {

namespace {

// The values of the shards' `--price` overrides, to apply again.
std::vector<std::string> price_overrides(const ShardHeader& head, const std::filesystem::path& file) {
  std::vector<std::string> prices;
  for (const std::string& o : head.overrides) {
    const std::string tag = "--price ";
    if (o.rfind(tag, 0) != 0) {
      throw InputError(SourceLocation{file.string(), 1, 0}, "config.overrides",
                       fmt::format("unknown override `{}`", o));
    }
    prices.push_back(o.substr(tag.size()));
  }
  return prices;
}

// The config merge loaded must be the one the shards ran.
void check_config_unchanged(const std::string& config_json, const ShardHeader& head,
                            const std::filesystem::path& file) {
  if (nlohmann::ordered_json::parse(config_json).dump() != head.config_json) {
    throw InputError(SourceLocation{head.config_path.string()}, "",
                     fmt::format("the config has changed since the shards ran ({} echoes another content): "
                                 "run the shards again, or restore the config",
                                 file.string()));
  }
}

}  // namespace

int cmd_merge(const Args& args) {
  po::options_description desc("mlasim merge options");
  std::vector<std::string> dirs;
  std::string out_dir;
  int jobs = 1;
  desc.add_options()("help,h", "show this help")(
      "shards", po::value(&dirs)->required()->multitoken(),
      "the shards' folders (each a `mlasim sweep --shard I/N` --out), in any order")(
      "out,o", po::value(&out_dir)->required(), "output directory (created; files replaced whole)")(
      "quiet,q", "print only the paths written")(
      "no-charts", "no charts: report.html has the tables only, no charts/ folder, gnuplot is not run");
  add_jobs_option(desc, &jobs);
  po::positional_options_description pos;
  pos.add("shards", -1);
  po::variables_map vm;
  if (!parse_options(args, desc, vm, &pos, "usage: mlasim merge SHARD_DIR... --out DIR [-j N]")) return 0;
  check_jobs(jobs);

  std::vector<SweepShardFile> shards;
  shards.reserve(dirs.size());
  for (const std::string& d : dirs) shards.push_back(read_sweep_shard(d));
  std::vector<SweepPoint> points = join_sweep_shards(shards);
  const ShardHeader& head = shards.front().header;

  // The sweep as the shards ran it: the same config (unchanged since), the same overrides.
  SweepSpec spec = load_sweep_config(head.config_path);
  apply_sweep_overrides(spec, price_overrides(head, shards.front().path));
  check_config_unchanged(spec.config_json, head, shards.front().path);
  if (sweep_size(spec) != head.total) {
    throw InputError(SourceLocation{head.config_path.string()}, "",
                     fmt::format("the grid has {} points, the shards {}", sweep_size(spec), head.total));
  }
  spec.source = head.config_file;  // echoed as the shards' command named it
  prepare_output_dir(out_dir);
  write_sweep_outputs(spec, points, out_dir, vm.count("no-charts") == 0U, vm.count("quiet") != 0U, "merge",
                      jobs);
  return 0;
}

}  // namespace mlasim::cli
