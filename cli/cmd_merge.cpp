// mlasim merge: join the shards of a sweep, a serve sweep or a plan (`mlasim sweep|serve|plan --shard I/N`),
// one folder each, into exactly the outputs one whole run would have written.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "reports/serve_shard.hpp"
#include "reports/shard_file.hpp"
#include "reports/sweep_shard.hpp"
#include "sim/config/loader.hpp"
#include "sim/config/plan_config.hpp"
#include "sim/config/serve_config.hpp"
#include "sim/error.hpp"
#include "sim/output.hpp"
#include "sim/serving/serve_sweep.hpp"

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

// The items of every shard of `kind` in `dirs`, checked to belong together (check_shards), in the study's
// order; `sources` gets each shard file's header and path.
template <class Item, class ItemOf>
std::vector<Item> read_shards(const std::vector<std::string>& dirs, const char* kind, ItemOf item_of,
                              std::vector<ShardSource>& sources) {
  std::vector<std::vector<Item>> items_of;
  for (const std::string& d : dirs) {
    ShardSource src;
    std::vector<Item> items;
    src.header = read_shard_file(
        d, kind, [&](const nlohmann::ordered_json& j, std::size_t) { items.push_back(item_of(j)); },
        &src.path);
    sources.push_back(std::move(src));
    items_of.push_back(std::move(items));
  }
  std::vector<Item> all;
  for (const std::size_t k : check_shards(sources)) {
    for (Item& item : items_of[k]) all.push_back(std::move(item));
  }
  return all;
}

// The shards of a serve sweep joined into the outputs one `mlasim serve` writes.
int merge_serve_sweep(const std::vector<std::string>& dirs, const std::string& out_dir,
                      const po::variables_map& vm) {
  std::vector<ShardSource> sources;
  const std::vector<ServeSummary> rows =
      read_shards<ServeSummary>(dirs, kServeSweepShardKind, summary_of, sources);
  const ShardHeader& head = sources.front().header;

  ServeConfig cfg = load_serve_config(head.config_path);
  for (const std::string& p : price_overrides(head, sources.front().path)) {
    apply_price_override(parse_price_override(p, false), {&cfg.spec.hardware});
    cfg.spec.cli_overrides.push_back("--price " + p);
  }
  check_config_unchanged(cfg.spec.config_json, head, sources.front().path);
  if (serve_sweep_size(cfg) != head.total) {
    throw InputError(SourceLocation{head.config_path.string()}, "",
                     fmt::format("the sweep has {} runs, the shards {}", serve_sweep_size(cfg), head.total));
  }
  cfg.spec.source = head.config_file;  // echoed as the shards' command named it
  prepare_output_dir(out_dir);
  return write_serve_sweep_outputs(cfg, rows, out_dir, vm.count("no-charts") == 0U, vm.count("quiet") != 0U,
                                   vm.count("strict") != 0U, "merge");
}

// The shards of a plan joined into the outputs one `mlasim plan` writes.
int merge_plan(const std::vector<std::string>& dirs, const std::string& out_dir,
               const po::variables_map& vm) {
  std::vector<ShardSource> sources;
  std::vector<PlanLayoutRun> runs = read_shards<PlanLayoutRun>(dirs, kPlanShardKind, plan_run_of, sources);
  const ShardHeader& head = sources.front().header;

  PlanSpec spec = load_plan_config(head.config_path);
  for (const std::string& p : price_overrides(head, sources.front().path)) {
    apply_price_override(spec, p);
    spec.cli_overrides.push_back("--price " + p);
  }
  check_config_unchanged(spec.config_json, head, sources.front().path);
  if (plan_size(spec) != head.total) {
    throw InputError(SourceLocation{head.config_path.string()}, "",
                     fmt::format("the plan has {} layouts, the shards {}", plan_size(spec), head.total));
  }
  spec.source = head.config_file;  // echoed as the shards' command named it
  restore_layouts(spec, runs);
  prepare_output_dir(out_dir);
  return write_plan_outputs(spec, join_plan(spec, std::move(runs)), out_dir, vm.count("no-charts") == 0U,
                            vm.count("quiet") != 0U, "merge");
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
      "no-charts", "no charts: report.html has the tables only, no charts/ folder, gnuplot is not run")(
      "strict", "serve sweeps: exit with code 5 when any request was rejected, as `mlasim serve --strict`");
  add_jobs_option(desc, &jobs);
  po::positional_options_description pos;
  pos.add("shards", -1);
  po::variables_map vm;
  if (!parse_options(args, desc, vm, &pos, "usage: mlasim merge SHARD_DIR... --out DIR [-j N]")) return 0;
  check_jobs(jobs);

  // The kind: the shard file the first folder holds (or the file given).
  const std::filesystem::path first_dir(dirs.front());
  std::error_code ec;
  const bool serve = std::filesystem::is_directory(first_dir, ec)
                         ? std::filesystem::exists(first_dir / shard_file_name(kServeSweepShardKind), ec)
                         : first_dir.filename() == shard_file_name(kServeSweepShardKind);
  if (serve) return merge_serve_sweep(dirs, out_dir, vm);
  const bool plan = std::filesystem::is_directory(first_dir, ec)
                        ? std::filesystem::exists(first_dir / shard_file_name(kPlanShardKind), ec)
                        : first_dir.filename() == shard_file_name(kPlanShardKind);
  if (plan) return merge_plan(dirs, out_dir, vm);

  // The headers first: which shards, in which order; then each shard's points, one shard at a time, straight
  // into the outputs (a study's points are never all in memory).
  std::vector<ShardSource> sources;
  sources.reserve(dirs.size());
  for (const std::string& d : dirs) {
    SweepShardFile header_only = read_sweep_shard(d, nullptr);
    sources.push_back({header_only.path, header_only.header});
  }
  const std::vector<std::size_t> order = check_shards(sources);
  const ShardHeader& head = sources.front().header;

  // The sweep as the shards ran it: the same config (unchanged since), the same overrides.
  SweepSpec spec = load_sweep_config(head.config_path);
  apply_sweep_overrides(spec, price_overrides(head, sources.front().path));
  check_config_unchanged(spec.config_json, head, sources.front().path);
  if (sweep_size(spec) != head.total) {
    throw InputError(SourceLocation{head.config_path.string()}, "",
                     fmt::format("the grid has {} points, the shards {}", sweep_size(spec), head.total));
  }
  spec.source = head.config_file;  // echoed as the shards' command named it
  const std::size_t spec_size = sweep_size(spec);
  prepare_output_dir(out_dir);
  write_sweep_outputs(
      spec,
      [&](SweepOutputWriter& writer) {
        std::vector<SweepPoint> points;
        points.reserve(kSweepChunkPoints);
        for (const std::size_t k : order) {
          std::size_t index = sources[k].header.first;
          (void)read_sweep_shard(sources[k].path, [&](SweepPoint&& p) {
            // A point that is not the grid's point there (an edited shard): read_shard_file locates it.
            if (index >= spec_size || !is_grid_point(spec, p, index)) {
              throw std::invalid_argument(fmt::format("not grid point {} of the sweep", index + 1));
            }
            ++index;
            points.push_back(std::move(p));
            if (points.size() == kSweepChunkPoints) {
              writer.add(points);
              points.clear();
            }
          });
          writer.add(points);
          points.clear();
        }
      },
      out_dir, vm.count("no-charts") == 0U, vm.count("quiet") != 0U, "merge", jobs);
  return 0;
}

}  // namespace mlasim::cli
