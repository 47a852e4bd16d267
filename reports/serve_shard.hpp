#pragma once
/// A serve sweep's rows and a plan's layout searches as shard items (reports/shard_file.hpp): a ServeSummary
/// to JSON and back, every field, exactly (doubles read back bit for bit; NaN kept by the shard file). Adding
/// a field to ServeSummary (or to Distribution, SloVerdict, OverloadVerdict) means adding it to the list in
/// serve_shard.cpp: tests/test_shard.cpp round-trips a summary with every field set.
#include <nlohmann/json.hpp>

#include "sim/plan/plan.hpp"
#include "sim/serving/serve.hpp"

namespace mlasim {

/// The shard kind of a serve sweep (`mlasim serve --shard I/N`): one item per run, its summary_json.
inline constexpr const char* kServeSweepShardKind = "serve-sweep";

[[nodiscard]] nlohmann::ordered_json summary_json(const ServeSummary& s);
/// Throws nlohmann's exceptions or std::invalid_argument on a malformed object.
[[nodiscard]] ServeSummary summary_of(const nlohmann::ordered_json& j);

/// The shard kind of a plan (`mlasim plan --shard I/N`): one item per layout, its plan_run_json.
inline constexpr const char* kPlanShardKind = "plan";

/// A layout's search, every field but outcome.layout (merge recomputes it: restore_layouts).
[[nodiscard]] nlohmann::ordered_json plan_run_json(const PlanLayoutRun& run);
[[nodiscard]] PlanLayoutRun plan_run_of(const nlohmann::ordered_json& j);

}  // namespace mlasim
