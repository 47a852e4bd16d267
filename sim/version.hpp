#pragma once
/// The tool's version, from CMakeLists.txt's `project(mlasim VERSION ...)`: printed by `mlasim --version` and
/// written into every JSON output (`mlasim_version`).
#include <string_view>

namespace mlasim {

#ifndef MLASIM_VERSION
#error "MLASIM_VERSION is defined by CMakeLists.txt (add_compile_definitions)"
#endif
inline constexpr std::string_view kMlasimVersion = MLASIM_VERSION;

}  // namespace mlasim
