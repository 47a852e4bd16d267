#include "models/parallelism.hpp"

#include <fmt/format.h>

#include <cmath>

#include "sim/error.hpp"

namespace mlasim {

std::string Parallelism::describe() const {
  std::string out = fmt::format("TP{}", tp);
  if (dp_attention) out += " + DP-attention";
  if (ep > 1) out += fmt::format(" + EP{}", ep);
  if (redundant_experts > 0) out += fmt::format(" ({} redundant experts)", redundant_experts);
  if (micro_batches > 1) out += fmt::format(" + {} micro-batches", micro_batches);
  if (pp > 1) out += fmt::format(" + PP{}", pp);
  if (fuse_allreduce) out += " (all-reduce fused)";
  return out;
}

void check_parallelism(const Parallelism& p) {
  const auto fail = [](const char* key, std::string message) {
    throw InputError(SourceLocation{}, key, std::move(message));
  };
  if (p.tp < 1) fail("tp", fmt::format("must be at least 1, got {}", p.tp));
  if (p.ep != 1 && p.ep != p.tp) {
    fail("ep",
         fmt::format("must be 1 (no expert parallelism) or the replica's GPU count tp ({}), got {}: every "
                     "GPU of the replica is an expert rank",
                     p.tp, p.ep));
  }
  if (p.redundant_experts < 0)
    fail("redundant_experts", fmt::format("must be at least 0, got {}", p.redundant_experts));
  if (p.redundant_experts > 0 && p.ep <= 1)
    fail("redundant_experts", "needs expert parallelism (ep > 1): copies of experts live on expert ranks");
  if (!(std::isfinite(p.expert_imbalance) && (p.expert_imbalance == 0.0 || p.expert_imbalance >= 1.0))) {
    fail("expert_imbalance",
         fmt::format("must be at least 1 (the busiest GPU's routed tokens over the mean), or 0 for the "
                     "expected maximum under uniform routing; got {}",
                     p.expert_imbalance));
  }
  if (p.micro_batches != 1 && p.micro_batches != 2)
    fail("micro_batches", fmt::format("must be 1 or 2, got {}", p.micro_batches));
  if (p.pp < 1 || p.pp > 1024) fail("pp", fmt::format("must be 1 to 1024 stages, got {}", p.pp));
  if (p.pp > 1 && p.micro_batches > 1) {
    fail("pp",
         "pipeline stages already keep pp micro-batches in flight; two-micro-batch overlap (micro_batches "
         "2) with pp > 1 is not modelled");
  }
  if (p.tp > 1'000'000 / p.pp) fail("pp", fmt::format("tp {} x pp {} GPUs is absurdly many", p.tp, p.pp));
}

}  // namespace mlasim
