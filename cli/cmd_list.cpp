// mlasim list models|hw: one line per built-in model card or GPU profile.
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "sim/config/loader.hpp"
#include "sim/error.hpp"
#include "sim/suggest.hpp"

namespace mlasim::cli {

int cmd_list(const Args& args) {
  if (args.size() != 1 || args[0] == "--help" || args[0] == "-h") {
    if (args.size() == 1) {
      fmt::print("usage: mlasim list models|hw\n");
      return 0;
    }
    throw InputError("usage: mlasim list models|hw");
  }
  std::vector<CatalogEntry> entries;
  if (args[0] == "models") {
    entries = list_model_cards();
  } else if (args[0] == "hw") {
    entries = list_hw_profiles();
  } else {
    throw InputError(fmt::format("mlasim list: unknown catalogue `{}`{}; valid: models, hw", args[0],
                                 did_you_mean(args[0], {"models", "hw"})));
  }
  std::size_t width = 0;
  for (const auto& e : entries) width = std::max(width, e.id.size());
  for (const auto& e : entries) fmt::print("{:<{}}  {}\n", e.id, width, e.summary);
  return 0;
}

}  // namespace mlasim::cli
