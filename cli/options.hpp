#pragma once
// Option helpers shared by the subcommands: parse argv with Boost.Program_options, print --help.
#include <boost/program_options.hpp>
#include <string>

#include "cli/commands.hpp"

namespace mlasim::cli {

namespace po = boost::program_options;

/// Parses `args` against `desc` (and positionals); returns false when --help was printed.
bool parse_options(const Args& args, const po::options_description& desc, po::variables_map& vm,
                   const po::positional_options_description* positional, const std::string& usage);

}  // namespace mlasim::cli
