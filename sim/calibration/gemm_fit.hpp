#pragma once
/// GEMM efficiency versus m (tokens) per (n, k, batch) shape, from the GEMM probe's rows: one
/// GemmEfficiencyTable (sim/device/measured_tables.hpp) per shape family.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sim/calibration/probe_csv.hpp"
#include "sim/device/measured_tables.hpp"

namespace mlasim {

/// Builds one table per shape family from the `gemm` rows (other probes are ignored). Labels of rows that
/// share a family (the same n, k in two models) are joined with '|'. Throws InputError, naming both rows'
/// file:line, when one (family, m) is measured twice.
[[nodiscard]] std::vector<GemmEfficiencyTable> build_gemm_tables(const std::vector<ProbeRow>& rows);

}  // namespace mlasim
