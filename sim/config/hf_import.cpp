// Hugging Face config.json -> ModelSpec. yaml-cpp reads JSON (a subset of YAML) and keeps line numbers, so
// errors point into the file like a card's do. Unknown keys are ignored HERE ONLY: a config.json carries
// many keys that do not affect cost (rope scaling, token ids, dropout, ...), and it is not ours to fix.
#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>

#include "sim/config/loader.hpp"
#include "sim/config/yaml_reader.hpp"
#include "sim/error.hpp"

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

  std::optional<int> optional_int(const std::string& spec_path, std::initializer_list<std::string_view> names) {
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

std::string hf_model_name(const YamlMap& root, const std::filesystem::path& path) {
  if (const auto v = root.optional("_name_or_path"); v && v->is_scalar() && !v->as_string().empty()) {
    return v->as_string();
  }
  if (const auto v = root.optional("architectures"); v && v->is_list()) {
    const auto items = v->as_list();
    if (!items.empty() && items.front().is_scalar()) return items.front().as_string();
  }
  if (const auto v = root.optional("model_type"); v && v->is_scalar()) return v->as_string();
  return path.stem().string();
}

bool is_falcon(const YamlMap& root) {
  if (const auto v = root.optional("model_type"); v && v->is_scalar()) {
    const std::string t = v->as_string();
    return t == "falcon" || t == "RefinedWeb" || t == "RefinedWebModel";
  }
  return false;
}

}  // namespace

ModelSpec load_hf_config(const std::filesystem::path& path) {
  const YamlDocument doc = YamlDocument::parse_file(path, "Hugging Face config.json");
  const YamlMap root = doc.root().as_open_map();
  HfReader hf(root);

  ModelSpec spec;
  spec.name = hf_model_name(root, path);
  spec.source = path.string();
  spec.hidden_size = hf.required_int("hidden_size", {"hidden_size"});
  spec.n_layers = hf.required_int("layers", {"num_hidden_layers", "n_layer"});
  spec.vocab_size = hf.required_int("vocab_size", {"vocab_size"});
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
      a.n_kv_heads = hf.optional_int("attention.n_kv_heads", {"num_key_value_heads", "num_kv_heads", "n_head_kv"})
                         .value_or(a.n_heads);
    }
    const int default_head_dim = a.n_heads > 0 ? spec.hidden_size / a.n_heads : 0;
    a.head_dim = hf.optional_int("attention.head_dim", {"head_dim"}).value_or(default_head_dim);
    a.kind = a.n_kv_heads == 1 ? AttentionKind::kMqa
             : a.n_kv_heads == a.n_heads ? AttentionKind::kMha
                                         : AttentionKind::kGqa;
  }

  MoeSpec& moe = spec.ffn.moe;
  if (const auto routed = hf.optional_int("ffn.moe.n_routed_experts", {"n_routed_experts", "num_local_experts"});
      routed && *routed > 0) {
    moe.n_routed_experts = *routed;
    moe.experts_per_token = hf.required_int("ffn.moe.experts_per_token", {"num_experts_per_tok"});
    moe.n_shared_experts = hf.optional_int("ffn.moe.n_shared_experts", {"n_shared_experts"}).value_or(0);
    moe.first_k_dense = hf.optional_int("ffn.moe.first_k_dense", {"first_k_dense_replace"}).value_or(0);
    // Mixtral's experts are intermediate_size wide; DeepSeek's have their own moe_intermediate_size.
    moe.expert_intermediate_size =
        hf.required_int("ffn.moe.expert_intermediate_size", {"moe_intermediate_size", "intermediate_size"});
  }
  if (const auto inter = hf.optional_int("ffn.intermediate_size", {"intermediate_size", "ffn_hidden_size"})) {
    spec.ffn.intermediate_size = *inter;
  } else if (is_falcon(root)) {
    spec.ffn.intermediate_size = 4 * spec.hidden_size;  // Falcon's MLP: dense_h_to_4h, GELU, dense_4h_to_h
    spec.ffn.activation = FfnActivation::kGelu;
  } else if (!spec.ffn.is_moe() || moe.first_k_dense > 0) {
    throw InputError(root.where(), "intermediate_size", "missing required key");
  }

  std::map<std::string, std::string, std::less<>> aliases = hf.aliases();
  throw_first_problem(validate(spec), doc.locations(), aliases);
  return spec;
}

}  // namespace mlasim
