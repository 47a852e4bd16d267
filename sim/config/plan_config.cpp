// Capacity plans (configs/plan_*.yaml): the search space, the workload at its target rate, percentile SLOs
// and a budget. Schema: sim/plan/README.md.
#include "sim/config/plan_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>

#include "models/precision.hpp"
#include "models/variant.hpp"
#include "sim/config/loader.hpp"
#include "sim/config/serve_sections.hpp"
#include "sim/config/yaml_reader.hpp"
#include "sim/error.hpp"

namespace mlasim {

namespace fs = std::filesystem;

namespace {

std::vector<Dtype> read_dtypes(const YamlValue& v) {
  std::vector<Dtype> out;
  for (const YamlValue& item : one_or_many(v))
    out.push_back(parse_named(item, parse_dtype, "dtype", known_dtypes()));
  if (out.empty()) v.fail("the list is empty");
  return out;
}

/// A hardware entry: a profile name or path (priced by the profile), or `{profile: NAME, price_per_gpu_hour:
/// 3.5 USD}`.
PlanGpu read_gpu(const YamlValue& item, const fs::path& dir) {
  PlanGpu gpu;
  std::optional<YamlValue> price;
  if (item.is_map()) {
    const YamlMap m = item.as_map({"profile", "price_per_gpu_hour"});
    gpu.hw = resolve_entry(m.required("profile"), dir, resolve_hw);
    price = m.optional("price_per_gpu_hour");
  } else {
    gpu.hw = resolve_entry(item, dir, resolve_hw);
  }
  if (price) {
    gpu.price_per_gpu_hour = price->parse_with(parse_price);
  } else if (gpu.hw.price_per_gpu_hour) {
    gpu.price_per_gpu_hour = *gpu.hw.price_per_gpu_hour;
  } else {
    item.fail(
        fmt::format("profile `{}` has no price_per_gpu_hour: give one, as `{{profile: {}, "
                    "price_per_gpu_hour: 2.5 USD}}` (or --price {}=2.5 on the command line)",
                    gpu.hw.id, gpu.hw.id, gpu.hw.id));
  }
  gpu.hw.price_per_gpu_hour = gpu.price_per_gpu_hour;
  return gpu;
}

}  // namespace

PlanSpec load_plan_config(const fs::path& path) {
  const YamlDocument doc = YamlDocument::parse_file(path, "plan config");
  const YamlMap root = doc.root().as_map({"plan"});
  const YamlMap s = root.required("plan").as_map(
      {"name", "models", "variants", "hardware", "tp", "dp_attention", "precision", "scheduler", "router",
       "mode", "launch", "host_overhead", "mla_mode", "budget", "workload", "slo", "measure", "search"});
  const fs::path dir = path.parent_path();
  PlanSpec spec;
  spec.source = path.string();
  spec.config_json = doc.to_json_text();
  spec.name = s.optional_string("name", path.stem().string());
  spec.base.source = spec.source;
  spec.base.name = spec.name;
  for (const YamlValue& item : one_or_many(s.required("models")))
    spec.models.push_back(resolve_entry(item, dir, resolve_model));
  if (spec.models.empty()) s.required("models").fail("the list is empty");
  if (const auto v = s.optional("variants")) {
    for (const YamlValue& item : one_or_many(*v)) spec.variants.push_back(item.parse_with(parse_variant));
    if (spec.variants.empty()) v->fail("the list is empty");
  } else {
    spec.variants.push_back(VariantSpec{});
  }
  for (const YamlValue& item : one_or_many(s.required("hardware"))) spec.gpus.push_back(read_gpu(item, dir));
  if (spec.gpus.empty()) s.required("hardware").fail("the list is empty");
  spec.tp = s.has("tp") ? read_int_grid(s.required("tp")) : std::vector<int>{1, 2, 4, 8};
  spec.dp_attention =
      s.has("dp_attention") ? read_bool_list(s.required("dp_attention")) : std::vector<bool>{false};
  spec.weights = {spec.base.precision.weights};
  spec.kv_cache = {spec.base.precision.kv_cache};
  if (const auto p = s.optional("precision")) {
    const YamlMap m = p->as_map({"weights", "kv_cache", "activations"});
    if (const auto v = m.optional("weights")) {
      spec.weights = read_dtypes(*v);
      spec.weights_given = true;
    }
    if (const auto v = m.optional("kv_cache")) spec.kv_cache = read_dtypes(*v);
    if (const auto v = m.optional("activations"))
      spec.base.precision.activations = parse_named(*v, parse_dtype, "dtype", known_dtypes());
  }
  spec.max_num_seqs = {spec.base.scheduler.max_num_seqs};
  spec.max_num_batched_tokens = {spec.base.scheduler.max_num_batched_tokens};
  spec.policies = {spec.base.scheduler.policy};
  if (const auto sc = s.optional("scheduler")) {
    const YamlMap m = sc->as_map(
        {"policy", "max_num_seqs", "max_num_batched_tokens", "block_size", "gpu_memory_utilization"});
    if (const auto v = m.optional("policy")) {
      spec.policies.clear();
      for (const YamlValue& item : one_or_many(*v)) {
        spec.policies.push_back(
            parse_named(item, parse_scheduler_policy, "scheduler policy",
                        enum_names(std::array{SchedulerPolicy::kVllm, SchedulerPolicy::kNoEvict,
                                              SchedulerPolicy::kMaxUtilization})));
      }
    }
    if (const auto v = m.optional("max_num_seqs")) spec.max_num_seqs = read_int_grid(*v);
    if (const auto v = m.optional("max_num_batched_tokens"))
      spec.max_num_batched_tokens = read_count_grid(*v);
    if (const auto v = m.optional("block_size")) {
      spec.base.capacity.block_size = v->as_int();
      if (spec.base.capacity.block_size < 1) v->fail("must be at least 1");
    }
    if (const auto v = m.optional("gpu_memory_utilization")) {
      spec.base.capacity.gpu_memory_utilization = v->as_double();
      if (!(spec.base.capacity.gpu_memory_utilization > 0.0 &&
            spec.base.capacity.gpu_memory_utilization <= 1.0))
        v->fail(fmt::format("must be in (0, 1], got {}", spec.base.capacity.gpu_memory_utilization));
    }
  }
  for (const int t : spec.tp) {
    if (t < 1) s.required("tp").fail("must be at least 1");
  }
  read_run_options(s, spec.base);
  if (const auto b = s.optional("budget")) {
    const YamlMap m = b->as_map({"max_gpus"});
    const YamlValue v = m.required("max_gpus");
    spec.max_gpus = v.as_int();
    if (spec.max_gpus < 1) v.fail("must be at least 1");
  }
  if (const auto se = s.optional("search")) {
    const YamlMap m = se->as_map({"requests_per_replica", "rate_tolerance", "top"});
    if (const auto v = m.optional("requests_per_replica")) {
      spec.requests_per_replica = v->parse_with(parse_count);
      if (spec.requests_per_replica < 100)
        v->fail("must be at least 100 (percentiles of fewer requests say little)");
    }
    if (const auto v = m.optional("rate_tolerance")) {
      spec.rate_tolerance = v->as_double();
      if (!(spec.rate_tolerance > 0.0 && spec.rate_tolerance < 0.5)) v->fail("must be in (0, 0.5)");
    }
    if (const auto v = m.optional("top")) {
      spec.top = v->as_int();
      if (spec.top < 0) v->fail("cannot be negative");
    }
  }

  const YamlValue wv = s.required("workload");
  if (const auto r = wv.as_open_map().optional("requests")) {
    r->fail("a plan scales the request count with the replicas: set `search.requests_per_replica` instead");
  }
  spec.base.workload = read_workload(wv, dir);
  WorkloadSpec& wl = spec.base.workload;
  if (wl.arrival == ArrivalKind::kClosedLoop) {
    wv.as_open_map().required("arrival").fail(
        "a plan serves a target rate: use `arrival: poisson` with a `rate`, or a `trace`");
  }
  wl.num_requests = wl.arrival == ArrivalKind::kTrace ? static_cast<std::int64_t>(wl.trace.size())
                                                      : spec.requests_per_replica;
  const YamlValue slo = s.required("slo");
  spec.base.slo = read_slo(slo);
  if (spec.base.slo.percentiles.empty()) {
    slo.fail(
        "a plan needs at least one percentile target, such as `ttft: {p99: 2 s}` or `tpot: {p90: 50 ms}`");
  }
  if (const auto m = s.optional("measure")) spec.base.measure = read_measure(*m, wl);
  return spec;
}

void apply_price_override(PlanSpec& spec, std::string_view text) {
  const PriceOverride o = parse_price_override(text, /*gpu_required=*/true);
  std::vector<HardwareSpec*> hws;
  for (PlanGpu& g : spec.gpus) hws.push_back(&g.hw);
  apply_price_override(o, hws);
  for (PlanGpu& g : spec.gpus) g.price_per_gpu_hour = *g.hw.price_per_gpu_hour;
}

}  // namespace mlasim
