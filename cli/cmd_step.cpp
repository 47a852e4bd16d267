// mlasim step: cost one decode step of a model on a GPU.
// Exit codes: 0 ok; 2 bad input; 5 (with --strict) when the batch does not fit in the KV cache.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "models/variant.hpp"
#include "models/workload.hpp"
#include "reports/json_output.hpp"
#include "reports/step_report.hpp"
#include "reports/table_writers.hpp"
#include "sim/config/loader.hpp"
#include "sim/device/capacity.hpp"
#include "sim/device/device_model.hpp"
#include "sim/error.hpp"
#include "sim/step/evaluate.hpp"
#include "sim/units.hpp"

namespace mlasim::cli {

namespace {

std::vector<std::int64_t> parse_contexts(const std::string& text) {
  std::vector<std::int64_t> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = text.find(',', start);
    const std::string part =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    try {
      out.push_back(parse_count(part));
    } catch (const InputError& e) {
      throw InputError(SourceLocation{}, "--context", e.message());
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

/// A rate such as 0.85 (its range is checked where it is used).
double parse_rate(const std::string& text) {
  double v = 0.0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc{} || ptr != end || !std::isfinite(v))
    throw InputError(fmt::format("`{}` is not a number", text));
  return v;
}

/// `--strict` and the step's result means nothing (the batch does not fit): the output is printed, the exit
/// code says the result is not clean. The same code as `serve --strict` for a rejected request.
constexpr int kExitStrict = 5;

template <class F>
auto with_option(const char* option, F&& f) {
  try {
    return f();
  } catch (const InputError& e) {
    // Errors that already name a file (a card, a profile) keep their location; bare ones get the option.
    if (!e.where().file.empty() || !e.key_path().empty()) throw;
    throw InputError(SourceLocation{}, option, e.message());
  }
}

}  // namespace

int cmd_step(const Args& args) {
  po::options_description desc("mlasim step options");
  std::string model_name, hw_name, context_text, variant_text, mode_text, launch_text, format, weights, kv,
      mla_mode_text;
  int batch = 0, tp = 1, pp = 1, s_q = 1, ep = 1, micro_batches = 1, redundant_experts = 0, mtp_depth = 0;
  double expert_imbalance = 0.0;
  std::string mtp_acceptance_text;
  bool dp_attention = false, strict = false, totals_only = false, fuse_allreduce = false;
  // clang-format off
  desc.add_options()
      ("help,h", "show this help")
      ("model,m", po::value(&model_name)->required(),
       "model card name (mlasim list models) or path to a .yaml card / config.json")
      ("hw,g", po::value(&hw_name)->required(), "GPU profile (mlasim list hw) or path to a profile .yaml")
      ("batch,b", po::value(&batch), "sequences in the step (default 1, or the number of --context values)")
      ("context,c", po::value(&context_text)->required(),
       "context tokens per sequence after this step (4096, 128k); a comma list gives one sequence each")
      ("variant,v", po::value(&variant_text)->default_value("native"),
       "attention what-if: native|mha|gqa:N|mqa|mla:D_C/D_R")
      ("tp,t", po::value(&tp)->default_value(1), "tensor-parallel degree")
      ("dp-attention", po::bool_switch(&dp_attention),
       "attention data-parallel over the TP ranks (weights replicated, sequences split); FFN stays TP")
      ("ep", po::value(&ep)->default_value(1),
       "expert parallelism: 1 (off) or the --tp value (routed experts spread whole over the GPUs, "
       "all-to-all dispatch and combine)")
      ("redundant-experts", po::value(&redundant_experts)->default_value(0),
       "redundant routed-expert copies spread with the rest under --ep (DeepSeek's EPLB)")
      ("expert-imbalance", po::value(&expert_imbalance)->default_value(0.0),
       "routed tokens on the busiest expert GPU over the mean (>= 1); 0: the expected maximum under "
       "uniform routing")
      ("pp", po::value(&pp)->default_value(1),
       "pipeline stages of --tp GPUs each (tp x pp GPUs); the batch runs as pp micro-batches in flight")
      ("fuse-allreduce", po::bool_switch(&fuse_allreduce),
       "run each TP all-reduce under the GEMM before it (fused GEMM + all-reduce kernels; off: back to back, "
       "as vLLM and SGLang)")
      ("micro-batches", po::value(&micro_batches)->default_value(1),
       "1, or 2: two micro-batches whose communication overlaps the other's compute")
      ("mtp-depth", po::value(&mtp_depth)->default_value(0),
       "multi-token prediction: draft tokens per step (0 = off); each step verifies 1 + depth")
      ("mtp-acceptance", po::value(&mtp_acceptance_text),
       "acceptance of each draft token given the ones before: one rate, or a comma list per position")
      ("sq", po::value(&s_q)->default_value(1),
       "new tokens per sequence, all kept (>1: an ideal multi-token step; see --mtp-depth for drafts)")
      ("mode", po::value(&mode_text)->default_value("datasheet"), "device model: speed-of-light|datasheet|calibrated")
      ("launch", po::value(&launch_text)->default_value("graph"),
       "kernel launches: graph (CUDA-graph replay, as vLLM and SGLang decode) or eager")
      ("weights", po::value(&weights),
       "weight dtype: bf16|fp16|fp8|int8|int4|fp32 (default: the model's stored dtype, e.g. a config.json's "
       "quantization_config, else bf16)")
      ("kv-dtype", po::value(&kv)->default_value("bf16"), "KV-cache dtype")
      ("mla-mode", po::value(&mla_mode_text)->default_value("auto"), "MLA form: auto|absorbed|naive")
      ("price", po::value<std::string>(), "USD per GPU-hour, overriding the profile's (e.g. 3.5)")
      ("format,f", po::value(&format)->default_value("table"),
       "output: table|csv|json|markdown (csv: one row per op, then a `total` row)")
      ("totals", po::bool_switch(&totals_only),
       "with --format csv: one row of the inputs and every headline total instead of the ops")
      ("strict", po::bool_switch(&strict),
       "exit with code 5 when the batch does not fit in the KV cache (status not ok)");
  // clang-format on
  po::variables_map vm;
  if (!parse_options(args, desc, vm, nullptr, "usage: mlasim step --model M --hw H --context L [options]"))
    return 0;
  if (format != "table" && format != "csv" && format != "json" && format != "markdown") {
    throw InputError(SourceLocation{}, "--format",
                     fmt::format("unknown format `{}`; valid: table, csv, json, markdown", format));
  }
  if (totals_only && format != "csv") {
    throw InputError(SourceLocation{}, "--totals",
                     fmt::format("applies to --format csv only (the {} output has the totals)", format));
  }
  if (tp < 1) throw InputError(SourceLocation{}, "--tp", fmt::format("must be at least 1, got {}", tp));
  if (s_q < 1) throw InputError(SourceLocation{}, "--sq", fmt::format("must be at least 1, got {}", s_q));

  const VariantSpec variant = with_option("--variant", [&] { return parse_variant(variant_text); });
  const ModelSpec base = with_option("--model", [&] { return resolve_model(model_name); });
  const ModelSpec model = with_option("--variant", [&] { return apply_variant(base, variant); });
  HardwareSpec hw = with_option("--hw", [&] { return resolve_hw(hw_name); });
  if (vm.count("price") != 0U) {
    apply_price_override(parse_price_override(vm["price"].as<std::string>(), false), {&hw});
  }
  const DeviceMode mode = with_option("--mode", [&] { return parse_device_mode(mode_text); });
  const LaunchMode launch = with_option("--launch", [&] { return parse_launch_mode(launch_text); });
  Precision precision;
  precision.weights = weights.empty() ? model.weights_dtype.value_or(Dtype::kBf16)
                                      : with_option("--weights", [&] { return parse_dtype(weights); });
  if (weights.empty()) weights = std::string(to_string(precision.weights));
  precision.kv_cache = with_option("--kv-dtype", [&] { return parse_dtype(kv); });
  const MlaMode mla_mode = with_option("--mla-mode", [&] { return parse_mla_mode(mla_mode_text); });

  const std::vector<std::int64_t> contexts = parse_contexts(context_text);
  for (const std::int64_t l : contexts) {
    if (l < 1)
      throw InputError(SourceLocation{}, "--context", fmt::format("must be at least 1 token, got {}", l));
    if (l < s_q) {
      throw InputError(
          SourceLocation{}, "--sq",
          fmt::format("({}) new tokens do not fit in a context of {} that includes them", s_q, l));
    }
  }
  StepShape shape;
  shape.parallel.tp = tp;
  shape.parallel.dp_attention = dp_attention;
  shape.parallel.ep = ep;
  shape.parallel.redundant_experts = redundant_experts;
  shape.parallel.expert_imbalance = expert_imbalance;
  shape.parallel.micro_batches = micro_batches;
  shape.parallel.pp = pp;
  shape.parallel.fuse_allreduce = fuse_allreduce;
  with_option("--ep", [&] {
    try {
      check_parallelism(shape.parallel);
    } catch (const InputError& e) {  // name the option at fault: --micro-batches, --expert-imbalance, ...
      std::string key = e.key_path();
      std::replace(key.begin(), key.end(), '_', '-');
      throw InputError(SourceLocation{}, "--" + key, e.message());
    }
    return 0;
  });
  shape.mtp.depth = mtp_depth;
  if (vm.count("mtp-acceptance") != 0U) {
    std::size_t start = 0;
    while (start <= mtp_acceptance_text.size()) {
      const std::size_t comma = mtp_acceptance_text.find(',', start);
      const std::string part =
          mtp_acceptance_text.substr(start, comma == std::string::npos ? comma : comma - start);
      shape.mtp.acceptance.push_back(with_option("--mtp-acceptance", [&] { return parse_rate(part); }));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  if (mtp_depth > 0 && s_q != 1) {
    throw InputError(SourceLocation{}, "--sq",
                     fmt::format("({}) and --mtp-depth ({}) both set the tokens per step: with MTP a step "
                                 "verifies 1 + depth, give one of them",
                                 s_q, mtp_depth));
  }
  if (mtp_depth == 0 && !shape.mtp.acceptance.empty())
    throw InputError(SourceLocation{}, "--mtp-acceptance", "needs --mtp-depth (the draft tokens per step)");
  with_option("--mtp-depth", [&] {
    try {
      check_speculation(shape.mtp);
    } catch (const InputError& e) {
      throw InputError(SourceLocation{},
                       e.key_path() == "mtp.acceptance" ? "--mtp-acceptance" : "--mtp-depth", e.message());
    }
    return 0;
  });
  shape.precision = precision;
  shape.mla_mode = mla_mode;
  if (contexts.size() > 1) {
    if (vm.count("batch") != 0U && batch != static_cast<int>(contexts.size())) {
      throw InputError(
          SourceLocation{}, "--batch",
          fmt::format("({}) disagrees with the {} context lengths given", batch, contexts.size()));
    }
    batch = static_cast<int>(contexts.size());
    for (const std::int64_t l : contexts) shape.sequences.push_back(SequenceWork{l, s_q, false, true, 1});
  } else {
    if (vm.count("batch") == 0U) batch = 1;
    if (batch < 1)
      throw InputError(SourceLocation{}, "--batch", fmt::format("must be at least 1, got {}", batch));
    // One record for the batch's identical sequences: `--batch 1000000000` costs what `--batch 8` does.
    shape.sequences.push_back(SequenceWork{contexts.front(), s_q, false, true, batch});
  }

  const DeviceModel device = with_option("--mode", [&] { return DeviceModel(hw, mode, launch); });
  StepEvaluation eval = with_option("--tp", [&] { return evaluate_step(model, device, shape); });
  const std::int64_t longest = eval.totals.longest_context;

  StepResult result;
  result.inputs = StepInputs{model.name,
                             variant.to_string(),
                             hw.id,
                             hw.name,
                             tp,
                             dp_attention,
                             batch,
                             context_text,
                             {},
                             s_q,
                             std::string(to_string(mode)),
                             std::string(to_string(launch)),
                             std::string(to_string(precision.weights)),  // `FP8` echoed as fp8
                             std::string(to_string(precision.kv_cache)),
                             std::string(to_string(mla_mode)),
                             shape.parallel,
                             shape.mtp};
  for (const SequenceWork& w : shape.sequences) result.inputs.contexts.push_back(w.context_tokens);
  result.totals = eval.totals;
  result.cost = std::move(eval.cost);
  const StepTotals& totals = result.totals;
  // The verdict, as the sweep states it per point: does the batch fit in the KV cache at this context?
  const PointStatus status = eval.status;
  if (format == "json") {
    std::cout << json_text(step_json(result, to_string(status)));
  } else if (format == "csv") {
    std::cout << table_to_csv(totals_only ? with_missing_as(step_totals_table(result, to_string(status)), "")
                                          : step_ops_table(result.cost));
  } else {
    std::cout << step_text(result, format == "markdown");
  }
  if (status != PointStatus::kOk) {
    std::cerr << "mlasim step: " << (strict ? "error" : "warning") << ": " << to_string(status) << ": "
              << (status == PointStatus::kDoesNotFit
                      ? explain_no_fit(model, hw, precision, shape.parallel, longest)
                      : fmt::format("only {} sequences of {} tokens fit in the KV cache, "
                                    "fewer than the batch of {}",
                                    totals.max_concurrency, longest, batch))
              << (strict ? " (--strict)" : "") << "\n";
    if (strict) return kExitStrict;
  }
  return 0;
}

}  // namespace mlasim::cli
