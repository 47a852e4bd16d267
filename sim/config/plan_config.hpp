#pragma once
/// Capacity plans (configs/plan_*.yaml with a top-level `plan:`): YAML -> PlanSpec. The workload, SLO,
/// measure and run-option sections are read as a serve config reads them (sim/config/serve_sections.hpp); the
/// search space takes lists. Errors are InputError at file:line:col with the key path. Schema:
/// sim/plan/README.md.
#include <filesystem>
#include <string_view>

#include "sim/plan/plan.hpp"

namespace mlasim {

[[nodiscard]] PlanSpec load_plan_config(const std::filesystem::path& path);

/// Applies a command-line price override `GPU=PRICE` (`h200=3.5 USD`; a bare number is US dollars) to every
/// GPU of the plan whose profile id or name is GPU. InputError when the text is malformed or names no GPU of
/// the plan.
void apply_price_override(PlanSpec& spec, std::string_view text);

}  // namespace mlasim
