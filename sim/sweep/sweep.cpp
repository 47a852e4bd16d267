#include "sim/sweep/sweep.hpp"

#include <fmt/format.h>

#include "sim/error.hpp"

namespace mlasim {

std::size_t sweep_size(const SweepSpec& s) {
  return s.models.size() * s.variants.size() * s.hardware.size() * s.tp.size() * s.dp_attention.size() *
         s.batch.size() * s.context.size() * s.s_q.size();
}

namespace {

std::vector<Column> sweep_columns() {
  return {
      {"model", "model card name"},
      {"variant", "attention variant requested (native = the card's own)"},
      {"attention", "attention kind evaluated: mha, gqa, mqa, mla"},
      {"hardware", "GPU profile id"},
      {"tp", "tensor-parallel degree"},
      {"dp_attention", "attention data-parallel over the TP ranks (true) or head-split (false)"},
      {"batch", "sequences in the step"},
      {"context", "tokens of context per sequence"},
      {"s_q", "new tokens per sequence per step"},
      {"weights_dtype", ""},
      {"kv_dtype", ""},
      {"mla_mode", ""},
      {"device_mode", ""},
      {"launch", "graph (CUDA-graph replay) or eager kernel launches"},
      {"status", "ok, does-not-fit, batch-exceeds-capacity, or invalid: reason"},
      {"step_time_s", "one decode step"},
      {"attention_s", "time in attention cores"},
      {"gemm_s", "time in GEMMs (projections, FFN, experts, LM head)"},
      {"communication_s", "time in collectives"},
      {"other_s", "norms, rope, KV append, embedding, sampling"},
      {"tokens_per_s", "output tokens/s of the TP group"},
      {"tokens_per_s_per_gpu", "output tokens/s per GPU"},
      {"tokens_per_s_per_user", "output tokens/s per sequence"},
      {"flops", "FLOPs of the step on one GPU"},
      {"bytes", "HBM bytes of the step on one GPU"},
      {"attention_flops", ""},
      {"attention_bytes", ""},
      {"attention_bound", "what bounds the attention core: memory, compute, launch"},
      {"kv_bytes_per_token", "KV cache per token, all layers, whole model"},
      {"kv_bytes_per_token_per_gpu", "KV cache per token held by one GPU"},
      {"kv_capacity_tokens", "KV tokens that fit in the replica (the TP group)"},
      {"max_concurrency", "sequences of this context that fit"},
      {"weight_bytes", "whole model"},
      {"weight_bytes_per_gpu", ""},
      {"measured_share", "fraction of the step time from measured points (calibrated mode)"},
      {"interpolated_share", "... interpolated between measured points"},
      {"extrapolated_share", "... extrapolated from measurements (outside the grid, or another shape)"},
      {"analytic_share", "... from formulas alone"},
  };
}

}  // namespace

Table run_sweep(const SweepSpec& spec) {
  if (sweep_size(spec) == 0) throw InputError(SourceLocation{spec.source}, "sweep", "the grid is empty");
  Table table(sweep_columns());
  table.reserve(sweep_size(spec));
  const std::string weights_dtype(to_string(spec.precision.weights));
  const std::string kv_dtype(to_string(spec.precision.kv_cache));
  const std::string mla_mode(to_string(spec.mla_mode));
  const std::string device_mode(to_string(spec.device_mode));
  const std::string launch(to_string(spec.launch));

  std::vector<DeviceModel> devices;
  devices.reserve(spec.hardware.size());
  for (const HardwareSpec& hw : spec.hardware) devices.emplace_back(hw, spec.device_mode, spec.launch);

  StepShape shape;
  shape.precision = spec.precision;
  shape.mla_mode = spec.mla_mode;
  for (const ModelSpec& base : spec.models) {
    for (const VariantSpec& variant : spec.variants) {
      const ModelSpec model = apply_variant(base, variant);
      const std::string attention(to_string(model.attention.kind));
      const double kv_per_token = kv_bytes_per_token(model, spec.precision.kv_cache);
      const double weights = weight_bytes_total(model, spec.precision.weights);
      for (std::size_t hi = 0; hi < spec.hardware.size(); ++hi) {
        const HardwareSpec& hw = spec.hardware[hi];
        const DeviceModel& device = devices[hi];
        for (const int tp : spec.tp) {
          for (const bool dp : spec.dp_attention) {
            const Parallelism parallel{tp, dp};
            std::string invalid;
            Capacity cap;
            try {
              cap = compute_capacity(model, hw, spec.precision, parallel, spec.capacity);
            } catch (const InputError& e) {
              invalid = "invalid: " + e.message();
            }
            for (const int batch : spec.batch) {
              for (const std::int64_t context : spec.context) {
                for (const int s_q : spec.s_q) {
                  std::vector<Cell> row{base.name,
                                        variant.to_string(),
                                        attention,
                                        hw.id,
                                        std::int64_t{tp},
                                        std::string(dp ? "true" : "false"),
                                        std::int64_t{batch},
                                        context,
                                        std::int64_t{s_q},
                                        weights_dtype,
                                        kv_dtype,
                                        mla_mode,
                                        device_mode,
                                        launch};
                  std::string status = invalid;
                  StepCost cost;
                  double attn_flops = 0, attn_bytes = 0;
                  std::string attn_bound = "-";
                  if (status.empty()) {
                    shape.sequences.assign(static_cast<std::size_t>(batch),
                                           SequenceWork{context, s_q, false, true});
                    shape.parallel = parallel;
                    try {
                      cost = cost_step(build_step(model, shape), device, spec.precision, tp);
                      const std::int64_t conc = max_concurrency(cap, context);
                      status = conc == 0 ? "does-not-fit" : conc < batch ? "batch-exceeds-capacity" : "ok";
                      for (const TimedOp& op : cost.ops) {
                        if (op.op.op_class != OpClass::kAttention) continue;
                        attn_flops += op.op.flops;
                        attn_bytes += op.op.bytes();
                        attn_bound = std::string(to_string(op.time.bound));
                      }
                    } catch (const InputError& e) {
                      status = "invalid: " + e.message();
                    }
                  }
                  const bool ok = cost.step_time_s > 0.0;
                  const double tps = ok ? double(cost.output_tokens) / cost.step_time_s : 0.0;
                  row.insert(row.end(), {status,
                                         cost.step_time_s,
                                         cost.attention_s,
                                         cost.gemm_s,
                                         cost.communication_s,
                                         cost.other_s,
                                         tps,
                                         tps / tp,
                                         ok ? double(s_q) / cost.step_time_s : 0.0,
                                         cost.flops,
                                         cost.bytes,
                                         attn_flops,
                                         attn_bytes,
                                         attn_bound,
                                         kv_per_token,
                                         invalid.empty() ? cap.kv_bytes_per_token_per_gpu : 0.0,
                                         invalid.empty() ? cap.kv_capacity_tokens() : std::int64_t{0},
                                         invalid.empty() ? max_concurrency(cap, context) : std::int64_t{0},
                                         weights,
                                         invalid.empty() ? cap.weight_bytes_per_gpu : 0.0,
                                         cost.share(Provenance::kMeasured),
                                         cost.share(Provenance::kInterpolated),
                                         cost.share(Provenance::kExtrapolated),
                                         cost.share(Provenance::kAnalytic)});
                  table.add_row(std::move(row));
                }
              }
            }
          }
        }
      }
    }
  }
  return table;
}

}  // namespace mlasim
