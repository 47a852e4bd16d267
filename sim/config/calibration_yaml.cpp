// The `calibration:` block of a hardware profile: schema in hw_profiles/README.md. Scalars carry units like
// every quantity in mlasim's YAML; the measured tables are plain numbers whose unit is in their key
// (`tflops`: TFLOP/s, `time_us`: microseconds), written and read only by `mlasim calibrate` and this file.
#include "sim/config/calibration_yaml.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "sim/config/loader.hpp"
#include "sim/error.hpp"
#include "sim/units.hpp"

namespace mlasim {

std::map<Dtype, double> read_rates(const YamlValue& value) {
  const YamlMap m = value.as_open_map();
  std::map<Dtype, double> rates;
  for (const YamlEntry& e : m.entries()) {
    const YamlValue key(YAML::Node(e.key), m.child_path(e.key), e.key_where);
    const Dtype d = parse_named(key, parse_dtype, "dtype", known_dtypes());
    if (rates.count(d) != 0) key.fail(fmt::format("dtype `{}` is given twice", to_string(d)));
    rates[d] = e.value.as_quantity(Dimension::kFlopRate);
  }
  return rates;
}

namespace {

/// A list of numbers; `null` items are NaN (not measured) when `allow_missing`.
std::vector<double> read_numbers(const YamlValue& v, bool allow_missing) {
  std::vector<double> out;
  for (const YamlValue& item : v.as_list()) {
    if (allow_missing && item.is_null()) {
      out.push_back(std::numeric_limits<double>::quiet_NaN());
      continue;
    }
    const double x = item.as_double();
    if (!(x > 0.0) || !std::isfinite(x)) item.fail(fmt::format("must be a positive number, got {}", x));
    out.push_back(x);
  }
  return out;
}

/// An axis: positive, strictly ascending, not empty.
std::vector<double> read_axis(const YamlValue& v) {
  std::vector<double> out = read_numbers(v, false);
  if (out.empty()) v.fail("must list at least one value");
  for (std::size_t i = 1; i < out.size(); ++i) {
    if (!(out[i] > out[i - 1])) v.fail("values must be strictly ascending");
  }
  return out;
}

int read_positive_int(const YamlMap& m, std::string_view key) {
  const YamlValue v = m.required(key);
  const int x = v.as_int();
  if (x < 1) v.fail(fmt::format("must be at least 1, got {}", x));
  return x;
}

BandwidthRamp read_ramp(const YamlValue& v) {
  const YamlMap m = v.as_map({"t0", "bw_inf", "min_bytes", "max_bytes"});
  BandwidthRamp r;
  r.t0_s = m.required_quantity("t0", Dimension::kTime);
  r.bw_inf_bytes_per_s = m.required_quantity("bw_inf", Dimension::kBandwidth);
  if (const auto x = m.optional("min_bytes")) r.min_bytes = x->as_quantity(Dimension::kBytes);
  if (const auto x = m.optional("max_bytes")) r.max_bytes = x->as_quantity(Dimension::kBytes);
  if (!(r.bw_inf_bytes_per_s > 0.0)) m.required("bw_inf").fail("must be positive");
  if (r.t0_s < 0.0) m.required("t0").fail("cannot be negative");
  return r;
}

KernelRamp read_kernel_ramp(const YamlValue& v) {
  const YamlMap m = v.as_map({"t0", "bandwidth", "flops"});
  KernelRamp r;
  r.t0_s = m.required_quantity("t0", Dimension::kTime);
  r.bytes_per_s = m.required_quantity("bandwidth", Dimension::kBandwidth);
  if (const auto x = m.optional("flops")) r.flops_per_s = x->as_quantity(Dimension::kFlopRate);
  if (!r.valid()) v.fail("needs t0 >= 0, a positive bandwidth and flops >= 0");
  return r;
}

GemmEfficiencyTable read_gemm_table(const YamlValue& v) {
  const YamlMap m = v.as_map({"label", "shape", "m", "tflops"});
  const YamlMap s = m.required("shape").as_map({"kernel", "dtype", "n", "k", "batch"});
  GemmShapeKey key{s.required_string("kernel"), s.required_string("dtype"), read_positive_int(s, "n"),
                   read_positive_int(s, "k"), s.has("batch") ? read_positive_int(s, "batch") : 1};
  const std::vector<double> ms = read_axis(m.required("m"));
  const std::vector<double> rates = read_numbers(m.required("tflops"), false);
  if (rates.size() != ms.size()) {
    m.required("tflops").fail(fmt::format("has {} values for {} values of m", rates.size(), ms.size()));
  }
  std::vector<GemmPoint> points;
  for (std::size_t i = 0; i < ms.size(); ++i) {
    if (ms[i] != std::floor(ms[i])) m.required("m").fail("values must be whole numbers of tokens");
    points.push_back(GemmPoint{static_cast<std::int64_t>(ms[i]), rates[i], 0.0});
  }
  try {
    return GemmEfficiencyTable(key, std::move(points), m.optional_string("label", ""));
  } catch (const InputError& e) {
    v.fail(e.message());
  }
}

AttentionTable read_attention_table(const YamlValue& v) {
  const YamlMap m = v.as_map({"shape", "batch", "context", "time_us", "mean_context", "variant"});
  const YamlMap s = m.required("shape").as_map({"kernel", "lengths", "s_q", "n_h", "n_kv", "d"});
  AttentionTable t;
  t.kernel = parse_named(s.required("kernel"), parse_attention_kernel, "attention kernel", {"mla", "gqa"});
  const YamlValue lengths = s.required("lengths");
  const std::string lengths_text = lengths.as_string();
  if (lengths_text != "uniform" && lengths_text != "variable") {
    lengths.fail(unknown_name_message("lengths", lengths_text, {"uniform", "variable"}));
  }
  t.variable_lengths = lengths_text == "variable";
  t.s_q = read_positive_int(s, "s_q");
  t.n_h = read_positive_int(s, "n_h");
  t.n_kv = read_positive_int(s, "n_kv");
  t.d = read_positive_int(s, "d");
  if (t.n_h % t.n_kv != 0) s.required("n_kv").fail(fmt::format("({}) must divide n_h ({})", t.n_kv, t.n_h));
  t.batch = read_axis(m.required("batch"));
  t.context = read_axis(m.required("context"));
  const YamlValue rows = m.required("time_us");
  const std::vector<YamlValue> row_values = rows.as_list();
  if (row_values.size() != t.batch.size()) {
    rows.fail(fmt::format("has {} rows for {} batch values", row_values.size(), t.batch.size()));
  }
  bool any = false;
  for (const YamlValue& row : row_values) {
    const std::vector<double> times = read_numbers(row, true);
    if (times.size() != t.context.size()) {
      row.fail(fmt::format("has {} values for {} context values", times.size(), t.context.size()));
    }
    for (const double us : times) {
      t.time_s.push_back(us * 1e-6);
      any = any || !std::isnan(us);
    }
  }
  if (!any) rows.fail("holds no measured value");
  if (const auto means = m.optional("mean_context")) {
    const std::vector<YamlValue> mean_rows = means->as_list();
    if (mean_rows.size() != t.batch.size()) {
      means->fail(fmt::format("has {} rows for {} batch values", mean_rows.size(), t.batch.size()));
    }
    for (const YamlValue& row : mean_rows) {
      const std::vector<double> values = read_numbers(row, true);
      if (values.size() != t.context.size()) {
        row.fail(fmt::format("has {} values for {} context values", values.size(), t.context.size()));
      }
      t.mean_context.insert(t.mean_context.end(), values.begin(), values.end());
    }
  }
  if (const auto variants = m.optional("variant")) {
    const std::vector<YamlValue> variant_rows = variants->as_list();
    if (variant_rows.size() != t.batch.size()) {
      variants->fail(fmt::format("has {} rows for {} batch values", variant_rows.size(), t.batch.size()));
    }
    for (const YamlValue& row : variant_rows) {
      const std::vector<YamlValue> cells = row.as_list();
      if (cells.size() != t.context.size()) {
        row.fail(fmt::format("has {} values for {} context values", cells.size(), t.context.size()));
      }
      for (const YamlValue& cell : cells) t.variant.push_back(cell.is_null() ? "" : cell.as_string());
    }
    for (std::size_t i = 0; i < t.variant.size(); ++i) {
      if (t.variant[i].empty() != std::isnan(t.time_s[i])) {
        variants->fail(
            fmt::format("names a variant where time_us has none, or none where it has one (batch "
                        "{}, context {})",
                        t.batch[i / t.context.size()], t.context[i % t.context.size()]));
      }
    }
  }
  return t;
}

}  // namespace

Calibration read_calibration(const YamlValue& value) {
  const YamlMap m = value.as_map(
      {"fingerprint", "source", "bandwidth", "launch", "gemm_peak", "gemm", "attention_ramps", "attention"});
  Calibration c;
  c.fingerprint = m.optional_string("fingerprint", "");
  c.source = m.optional_string("source", "");
  if (const auto bw = m.optional("bandwidth")) {
    const YamlMap kernels = bw->as_open_map();  // named: entries() refers into it
    for (const YamlEntry& e : kernels.entries()) c.bandwidth[e.key] = read_ramp(e.value);
  }
  if (const auto launch = m.optional("launch")) {
    const YamlMap l = launch->as_map({"eager", "graph", "single"});
    if (const auto x = l.optional("eager")) c.launch_eager_s = x->as_quantity(Dimension::kTime);
    if (const auto x = l.optional("graph")) c.launch_graph_s = x->as_quantity(Dimension::kTime);
    if (const auto x = l.optional("single")) c.launch_single_s = x->as_quantity(Dimension::kTime);
  }
  if (const auto v = m.optional("gemm_peak")) c.gemm_peak_flops_per_s = read_rates(*v);
  if (const auto v = m.optional("gemm")) {
    for (const YamlValue& item : v->as_list()) c.gemm.push_back(read_gemm_table(item));
  }
  if (const auto v = m.optional("attention_ramps")) {
    const YamlMap ramps = v->as_open_map();
    for (const YamlEntry& e : ramps.entries()) c.attention_ramps[e.key] = read_kernel_ramp(e.value);
  }
  if (const auto v = m.optional("attention")) {
    for (const YamlValue& item : v->as_list()) c.attention.push_back(read_attention_table(item));
  }
  return c;
}

namespace {

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char ch : text) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

std::string number(double v) {
  return std::isnan(v) ? "null" : fmt::format("{:.6g}", v);
}

template <class Range, class F>
std::string flow_list(const Range& values, F&& format) {
  std::string out = "[";
  bool first = true;
  for (const auto& v : values) {
    out += (first ? "" : ", ") + format(v);
    first = false;
  }
  return out + "]";
}

}  // namespace

std::string calibration_to_yaml(const Calibration& c) {
  if (c.empty() && c.fingerprint.empty()) return "calibration: {}\n";
  std::string out = "calibration:\n";
  if (!c.fingerprint.empty()) out += "  fingerprint: " + quoted(c.fingerprint) + "\n";
  if (!c.source.empty()) out += "  source: " + quoted(c.source) + "\n";
  if (!c.bandwidth.empty()) {
    out += "  bandwidth:   # t = t0 + bytes / bw_inf per launch, fitted on the bandwidth probe\n";
    for (const auto& [kernel, r] : c.bandwidth) {
      out += fmt::format("    {}: {{t0: {}, bw_inf: {}", kernel, format_si(r.t0_s, "s", 6),
                         format_si(r.bw_inf_bytes_per_s, "B/s", 6));
      if (r.max_bytes > 0.0) {
        out += fmt::format(", min_bytes: {}, max_bytes: {}", format_si(r.min_bytes, "B", 6),
                           format_si(r.max_bytes, "B", 6));
      }
      out += "}\n";
    }
  }
  if (c.launch_eager_s || c.launch_graph_s || c.launch_single_s) {
    std::vector<std::string> parts;
    if (c.launch_eager_s) parts.push_back("eager: " + format_si(*c.launch_eager_s, "s", 6));
    if (c.launch_graph_s) parts.push_back("graph: " + format_si(*c.launch_graph_s, "s", 6));
    if (c.launch_single_s) parts.push_back("single: " + format_si(*c.launch_single_s, "s", 6));
    out += fmt::format("  launch: {{{}}}   # empty kernel, per launch\n", fmt::join(parts, ", "));
  }
  if (!c.gemm_peak_flops_per_s.empty()) {
    std::vector<std::string> rates;
    for (const auto& [dtype, rate] : c.gemm_peak_flops_per_s) {
      rates.push_back(fmt::format("{}: {}", to_string(dtype), format_si(rate, "FLOP/s", 6)));
    }
    out += fmt::format("  gemm_peak: {{{}}}\n", fmt::join(rates, ", "));
  }
  if (!c.attention_ramps.empty()) {
    out +=
        "  attention_ramps:   # t = t0 + max(bytes / bandwidth, FLOPs / flops), outside the measured grids\n";
    for (const auto& [key, r] : c.attention_ramps) {
      out += fmt::format("    {}: {{t0: {}, bandwidth: {}", key, format_si(r.t0_s, "s", 6),
                         format_si(r.bytes_per_s, "B/s", 6));
      if (r.flops_per_s > 0.0) out += ", flops: " + format_si(r.flops_per_s, "FLOP/s", 6);
      out += "}\n";
    }
  }
  if (!c.gemm.empty()) {
    out += "  gemm:   # achieved TFLOP/s versus m (tokens) per probed shape\n";
    for (const GemmEfficiencyTable& t : c.gemm) {
      const GemmShapeKey& k = t.key();
      out += "    - label: " + quoted(t.label()) + "\n";
      out += fmt::format("      shape: {{kernel: {}, dtype: {}, n: {}, k: {}, batch: {}}}\n", k.kernel,
                         k.dtype, k.n, k.k, k.batch);
      out +=
          "      m: " + flow_list(t.points(), [](const GemmPoint& p) { return std::to_string(p.m); }) + "\n";
      out += "      tflops: " + flow_list(t.points(), [](const GemmPoint& p) { return number(p.tflops); }) +
             "\n";
    }
  }
  if (!c.attention.empty()) {
    out +=
        "  attention:   # our decode kernels: median microseconds per call over batch x context (null: not "
        "run)\n";
    for (const AttentionTable& t : c.attention) {
      out += fmt::format("    - shape: {{kernel: {}, lengths: {}, s_q: {}, n_h: {}, n_kv: {}, d: {}}}\n",
                         to_string(t.kernel), t.variable_lengths ? "variable" : "uniform", t.s_q, t.n_h,
                         t.n_kv, t.d);
      out += "      batch: " + flow_list(t.batch, number) + "\n";
      out += "      context: " + flow_list(t.context, number) + "\n";
      out += "      time_us:\n";
      for (std::size_t b = 0; b < t.batch.size(); ++b) {
        std::vector<double> row;
        for (std::size_t ci = 0; ci < t.context.size(); ++ci) row.push_back(t.at(b, ci) * 1e6);
        out += "        - " + flow_list(row, number) + "\n";
      }
      if (!t.mean_context.empty()) {
        out += "      mean_context:\n";
        for (std::size_t b = 0; b < t.batch.size(); ++b) {
          std::vector<double> row;
          for (std::size_t ci = 0; ci < t.context.size(); ++ci) row.push_back(t.mean_context_at(b, ci));
          out += "        - " + flow_list(row, number) + "\n";
        }
      }
      if (!t.variant.empty()) {
        out += "      variant:   # the kernel variant timed there: the fastest that passed its check\n";
        for (std::size_t b = 0; b < t.batch.size(); ++b) {
          std::string row;
          for (std::size_t ci = 0; ci < t.context.size(); ++ci) {
            const std::string& name = t.variant[b * t.context.size() + ci];
            row += (ci == 0 ? "" : ", ") + (name.empty() ? std::string("~") : name);
          }
          out += "        - [" + row + "]\n";
        }
      }
    }
  }
  return out;
}

}  // namespace mlasim
