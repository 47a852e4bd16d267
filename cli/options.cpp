#include "cli/options.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>

#include "reports/shard_file.hpp"
#include "sim/config/loader.hpp"
#include "sim/error.hpp"
#include "sim/output.hpp"
#include "sim/parallel.hpp"
#include "sim/suggest.hpp"

namespace mlasim::cli {

namespace {

/// The long names of `desc`'s options, for a did-you-mean.
std::vector<std::string> long_names(const po::options_description& desc) {
  std::vector<std::string> out;
  for (const auto& option : desc.options()) out.push_back("--" + option->long_name());
  return out;
}

/// Throws InputError for a positional token no positional option takes (`--batch 8 32`: the `32`), naming
/// the option before it when there is one: Boost would otherwise drop it without a word.
void reject_stray_positionals(const Args& args, const po::parsed_options& parsed,
                              const po::positional_options_description* positional) {
  const unsigned allowed = positional != nullptr ? positional->max_total_count() : 0U;
  unsigned seen = 0;
  for (const po::option& o : parsed.options) {
    if (o.position_key < 0) continue;
    if (seen++ < allowed) continue;
    const std::string token = o.original_tokens.empty() ? std::string() : o.original_tokens.front();
    std::string after;
    const auto it = std::find(args.begin(), args.end(), token);
    const auto i = static_cast<std::size_t>(it - args.begin());
    if (i >= 1 && args[i - 1].starts_with("-")) {
      after = fmt::format(" after `{}`", args[i - 1]);
    } else if (i >= 2 && args[i - 2].starts_with("-") && args[i - 2].find('=') == std::string::npos) {
      after = fmt::format(" after `{} {}`", args[i - 2], args[i - 1]);
    }
    const std::string takes = allowed == 0   ? std::string("no positional argument")
                              : allowed == 1 ? std::string("one positional argument")
                                             : fmt::format("{} positional arguments", allowed);
    throw InputError(
        SourceLocation{}, "",
        fmt::format("unexpected argument `{}`{}: this command takes {}, and an option one value at most",
                    token, after, takes));
  }
}

/// Throws InputError naming the option (or positional argument) given an empty string, as `-o ""`: an empty
/// path or name is never meant, and would otherwise fail later with a message that does not say which option
/// gave it (`cannot create directory: Invalid argument`), or silently mean the default.
void reject_empty_values(const po::variables_map& vm, const po::options_description& desc,
                         const po::positional_options_description* positional) {
  for (const auto& [name, value] : vm) {
    if (value.defaulted() || value.empty()) continue;
    // A flag (`--quiet`) takes no token and is stored as an empty string.
    const po::option_description* option = desc.find_nothrow(name, false);
    if (option == nullptr || option->semantic()->max_tokens() == 0) continue;
    bool empty = false;
    if (const auto* s = boost::any_cast<std::string>(&value.value())) empty = s->empty();
    if (const auto* list = boost::any_cast<std::vector<std::string>>(&value.value())) {
      empty = std::any_of(list->begin(), list->end(), [](const std::string& v) { return v.empty(); });
    }
    if (!empty) continue;
    bool is_positional = false;
    for (unsigned i = 0; positional != nullptr && i < positional->max_total_count(); ++i) {
      is_positional = is_positional || positional->name_for_position(i) == name;
    }
    if (is_positional) {
      throw InputError(SourceLocation{}, "",
                       fmt::format("the {} argument is empty: give a {}", name,
                                   name == "config" ? "YAML file" : "folder"));
    }
    throw InputError(SourceLocation{}, "--" + name, "the value is empty (an empty string is not a value)");
  }
}

}  // namespace

bool parse_options(const Args& args, const po::options_description& desc, po::variables_map& vm,
                   const po::positional_options_description* positional, const std::string& usage) {
  po::command_line_parser parser(args);
  parser.options(desc);
  // Positionals are mapped to names only after every one is checked: an extra one is an error, not dropped.
  po::parsed_options parsed(nullptr);
  try {
    parsed = parser.run();
  } catch (const po::unknown_option& e) {
    const std::string name = e.get_option_name();
    throw InputError(SourceLocation{}, "",
                     fmt::format("unknown option `{}`{}", name, did_you_mean(name, long_names(desc))));
  }
  reject_stray_positionals(args, parsed, positional);
  if (positional != nullptr) {
    po::command_line_parser named(args);
    named.options(desc).positional(*positional);
    parsed = named.run();
  }
  try {
    po::store(parsed, vm);
  } catch (const po::invalid_option_value& e) {
    // Boost's message echoes the whole value (a megabyte one too): name the option and clip the value.
    const std::string name = e.get_option_name();
    std::string value;
    for (const po::option& o : parsed.options) {
      const bool named = "--" + o.string_key == name ||
                         (!o.original_tokens.empty() && o.original_tokens.front().starts_with(name));
      if (named && !o.value.empty()) value = o.value.front();
    }
    throw InputError(SourceLocation{}, name, fmt::format("invalid value `{}`", clipped(value)));
  }
  if (vm.count("help") != 0U) {
    std::cout << usage << "\n" << desc << "\n";
    return false;
  }
  po::notify(vm);
  reject_empty_values(vm, desc, positional);
  return true;
}

void add_jobs_option(po::options_description& desc, int* jobs) {
  *jobs = std::min(default_jobs(), kMaxJobs);
  desc.add_options()("jobs,j", po::value(jobs)->value_name("N"),
                     fmt::format("threads running the work at once (default: every core, here {}); the "
                                 "outputs do not depend on it",
                                 *jobs)
                         .c_str());
}

void add_shard_option(po::options_description& desc, std::string* text, const std::string& items,
                      const std::string& kind) {
  desc.add_options()(
      "shard", po::value(text)->value_name("I/N"),
      fmt::format("run only block I of N of {} (from 1) into OUT/{}; `mlasim merge` joins the N "
                  "shards' folders into what one run writes",
                  items, shard_file_name(kind))
          .c_str());
}

std::optional<Shard> shard_option(const po::variables_map& vm, const std::string& text) {
  return vm.count("shard") != 0U ? std::optional<Shard>(parse_shard(text)) : std::nullopt;
}

void write_shard_output(const std::string& out_dir, const char* command, const std::string& kind,
                        const Shard& shard, std::size_t total, const std::string& text, const char* unit) {
  OutputSet outputs(out_dir);
  outputs.add(shard_file_name(kind), text);
  write_shard_output(outputs, command, shard, total, unit);
}

void write_shard_output(OutputSet& outputs, const char* command, const Shard& shard, std::size_t total,
                        const char* unit) {
  const auto written = outputs.commit();
  const auto [first, last] = shard_range(total, shard);
  std::cout << fmt::format(
      "mlasim {}: shard {}: {} {} to {} of {} written to:\n  {}\njoin the {} shards' folders with `mlasim "
      "merge DIR... --out OUT`\n",
      command, shard.to_string(), unit, first + 1, last, total, written.front().string(), shard.count);
}

void check_jobs(int jobs) {
  if (jobs < 1 || jobs > kMaxJobs) {
    throw InputError(SourceLocation{}, "--jobs",
                     fmt::format("{} threads: give a number from 1 to {} (default: every core, {})", jobs,
                                 kMaxJobs, std::min(default_jobs(), kMaxJobs)));
  }
}

std::filesystem::path profile_for_run(const std::string& option, const MeasurementRun& run) {
  if (!option.empty()) {
    try {
      return resolve_hw_path(option);
    } catch (const InputError& e) {
      if (!e.where().file.empty()) throw;
      throw InputError(SourceLocation{}, "--profile", e.message());
    }
  }
  const std::string device = run.device();
  if (const auto found = find_hw_profile_for_device(device)) return *found;
  throw InputError(
      SourceLocation{}, "--profile",
      fmt::format("no single built-in profile is the GPU this run measured (`{}`); name one with "
                  "--profile",
                  device));
}

}  // namespace mlasim::cli
