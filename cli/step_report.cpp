#include "cli/step_report.hpp"

namespace mlasim::cli {

Table step_ops_table(const StepCost& cost) {
  Table t({{"op", ""},
           {"class", ""},
           {"count", "launches per step"},
           {"flops", "all launches"},
           {"bytes", "HBM bytes, all launches"},
           {"intensity", "FLOP/byte"},
           {"time_us", "all launches"},
           {"share", "fraction of the step"},
           {"bound", ""},
           {"provenance", ""}});
  for (const TimedOp& op : cost.ops) {
    const bool comm = op.op.op_class == OpClass::kCommunication;
    t.add_row({op.op.name, std::string(to_string(op.op.op_class)), op.op.count, op.op.flops,
               comm ? op.op.comm_bytes : op.op.bytes(), op.op.intensity(), op.time.time_s * 1e6,
               cost.step_time_s > 0 ? op.time.time_s / cost.step_time_s : 0.0,
               std::string(to_string(op.time.bound)), std::string(to_string(op.time.provenance))});
  }
  return t;
}

nlohmann::ordered_json step_json(const StepInputs& in, const StepCost& cost, const StepTotals& totals) {
  nlohmann::ordered_json j;
  j["inputs"] = {{"model", in.model},
                 {"variant", in.variant},
                 {"hardware", in.hardware},
                 {"tp", in.tp},
                 {"dp_attention", in.dp_attention},
                 {"batch", in.batch},
                 {"context", in.context},
                 {"s_q", in.s_q},
                 {"mode", in.mode},
                 {"launch", in.launch},
                 {"weights_dtype", in.weights_dtype},
                 {"kv_dtype", in.kv_dtype},
                 {"mla_mode", in.mla_mode}};
  nlohmann::ordered_json ops = nlohmann::ordered_json::array();
  for (const TimedOp& op : cost.ops) {
    ops.push_back({{"name", op.op.name},
                   {"class", std::string(to_string(op.op.op_class))},
                   {"count", op.op.count},
                   {"flops", op.op.flops},
                   {"bytes", op.op.bytes()},
                   {"weight_bytes", op.op.weight_bytes},
                   {"kv_read_bytes", op.op.kv_read_bytes},
                   {"kv_write_bytes", op.op.kv_write_bytes},
                   {"activation_bytes", op.op.activation_bytes},
                   {"comm_bytes", op.op.comm_bytes},
                   {"intensity", op.op.intensity()},
                   {"time_s", op.time.time_s},
                   {"compute_s", op.time.compute_s},
                   {"memory_s", op.time.memory_s},
                   {"launch_s", op.time.launch_s},
                   {"fixed_s", op.time.fixed_s},
                   {"network_s", op.time.network_s},
                   {"bound", std::string(to_string(op.time.bound))},
                   {"provenance", std::string(to_string(op.time.provenance))}});
  }
  j["ops"] = std::move(ops);
  j["totals"] = {{"step_time_s", totals.step_time_s},
                 {"attention_s", cost.attention_s},
                 {"gemm_s", cost.gemm_s},
                 {"communication_s", cost.communication_s},
                 {"other_s", cost.other_s},
                 {"flops", cost.flops},
                 {"bytes", cost.bytes},
                 {"tokens", cost.tokens},
                 {"output_tokens", cost.output_tokens},
                 {"tokens_per_s", totals.tokens_per_s},
                 {"tokens_per_s_per_gpu", totals.tokens_per_s_per_gpu},
                 {"kv_bytes_per_token", totals.kv_bytes_per_token},
                 {"kv_bytes_per_token_per_gpu", totals.kv_bytes_per_token_per_gpu},
                 {"kv_capacity_tokens", totals.kv_capacity_tokens},
                 {"max_concurrency", totals.max_concurrency},
                 {"weight_bytes", totals.weight_bytes},
                 {"weight_bytes_per_gpu", totals.weight_bytes_per_gpu}};
  nlohmann::ordered_json shares;
  for (const Provenance p : kProvenances) shares[std::string(to_string(p))] = cost.share(p);
  j["totals"]["time_share_by_provenance"] = std::move(shares);
  return j;
}

}  // namespace mlasim::cli
