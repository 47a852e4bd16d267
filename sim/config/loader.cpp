// Model cards, hardware profiles and the built-in catalogue. Schemas: models/cards/README.md and
// hw_profiles/README.md.
#include "sim/config/loader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "sim/config/calibration_yaml.hpp"
#include "sim/config/yaml_reader.hpp"
#include "sim/error.hpp"
#include "sim/suggest.hpp"
#include "sim/units.hpp"

namespace mlasim {

namespace fs = std::filesystem;

namespace {

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  return out;
}

bool has_extension(const fs::path& p, std::initializer_list<std::string_view> exts) {
  const std::string ext = lowercase(p.extension().string());
  return std::find(exts.begin(), exts.end(), ext) != exts.end();
}

// A CLI argument names a file (rather than a built-in id) when it has a directory part or a file extension.
bool looks_like_path(std::string_view s) {
  if (s.find('/') != std::string_view::npos || s.find('\\') != std::string_view::npos) return true;
  return has_extension(fs::path(s), {".yaml", ".yml", ".json"});
}

// The .yaml files of a catalogue directory, sorted by file stem.
std::vector<fs::path> catalogue_files(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw InputError(SourceLocation{dir.string()}, "",
                     "catalogue directory not found (set MLASIM_DATA_DIR to the folder holding models/ and "
                     "hw_profiles/)");
  }
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && has_extension(entry.path(), {".yaml", ".yml"}))
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end(),
            [](const fs::path& a, const fs::path& b) { return a.stem().string() < b.stem().string(); });
  return files;
}

std::vector<std::string> stems(const std::vector<fs::path>& files) {
  std::vector<std::string> out;
  out.reserve(files.size());
  for (const fs::path& f : files) out.push_back(f.stem().string());
  return out;
}

// ---- model cards ----

// Validator key paths (struct member names) -> card keys, where they differ.
const std::map<std::string, std::string, std::less<>>& model_aliases() {
  static const std::map<std::string, std::string, std::less<>> aliases{
      {"n_layers", "layers"},
      {"attention.kind", "attention.variant"},
  };
  return aliases;
}

std::vector<std::string> attention_kind_names() {
  return {std::string(to_string(AttentionKind::kMha)), std::string(to_string(AttentionKind::kGqa)),
          std::string(to_string(AttentionKind::kMqa)), std::string(to_string(AttentionKind::kMla))};
}

AttentionKind parse_attention_kind(std::string_view text) {
  for (AttentionKind k :
       {AttentionKind::kMha, AttentionKind::kGqa, AttentionKind::kMqa, AttentionKind::kMla}) {
    if (lowercase(text) == to_string(k)) return k;
  }
  throw InputError(std::string(text));
}

AttentionSpec read_attention(const YamlValue& value, int hidden_size) {
  const YamlMap m =
      value.as_map({"variant", "n_heads", "n_kv_heads", "head_dim", "kv_lora_rank", "q_lora_rank",
                    "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim", "sliding_window"});
  AttentionSpec a;
  a.kind =
      parse_named(m.required("variant"), parse_attention_kind, "attention variant", attention_kind_names());
  a.n_heads = m.required_int("n_heads");
  switch (a.kind) {
    case AttentionKind::kMha:
      a.n_kv_heads = m.optional_int("n_kv_heads", a.n_heads);
      break;
    case AttentionKind::kGqa:
      a.n_kv_heads = m.required_int("n_kv_heads");
      break;
    case AttentionKind::kMqa:
      a.n_kv_heads = m.optional_int("n_kv_heads", 1);
      break;
    case AttentionKind::kMla:
      a.n_kv_heads = m.optional_int("n_kv_heads", 1);
      break;  // one latent head
  }
  // HF convention: head_dim defaults to hidden / heads. MLA has no d_h (its widths are d_c, d_r, d_n, d_v).
  int default_head_dim = 0;
  if (a.kind != AttentionKind::kMla && a.n_heads > 0 && hidden_size > 0 && hidden_size % a.n_heads == 0) {
    default_head_dim = hidden_size / a.n_heads;
  }
  a.head_dim = m.optional_int("head_dim", default_head_dim);
  a.kv_lora_rank = m.optional_int("kv_lora_rank", 0);
  a.q_lora_rank = m.optional_int("q_lora_rank", 0);
  a.qk_rope_head_dim = m.optional_int("qk_rope_head_dim", 0);
  a.qk_nope_head_dim = m.optional_int("qk_nope_head_dim", 0);
  a.v_head_dim = m.optional_int("v_head_dim", 0);
  a.sliding_window = m.optional_int("sliding_window", 0);  // tokens; 0 = full attention
  return a;
}

FfnSpec read_ffn(const YamlValue& value) {
  const YamlMap m = value.as_map({"intermediate_size", "activation", "moe"});
  FfnSpec f;
  f.intermediate_size = m.optional_int("intermediate_size", 0);
  if (const auto act = m.optional("activation")) {
    f.activation = parse_named(*act,
                               [](std::string_view text) {
                                 if (text == "swiglu") return FfnActivation::kSwiGlu;
                                 if (text == "gelu") return FfnActivation::kGelu;
                                 throw InputError("unknown activation");
                               },
                               "FFN activation", {"swiglu", "gelu"});
  }
  if (const auto moe = m.optional("moe")) {
    const YamlMap e = moe->as_map({"n_routed_experts", "n_shared_experts", "experts_per_token",
                                   "expert_intermediate_size", "first_k_dense"});
    f.moe.n_routed_experts = e.required_int("n_routed_experts");
    f.moe.n_shared_experts = e.optional_int("n_shared_experts", 0);
    f.moe.experts_per_token = e.required_int("experts_per_token");
    f.moe.expert_intermediate_size = e.required_int("expert_intermediate_size");
    f.moe.first_k_dense = e.optional_int("first_k_dense", 0);
  }
  return f;
}

ModelSpec read_model_card(const YamlDocument& doc) {
  const YamlMap root = doc.root().as_map(
      {"name", "source", "layers", "hidden_size", "vocab_size", "tie_word_embeddings", "attention", "ffn"});
  ModelSpec spec;
  spec.name = root.required_string("name");
  spec.source = root.required_string("source");
  spec.n_layers = root.required_int("layers");
  spec.hidden_size = root.required_int("hidden_size");
  spec.vocab_size = root.required_int("vocab_size");
  spec.tie_word_embeddings = root.optional_bool("tie_word_embeddings", false);
  spec.attention = read_attention(root.required("attention"), spec.hidden_size);
  spec.ffn = read_ffn(root.required("ffn"));
  throw_first_problem(validate(spec), doc.locations(), model_aliases());
  return spec;
}

// ---- hardware profiles ----

const std::map<std::string, std::string, std::less<>>& hw_aliases() {
  static const std::map<std::string, std::string, std::less<>> aliases{
      {"hbm_bytes", "memory.capacity"},
      {"hbm_bandwidth_bytes_per_s", "memory.bandwidth"},
      {"peak_flops_per_s", "compute"},
      {"l2_bytes", "l2"},
      {"launch_overhead_s", "launch_overhead"},
      {"interconnect.bandwidth_bytes_per_s", "interconnect.bandwidth"},
      {"interconnect.latency_s", "interconnect.latency"},
      {"scale_out.bandwidth_bytes_per_s", "scale_out.bandwidth"},
      {"scale_out.latency_s", "scale_out.latency"},
      {"graph_launch_overhead_s", "graph_launch_overhead"},
      {"memory_latency_s", "memory.latency"},
  };
  return aliases;
}

double read_price(const YamlValue& value) {
  return value.parse_with(parse_price);
}

HardwareSpec read_hw_profile(const YamlDocument& doc, const fs::path& path) {
  const YamlMap root =
      doc.root().as_map({"name", "source", "memory", "compute", "sms", "l2", "launch_overhead",
                         "graph_launch_overhead", "interconnect", "gpus_per_node", "scale_out",
                         "datasheet_efficiency", "calibration", "price_per_gpu_hour"});
  HardwareSpec hw;
  hw.id = path.stem().string();
  hw.name = root.required_string("name");
  hw.source = root.required_string("source");
  const YamlMap memory = root.required("memory").as_map({"capacity", "bandwidth", "latency"});
  hw.hbm_bytes = memory.required_quantity("capacity", Dimension::kBytes);
  hw.hbm_bandwidth_bytes_per_s = memory.required_quantity("bandwidth", Dimension::kBandwidth);
  // A profile without it gets the loaded HBM latency the built-in profiles cite (hw_profiles/README.md).
  hw.memory_latency_s =
      memory.has("latency") ? memory.required_quantity("latency", Dimension::kTime) : 600e-9;
  hw.peak_flops_per_s = read_rates(root.required("compute"));
  hw.sms = root.required_int("sms");
  hw.l2_bytes = root.required_quantity("l2", Dimension::kBytes);
  hw.launch_overhead_s = root.required_quantity("launch_overhead", Dimension::kTime);
  // Without a graph figure, a kernel replayed from a graph is assumed to cost what an eager launch does.
  hw.graph_launch_overhead_s = root.has("graph_launch_overhead")
                                   ? root.required_quantity("graph_launch_overhead", Dimension::kTime)
                                   : hw.launch_overhead_s;
  const YamlMap link = root.required("interconnect").as_map({"name", "bandwidth", "latency"});
  hw.interconnect.name = link.required_string("name");
  hw.interconnect.bandwidth_bytes_per_s = link.required_quantity("bandwidth", Dimension::kBandwidth);
  hw.interconnect.latency_s = link.required_quantity("latency", Dimension::kTime);
  // Without them: one HGX-style node of 8 GPUs, and no network between nodes (a layout over more GPUs than
  // one node holds is then an error, never free communication).
  hw.gpus_per_node = root.optional_int("gpus_per_node", hw.gpus_per_node);
  if (const auto net = root.optional("scale_out")) {
    const YamlMap s = net->as_map({"name", "bandwidth", "latency"});
    hw.scale_out.name = s.required_string("name");
    hw.scale_out.bandwidth_bytes_per_s = s.required_quantity("bandwidth", Dimension::kBandwidth);
    hw.scale_out.latency_s = s.required_quantity("latency", Dimension::kTime);
  }
  if (const auto eff = root.optional("datasheet_efficiency")) {
    const YamlMap e = eff->as_map({"compute", "memory", "network"});
    if (const auto v = e.optional("compute")) hw.datasheet_efficiency.compute = v->as_double();
    if (const auto v = e.optional("memory")) hw.datasheet_efficiency.memory = v->as_double();
    if (const auto v = e.optional("network")) hw.datasheet_efficiency.network = v->as_double();
  }
  if (const auto cal = root.optional("calibration")) hw.calibration = read_calibration(*cal);
  if (const auto price = root.optional("price_per_gpu_hour")) hw.price_per_gpu_hour = read_price(*price);
  throw_first_problem(validate(hw), doc.locations(), hw_aliases());
  return hw;
}

std::string model_summary(const ModelSpec& m) {
  std::string kv =
      m.attention.kind == AttentionKind::kMla
          ? fmt::format("d_c {} + d_r {}", m.attention.kv_lora_rank, m.attention.qk_rope_head_dim)
          : fmt::format("{} kv heads", m.attention.n_kv_heads);
  std::string out =
      fmt::format("{}: {}, {} layers, hidden {}, {} heads, {}", m.name, to_string(m.attention.kind),
                  m.n_layers, m.hidden_size, m.attention.n_heads, kv);
  if (m.ffn.is_moe()) {
    out += fmt::format(", MoE {}+{} experts top-{}", m.ffn.moe.n_routed_experts, m.ffn.moe.n_shared_experts,
                       m.ffn.moe.experts_per_token);
  }
  return out;
}

std::string hw_summary(const HardwareSpec& hw) {
  std::string out = fmt::format("{}: {}, {}", hw.name, format_si(hw.hbm_bytes, "B"),
                                format_si(hw.hbm_bandwidth_bytes_per_s, "B/s"));
  if (const auto it = hw.peak_flops_per_s.find(Dtype::kBf16); it != hw.peak_flops_per_s.end()) {
    out += fmt::format(", bf16 {}", format_si(it->second, "FLOP/s"));
  }
  if (const auto it = hw.peak_flops_per_s.find(Dtype::kFp8); it != hw.peak_flops_per_s.end()) {
    out += fmt::format(", fp8 {}", format_si(it->second, "FLOP/s"));
  }
  out += fmt::format(", {} GPUs per node", hw.gpus_per_node);
  if (hw.scale_out.bandwidth_bytes_per_s > 0) {
    out += fmt::format(", scale-out {} per GPU", format_si(hw.scale_out.bandwidth_bytes_per_s, "B/s"));
  }
  if (hw.price_per_gpu_hour) out += fmt::format(", {:g} USD per GPU-hour", *hw.price_per_gpu_hour);
  if (!hw.calibration.empty()) out += ", calibrated";
  return out;
}

}  // namespace

double parse_price(std::string_view text) {
  const std::string bad =
      fmt::format("expected a price per GPU-hour such as `2.5 USD`, got `{}`", clipped(text));
  const std::size_t space = text.find_last_of(' ');
  const std::string_view unit = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
  const std::string number(text.substr(0, space == std::string_view::npos ? text.size() : space));
  if (unit != "USD") throw InputError(bad);
  char* end = nullptr;
  const double v = std::strtod(number.c_str(), &end);
  if (end == number.c_str() || *end != '\0') throw InputError(bad);
  // strtod reads `nan`, `inf` and overflows (`1e309`) to a non-finite value: not a price, and not negative.
  if (!std::isfinite(v)) {
    throw InputError(fmt::format("the price `{}` is not a finite number", clipped(text)));
  }
  if (v < 0.0) throw InputError(fmt::format("a price cannot be negative, got `{}`", clipped(text)));
  return v;
}

PriceOverride parse_price_override(std::string_view text, bool gpu_required) {
  PriceOverride o;
  const std::size_t eq = text.find('=');
  std::string_view price = text;
  if (eq != std::string_view::npos) {
    o.gpu = std::string(text.substr(0, eq));
    price = text.substr(eq + 1);
  }
  if ((gpu_required && o.gpu.empty()) || price.empty() || (eq != std::string_view::npos && o.gpu.empty())) {
    throw InputError(fmt::format("--price: expected {} such as `{}` (US dollars per GPU-hour), got `{}`",
                                 gpu_required ? "GPU=PRICE" : "a price", gpu_required ? "h200=3.5" : "3.5",
                                 clipped(text)));
  }
  std::string with_unit(price);
  if (with_unit.find(' ') == std::string::npos) with_unit += " USD";
  try {
    o.usd_per_gpu_hour = parse_price(with_unit);
  } catch (const InputError& e) {
    throw InputError(fmt::format("--price {}: {}", clipped(text), e.message()));
  }
  return o;
}

void apply_price_override(const PriceOverride& override, const std::vector<HardwareSpec*>& hws) {
  const auto same = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  };
  bool found = false;
  std::vector<std::string> names;
  for (HardwareSpec* hw : hws) {
    names.push_back(hw->id);
    if (override.gpu.empty() || same(hw->id, override.gpu) || same(hw->name, override.gpu)) {
      hw->price_per_gpu_hour = override.usd_per_gpu_hour;
      found = true;
    }
  }
  if (!found) {
    throw InputError(fmt::format("--price {}={}: {}", clipped(override.gpu), override.usd_per_gpu_hour,
                                 unknown_name_message("GPU of this command", override.gpu, names)));
  }
}

fs::path data_dir() {
  if (const char* env = std::getenv("MLASIM_DATA_DIR"); env != nullptr && *env != '\0') return fs::path(env);
  return fs::path(MLASIM_SOURCE_DIR);
}

fs::path model_cards_dir() {
  return data_dir() / "models" / "cards";
}

fs::path hw_profiles_dir() {
  return data_dir() / "hw_profiles";
}

ModelSpec load_model_card(const fs::path& path) {
  return read_model_card(YamlDocument::parse_file(path, "model card"));
}

HardwareSpec load_hw_profile(const fs::path& path) {
  return read_hw_profile(YamlDocument::parse_file(path, "hardware profile"), path);
}

ModelSpec resolve_model(std::string_view name_or_path) {
  if (looks_like_path(name_or_path)) {
    const fs::path path(name_or_path);
    return has_extension(path, {".json"}) ? load_hf_config(path) : load_model_card(path);
  }
  const std::vector<fs::path> files = catalogue_files(model_cards_dir());
  const std::string wanted = lowercase(name_or_path);
  for (const fs::path& f : files) {
    if (lowercase(f.stem().string()) == wanted) return load_model_card(f);
  }
  for (const fs::path& f : files) {
    ModelSpec spec = load_model_card(f);
    if (lowercase(spec.name) == wanted) return spec;
  }
  throw InputError(unknown_name_message("model", name_or_path, stems(files)));
}

fs::path resolve_hw_path(std::string_view name_or_path) {
  if (looks_like_path(name_or_path)) return fs::path(name_or_path);
  const std::vector<fs::path> files = catalogue_files(hw_profiles_dir());
  const std::string wanted = lowercase(name_or_path);
  for (const fs::path& f : files) {
    if (lowercase(f.stem().string()) == wanted) return f;
  }
  for (const fs::path& f : files) {
    if (lowercase(load_hw_profile(f).name) == wanted) return f;
  }
  throw InputError(unknown_name_message("hardware", name_or_path, stems(files)));
}

HardwareSpec resolve_hw(std::string_view name_or_path) {
  return load_hw_profile(resolve_hw_path(name_or_path));
}

std::optional<fs::path> find_hw_profile_for_device(std::string_view device) {
  std::optional<fs::path> found;
  for (const fs::path& f : catalogue_files(hw_profiles_dir())) {
    if (!device_matches_profile(device, load_hw_profile(f))) continue;
    if (found) return std::nullopt;  // ambiguous: let the user choose
    found = f;
  }
  return found;
}

std::vector<CatalogEntry> list_model_cards() {
  std::vector<CatalogEntry> out;
  for (const fs::path& f : catalogue_files(model_cards_dir())) {
    out.push_back({f.stem().string(), model_summary(load_model_card(f))});
  }
  return out;
}

std::vector<CatalogEntry> list_hw_profiles() {
  std::vector<CatalogEntry> out;
  for (const fs::path& f : catalogue_files(hw_profiles_dir())) {
    out.push_back({f.stem().string(), hw_summary(load_hw_profile(f))});
  }
  return out;
}

}  // namespace mlasim
