// Hugging Face config.json -> ModelSpec. yaml-cpp reads JSON (a subset of YAML) and keeps line numbers, so
// errors point into the file like a card's do. Unknown keys are not errors HERE ONLY: a config.json carries
// many keys that do not affect cost (rope scaling, token ids, dropout, ...), and it is not ours to fix. The
// keys that would change the cost but are not modelled are listed in kUnmodelledKeys and warned about.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <iostream>

#include "sim/config/loader.hpp"
#include "sim/config/yaml_reader.hpp"
#include "sim/error.hpp"
#include "sim/suggest.hpp"

namespace mlasim {

namespace {

// Reads keys that may go by several names (Falcon's older configs say n_head / n_layer) and remembers
// which name the file used, so a validator problem can be placed on that key.
class HfReader {
 public:
  explicit HfReader(const YamlMap& root) : root_(root) {}

  // The first present (non-null) key among `names`, recording it as the source of `spec_path`.
  std::optional<YamlValue> find(const std::string& spec_path, std::initializer_list<std::string_view> names) {
    for (std::string_view n : names) {
      if (auto v = root_.optional(n)) {
        aliases_[spec_path] = std::string(n);
        return v;
      }
    }
    return std::nullopt;
  }

  std::optional<int> optional_int(const std::string& spec_path,
                                  std::initializer_list<std::string_view> names) {
    const auto v = find(spec_path, names);
    return v ? std::optional<int>(v->as_int()) : std::nullopt;
  }

  int required_int(const std::string& spec_path, std::initializer_list<std::string_view> names) {
    if (const auto v = optional_int(spec_path, names)) return *v;
    throw InputError(root_.where(), std::string(*names.begin()), "missing required key");
  }

  const std::map<std::string, std::string, std::less<>>& aliases() const { return aliases_; }

 private:
  const YamlMap& root_;
  std::map<std::string, std::string, std::less<>> aliases_;
};

// The model's own name (`_name_or_path`), else the folder the config.json sits in (the repository name, as
// `huggingface-cli download` lays it out), else the file's stem.
std::string hf_model_name(const YamlMap& root, const std::filesystem::path& path) {
  if (const auto v = root.optional("_name_or_path"); v && v->is_scalar() && !v->as_string().empty()) {
    return v->as_string();
  }
  if (path.filename() == "config.json") {
    const std::filesystem::path folder = std::filesystem::absolute(path).parent_path().filename();
    if (!folder.empty()) return folder.string();
  }
  return path.stem().string();
}

bool is_falcon(const YamlMap& root) {
  if (const auto v = root.optional("model_type"); v && v->is_scalar()) {
    const std::string t = v->as_string();
    return t == "falcon" || t == "RefinedWeb" || t == "RefinedWebModel";
  }
  return false;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return text;
}

// Warnings go to `out` as one line each, located like errors: `file:line:col: warning: key: message`.
class Warnings {
 public:
  explicit Warnings(std::ostream& out) : out_(out) {}
  void warn(const SourceLocation& where, std::string_view key, std::string_view message) {
    out_ << where.to_string() << ": warning: " << key << ": " << message << "\n";
  }
  void warn(const YamlValue& value, std::string_view key, std::string_view message) {
    warn(value.where(), key, message);
  }

 private:
  std::ostream& out_;
};

bool positive_int(const YamlValue& v) {
  return v.is_scalar() && v.as_int64() > 0;
}
bool not_one(const YamlValue& v) {
  return v.is_scalar() && v.as_int64() != 1;
}
bool non_empty_list(const YamlValue& v) {
  return v.is_list() && !v.as_list().empty();
}
bool present(const YamlValue& /*value*/) {
  return true;
}

// Keys that change the cost of a model but that mlasim does not model: each is reported with what it
// changes, when its value makes a difference. Read elsewhere in this file (and so not listed): the sizes,
// head counts, MLA and MoE widths, tie_word_embeddings, quantization_config, torch_dtype, sliding_window,
// use_sliding_window, max_window_layers, layer_types. Silent because they do not change the cost of a
// step: token ids, dropout, initializer_range, rms_norm_eps, rope_theta, rope_scaling (position encoding
// only), max_position_embeddings, hidden_act (read by ffn_shape where model_type is unknown), attention_bias
// / bias (a few vectors), parallel_attn, alibi, routing details (n_group, topk_group, topk_method,
// scoring_func, norm_topk_prob, routed_scaling_factor: the same number of experts runs), ep_size, use_cache.
struct UnmodelledKey {
  std::string_view key;
  bool (*matters)(const YamlValue&);
  std::string_view what;
};
constexpr UnmodelledKey kUnmodelledKeys[] = {
    {"num_nextn_predict_layers", positive_int,
     "the multi-token-prediction module is not modelled: its layers are neither counted in the weights nor "
     "run"},
    {"moe_layer_freq", not_one,
     "MoE only every n-th layer is not modelled: every layer after first_k_dense_replace is costed as MoE"},
    {"decoder_sparse_step", not_one,
     "MoE only every n-th layer is not modelled: every layer is costed as MoE"},
    {"mlp_only_layers", non_empty_list,
     "dense layers among the MoE layers are not modelled: every layer is costed as MoE"},
    {"index_topk", present,
     "sparse attention over the top-k tokens (DeepSeek-V3.2) is not modelled: attention reads the whole "
     "context"},
    {"compression_config", present,
     "compressed weights are not modelled: weights are costed at the run's dtype"},
};

// The dense FFN's shape comes from the architecture, not from hidden_act: Gemma's GeGLU is gated with a GELU,
// GPT-NeoX's MLP is plain with one. Plain two-matrix MLPs (up, activation, down), from each architecture's
// modeling_*.py in transformers:
constexpr std::string_view kPlainMlpTypes[] = {
    "falcon",  "RefinedWeb",  "RefinedWebModel", "gpt2", "gpt_neox", "gptj",
    "gpt_neo", "gpt_bigcode", "starcoder2",      "phi",  "opt",      "bloom",
    "mpt",     "codegen"};
// Gated (gate, up, activation × up, down): SwiGLU and GeGLU.
constexpr std::string_view kGatedMlpTypes[] = {
    "llama",       "mistral", "mixtral",   "qwen2",   "qwen2_moe",   "qwen3",  "qwen3_moe", "deepseek_v2",
    "deepseek_v3", "gemma",   "gemma2",    "gemma3",  "gemma3_text", "phi3",   "olmo",      "olmo2",
    "cohere",      "cohere2", "internlm2", "granite", "stablelm",    "exaone", "baichuan",  "yi"};

/// The dense FFN's activation (FfnActivation::kGelu: a plain two-matrix MLP) by model_type; an unknown type
/// whose hidden_act is not a SiLU is costed gated and warned about.
FfnActivation ffn_shape(const YamlMap& root, Warnings& warnings) {
  const auto type_value = root.optional("model_type");
  const std::string type = type_value && type_value->is_scalar() ? type_value->as_string() : "";
  auto listed = [&](const auto& list) {
    return std::find(std::begin(list), std::end(list), type) != std::end(list);
  };
  if (listed(kPlainMlpTypes)) return FfnActivation::kGelu;
  if (listed(kGatedMlpTypes)) return FfnActivation::kSwiGlu;
  if (const auto act = root.optional("hidden_act"); act && act->is_scalar()) {
    const std::string a = act->as_string();
    if (a != "silu" && a != "swish") {
      warnings.warn(*act, "hidden_act",
                    fmt::format("`{}` with model_type `{}`: the FFN is costed gated (gate, up, down: three "
                                "matrices); a plain two-matrix MLP has a third fewer FFN weights and FLOPs",
                                clipped(a), clipped(type)));
    }
  }
  return FfnActivation::kSwiGlu;
}

void warn_unmodelled(const YamlMap& root, Warnings& warnings) {
  for (const YamlEntry& e : root.entries()) {
    for (const UnmodelledKey& k : kUnmodelledKeys) {
      if (e.key == k.key && !e.value.is_null() && k.matters(e.value))
        warnings.warn(e.key_where, e.key, k.what);
    }
  }
}

// The dtype the checkpoint's weights are stored in. quantization_config as vLLM reads it: fp8 (DeepSeek-V3:
// e4m3 with 128x128 block scales), GPTQ and AWQ (`bits`), bitsandbytes (`load_in_4bit` / `load_in_8bit`).
// Without one, torch_dtype (`dtype` since transformers 4.56), where float32 checkpoints are served in fp16 as
// vLLM's dtype "auto" does. Anything else is warned about and left to the run's default.
std::optional<Dtype> stored_weights_dtype(const YamlMap& root, Warnings& warnings) {
  if (const auto q = root.optional("quantization_config")) {
    const YamlMap m = q->as_open_map();
    const auto method_value = m.optional("quant_method");
    const std::string method = method_value ? lower(method_value->as_string()) : "";
    auto from_bits = [&](std::string_view bits_key) -> std::optional<Dtype> {
      const auto bits = m.optional(bits_key);
      if (!bits) return std::nullopt;
      const int n = bits->as_int();
      if (n == 4) return Dtype::kInt4;
      if (n == 8) return Dtype::kInt8;
      warnings.warn(
          *bits, m.child_path(bits_key),
          fmt::format("{}-bit weights are not modelled (4 and 8 are); weights are costed at the run's "
                      "dtype",
                      n));
      return std::nullopt;
    };
    if (method == "fp8" || method == "fbgemm_fp8") return Dtype::kFp8;
    if (method == "gptq" || method == "awq") {
      if (m.optional("bits")) return from_bits("bits");
      if (m.optional("w_bit")) return from_bits("w_bit");  // AutoAWQ's older spelling
      return Dtype::kInt4;                                 // both default to 4 bits
    }
    if (method == "bitsandbytes") {
      if (m.optional_bool("load_in_4bit", false)) return Dtype::kInt4;
      if (m.optional_bool("load_in_8bit", false)) return Dtype::kInt8;
    }
    const std::string key = method_value ? m.child_path("quant_method") : std::string("quantization_config");
    warnings.warn(
        method_value ? method_value->where() : q->where(), key,
        fmt::format("quantization method `{}` is not modelled (fp8, gptq, awq and bitsandbytes are); "
                    "weights are costed at the run's dtype",
                    method));
    return std::nullopt;
  }
  for (const std::string_view key : {"torch_dtype", "dtype"}) {
    if (const auto v = root.optional(key); v && v->is_scalar()) {
      const std::string text = lower(v->as_string());
      if (text == "float32" || text == "fp32") return Dtype::kFp16;
      try {
        return parse_dtype(text);
      } catch (const InputError&) {
        warnings.warn(*v, key,
                      fmt::format("dtype `{}` is not known; weights are costed at the run's dtype", text));
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

// Mistral's sliding_window; Qwen2 switches it with use_sliding_window and applies it from layer
// max_window_layers on; newer configs list each layer's kind in layer_types. A window on some layers only
// (Gemma-2, Qwen2 with max_window_layers inside the model) is warned about and costed as full attention.
int read_sliding_window(const YamlMap& root, int n_layers, Warnings& warnings) {
  const auto window = root.optional("sliding_window");
  if (!window) return 0;  // absent or null: full attention
  if (const auto use = root.optional("use_sliding_window"); use && !use->as_bool()) return 0;
  const int w = window->as_int();
  if (w < 0) window->fail(fmt::format("must be at least 0, got {}", w));
  auto partial = [&](const YamlValue& where, std::string_view key, const std::string& which_layers) {
    warnings.warn(where, key,
                  fmt::format("the sliding window applies to {} only, which is not modelled: every layer is "
                              "costed with full attention",
                              which_layers));
    return 0;
  };
  if (const auto types = root.optional("layer_types"); types && types->is_list()) {
    int sliding = 0;
    for (const YamlValue& t : types->as_list()) sliding += t.as_string() == "sliding_attention" ? 1 : 0;
    if (sliding == 0) return 0;
    if (sliding != n_layers)
      return partial(*types, "layer_types", fmt::format("{} of {} layers", sliding, n_layers));
    return w;
  }
  if (const auto mwl = root.optional("max_window_layers"); mwl && root.optional("use_sliding_window")) {
    const int full_layers = std::clamp(mwl->as_int(), 0, n_layers);  // Qwen2: layers [max_window_layers, n)
    if (full_layers == n_layers) return 0;
    if (full_layers > 0)
      return partial(*mwl, "max_window_layers",
                     fmt::format("{} of {} layers", n_layers - full_layers, n_layers));
  }
  if (const auto t = root.optional("model_type"); t && t->is_scalar()) {
    const std::string type = t->as_string();
    if (type == "gemma2" || type == "gemma3" || type == "gemma3_text" || type == "cohere2") {
      return partial(*window, "sliding_window", "the local layers interleaved with global ones");
    }
  }
  return w;
}

}  // namespace

ModelSpec load_hf_config(const std::filesystem::path& path) {
  return load_hf_config(path, std::cerr);
}

ModelSpec load_hf_config(const std::filesystem::path& path, std::ostream& warnings_out) {
  const YamlDocument doc = YamlDocument::parse_file(path, "Hugging Face config.json");
  const YamlMap root = doc.root().as_open_map();
  HfReader hf(root);
  Warnings warnings(warnings_out);

  ModelSpec spec;
  spec.name = hf_model_name(root, path);
  spec.source = path.string();
  spec.hidden_size = hf.required_int("hidden_size", {"hidden_size"});
  spec.n_layers = hf.required_int("layers", {"num_hidden_layers", "n_layer"});
  spec.vocab_size = hf.required_int("vocab_size", {"vocab_size"});
  // Sizes derived from hidden_size (head_dim, Falcon's MLP width) are derived only from a valid one; an
  // out-of-range hidden_size is left for validate() to report on its own key, never multiplied.
  const bool hidden_valid = spec.hidden_size >= 1 && spec.hidden_size <= kMaxModelDim;
  spec.weights_dtype = stored_weights_dtype(root, warnings);
  // Each transformers config class has its own default; the families we import untie by default except
  // Falcon, whose lm_head is the word-embedding matrix.
  const auto tie = hf.find("tie_word_embeddings", {"tie_word_embeddings"});
  spec.tie_word_embeddings = tie ? tie->as_bool() : is_falcon(root);

  AttentionSpec& a = spec.attention;
  a.n_heads = hf.required_int("attention.n_heads", {"num_attention_heads", "n_head"});
  if (const auto kv_lora = hf.optional_int("attention.kv_lora_rank", {"kv_lora_rank"})) {
    // DeepSeek-V2/V3 MLA. num_key_value_heads in these files counts heads after up-projection; the cache
    // holds one latent "head" (d_c + d_r), so n_kv_heads is 1 and there is no d_h.
    a.kind = AttentionKind::kMla;
    a.kv_lora_rank = *kv_lora;
    a.n_kv_heads = 1;
    a.head_dim = 0;
    a.q_lora_rank = hf.optional_int("attention.q_lora_rank", {"q_lora_rank"}).value_or(0);  // null: no q_lora
    a.qk_rope_head_dim = hf.required_int("attention.qk_rope_head_dim", {"qk_rope_head_dim"});
    a.qk_nope_head_dim = hf.required_int("attention.qk_nope_head_dim", {"qk_nope_head_dim"});
    a.v_head_dim = hf.required_int("attention.v_head_dim", {"v_head_dim"});
  } else {
    const auto multi_query = root.optional("multi_query");  // Falcon-7B: one KV head
    if (multi_query && multi_query->as_bool()) {
      a.n_kv_heads = 1;
    } else {
      a.n_kv_heads =
          hf.optional_int("attention.n_kv_heads", {"num_key_value_heads", "num_kv_heads", "n_head_kv"})
              .value_or(a.n_heads);
    }
    if (const auto head_dim = hf.optional_int("attention.head_dim", {"head_dim"})) {
      a.head_dim = *head_dim;
    } else if (a.n_heads > 0 && hidden_valid) {
      // transformers' default head_dim = hidden_size // num_attention_heads: a remainder would leave part of
      // the hidden state without a head, so the file must say head_dim.
      if (spec.hidden_size % a.n_heads != 0) {
        const std::string& key = hf.aliases().at("attention.n_heads");
        throw InputError(
            doc.locations().find(key), key,
            fmt::format("hidden_size ({}) is not a multiple of the {} heads and there is no head_dim",
                        spec.hidden_size, a.n_heads));
      }
      a.head_dim = spec.hidden_size / a.n_heads;
    }
    a.kind = a.n_kv_heads == 1           ? AttentionKind::kMqa
             : a.n_kv_heads == a.n_heads ? AttentionKind::kMha
                                         : AttentionKind::kGqa;
  }
  a.sliding_window = read_sliding_window(root, spec.n_layers, warnings);

  MoeSpec& moe = spec.ffn.moe;
  if (const auto routed = hf.optional_int("ffn.moe.n_routed_experts",
                                          {"n_routed_experts", "num_local_experts", "num_experts"});
      routed && *routed > 0) {
    moe.n_routed_experts = *routed;
    moe.experts_per_token = hf.required_int("ffn.moe.experts_per_token", {"num_experts_per_tok"});
    moe.n_shared_experts = hf.optional_int("ffn.moe.n_shared_experts", {"n_shared_experts"}).value_or(0);
    moe.first_k_dense = hf.optional_int("ffn.moe.first_k_dense", {"first_k_dense_replace"}).value_or(0);
    // Mixtral's experts are intermediate_size wide; DeepSeek's have their own moe_intermediate_size.
    moe.expert_intermediate_size =
        hf.required_int("ffn.moe.expert_intermediate_size", {"moe_intermediate_size", "intermediate_size"});
    // Qwen2-MoE: one shared expert as wide as n routed ones, costed as n shared experts.
    if (const auto shared = root.optional("shared_expert_intermediate_size");
        shared && moe.n_shared_experts == 0) {
      const int width = shared->as_int();
      if (width > 0 && moe.expert_intermediate_size > 0 && width % moe.expert_intermediate_size == 0) {
        moe.n_shared_experts = width / moe.expert_intermediate_size;
      } else if (width > 0) {
        warnings.warn(
            *shared, "shared_expert_intermediate_size",
            fmt::format("a shared expert {} wide is not a whole number of experts {} wide and is not "
                        "modelled",
                        width, moe.expert_intermediate_size));
      }
    }
  }
  spec.ffn.activation = ffn_shape(root, warnings);
  if (const auto inter = hf.optional_int("ffn.intermediate_size", {"intermediate_size", "ffn_hidden_size"})) {
    spec.ffn.intermediate_size = *inter;
  } else if (is_falcon(root)) {
    // Falcon's MLP: dense_h_to_4h, GELU, dense_4h_to_h.
    if (hidden_valid) spec.ffn.intermediate_size = 4 * spec.hidden_size;
  } else if (!spec.ffn.is_moe() || moe.first_k_dense > 0) {
    throw InputError(root.where(), "intermediate_size", "missing required key");
  }
  warn_unmodelled(root, warnings);

  std::map<std::string, std::string, std::less<>> aliases = hf.aliases();
  if (root.has("sliding_window")) aliases["attention.sliding_window"] = "sliding_window";
  throw_first_problem(validate(spec), doc.locations(), aliases);
  return spec;
}

}  // namespace mlasim
