// Hugging Face config.json import: the published DeepSeek-V3 and Llama-3-8B files give the cards' numbers.
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "models/model_spec.hpp"
#include "models/variant.hpp"
#include "models/workload.hpp"
#include "sim/config/loader.hpp"
#include "sim/config/serve_config.hpp"
#include "sim/device/capacity.hpp"
#include "sim/error.hpp"
#include "tests/test_support.hpp"

using namespace mlasim;
namespace fs = std::filesystem;
using mlasim::test::error_of;
using mlasim::test::ScratchDir;

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
  CHECK(hf.name == "deepseek-v3");  // the folder it sits in
  CHECK(hf.attention.kind == AttentionKind::kMla);
  CHECK(hf.attention.n_kv_heads == 1);  // the file's num_key_value_heads (128) is not what MLA caches
  CHECK(hf.attention.kv_elements_per_token() * hf.n_layers * 2 == 70272);  // bf16 bytes, DESIGN.md §11
  check_same_model(hf, card);
}

TEST_CASE("the published Llama-3-8B config.json imports to the Llama-3-8B card") {
  const ModelSpec hf = load_hf_config(kHfDir / "llama-3-8b" / "config.json");
  const ModelSpec card = resolve_model("llama-3-8b");
  CHECK(hf.name == "llama-3-8b");
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
  const ModelSpec lite =
      load_hf_config(dir.write("lite.json", R"({"hidden_size": 2048, "num_hidden_layers": 27,
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

namespace {

// Imports `path`, returning the model and what was written on the warning stream.
std::pair<ModelSpec, std::string> import_with_warnings(const fs::path& path) {
  std::ostringstream warnings;
  ModelSpec m = load_hf_config(path, warnings);
  return {std::move(m), warnings.str()};
}

double op_field(const StepWorkload& w, const std::string& name, double Op::*field) {
  for (const Op& op : w.ops) {
    if (op.name == name) return op.*field;
  }
  FAIL("no op " << name);
  return 0.0;
}

}  // namespace

TEST_CASE("DeepSeek-V3's quantization_config (fp8) is honoured: costed in fp8 it fits on 8 H200s") {
  const auto [m, warnings] = import_with_warnings(kHfDir / "deepseek-v3" / "config.json");
  REQUIRE(m.weights_dtype == Dtype::kFp8);

  // Parameters from the published architecture, counted here independently of count_parameters():
  // per layer MLA (q_a, q_a_norm, q_b, kv_a, kv_a_norm, kv_b, o) + 2 RMSNorms; 3 dense SwiGLU layers; 58 MoE
  // layers of 256 routed + 1 shared SwiGLU experts 2048 wide and a router; untied embedding and lm_head;
  // final norm.
  const std::int64_t h = 7168, rq = 1536, dc = 512, dr = 64, dn = 128, dv = 128, nh = 128;
  const std::int64_t mla =
      h * rq + rq + rq * nh * (dn + dr) + h * (dc + dr) + dc + dc * nh * (dn + dv) + nh * dv * h;
  const std::int64_t layer_norms = 2 * h;
  const std::int64_t dense_ffn = 3 * h * 18432;
  const std::int64_t moe_ffn = (256 + 1) * 3 * h * 2048 + h * 256;
  const std::int64_t vocab = 129280;
  const std::int64_t total = 61 * (mla + layer_norms) + 3 * dense_ffn + 58 * moe_ffn + 2 * vocab * h + h;
  CHECK(total == 671'026'404'352);  // the published "671B total parameters"
  // fp8 stores one byte per weight. (The checkpoint also keeps the embedding, lm_head, norms and routers in
  // bf16 and adds fp32 scales per 128x128 block, about 2.1 GB or 0.3% more; not modelled.)
  CHECK(weight_bytes_total(m, *m.weights_dtype) == Approx(double(total) * 1.0));

  // One GPU of TP 8: the MLA projections q_a and kv_a replicated, heads and FFN columns split by 8.
  const std::int64_t mla_per_gpu =
      h * rq + rq * (nh / 8) * (dn + dr) + h * (dc + dr) + dc * (nh / 8) * (dn + dv) + (nh / 8) * dv * h;
  const double per_gpu = 61.0 * (mla_per_gpu + layer_norms) + 3.0 * dense_ffn / 8 +
                         58.0 * ((256 + 1) * 3.0 * h * 2048 / 8 + h * 256) + 2.0 * vocab * h / 8 + h;
  const HardwareSpec h200 = resolve_hw("h200");
  Precision fp8;
  fp8.weights = *m.weights_dtype;
  const Capacity cap = compute_capacity(m, h200, fp8, Parallelism{8, false});
  CHECK(cap.weight_bytes_per_gpu == Approx(per_gpu * 1.0).epsilon(1e-5));  // 84.8 GB
  CHECK(cap.weight_bytes_per_gpu < 0.9 * 141e9);
  CHECK(cap.fits());
  CHECK(max_concurrency(cap, 32768) >= 1);
  // In bf16 (what the import used to cost) the weights alone, 169.6 GB per GPU, exceed the 126.9 GB usable.
  const Capacity bf16 = compute_capacity(m, h200, Precision{}, Parallelism{8, false});
  CHECK(bf16.weight_bytes_per_gpu == Approx(per_gpu * 2.0).epsilon(1e-5));
  CHECK_FALSE(bf16.fits());

  // The multi-token-prediction layer changes the cost but is not modelled: one located warning line.
  const std::string path = (kHfDir / "deepseek-v3" / "config.json").string();
  CHECK(warnings == path +
                        ":33:3: warning: num_nextn_predict_layers: the multi-token-prediction module is not "
                        "modelled: its layers are neither counted in the weights nor run\n");
}

TEST_CASE(
    "quantization_config: GPTQ and AWQ bits, bitsandbytes, torch_dtype; unknown methods are warned about") {
  ScratchDir dir;
  const std::string base = R"("hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
    "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256)";
  auto imported = [&](const std::string& name, const std::string& extra) {
    return import_with_warnings(dir.write(name, "{" + base + ",\n" + extra + "}"));
  };
  CHECK(imported("gptq.json", R"("quantization_config": {"quant_method": "gptq", "bits": 4})")
            .first.weights_dtype == Dtype::kInt4);
  CHECK(imported("gptq8.json", R"("quantization_config": {"quant_method": "gptq", "bits": 8})")
            .first.weights_dtype == Dtype::kInt8);
  CHECK(
      imported("awq.json", R"("quantization_config": {"quant_method": "awq", "bits": 4, "group_size": 128})")
          .first.weights_dtype == Dtype::kInt4);
  CHECK(
      imported("bnb.json", R"("quantization_config": {"quant_method": "bitsandbytes", "load_in_4bit": true})")
          .first.weights_dtype == Dtype::kInt4);
  CHECK(imported("fp16.json", R"("torch_dtype": "float16")").first.weights_dtype == Dtype::kFp16);
  CHECK(imported("fp32.json", R"("torch_dtype": "float32")").first.weights_dtype ==
        Dtype::kFp16);  // vLLM "auto"
  CHECK(imported("none.json", R"("rope_theta": 500000.0)").first.weights_dtype == std::nullopt);

  const auto [hqq, hqq_warning] =
      imported("hqq.json", R"("quantization_config": {"quant_method": "hqq"}, "torch_dtype": "bfloat16")");
  CHECK(hqq.weights_dtype == std::nullopt);
  CHECK(hqq_warning ==
        (dir.path() / "hqq.json").string() +
            ":3:41: warning: quantization_config.quant_method: quantization method `hqq` is not "
            "modelled (fp8, gptq, awq and bitsandbytes are); weights are costed at the run's dtype\n");
  const auto [three, three_warning] =
      imported("gptq3.json", R"("quantization_config": {"quant_method": "gptq", "bits": 3})");
  CHECK(three.weights_dtype == std::nullopt);
  CHECK(three_warning.find("warning: quantization_config.bits: 3-bit weights are not modelled") !=
        std::string::npos);

  // A run can still choose another dtype: the import only sets the default (cmd_step's --weights).
  const ModelSpec gptq =
      imported("gptq.json", R"("quantization_config": {"quant_method": "gptq", "bits": 4})").first;
  CHECK(weight_bytes_total(gptq, Dtype::kBf16) == Approx(4.0 * weight_bytes_total(gptq, Dtype::kInt4)));
}

TEST_CASE("keys that do not change the cost are silent") {
  const auto [llama, llama_warnings] = import_with_warnings(kHfDir / "llama-3-8b" / "config.json");
  CHECK(llama_warnings.empty());
  const auto [mistral, mistral_warnings] = import_with_warnings(kHfDir / "mistral-7b-v0.1" / "config.json");
  CHECK(mistral_warnings.empty());
}

TEST_CASE("an imported model is named after its folder unless the config names it") {
  CHECK(load_hf_config(kHfDir / "mistral-7b-v0.1" / "config.json").name == "mistral-7b-v0.1");
  ScratchDir dir;
  const std::string body = R"("hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
    "intermediate_size": 11008, "vocab_size": 32000)";
  fs::create_directories(dir.path() / "my-model");
  const fs::path folder = dir.write("my-model/config.json", "{" + body + "}");
  CHECK(load_hf_config(folder).name == "my-model");
  CHECK(load_hf_config(dir.write("other.json", "{" + body + "}")).name ==
        "other");  // not config.json: its stem
  const fs::path named = dir.write("config.json", R"({"_name_or_path": "org/model", )" + body + "}");
  CHECK(load_hf_config(named).name == "org/model");
}

TEST_CASE("head_dim is honoured; a head size that is not an integer is a located error") {
  ScratchDir dir;
  // Mistral-Nemo: 32 heads of 128 in a 5120-wide model (5120 / 32 would be 160).
  const ModelSpec nemo =
      load_hf_config(dir.write("nemo.json", R"({"hidden_size": 5120, "num_hidden_layers": 40,
    "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128, "intermediate_size": 14336,
    "vocab_size": 131072})"));
  CHECK(nemo.attention.head_dim == 128);
  CHECK(nemo.attention.kv_elements_per_token() == 2 * 8 * 128);
  // Falcon's spelling (n_head) takes head_dim too (4544 / 32 would be 142).
  const ModelSpec falcon =
      load_hf_config(dir.write("falcon.json", R"({"model_type": "falcon", "hidden_size": 4544,
    "n_head": 32, "n_layer": 32, "multi_query": true, "head_dim": 64, "vocab_size": 65024})"));
  CHECK(falcon.attention.head_dim == 64);

  const fs::path bad = dir.write("bad.json", R"({
  "hidden_size": 4544,
  "num_hidden_layers": 32,
  "num_attention_heads": 70,
  "intermediate_size": 18176,
  "vocab_size": 65024
})");
  CHECK(error_of([&] { (void)load_hf_config(bad); }) ==
        bad.string() +
            ":4:3: error: num_attention_heads: hidden_size (4544) is not a multiple of the 70 heads and "
            "there is "
            "no head_dim");
}

TEST_CASE("L6: a huge Falcon hidden_size is a located error, not a signed overflow in 4 x hidden") {
  // /work/shared/reliability/repro/D16_falcon_huge_hidden.json: UBSan reported `2000000000 * 4` here.
  const fs::path repro = fs::path(MLASIM_TEST_DATA_DIR) / "reliability" / "L6_falcon_huge_hidden.json";
  CHECK(error_of([&] { (void)load_hf_config(repro); }) ==
        repro.string() + ":3:3: error: hidden_size: (2000000000) is absurdly large (limit 1048576)");
}

TEST_CASE("sliding_window caps the KV cache held and the attention span read at the window") {
  const ModelSpec m = load_hf_config(kHfDir / "mistral-7b-v0.1" / "config.json");
  REQUIRE(m.attention.sliding_window == 4096);
  ModelSpec full = m;
  full.attention.sliding_window = 0;
  // Mistral-7B: 32 layers × K and V × 8 KV heads × 128 × 2 bytes (bf16) = 131072 bytes per token.
  const double per_token = 32.0 * 2 * 8 * 128 * 2;
  CHECK(kv_bytes_per_token(m, Dtype::kBf16) == per_token);
  const Parallelism tp1{1, false};
  CHECK(kv_bytes_per_sequence_per_gpu(m, Dtype::kBf16, tp1, 32768) == 4096 * per_token);  // 512 MiB
  CHECK(kv_bytes_per_sequence_per_gpu(m, Dtype::kBf16, tp1, 32768) ==
        kv_bytes_per_sequence_per_gpu(m, Dtype::kBf16, tp1, 4096));
  CHECK(kv_bytes_per_sequence_per_gpu(m, Dtype::kBf16, tp1, 2048) == 2048 * per_token);  // below: unchanged
  CHECK(kv_bytes_per_sequence_per_gpu(full, Dtype::kBf16, tp1, 32768) == 32768 * per_token);

  // Capacity: as many 32k sequences fit as 4k ones; without the window 8 times fewer.
  const HardwareSpec h100 = resolve_hw("h100-sxm");
  const Capacity cap = compute_capacity(m, h100, Precision{}, tp1);
  CHECK(cap.kv_window_tokens == 4096);
  CHECK(max_concurrency(cap, 32768) == max_concurrency(cap, 4096));
  CHECK(max_concurrency(cap, 32768) == cap.kv_blocks() / (4096 / 16));
  const Capacity cap_full = compute_capacity(full, h100, Precision{}, tp1);
  CHECK(max_concurrency(cap_full, 32768) == cap_full.kv_blocks() / (32768 / 16));

  // A decode step at 32k reads what one at 4k does: 32 layers × 2 × 8 × 128 × 2 B × 4096 tokens, and scores
  // 32 heads × 4096 keys (4·n_h·d_h FLOPs per pair).
  const StepWorkload at_32k = build_step(m, uniform_decode(1, 32768));
  const StepWorkload at_4k = build_step(m, uniform_decode(1, 4096));
  const StepWorkload at_2k = build_step(m, uniform_decode(1, 2048));
  CHECK(op_field(at_32k, "attention_decode", &Op::kv_read_bytes) == 32.0 * 2 * 8 * 128 * 2 * 4096);
  CHECK(op_field(at_32k, "attention_decode", &Op::kv_read_bytes) ==
        op_field(at_4k, "attention_decode", &Op::kv_read_bytes));
  CHECK(op_field(at_32k, "attention_decode", &Op::flops) == 32.0 * 4 * 32 * 128 * 4096);
  CHECK(op_field(at_2k, "attention_decode", &Op::kv_read_bytes) == 32.0 * 2 * 8 * 128 * 2 * 2048);
  CHECK(op_field(build_step(full, uniform_decode(1, 32768)), "attention_decode", &Op::kv_read_bytes) ==
        32.0 * 2 * 8 * 128 * 2 * 32768);

  // An attention what-if changes the heads, not the tokens they attend to.
  CHECK(apply_variant(m, parse_variant("mqa")).attention.sliding_window == 4096);

  // A prefill chunk of 4 tokens ending at 6 with a window of 5: its queries see 3, 4, 5 and 5 keys (17
  // pairs).
  ModelSpec w5 = m;
  w5.attention.sliding_window = 5;
  StepShape chunk;
  chunk.sequences = {SequenceWork{6, 4, true, true}};
  CHECK(op_field(build_step(w5, chunk), "attention_prefill", &Op::flops) == 32.0 * 4 * 32 * 128 * 17);
  // Without a window the same chunk is causal over 6 keys: 3 + 4 + 5 + 6 = 18 pairs.
  CHECK(op_field(build_step(full, chunk), "attention_prefill", &Op::flops) == 32.0 * 4 * 32 * 128 * 18);
}

TEST_CASE("Qwen2's use_sliding_window and max_window_layers; a window on some layers only is warned about") {
  ScratchDir dir;
  const std::string base = R"({"model_type": "qwen2", "hidden_size": 3584, "num_hidden_layers": 28,
    "num_attention_heads": 28, "num_key_value_heads": 4, "intermediate_size": 18944, "vocab_size": 152064,
    "sliding_window": 131072, )";
  CHECK(
      load_hf_config(dir.write("off.json", base + R"("use_sliding_window": false, "max_window_layers": 28})"))
          .attention.sliding_window == 0);
  CHECK(load_hf_config(dir.write("all.json", base + R"("use_sliding_window": true, "max_window_layers": 0})"))
            .attention.sliding_window == 131072);
  const fs::path partial = dir.write("partial.json", base + R"("use_sliding_window": true,
    "max_window_layers": 21})");
  const auto [m, warnings] = import_with_warnings(partial);
  CHECK(m.attention.sliding_window == 0);
  CHECK(warnings ==
        partial.string() +
            ":4:26: warning: max_window_layers: the sliding window applies to 7 of 28 layers only, which "
            "is not modelled: every layer is costed with full attention\n");
  // Gemma-2 interleaves local (windowed) and global layers.
  const auto [gemma, gemma_warnings] =
      import_with_warnings(dir.write("gemma.json", R"({"model_type": "gemma2",
    "hidden_size": 3584, "num_hidden_layers": 42, "num_attention_heads": 16, "num_key_value_heads": 8,
    "head_dim": 256, "intermediate_size": 14336, "vocab_size": 256000, "sliding_window": 4096})"));
  CHECK(gemma.attention.sliding_window == 0);
  CHECK(gemma_warnings.find("warning: sliding_window: the sliding window applies to the local layers "
                            "interleaved with global ones only") != std::string::npos);
}

TEST_CASE("a model card takes attention.sliding_window, validated with its location") {
  ScratchDir dir;
  const std::string card = R"(name: windowed
source: test
layers: 32
hidden_size: 4096
vocab_size: 32000
attention:
  variant: gqa
  n_heads: 32
  n_kv_heads: 8
  sliding_window: WINDOW
ffn:
  intermediate_size: 14336
)";
  auto with_window = [&](const std::string& w) {
    std::string text = card;
    text.replace(text.find("WINDOW"), 6, w);
    return dir.write("card_" + w + ".yaml", text);
  };
  CHECK(load_model_card(with_window("4096")).attention.sliding_window == 4096);
  const fs::path bad = with_window("-1");
  CHECK(error_of([&] { (void)load_model_card(bad); }) ==
        bad.string() + ":10:3: error: attention.sliding_window: must be at least 0, got -1");
}

TEST_CASE("a serve config on DeepSeek-V3's config.json runs its fp8 weights unless precision.weights says") {
  const fs::path config =
      fs::path(MLASIM_TEST_DATA_DIR) / "reliability" / "HF_serve_deepseek_v3_config_json.yaml";
  CHECK(load_serve_config(config).spec.precision.weights == Dtype::kFp8);
  ScratchDir dir;
  std::ifstream in(config);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.replace(text.find("  tp: 8\n"), 8, "  tp: 8\n  precision: {weights: bf16}\n");
  const std::string model_line = "../hf/deepseek-v3/config.json";
  text.replace(text.find(model_line), model_line.size(), (kHfDir / "deepseek-v3" / "config.json").string());
  // In bf16 (what the import used to cost) it does not fit, and the message says so.
  const fs::path bf16 = dir.write("bf16.yaml", text);
  const std::string error = error_of([&] { (void)load_serve_config(bf16); });
  CHECK(error.find("weights per GPU (bf16, TP 8) 169.6 GB") != std::string::npos);
  CHECK(error.find("smallest TP that fits: 16") != std::string::npos);
}

TEST_CASE(
    "the FFN's shape comes from the architecture: GPT-NeoX's GELU MLP has two matrices, Gemma's GeGLU "
    "three") {
  const mlasim::test::ScratchDir dir("mlasim_test_hf_ffn_shape");
  // EleutherAI/pythia-1.4b's config.json (the sizes; the keys that do not change the cost left out).
  const std::string pythia = R"({"model_type": "gpt_neox", "hidden_act": "gelu", "hidden_size": 2048,
    "intermediate_size": 8192, "num_attention_heads": 16, "num_hidden_layers": 24, "vocab_size": 50304,
    "tie_word_embeddings": false, "torch_dtype": "float16"})";
  std::ostringstream warnings;
  const ModelSpec neox = load_hf_config(dir.write("pythia.json", pythia), warnings);
  CHECK(neox.ffn.activation == FfnActivation::kGelu);
  CHECK(neox.ffn.dense_matrices() == 2);
  CHECK(warnings.str().empty());
  // Pythia paper (Biderman et al. 2023, Table 1): 1,414,647,808 parameters. By hand: embeddings 2 × 50304 ×
  // 2048 = 206,045,184; per layer attention 4 × 2048² = 16,777,216 and MLP 2 × 2048 × 8192 = 33,554,432, × 24
  // = 1,207,959,552: 1,414,004,736 without the biases and norms (643,072) mlasim does not count. A gated FFN
  // would add 24 × 2048 × 8192 = 402,653,184.
  CHECK(count_parameters(neox).total == Approx(1414647808.0).epsilon(0.001));

  // Gemma: a GELU (gelu_pytorch_tanh) in a gated MLP: three matrices, and no warning.
  std::ostringstream gemma_warnings;
  const ModelSpec gemma = load_hf_config(
      dir.write("gemma.json",
                R"({"model_type": "gemma", "hidden_act": "gelu_pytorch_tanh", "hidden_size": 3072,
    "intermediate_size": 24576, "num_attention_heads": 16, "num_key_value_heads": 16, "head_dim": 256,
    "num_hidden_layers": 28, "vocab_size": 256000})"),
      gemma_warnings);
  CHECK(gemma.ffn.dense_matrices() == 3);
  CHECK(gemma_warnings.str().empty());

  // An architecture mlasim does not know with a GELU: costed gated, and said so at the key.
  std::ostringstream unknown_warnings;
  const fs::path unknown = dir.write("unknown.json", R"({"model_type": "newarch",
  "hidden_act": "gelu", "hidden_size": 2048, "intermediate_size": 8192, "num_attention_heads": 16,
  "num_hidden_layers": 24, "vocab_size": 50304})");
  CHECK(load_hf_config(unknown, unknown_warnings).ffn.dense_matrices() == 3);
  CHECK(unknown_warnings.str() ==
        unknown.string() +
            ":2:17: warning: hidden_act: `gelu` with model_type `newarch`: the FFN is costed gated (gate, "
            "up, down: "
            "three matrices); a plain two-matrix MLP has a third fewer FFN weights and FLOPs\n");
}
