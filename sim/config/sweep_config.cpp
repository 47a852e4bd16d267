// Sweep experiments (configs/*.yaml with a top-level `sweep:`) and the count-grid syntax they share.
// Schema: sim/config/README.md.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>

#include "models/precision.hpp"
#include "models/variant.hpp"
#include "models/workload.hpp"
#include "sim/config/loader.hpp"
#include "sim/config/serve_sections.hpp"
#include "sim/config/yaml_reader.hpp"
#include "sim/device/device_model.hpp"
#include "sim/error.hpp"
#include "sim/suggest.hpp"
#include "sim/units.hpp"

namespace mlasim {

namespace fs = std::filesystem;

namespace {

// A grid this long is a typo (a missing `x`), not an experiment.
constexpr std::size_t kMaxGridPoints = 100'000;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::int64_t parse_step(std::string_view text, std::string_view range) {
  std::int64_t step = 0;
  try {
    step = parse_count(text);
  } catch (const InputError&) {
    throw InputError(fmt::format("bad step `{}` in range `{}`", clipped(text), clipped(range)));
  }
  return step;
}

std::vector<std::int64_t> parse_range(std::string_view range, std::size_t dots) {
  const std::string_view start_text = trim(range.substr(0, dots));
  std::string_view rest = trim(range.substr(dots + 2));
  const std::size_t space = rest.find_first_of(" \t");
  const std::string needs_step =
      fmt::format("range `{}` needs a step: `1k..128k x2` (geometric) or `1..8 +1` (arithmetic)", range);
  if (space == std::string_view::npos) throw InputError(needs_step);
  const std::string_view end_text = trim(rest.substr(0, space));
  const std::string_view step_text = trim(rest.substr(space));
  if (step_text.size() < 2 || (step_text.front() != 'x' && step_text.front() != '+'))
    throw InputError(needs_step);

  const std::int64_t start = parse_count(start_text);
  const std::int64_t end = parse_count(end_text);
  const std::int64_t step = parse_step(step_text.substr(1), range);
  if (end < start)
    throw InputError(fmt::format("range `{}` ends ({}) before it starts ({})", clipped(range), end, start));

  std::vector<std::int64_t> values;
  if (step_text.front() == 'x') {
    if (step < 2)
      throw InputError(fmt::format("geometric range `{}` needs a factor of at least 2", clipped(range)));
    if (start == 0) throw InputError(fmt::format("geometric range `{}` cannot start at 0", clipped(range)));
    // Inclusive of `end` when the sequence hits it: 1k..128k x2 = 1k, 2k, ..., 128k.
    for (std::int64_t v = start; v <= end; v *= step) {
      values.push_back(v);
      if (v > std::numeric_limits<std::int64_t>::max() / step) break;
    }
  } else {
    if (step < 1)
      throw InputError(fmt::format("arithmetic range `{}` needs a step of at least 1", clipped(range)));
    if (static_cast<std::size_t>((end - start) / step) >= kMaxGridPoints) {
      throw InputError(fmt::format("range `{}` has more than {} points", clipped(range), kMaxGridPoints));
    }
    for (std::int64_t v = start; v <= end; v += step) values.push_back(v);
  }
  return values;
}

// A batch grid: counts and ranges as any count grid, and `max` (the largest batch that fits at each point),
// alone or in the list, once.
std::vector<BatchChoice> read_batch_grid(const YamlValue& v) {
  std::vector<BatchChoice> out;
  for (const YamlValue& item : v.is_list() ? v.as_list() : std::vector<YamlValue>{v}) {
    if (item.is_scalar()) {
      const std::string text = item.as_string();
      if (text == "max") {
        if (std::find(out.begin(), out.end(), BatchChoice::max()) != out.end())
          item.fail("`max` is already in the grid");
        out.push_back(BatchChoice::max());
        continue;
      }
      // Counts and ranges start with a digit: a word here is a misspelt `max` or not a batch at all.
      if (!text.empty() && std::isalpha(static_cast<unsigned char>(text.front())) != 0) {
        std::string lower = text;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const bool near_max = lower.starts_with("max") || closest_match(text, {"max"}).has_value();
        item.fail(
            fmt::format("unknown batch `{}`{} (valid: a count such as `32`, a range such as `1..256 x2`, or "
                        "`max`, the largest batch that fits at each point)",
                        text, near_max ? "; did you mean `max`?" : ""));
      }
    }
    for (const int n : read_int_grid(item)) out.emplace_back(n);
  }
  if (out.empty()) v.fail("the grid is empty");
  return out;
}

Dtype read_dtype(const YamlValue& v) {
  return parse_named(v, parse_dtype, "dtype", known_dtypes());
}

}  // namespace

std::vector<YamlValue> one_or_many(const YamlValue& v) {
  if (v.is_list()) return v.as_list();
  if (!v.is_scalar()) v.fail("expected a name or a list of names");
  return {v};
}

std::vector<int> read_int_grid(const YamlValue& v) {
  std::vector<int> out;
  for (const std::int64_t x : read_count_grid(v)) {
    if (x > std::numeric_limits<int>::max()) v.fail(fmt::format("value {} is out of range", x));
    out.push_back(static_cast<int>(x));
  }
  return out;
}

std::vector<bool> read_bool_list(const YamlValue& v) {
  std::vector<bool> out;
  for (const YamlValue& item : v.is_list() ? v.as_list() : std::vector<YamlValue>{v})
    out.push_back(item.as_bool());
  if (out.empty()) v.fail("the list is empty");
  return out;
}

std::vector<std::int64_t> parse_count_grid(std::string_view text_in) {
  const std::string_view text = trim(text_in);
  if (text.empty()) throw InputError("expected a count or a range such as `1k..128k x2`, got nothing");
  if (const std::size_t dots = text.find(".."); dots != std::string_view::npos)
    return parse_range(text, dots);
  return {parse_count(text)};
}

namespace {

/// The reports key rows by a model's name and a GPU's id: `entry`, which `item` names, may not repeat the key
/// of an entry already in `listed`.
template <class Spec>
void fail_if_listed(const YamlValue& item, const Spec& entry, const std::vector<Spec>& listed,
                    std::string Spec::*key, std::string_view what, std::string_view list,
                    std::string_view why) {
  for (std::size_t i = 0; i < listed.size(); ++i) {
    if (listed[i].*key == entry.*key) {
      item.fail(fmt::format("{} `{}` is already item {} of `{}` ({})", what, entry.*key, i + 1, list, why));
    }
  }
}

}  // namespace

SweepSpec load_sweep_config(const fs::path& path) {
  const YamlDocument doc = YamlDocument::parse_file(path, "sweep config");
  const YamlMap root = doc.root().as_map({"sweep"});
  const YamlMap s = root.required("sweep").as_map(
      with_layout_keys({"name", "models", "variants", "hardware", "tp", "dp_attention", "batch", "context",
                        "sq", "precision", "mla_mode", "mode", "launch", "capacity", "mtp"}));
  const fs::path config_dir = path.parent_path();

  SweepSpec spec;
  spec.source = path.string();
  spec.config_json = doc.to_json_text();
  spec.name = s.optional_string("name", path.stem().string());
  // The reports key rows by the model's name and the GPU's id: two entries with one name would be one row.
  for (const YamlValue& item : one_or_many(s.required("models"))) {
    ModelSpec model = resolve_entry(item, config_dir, resolve_model);
    fail_if_listed(item, model, spec.models, &ModelSpec::name, "model", "models",
                   "the reports tell models apart by name; give a changed card its own `name:`");
    spec.models.push_back(std::move(model));
  }
  if (const auto variants = s.optional("variants")) {
    for (const YamlValue& item : one_or_many(*variants))
      spec.variants.push_back(item.parse_with(parse_variant));
  } else {
    spec.variants.push_back(VariantSpec{});  // native
  }
  for (const YamlValue& item : one_or_many(s.required("hardware"))) {
    HardwareSpec hw = resolve_entry(item, config_dir, resolve_hw);
    fail_if_listed(
        item, hw, spec.hardware, &HardwareSpec::id, "GPU", "hardware",
        "the reports tell GPUs apart by their profile's file name; rename a changed profile's file");
    spec.hardware.push_back(std::move(hw));
  }
  spec.tp = s.has("tp") ? read_int_grid(s.required("tp")) : std::vector<int>{1};
  if (const auto v = s.optional("dp_attention")) {
    spec.dp_attention = read_bool_list(*v);  // `true`, `false`, or both, to compare
  }
  spec.batch = read_batch_grid(s.required("batch"));
  spec.context = read_count_grid(s.required("context"));
  spec.s_q = s.has("sq") ? read_int_grid(s.required("sq")) : std::vector<int>{1};
  // The layout's other options hold at every point; checked here at a two-GPU point (a tp axis value of 1
  // with redundant experts is an invalid point of the grid, not a bad config).
  spec.expert_parallel = read_layout_options(s, spec.layout);
  check_layout(s, spec.parallel_at(2, false));
  if (const auto v = s.optional("mtp")) {
    spec.mtp = read_mtp(*v);
    if (spec.mtp.enabled() && spec.s_q != std::vector<int>{1}) {
      s.required("sq").fail(fmt::format(
          "`mtp` (depth {}) sets the tokens per step itself (1 + depth verified, 1 + accepted kept): the "
          "`sq` axis must be [1] or absent with `mtp`, got [{}]",
          spec.mtp.depth, fmt::join(spec.s_q, ", ")));
    }
  }
  if (const std::optional<std::size_t> n = checked_sweep_size(spec); !n || *n > kMaxSweepGridPoints) {
    root.required("sweep").fail(fmt::format("the grid has {} points ({}), more than the {} a sweep may have",
                                            n ? fmt::format("{}", *n) : std::string("over 2^64"),
                                            sweep_axes_text(spec), kMaxSweepGridPoints));
  }

  if (const auto p = s.optional("precision")) {
    const YamlMap m = p->as_map({"weights", "kv_cache", "activations"});
    if (const auto v = m.optional("weights")) {
      spec.precision.weights = read_dtype(*v);
      spec.weights_given = true;
    }
    if (const auto v = m.optional("kv_cache")) spec.precision.kv_cache = read_dtype(*v);
    if (const auto v = m.optional("activations")) spec.precision.activations = read_dtype(*v);
  }
  if (const auto v = s.optional("mla_mode")) spec.mla_mode = read_mla_mode(*v);
  if (const auto v = s.optional("mode")) spec.device_mode = read_device_mode(*v);
  if (const auto v = s.optional("launch")) spec.launch = read_launch_mode(*v);
  if (const auto c = s.optional("capacity")) {
    const YamlMap m =
        c->as_map({"gpu_memory_utilization", "block_size", "max_batched_tokens", "runtime_reserve"});
    if (const auto v = m.optional("gpu_memory_utilization")) {
      spec.capacity.gpu_memory_utilization = v->as_double();
      if (!(spec.capacity.gpu_memory_utilization > 0.0 && spec.capacity.gpu_memory_utilization <= 1.0)) {
        v->fail(fmt::format("must be in (0, 1], got {}", spec.capacity.gpu_memory_utilization));
      }
    }
    if (const auto v = m.optional("block_size")) {
      spec.capacity.block_size = v->as_int();
      if (spec.capacity.block_size < 0) v->fail("cannot be negative (0 = the default for the model)");
    }
    if (const auto v = m.optional("max_batched_tokens")) {
      spec.capacity.max_batched_tokens = v->parse_with(parse_count);
      if (spec.capacity.max_batched_tokens < 1) v->fail("must be at least 1");
    }
    if (const auto v = m.optional("runtime_reserve")) {
      spec.capacity.runtime_reserve_bytes = v->as_quantity(Dimension::kBytes);
      if (spec.capacity.runtime_reserve_bytes < 0) v->fail("cannot be negative");
    }
  }
  return spec;
}

}  // namespace mlasim
