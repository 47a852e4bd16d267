#pragma once
// Option helpers shared by the subcommands: parse argv with Boost.Program_options, print --help.
#include <boost/program_options.hpp>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

#include "cli/commands.hpp"
#include "sim/calibration/measurement_run.hpp"
#include "sim/output.hpp"
#include "sim/shard.hpp"

namespace mlasim::cli {

namespace po = boost::program_options;

/// Parses `args` against `desc` (and positionals); returns false when --help was printed.
bool parse_options(const Args& args, const po::options_description& desc, po::variables_map& vm,
                   const po::positional_options_description* positional, const std::string& usage);

/// The most threads `-j` may ask for: more is a typo, not a machine.
inline constexpr int kMaxJobs = 1024;

/// Adds `-j/--jobs N` (threads; default: every core, default_jobs(), at most kMaxJobs) to `desc`, stored in
/// `*jobs`.
void add_jobs_option(po::options_description& desc, int* jobs);
/// Throws InputError naming --jobs unless 1 <= jobs <= kMaxJobs.
void check_jobs(int jobs);

/// Adds `--shard I/N` to `desc`, stored in `*text`: only block I of N of `items` ("the grid's points"),
/// written to OUT/<kind>-shard.jsonl for `mlasim merge`.
void add_shard_option(po::options_description& desc, std::string* text, const std::string& items,
                      const std::string& kind);
/// The shard asked for (parse_shard of `text`), or none without --shard.
[[nodiscard]] std::optional<Shard> shard_option(const po::variables_map& vm, const std::string& text);
/// A shard's file (`text`, of `kind`) written to `out_dir` whole, and the lines saying which `unit` of the
/// study's `total` it holds and how to join it: what `sweep`, `serve` and `plan` print under --shard.
void write_shard_output(const std::string& out_dir, const char* command, const std::string& kind,
                        const Shard& shard, std::size_t total, const std::string& text, const char* unit);
/// The same for a shard file streamed into `outputs` (its only file, OutputSet::stream): commits and prints.
void write_shard_output(OutputSet& outputs, const char* command, const Shard& shard, std::size_t total,
                        const char* unit);

/// The profile file a measurement run calibrates or validates: `option` (--profile: an id, name or path) when
/// given, else the built-in profile of the GPU the run measured. Throws InputError under --profile otherwise.
[[nodiscard]] std::filesystem::path profile_for_run(const std::string& option, const MeasurementRun& run);

}  // namespace mlasim::cli
