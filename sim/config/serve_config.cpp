// Serve configs: YAML -> ServeSpec (+ sweep axis). Schema: sim/serving/README.md.
#include "sim/config/serve_config.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

#include "models/precision.hpp"
#include "models/variant.hpp"
#include "models/workload.hpp"
#include "sim/config/loader.hpp"
#include "sim/config/serve_sections.hpp"
#include "sim/config/yaml_reader.hpp"
#include "sim/device/device_model.hpp"
#include "sim/error.hpp"
#include "sim/serving/workload_spec.hpp"
#include "sim/units.hpp"

namespace mlasim {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxSweepPoints = 10'000;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::int64_t positive_count(const YamlValue& v) {
  const std::int64_t n = v.parse_with(parse_count);
  if (n < 1) v.fail(fmt::format("must be at least 1, got {}", n));
  return n;
}

int positive_int(const YamlValue& v) {
  const std::int64_t n = positive_count(v);
  if (n > std::numeric_limits<int>::max()) v.fail(fmt::format("value {} is out of range", n));
  return static_cast<int>(n);
}

/// A count in 1 .. max.
int bounded_int(const YamlValue& v, int max) {
  const std::int64_t n = positive_count(v);
  if (n > max) v.fail(fmt::format("{} is above the limit of {}", n, max));
  return static_cast<int>(n);
}

/// A Poisson rate whose mean gap between arrivals fits the 64-bit picosecond clock.
void check_poisson_rate(double rate_per_s, const YamlValue& at) {
  if (rate_per_s < kMinPoissonRatePerS) {
    at.fail(
        fmt::format("{:g} req/s puts the mean gap between arrivals ({:g} s) beyond the 64-bit picosecond "
                    "clock (about 106 days): the rate must be at least {:.3g} req/s",
                    rate_per_s, 1.0 / rate_per_s, kMinPoissonRatePerS));
  }
}

double positive_double(const YamlValue& v) {
  const double x = v.as_double();
  if (!(x > 0.0) || !std::isfinite(x)) v.fail(fmt::format("must be a positive number, got {}", x));
  return x;
}

/// The default upper clip of a normal or lognormal length, ⌈x⌉ tokens; a located error (at `at`) when it
/// is beyond kMaxTokens, rather than an undefined float-to-integer cast.
std::int64_t default_max(double x, const YamlValue& at, std::string_view formula) {
  const double hi = std::ceil(x);
  if (!(hi <= static_cast<double>(kMaxTokens))) {
    at.fail(
        fmt::format("{} = {:g} tokens is beyond the limit of 2^50 tokens: give a smaller value or an "
                    "explicit `max:`",
                    formula, hi));
  }
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(hi));
}

LengthSpec read_length(const YamlValue& v, const fs::path& dir) {
  if (v.is_scalar()) return LengthSpec::fixed(positive_count(v));
  const YamlMap m =
      v.as_map({"distribution", "value", "min", "max", "mean", "stddev", "median", "sigma", "file"});
  const YamlValue kind_value = m.required("distribution");
  const std::string kind = kind_value.as_string();
  LengthSpec s;
  auto need = [&](std::string_view key) { return m.required(key); };
  auto clip = [&] {
    if (const auto x = m.optional("min")) s.min = positive_count(*x);
    if (const auto x = m.optional("max")) s.max = positive_count(*x);
    if (s.max < s.min) m.required("max").fail(fmt::format("max ({}) is below min ({})", s.max, s.min));
  };
  auto only = [&](std::initializer_list<std::string_view> allowed) {
    for (const YamlEntry& e : m.entries()) {
      if (e.key == "distribution") continue;
      bool ok = false;
      for (std::string_view a : allowed) ok = ok || e.key == a;
      if (!ok) e.value.fail(fmt::format("`{}` does not apply to the {} distribution", e.key, kind));
    }
  };
  if (kind == "fixed") {
    only({"value"});
    s = LengthSpec::fixed(positive_count(need("value")));
  } else if (kind == "uniform") {
    only({"min", "max"});
    s.kind = LengthSpec::Kind::kUniform;
    s.min = positive_count(need("min"));
    s.max = positive_count(need("max"));
    if (s.max < s.min) need("max").fail(fmt::format("max ({}) is below min ({})", s.max, s.min));
  } else if (kind == "normal") {
    only({"mean", "stddev", "min", "max"});
    s.kind = LengthSpec::Kind::kNormal;
    s.mean = positive_double(need("mean"));
    s.stddev = need("stddev").as_double();
    if (!(s.stddev >= 0) || !std::isfinite(s.stddev)) need("stddev").fail("must be a finite number >= 0");
    if (!m.has("max")) s.max = default_max(s.mean + 6.0 * s.stddev, need("stddev"), "mean + 6 stddev");
    clip();
  } else if (kind == "lognormal") {
    only({"median", "sigma", "min", "max"});
    s.kind = LengthSpec::Kind::kLognormal;
    s.median = positive_double(need("median"));
    s.sigma = need("sigma").as_double();
    if (!(s.sigma >= 0) || !std::isfinite(s.sigma)) need("sigma").fail("must be a finite number >= 0");
    if (!m.has("max"))
      s.max = default_max(s.median * std::exp(6.0 * s.sigma), need("sigma"), "median × e^(6 sigma)");
    clip();
  } else if (kind == "histogram") {
    only({"file"});
    const YamlValue file = need("file");
    s = load_referenced(file, [&] { return load_length_histogram(relative_to(dir, file.as_string())); });
  } else {
    kind_value.fail(unknown_name_message("length distribution", kind,
                                         {"fixed", "uniform", "normal", "lognormal", "histogram"}));
  }
  return s;
}

std::vector<double> read_rate_grid(const YamlValue& v) {
  std::vector<double> out;
  const std::vector<YamlValue> items = v.is_list() ? v.as_list() : std::vector<YamlValue>{v};
  for (const YamlValue& item : items) {
    if (!item.is_scalar())
      item.fail("expected a rate such as `10 req/s` or a range such as `1..64 x2 req/s`");
    const std::vector<double> part = item.parse_with(parse_rate_grid);
    for (const double r : part) check_poisson_rate(r, item);
    out.insert(out.end(), part.begin(), part.end());
  }
  if (out.empty()) v.fail("the grid is empty");
  return out;
}

/// A plain decimal number, the whole text; nullopt otherwise.
std::optional<double> plain_number(std::string_view t) {
  t = trim(t);
  double x = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), x);
  if (ec != std::errc() || end != t.data() + t.size() || t.empty()) return std::nullopt;
  return x;
}

/// `10%` (a fraction of the requests) or a count (`500`).
RequestShare read_share(const YamlValue& v) {
  const std::string text = v.as_string();
  const std::string_view t = trim(text);
  RequestShare share;
  if (!t.empty() && t.back() == '%') {
    const auto pct = plain_number(t.substr(0, t.size() - 1));
    if (!pct) {
      v.fail(fmt::format("expected a share of the requests such as `10%` or a count such as `500`, got `{}`",
                         text));
    }
    if (!(*pct >= 0.0 && *pct < 100.0)) v.fail(fmt::format("must be in [0%, 100%), got {}", text));
    share.fraction = *pct / 100.0;
    return share;
  }
  try {
    share.count = parse_count(t);
  } catch (const InputError&) {
    v.fail(fmt::format("expected a share of the requests such as `10%` or a count such as `500`, got `{}`",
                       text));
  }
  if (share.count < 0) v.fail(fmt::format("must be at least 0, got {}", share.count));
  return share;
}

/// A fraction in (0, 1): `5%` or `0.05`.
double read_fraction(const YamlValue& v) {
  const std::string text = v.as_string();
  const std::string_view t = trim(text);
  const bool pct = t.ends_with('%');
  const auto number = plain_number(pct ? t.substr(0, t.size() - 1) : t);
  if (!number) v.fail(fmt::format("expected a fraction such as `5%` or `0.05`, got `{}`", text));
  const double x = pct ? *number / 100.0 : *number;
  if (!(x > 0.0 && x < 1.0)) v.fail(fmt::format("must be between 0 and 1 (0% and 100%), got `{}`", text));
  return x;
}

}  // namespace

TimePs read_time(const YamlValue& v) {
  const double s = v.as_quantity(Dimension::kTime);
  if (!(s > 0.0)) v.fail("must be positive");
  try {
    return seconds_to_ps(s);
  } catch (const InternalError&) {
    v.fail("too long for the picosecond clock (at most about 106 days)");
  }
}

/// `slo:` — per metric, a time (a per-request threshold, for goodput) or a map of percentile targets
/// (`{p99: 2 s}`), which may also carry the per-request threshold as `per_request`.
SloSpec read_slo(const YamlValue& value) {
  const YamlMap m = value.as_map({"ttft", "tpot", "itl", "e2e"});
  SloSpec slo;
  const std::array<std::pair<SloMetric, TimePs*>, 4> metrics{{{SloMetric::kTtft, &slo.ttft_ps},
                                                              {SloMetric::kTpot, &slo.tpot_ps},
                                                              {SloMetric::kItl, nullptr},
                                                              {SloMetric::kE2e, &slo.e2e_ps}}};
  for (const auto& [metric, per_request] : metrics) {
    const std::string key(to_string(metric));
    const auto v = m.optional(key);
    if (!v) continue;
    if (v->is_scalar()) {
      if (per_request == nullptr) {
        v->fail(
            "an ITL target needs a percentile, such as `itl: {p99: 50 ms}` (per-request thresholds apply to "
            "ttft, tpot and e2e, as vLLM's --goodput does)");
      }
      *per_request = read_time(*v);
      continue;
    }
    std::vector<std::string> keys{"p50", "p90", "p95", "p99"};
    if (per_request != nullptr) keys.emplace_back("per_request");
    const YamlMap targets = v->as_map(keys);
    if (targets.entries().empty()) v->fail(fmt::format("give at least one of {}", join_names(keys)));
    for (const int p : {50, 90, 95, 99}) {
      if (const auto t = targets.optional(fmt::format("p{}", p))) {
        slo.percentiles.push_back(PercentileSlo{metric, p, read_time(*t)});
      }
    }
    if (const auto t = targets.optional("per_request")) *per_request = read_time(*t);
  }
  return slo;
}

DeviceMode read_device_mode(const YamlValue& v) {
  return parse_named(
      v, parse_device_mode, "device mode",
      enum_names(std::array{DeviceMode::kSpeedOfLight, DeviceMode::kDatasheet, DeviceMode::kCalibrated}));
}

LaunchMode read_launch_mode(const YamlValue& v) {
  return parse_named(v, parse_launch_mode, "launch mode",
                     enum_names(std::array{LaunchMode::kGraph, LaunchMode::kEager}));
}

MlaMode read_mla_mode(const YamlValue& v) {
  return parse_named(v, parse_mla_mode, "MLA mode",
                     enum_names(std::array{MlaMode::kAuto, MlaMode::kAbsorbed, MlaMode::kNaive}));
}

void read_run_options(const YamlMap& s, ServeSpec& spec) {
  if (const auto v = s.optional("router")) {
    spec.router =
        parse_named(*v, parse_router_policy, "router",
                    enum_names(std::array{RouterPolicy::kRoundRobin, RouterPolicy::kLeastOutstanding}));
  }
  if (const auto v = s.optional("mode")) spec.device_mode = read_device_mode(*v);
  if (const auto v = s.optional("launch")) spec.launch = read_launch_mode(*v);
  if (const auto v = s.optional("host_overhead")) {
    spec.host_overhead_s = v->as_quantity(Dimension::kTime);
    if (spec.host_overhead_s < 0.0 || spec.host_overhead_s > 1.0)
      v->fail("must be between 0 and 1 s per step");
  }
  if (const auto v = s.optional("mla_mode")) spec.mla_mode = read_mla_mode(*v);
}

const std::vector<std::string>& layout_option_keys() {
  static const std::vector<std::string> keys{
      "expert_parallel", "redundant_experts", "expert_imbalance", "micro_batches", "pp", "fuse_allreduce"};
  return keys;
}

std::vector<std::string> with_layout_keys(std::vector<std::string> keys) {
  keys.insert(keys.end(), layout_option_keys().begin(), layout_option_keys().end());
  return keys;
}

bool read_layout_options(const YamlMap& m, Parallelism& layout) {
  if (const auto v = m.optional("redundant_experts")) layout.redundant_experts = v->as_int();
  if (const auto v = m.optional("expert_imbalance")) layout.expert_imbalance = v->as_double();
  if (const auto v = m.optional("micro_batches")) layout.micro_batches = v->as_int();
  if (const auto v = m.optional("pp")) layout.pp = v->as_int();  // pipeline stages of tp GPUs each
  if (const auto v = m.optional("fuse_allreduce")) layout.fuse_allreduce = v->as_bool();
  return m.optional_bool("expert_parallel", false);
}

void check_layout(const YamlMap& m, const Parallelism& p) {
  try {
    check_parallelism(p);
  } catch (const InputError& e) {
    const std::string key = e.key_path() == "ep" ? "expert_parallel" : e.key_path();
    if (const auto v = m.optional(key)) v->fail(e.message());
    throw InputError(m.where(), m.key_path(), fmt::format("{}: {}", key, e.message()));
  }
}

Speculation read_mtp(const YamlValue& value) {
  const YamlMap m = value.as_map({"depth", "acceptance"});
  const YamlValue depth = m.required("depth");
  Speculation mtp;
  mtp.depth = depth.as_int();
  std::optional<YamlValue> acceptance = m.optional("acceptance");
  if (!acceptance && mtp.depth > 0) acceptance = m.required("acceptance");  // reports the missing key
  if (acceptance) {
    if (acceptance->is_list()) {
      for (const YamlValue& item : acceptance->as_list()) mtp.acceptance.push_back(item.as_double());
    } else {
      mtp.acceptance.push_back(acceptance->as_double());
    }
  }
  try {
    check_speculation(mtp);
  } catch (const InputError& e) {
    (e.key_path() == "mtp.acceptance" && acceptance ? *acceptance : depth).fail(e.message());
  }
  return mtp;
}

WorkloadSpec read_workload(const YamlValue& value, const fs::path& dir) {
  const YamlMap w = value.as_map({"arrival", "rate", "concurrency", "ramp", "trace", "requests", "seed",
                                  "prompt_tokens", "output_tokens"});
  WorkloadSpec wl;
  const YamlValue arrival = w.required("arrival");
  wl.arrival = parse_named(arrival,
                           [](std::string_view t) {
                             if (t == "poisson") return ArrivalKind::kPoisson;
                             if (t == "closed_loop") return ArrivalKind::kClosedLoop;
                             if (t == "trace") return ArrivalKind::kTrace;
                             throw InputError("unknown arrival");
                           },
                           "arrival process", {"poisson", "closed_loop", "trace"});
  auto forbid = [&](std::string_view key, std::string_view why) {
    if (const auto v = w.optional(key)) v->fail(fmt::format("`{}` does not apply to {}", key, why));
  };
  switch (wl.arrival) {
    case ArrivalKind::kPoisson: {
      const YamlValue r = w.required("rate");
      wl.rate_per_s = r.as_quantity(Dimension::kRate);
      if (!(wl.rate_per_s > 0.0)) r.fail("must be positive");
      check_poisson_rate(wl.rate_per_s, r);
      forbid("concurrency", "Poisson arrivals");
      forbid("ramp", "Poisson arrivals (only a closed loop's clients start over a ramp)");
      forbid("trace", "Poisson arrivals");
      break;
    }
    case ArrivalKind::kClosedLoop:
      wl.concurrency = bounded_int(w.required("concurrency"), kMaxConcurrency);
      if (const auto v = w.optional("ramp")) {
        const double ramp_s = v->as_quantity(Dimension::kTime);
        if (ramp_s < 0.0) v->fail("must be at least 0 s");
        try {
          wl.ramp_ps = seconds_to_ps(ramp_s);
        } catch (const InternalError&) {
          v->fail("too long for the picosecond clock (at most about 106 days)");
        }
      }
      forbid("rate", "a closed loop");
      forbid("trace", "a closed loop");
      break;
    case ArrivalKind::kTrace: {
      const YamlValue trace = w.required("trace");
      wl.trace_source = relative_to(dir, trace.as_string()).string();
      wl.trace = load_referenced(trace, [&] { return load_trace(wl.trace_source); });
      forbid("rate", "a trace");
      forbid("concurrency", "a trace");
      forbid("ramp", "a trace (only a closed loop's clients start over a ramp)");
      forbid("prompt_tokens", "a trace (lengths come from the file)");
      forbid("output_tokens", "a trace (lengths come from the file)");
      break;
    }
  }
  if (const auto v = w.optional("requests")) {
    wl.num_requests = positive_count(*v);
    if (wl.num_requests > kMaxRequests) {
      v->fail(
          fmt::format("{} requests is above the limit of {} per run (memory and run time grow with "
                      "each request)",
                      wl.num_requests, kMaxRequests));
    }
  } else {
    wl.num_requests = wl.arrival == ArrivalKind::kTrace ? static_cast<std::int64_t>(wl.trace.size()) : 1000;
  }
  if (const auto v = w.optional("seed")) wl.seed = static_cast<std::uint64_t>(v->as_int64());
  if (const auto v = w.optional("prompt_tokens")) wl.prompt = read_length(*v, dir);
  if (const auto v = w.optional("output_tokens")) wl.output = read_length(*v, dir);
  return wl;
}

MeasureSpec read_measure(const YamlValue& value, const WorkloadSpec& wl) {
  MeasureSpec out;
  const YamlMap m = value.as_map({"warmup", "drain", "overload_tolerance"});
  if (const auto v = m.optional("warmup")) out.warmup = read_share(*v);
  if (const auto v = m.optional("drain")) out.drain = read_share(*v);
  if (const auto v = m.optional("overload_tolerance")) out.overload_tolerance = read_fraction(*v);
  // Warm-up and drain must leave requests to measure (counts are checked against `requests` below).
  try {
    (void)measurement_window(
        out, static_cast<std::uint64_t>(
                 wl.arrival == ArrivalKind::kTrace
                     ? std::min<std::int64_t>(wl.num_requests, static_cast<std::int64_t>(wl.trace.size()))
                     : wl.num_requests));
  } catch (const InputError& e) {
    value.fail(e.message());
  }
  return out;
}

std::vector<double> parse_rate_grid(std::string_view text_in) {
  const std::string_view text = trim(text_in);
  const std::size_t dots = text.find("..");
  if (dots == std::string_view::npos) {
    const double r = parse_quantity(text, Dimension::kRate);
    if (!(r > 0.0)) throw InputError(fmt::format("rate must be positive, got `{}`", text));
    return {r};
  }
  // "A..B xF UNIT" or "A..B +S UNIT"
  const std::string_view start_text = trim(text.substr(0, dots));
  std::string_view rest = trim(text.substr(dots + 2));
  const std::size_t sp1 = rest.find_first_of(" \t");
  const std::string usage = fmt::format(
      "range `{}` needs a step and a unit: `1..64 x2 req/s` (geometric) or `5..50 +5 req/s` (arithmetic)",
      text);
  if (sp1 == std::string_view::npos) throw InputError(usage);
  const std::string_view end_text = rest.substr(0, sp1);
  rest = trim(rest.substr(sp1));
  const std::size_t sp2 = rest.find_first_of(" \t");
  if (sp2 == std::string_view::npos) throw InputError(usage);
  const std::string_view step_text = rest.substr(0, sp2);
  const std::string unit(trim(rest.substr(sp2)));
  if (step_text.size() < 2 || (step_text.front() != 'x' && step_text.front() != '+')) throw InputError(usage);
  const double start = parse_quantity(fmt::format("{} {}", start_text, unit), Dimension::kRate);
  const double end = parse_quantity(fmt::format("{} {}", end_text, unit), Dimension::kRate);
  if (!(start > 0.0) || end < start)
    throw InputError(fmt::format("range `{}` must satisfy 0 < start <= end", text));
  std::vector<double> out;
  if (step_text.front() == 'x') {
    const double f = parse_quantity(fmt::format("{} 1/s", step_text.substr(1)), Dimension::kRate);
    if (!(f > 1.0)) throw InputError(fmt::format("geometric range `{}` needs a factor above 1", text));
    for (int i = 0;; ++i) {
      const double v = start * std::pow(f, i);
      if (v > end * (1.0 + 1e-12)) break;
      out.push_back(v);
    }
  } else {
    const double step = parse_quantity(fmt::format("{} {}", step_text.substr(1), unit), Dimension::kRate);
    if (!(step > 0.0)) throw InputError(fmt::format("arithmetic range `{}` needs a positive step", text));
    for (int i = 0;; ++i) {
      const double v = start + step * i;
      if (v > end * (1.0 + 1e-12)) break;
      out.push_back(v);
      if (out.size() > kMaxSweepPoints) throw InputError(fmt::format("range `{}` has too many points", text));
    }
  }
  return out;
}

namespace {

/// One pool of `disaggregated:`: `replicas` and the layout keys the top level has, into `replicas` and `p`.
void read_pool(const YamlValue& value, const ModelSpec& model, int& replicas, Parallelism& p) {
  const YamlMap m = value.as_map(with_layout_keys({"replicas", "tp", "dp_attention"}));
  if (const auto v = m.optional("replicas")) replicas = bounded_int(*v, kMaxReplicas);
  if (const auto v = m.optional("tp")) p.tp = positive_int(*v);
  if (const auto v = m.optional("dp_attention")) p.dp_attention = v->as_bool();
  p.ep = read_layout_options(m, p) ? p.tp : 1;
  check_layout(m, p);
  if (p.ep > 1 && !model.ffn.is_moe()) {
    m.required("expert_parallel")
        .fail(fmt::format("{} has no experts: expert parallelism (ep {}) needs an MoE model", model.name,
                          p.ep));
  }
}

/// `disaggregated: {prefill: {...}, decode: {...}, kv_transfer: {bandwidth, latency}}`; the transfer defaults
/// to the profile's scale-out network (its scale-up interconnect when it has none).
DisaggregatedSpec read_disaggregated(const YamlValue& value, const ModelSpec& model, const HardwareSpec& hw) {
  const YamlMap m = value.as_map({"prefill", "decode", "kv_transfer"});
  DisaggregatedSpec d;
  read_pool(m.required("prefill"), model, d.prefill_replicas, d.prefill);
  read_pool(m.required("decode"), model, d.decode_replicas, d.decode);
  const Interconnect& link = hw.scale_out.bandwidth_bytes_per_s > 0 ? hw.scale_out : hw.interconnect;
  d.kv_bandwidth_bytes_per_s = link.bandwidth_bytes_per_s;
  d.kv_latency_s = link.latency_s;
  if (const auto t = m.optional("kv_transfer")) {
    const YamlMap k = t->as_map({"bandwidth", "latency"});
    if (const auto v = k.optional("bandwidth")) {
      d.kv_bandwidth_bytes_per_s = v->as_quantity(Dimension::kBandwidth);
      if (!(d.kv_bandwidth_bytes_per_s > 0 && std::isfinite(d.kv_bandwidth_bytes_per_s)))
        v->fail("the KV transfer bandwidth must be positive");
    }
    if (const auto v = k.optional("latency")) {
      d.kv_latency_s = v->as_quantity(Dimension::kTime);
      if (!(d.kv_latency_s >= 0 && d.kv_latency_s < 1e6))
        v->fail("the KV transfer latency must be 0 .. 1e6 s");
    }
  }
  if (!(d.kv_bandwidth_bytes_per_s > 0)) {
    value.fail(fmt::format("{} gives no link bandwidth: set disaggregated.kv_transfer.bandwidth", hw.name));
  }
  return d;
}

}  // namespace

ServeConfig load_serve_config(const fs::path& path) {
  const YamlDocument doc = YamlDocument::parse_file(path, "serve config");
  const YamlMap root = doc.root().as_map({"serve"});
  const YamlMap s = root.required("serve").as_map(with_layout_keys({"name",         "model",
                                                                    "variant",      "hardware",
                                                                    "tp",           "dp_attention",
                                                                    "mtp",          "replicas",
                                                                    "router",       "mode",
                                                                    "launch",       "host_overhead",
                                                                    "mla_mode",     "precision",
                                                                    "scheduler",    "workload",
                                                                    "slo",          "measure",
                                                                    "limits",       "output",
                                                                    "sweep",        "price_per_gpu_hour",
                                                                    "disaggregated"}));
  const fs::path dir = path.parent_path();
  ServeConfig cfg;
  ServeSpec& spec = cfg.spec;
  spec.source = path.string();
  spec.config_json = doc.to_json_text();
  spec.name = s.optional_string("name", path.stem().string());
  spec.model = resolve_entry(s.required("model"), dir, resolve_model);
  if (const auto v = s.optional("variant")) {
    const VariantSpec variant = v->parse_with(parse_variant);
    spec.variant = variant.to_string();
    try {
      spec.model = apply_variant(spec.model, variant);
    } catch (const InputError& e) {
      v->fail(e.message());
    }
  }
  spec.hardware = resolve_entry(s.required("hardware"), dir, resolve_hw);
  if (const auto v = s.optional("price_per_gpu_hour"))
    spec.hardware.price_per_gpu_hour = v->parse_with(parse_price);
  if (const auto v = s.optional("tp")) spec.parallel.tp = positive_int(*v);
  if (const auto v = s.optional("dp_attention")) spec.parallel.dp_attention = v->as_bool();
  // The sweep's spelling: `expert_parallel: true` makes every GPU of the replica an expert rank (ep = tp).
  const bool expert_parallel = read_layout_options(s, spec.parallel);
  spec.parallel.ep = expert_parallel ? spec.parallel.tp : 1;
  check_layout(s, spec.parallel);
  if (spec.parallel.ep > 1 && !spec.model.ffn.is_moe()) {
    s.required("expert_parallel")
        .fail(fmt::format("{} has no experts: expert parallelism (ep {}) needs an MoE model", spec.model.name,
                          spec.parallel.ep));
  }
  if (const auto v = s.optional("mtp")) spec.mtp = read_mtp(*v);
  if (const auto v = s.optional("replicas")) spec.replicas = bounded_int(*v, kMaxReplicas);
  if (const auto dv = s.optional("disaggregated")) {
    for (const std::string& key : with_layout_keys({"replicas", "tp", "dp_attention"})) {
      if (s.has(key)) {
        s.required(key).fail(
            fmt::format("`{0}` and `disaggregated` exclude each other: give `{0}` per pool, under "
                        "disaggregated.prefill and disaggregated.decode",
                        key));
      }
    }
    spec.disaggregated = read_disaggregated(*dv, spec.model, spec.hardware);
  }
  read_run_options(s, spec);
  if (spec.model.weights_dtype) spec.precision.weights = *spec.model.weights_dtype;  // unless precision says
  if (const auto p = s.optional("precision")) {
    const YamlMap m = p->as_map({"weights", "kv_cache", "activations"});
    auto dtype = [](const YamlValue& v) { return parse_named(v, parse_dtype, "dtype", known_dtypes()); };
    if (const auto v = m.optional("weights")) spec.precision.weights = dtype(*v);
    if (const auto v = m.optional("kv_cache")) spec.precision.kv_cache = dtype(*v);
    if (const auto v = m.optional("activations")) spec.precision.activations = dtype(*v);
  }
  if (const auto sc = s.optional("scheduler")) {
    const YamlMap m = sc->as_map({"policy", "max_num_seqs", "max_num_batched_tokens", "block_size",
                                  "gpu_memory_utilization", "kv_blocks"});
    if (const auto v = m.optional("policy")) {
      spec.scheduler.policy =
          parse_named(*v, parse_scheduler_policy, "scheduler policy",
                      enum_names(std::array{SchedulerPolicy::kVllm, SchedulerPolicy::kNoEvict,
                                            SchedulerPolicy::kMaxUtilization}));
    }
    if (const auto v = m.optional("max_num_seqs")) spec.scheduler.max_num_seqs = positive_int(*v);
    if (const auto v = m.optional("max_num_batched_tokens"))
      spec.scheduler.max_num_batched_tokens = positive_count(*v);
    if (const auto v = m.optional("block_size")) spec.capacity.block_size = positive_int(*v);
    if (const auto v = m.optional("gpu_memory_utilization")) {
      spec.capacity.gpu_memory_utilization = v->as_double();
      if (!(spec.capacity.gpu_memory_utilization > 0.0 && spec.capacity.gpu_memory_utilization <= 1.0)) {
        v->fail(fmt::format("must be in (0, 1], got {}", spec.capacity.gpu_memory_utilization));
      }
    }
    if (const auto v = m.optional("kv_blocks")) spec.kv_blocks = positive_count(*v);
  }

  spec.workload = read_workload(s.required("workload"), dir);
  const WorkloadSpec& wl = spec.workload;
  if (const auto slo = s.optional("slo")) spec.slo = read_slo(*slo);
  if (const auto measure = s.optional("measure")) spec.measure = read_measure(*measure, wl);
  if (const auto lim = s.optional("limits")) {
    const YamlMap m = lim->as_map({"max_time", "max_events"});
    if (const auto v = m.optional("max_time")) spec.limits.max_time_ps = read_time(*v);
    if (const auto v = m.optional("max_events"))
      spec.limits.max_events = static_cast<std::uint64_t>(positive_count(*v));
  }
  if (const auto out = s.optional("output")) {
    const YamlMap m = out->as_map({"per_request_csv", "timeseries_interval", "check_invariants"});
    spec.per_request_csv = m.optional_bool("per_request_csv", spec.per_request_csv);
    if (const auto v = m.optional("timeseries_interval")) spec.timeseries_interval_ps = read_time(*v);
    spec.check_invariants = m.optional_bool("check_invariants", false);
  }
  if (const auto sw = s.optional("sweep")) {
    const YamlMap m = sw->as_map({"rate", "concurrency"});
    if (m.has("rate") && m.has("concurrency"))
      m.required("concurrency").fail("sweep over `rate` or `concurrency`, not both");
    if (const auto v = m.optional("rate")) {
      if (wl.arrival != ArrivalKind::kPoisson) v->fail("a rate sweep needs `arrival: poisson`");
      cfg.sweep.axis = ServeSweepSpec::Axis::kRate;
      cfg.sweep.rates_per_s = read_rate_grid(*v);
    } else if (const auto c = m.optional("concurrency")) {
      if (wl.arrival != ArrivalKind::kClosedLoop) c->fail("a concurrency sweep needs `arrival: closed_loop`");
      cfg.sweep.axis = ServeSweepSpec::Axis::kConcurrency;
      cfg.sweep.concurrency = read_count_grid(*c);
      for (const std::int64_t n : cfg.sweep.concurrency) {
        if (n > kMaxConcurrency)
          c->fail(fmt::format("concurrency {} is above the limit of {}", n, kMaxConcurrency));
      }
    } else {
      (void)m.required("rate");  // reports the missing key
    }
  }
  // Fail early, located, when the model does not fit the GPUs.
  if (const auto& d = spec.disaggregated) {
    const YamlMap dm = s.required("disaggregated").as_map({"prefill", "decode", "kv_transfer"});
    for (const auto& [key, layout] : {std::pair{"prefill", d->prefill}, {"decode", d->decode}}) {
      try {
        (void)serve_capacity(spec, layout);
      } catch (const InputError& e) {
        const YamlValue pool = dm.required(key);
        const YamlMap pm = pool.as_map(with_layout_keys({"replicas", "tp", "dp_attention"}));
        const YamlValue at = pm.has("tp") ? pm.required("tp") : pool;
        throw InputError(at.where(), at.key_path(), e.message());
      }
    }
    return cfg;
  }
  try {
    (void)serve_capacity(spec);
  } catch (const InputError& e) {
    const YamlValue at = s.has("tp") ? s.required("tp") : s.required("model");
    throw InputError(at.where(), at.key_path(), e.message());
  }
  return cfg;
}

}  // namespace mlasim
