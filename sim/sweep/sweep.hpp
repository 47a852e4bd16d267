#pragma once
/// Context-length sweeps (issue 2 §11): a grid over models × variants × GPUs × TP × batch × context × s_q,
/// each point costed by the workload and device models.
#include <cstdint>
#include <string>
#include <vector>

#include "models/model_spec.hpp"
#include "models/precision.hpp"
#include "models/variant.hpp"
#include "models/workload.hpp"
#include "sim/device/capacity.hpp"
#include "sim/device/device_model.hpp"
#include "sim/device/hardware_spec.hpp"
#include "sim/table.hpp"

namespace mlasim {

/// A validated sweep: every list non-empty, every model and GPU resolved.
struct SweepSpec {
  std::string name;
  std::string source;  ///< the config file, for provenance
  std::vector<ModelSpec> models;
  std::vector<VariantSpec> variants;  ///< default: {native}
  std::vector<HardwareSpec> hardware;
  std::vector<int> tp;  ///< default {1}
  std::vector<bool> dp_attention{false};  ///< DP-attention off, on, or both
  std::vector<int> batch;
  std::vector<std::int64_t> context;
  std::vector<int> s_q;  ///< default {1}
  Precision precision;
  MlaMode mla_mode = MlaMode::kAuto;
  DeviceMode device_mode = DeviceMode::kDatasheet;
  LaunchMode launch = LaunchMode::kGraph;
  CapacityOptions capacity;
};

/// Number of grid points.
[[nodiscard]] std::size_t sweep_size(const SweepSpec& spec);

/// Runs every point, in a fixed order (model, variant, hardware, tp, dp_attention, batch, context, s_q; the
/// last varies fastest). Points whose model cannot run (tp does not divide heads) or does not fit are kept as
/// rows with `status` saying why. Deterministic: the same spec gives the same table.
[[nodiscard]] Table run_sweep(const SweepSpec& spec);

}  // namespace mlasim
