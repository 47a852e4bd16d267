#pragma once
/// Config loading: the only place that sees YAML. Turns model cards, Hugging Face config.json files, hardware
/// profiles and experiment configs into validated specs. Errors are InputError with file:line:column and the
/// key path; unknown keys are errors with a "did you mean".
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/model_spec.hpp"
#include "sim/calibration/measurement_run.hpp"
#include "sim/device/hardware_spec.hpp"
#include "sim/sweep/sweep.hpp"

namespace mlasim {

/// Where built-in model cards and hardware profiles live: $MLASIM_DATA_DIR if set, else the source tree
/// the binary was built from (MLASIM_SOURCE_DIR).
[[nodiscard]] std::filesystem::path data_dir();
[[nodiscard]] std::filesystem::path model_cards_dir();
[[nodiscard]] std::filesystem::path hw_profiles_dir();

/// A model card (models/cards/*.yaml).
[[nodiscard]] ModelSpec load_model_card(const std::filesystem::path& path);
/// A Hugging Face config.json (Llama, Mistral, Qwen2, Falcon, DeepSeek-V2/V3 families). Keys that change the
/// cost but are not modelled are reported on `warnings` (std::cerr by default), one located line each.
[[nodiscard]] ModelSpec load_hf_config(const std::filesystem::path& path);
[[nodiscard]] ModelSpec load_hf_config(const std::filesystem::path& path, std::ostream& warnings);
/// A built-in card by name (case-insensitive, file stem or the card's `name`), or a path to a .yaml card or a
/// config.json. Unknown names get the list of known cards and a "did you mean".
[[nodiscard]] ModelSpec resolve_model(std::string_view name_or_path);

/// A hardware profile (hw_profiles/*.yaml).
[[nodiscard]] HardwareSpec load_hw_profile(const std::filesystem::path& path);
/// A built-in profile by id (file stem, case-insensitive) or name, or a path to a .yaml profile.
[[nodiscard]] HardwareSpec resolve_hw(std::string_view name_or_path);

/// A price per GPU-hour, `2.5 USD` (US dollars, at least 0). InputError without a location otherwise.
[[nodiscard]] double parse_price(std::string_view text);

/// A command-line price: `USD` (`3.5`, `3.5 USD`) for the one GPU of a command, or `GPU=USD` (`h200=3.5`) for
/// the entries of that GPU among several. InputError (naming `--price`) when malformed or negative.
struct PriceOverride {
  std::string gpu;  ///< empty: every GPU of the command
  double usd_per_gpu_hour = 0.0;
};
[[nodiscard]] PriceOverride parse_price_override(std::string_view text, bool gpu_required);

/// Applies `override` to `hws` (matching the profile id or name, case-insensitive; all of them when its GPU
/// is empty). InputError with a did-you-mean when it names no GPU among them.
void apply_price_override(const PriceOverride& override, const std::vector<HardwareSpec*>& hws);

/// The file of a profile: a built-in id (file stem, case-insensitive) or name, or a path to a .yaml profile.
[[nodiscard]] std::filesystem::path resolve_hw_path(std::string_view name_or_path);
/// The built-in profile whose GPU a fingerprint's device name is (device_matches_profile), if exactly one is.
[[nodiscard]] std::optional<std::filesystem::path> find_hw_profile_for_device(std::string_view device);

/// The `calibration:` block of a hardware profile, in the profile schema (quantities with units), ready to
/// paste into hw_profiles/<gpu>.yaml; load_hw_profile reads it back to the same values (6 significant
/// digits).
[[nodiscard]] std::string calibration_to_yaml(const Calibration& calibration);

/// A GPU measurement run folder (measurements/README.md): run.yaml, the fingerprints, the probe and attention
/// CSVs and the device state. Missing CSVs are noted in `notes` (a run cut short); a missing run.yaml, a bad
/// key or a bad row is an InputError at file:line:col.
[[nodiscard]] MeasurementRun load_measurement_run(const std::filesystem::path& dir);

/// Built-in cards and profiles, sorted by id: (id, one-line description).
struct CatalogEntry {
  std::string id;
  std::string summary;
};
[[nodiscard]] std::vector<CatalogEntry> list_model_cards();
[[nodiscard]] std::vector<CatalogEntry> list_hw_profiles();

/// A sweep experiment (configs/*.yaml with a top-level `sweep:`).
[[nodiscard]] SweepSpec load_sweep_config(const std::filesystem::path& path);

/// Grid syntax shared by sweeps: a scalar, a list, or a range "1k..128k x2" (geometric) / "1..8 +1"
/// (arithmetic). Throws InputError (no location; the loader adds it).
[[nodiscard]] std::vector<std::int64_t> parse_count_grid(std::string_view text);

}  // namespace mlasim
