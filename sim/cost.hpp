#pragma once
/// What serving costs: a deployment's GPUs at a price per GPU-hour, and that hour's price over the tokens it
/// serves. One place for the arithmetic behind the $/hour and $/1M-token columns of step, sweep, serve and
/// plan.
namespace mlasim {

/// What a deployment costs: GPUs × price, and that hour's price over the tokens it serves.
struct DeploymentCost {
  int gpus = 0;
  double usd_per_hour = 0.0;
  double usd_per_million_output_tokens = 0.0;  ///< NaN when no token is served
  double usd_per_million_total_tokens = 0.0;   ///< prompt + output; NaN when none
};
[[nodiscard]] DeploymentCost deployment_cost(int gpus, double price_per_gpu_hour, double output_tokens_per_s,
                                             double total_tokens_per_s);

}  // namespace mlasim
