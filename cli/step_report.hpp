#pragma once
// Turns a costed step into the tables and JSON the `step` command prints.
#include <nlohmann/json.hpp>
#include <string>

#include "models/model_spec.hpp"
#include "sim/device/capacity.hpp"
#include "sim/device/device_model.hpp"
#include "sim/table.hpp"

namespace mlasim::cli {

struct StepInputs {
  std::string model;
  std::string variant;
  std::string hardware;
  int tp = 1;
  bool dp_attention = false;
  int batch = 0;
  std::string context;  ///< as given ("4096" or "1024,2048")
  int s_q = 1;
  std::string mode;
  std::string launch;  ///< graph | eager
  std::string weights_dtype;
  std::string kv_dtype;
  std::string mla_mode;
};

struct StepTotals {
  double step_time_s = 0;
  double tokens_per_s = 0;
  double tokens_per_s_per_gpu = 0;
  double kv_bytes_per_token = 0;
  double kv_bytes_per_token_per_gpu = 0;
  std::int64_t kv_capacity_tokens = 0;
  std::int64_t max_concurrency = 0;
  double weight_bytes = 0;
  double weight_bytes_per_gpu = 0;
};

[[nodiscard]] Table step_ops_table(const StepCost& cost);
[[nodiscard]] nlohmann::ordered_json step_json(const StepInputs& in, const StepCost& cost,
                                               const StepTotals& totals);

}  // namespace mlasim::cli
