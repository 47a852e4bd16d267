#pragma once
/// The `calibration:` block of a hardware profile (hw_profiles/README.md): read (private to sim/config, it
/// sees YAML) and written back by calibration_to_yaml (loader.hpp).
#include "sim/config/yaml_reader.hpp"
#include "sim/device/hardware_spec.hpp"

namespace mlasim {

/// A map of dtype -> compute rate (`bf16: 989 TFLOP/s`); each dtype at most once.
[[nodiscard]] std::map<Dtype, double> read_rates(const YamlValue& value);

/// Reads a calibration block; every error is located at its key.
[[nodiscard]] Calibration read_calibration(const YamlValue& value);

}  // namespace mlasim
