#include "sim/cost.hpp"

#include <limits>

namespace mlasim {

DeploymentCost deployment_cost(int gpus, double price_per_gpu_hour, double output_tokens_per_s,
                               double total_tokens_per_s) {
  DeploymentCost c;
  c.gpus = gpus;
  c.usd_per_hour = gpus * price_per_gpu_hour;
  // An hour serves tokens/s × 3600 tokens; the price of a million of them is $/h ÷ (that / 1e6).
  const auto per_million = [&](double tokens_per_s) {
    return tokens_per_s > 0.0 ? c.usd_per_hour / (tokens_per_s * 3600.0) * 1e6
                              : std::numeric_limits<double>::quiet_NaN();
  };
  c.usd_per_million_output_tokens = per_million(output_tokens_per_s);
  c.usd_per_million_total_tokens = per_million(total_tokens_per_s);
  return c;
}

}  // namespace mlasim
