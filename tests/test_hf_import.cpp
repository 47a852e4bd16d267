// Hugging Face config.json import: the published DeepSeek-V3 and Llama-3-8B files give the cards' numbers.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>

#include "models/model_spec.hpp"
#include "sim/config/loader.hpp"
#include "sim/error.hpp"
#include "tests/test_support.hpp"

using namespace mlasim;
namespace fs = std::filesystem;
using mlasim::test::ScratchDir;
using mlasim::test::error_of;

namespace {

const fs::path kHfDir = fs::path(MLASIM_TEST_DATA_DIR) / "hf";


// Every modelling field equal; name and source differ by design (they say where the numbers came from).
void check_same_model(const ModelSpec& a, const ModelSpec& b) {
  CHECK(a.n_layers == b.n_layers);
  CHECK(a.hidden_size == b.hidden_size);
  CHECK(a.vocab_size == b.vocab_size);
  CHECK(a.tie_word_embeddings == b.tie_word_embeddings);
  CHECK(a.attention.kind == b.attention.kind);
  CHECK(a.attention.n_heads == b.attention.n_heads);
  CHECK(a.attention.n_kv_heads == b.attention.n_kv_heads);
  CHECK(a.attention.head_dim == b.attention.head_dim);
  CHECK(a.attention.kv_lora_rank == b.attention.kv_lora_rank);
  CHECK(a.attention.q_lora_rank == b.attention.q_lora_rank);
  CHECK(a.attention.qk_rope_head_dim == b.attention.qk_rope_head_dim);
  CHECK(a.attention.qk_nope_head_dim == b.attention.qk_nope_head_dim);
  CHECK(a.attention.v_head_dim == b.attention.v_head_dim);
  CHECK(a.ffn.intermediate_size == b.ffn.intermediate_size);
  CHECK(a.ffn.moe.n_routed_experts == b.ffn.moe.n_routed_experts);
  CHECK(a.ffn.moe.n_shared_experts == b.ffn.moe.n_shared_experts);
  CHECK(a.ffn.moe.experts_per_token == b.ffn.moe.experts_per_token);
  CHECK(a.ffn.moe.expert_intermediate_size == b.ffn.moe.expert_intermediate_size);
  CHECK(a.ffn.moe.first_k_dense == b.ffn.moe.first_k_dense);
  // Derived figures follow, whatever the names say.
  CHECK(a.attention.kv_elements_per_token() == b.attention.kv_elements_per_token());
  CHECK(count_parameters(a).total == Approx(count_parameters(b).total));
  CHECK(count_parameters(a).activated == Approx(count_parameters(b).activated));
}

}  // namespace

TEST_CASE("the published DeepSeek-V3 config.json imports to the DeepSeek-V3 card") {
  const ModelSpec hf = load_hf_config(kHfDir / "deepseek-v3" / "config.json");
  const ModelSpec card = resolve_model("deepseek-v3");
  CHECK(hf.name == "DeepseekV3ForCausalLM");
  CHECK(hf.attention.kind == AttentionKind::kMla);
  CHECK(hf.attention.n_kv_heads == 1);  // the file's num_key_value_heads (128) is not what MLA caches
  CHECK(hf.attention.kv_elements_per_token() * hf.n_layers * 2 == 70272);  // bf16 bytes, DESIGN.md §11
  check_same_model(hf, card);
}

TEST_CASE("the published Llama-3-8B config.json imports to the Llama-3-8B card") {
  const ModelSpec hf = load_hf_config(kHfDir / "llama-3-8b" / "config.json");
  const ModelSpec card = resolve_model("llama-3-8b");
  CHECK(hf.name == "LlamaForCausalLM");
  CHECK(hf.attention.kind == AttentionKind::kGqa);
  CHECK(hf.attention.head_dim == 128);  // no head_dim key: hidden / heads
  check_same_model(hf, card);
}

TEST_CASE("resolve_model takes a config.json path") {
  const ModelSpec m = resolve_model((kHfDir / "llama-3-8b" / "config.json").string());
  CHECK(m.attention.n_kv_heads == 8);
  CHECK(m.source == (kHfDir / "llama-3-8b" / "config.json").string());
}

TEST_CASE("Falcon's multi_query and older key names import as MQA") {
  ScratchDir dir;
  // The counts of tiiuae/falcon-7b, spelled as its first config.json did (n_head, n_layer).
  const fs::path p = dir.write("config.json", R"({
  "architectures": ["RWForCausalLM"],
  "hidden_size": 4544,
  "model_type": "RefinedWebModel",
  "multi_query": true,
  "n_head": 71,
  "n_layer": 32,
  "parallel_attn": true,
  "vocab_size": 65024
})");
  const ModelSpec hf = load_hf_config(p);
  CHECK(hf.attention.kind == AttentionKind::kMqa);
  CHECK(hf.attention.n_kv_heads == 1);
  CHECK(hf.attention.head_dim == 64);
  CHECK(hf.ffn.intermediate_size == 4 * 4544);  // no intermediate_size key: Falcon's 4x MLP
  CHECK(hf.tie_word_embeddings);                // Falcon ties lm_head to the embeddings by default
  check_same_model(hf, resolve_model("falcon-7b"));
}

TEST_CASE("HF kinds: absent num_key_value_heads is MHA, q_lora_rank null is no query compression") {
  ScratchDir dir;
  const ModelSpec mha = load_hf_config(dir.write("mha.json", R"({"hidden_size": 4096, "num_hidden_layers": 32,
    "num_attention_heads": 32, "intermediate_size": 11008, "vocab_size": 32000, "tie_word_embeddings": false})"));
  CHECK(mha.attention.kind == AttentionKind::kMha);
  CHECK(mha.attention.n_kv_heads == 32);
  check_same_model(mha, resolve_model("llama-2-7b"));

  // DeepSeek-V2-Lite's values (its config.json says q_lora_rank null).
  const ModelSpec lite = load_hf_config(dir.write("lite.json", R"({"hidden_size": 2048, "num_hidden_layers": 27,
    "num_attention_heads": 16, "num_key_value_heads": 16, "intermediate_size": 10944, "vocab_size": 102400,
    "kv_lora_rank": 512, "q_lora_rank": null, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128,
    "v_head_dim": 128, "n_routed_experts": 64, "n_shared_experts": 2, "num_experts_per_tok": 6,
    "moe_intermediate_size": 1408, "first_k_dense_replace": 1, "tie_word_embeddings": false})"));
  CHECK(lite.attention.q_lora_rank == 0);
  check_same_model(lite, resolve_model("deepseek-v2-lite"));
}

TEST_CASE("HF import errors point into the JSON file") {
  ScratchDir dir;
  const fs::path bad_heads = dir.write("heads.json", R"({
  "hidden_size": 4096,
  "num_hidden_layers": 32,
  "num_attention_heads": 64,
  "num_key_value_heads": 6,
  "intermediate_size": 11008,
  "vocab_size": 32000
})");
  CHECK(error_of([&] { (void)load_hf_config(bad_heads); }) ==
        bad_heads.string() + ":5:3: error: num_key_value_heads: (6) must divide n_heads (64)");

  const fs::path missing = dir.write("missing.json", "{\n  \"hidden_size\": 4096\n}\n");
  CHECK(error_of([&] { (void)load_hf_config(missing); }) ==
        missing.string() + ":1:1: error: num_hidden_layers: missing required key");

  const fs::path wrong_type = dir.write("type.json", "{\"hidden_size\": \"big\"}");
  CHECK(error_of([&] { (void)load_hf_config(wrong_type); }) ==
        wrong_type.string() + ":1:17: error: hidden_size: expected an integer, got `big`");
}
