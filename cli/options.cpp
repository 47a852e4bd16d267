#include "cli/options.hpp"

#include <fmt/format.h>

#include <iostream>

#include "sim/config/loader.hpp"
#include "sim/error.hpp"

namespace mlasim::cli {

bool parse_options(const Args& args, const po::options_description& desc, po::variables_map& vm,
                   const po::positional_options_description* positional, const std::string& usage) {
  po::command_line_parser parser(args);
  parser.options(desc);
  if (positional != nullptr) parser.positional(*positional);
  po::store(parser.run(), vm);
  if (vm.count("help") != 0U) {
    std::cout << usage << "\n" << desc << "\n";
    return false;
  }
  po::notify(vm);
  return true;
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
