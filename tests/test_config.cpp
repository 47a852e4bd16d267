// Config loading: model cards, hardware profiles, sweeps, grids, did-you-mean and error locations.
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "models/model_spec.hpp"
#include "sim/config/loader.hpp"
#include "sim/config/yaml_reader.hpp"
#include "sim/error.hpp"
#include "tests/test_support.hpp"

using namespace mlasim;
namespace fs = std::filesystem;
using mlasim::test::error_of;
using mlasim::test::ScratchDir;

namespace {

// Renders a spec in the card schema, so that load(render(load(card))) can be compared with load(card).
std::string render_card(const ModelSpec& m) {
  std::ostringstream o;
  o << "name: " << m.name << "\nsource: " << m.source << "\nlayers: " << m.n_layers
    << "\nhidden_size: " << m.hidden_size << "\nvocab_size: " << m.vocab_size
    << "\ntie_word_embeddings: " << (m.tie_word_embeddings ? "true" : "false")
    << "\nattention:\n  variant: " << to_string(m.attention.kind) << "\n  n_heads: " << m.attention.n_heads
    << "\n  n_kv_heads: " << m.attention.n_kv_heads << "\n  head_dim: " << m.attention.head_dim
    << "\n  kv_lora_rank: " << m.attention.kv_lora_rank << "\n  q_lora_rank: " << m.attention.q_lora_rank
    << "\n  qk_rope_head_dim: " << m.attention.qk_rope_head_dim
    << "\n  qk_nope_head_dim: " << m.attention.qk_nope_head_dim
    << "\n  v_head_dim: " << m.attention.v_head_dim
    << "\nffn:\n  intermediate_size: " << m.ffn.intermediate_size << "\n";
  if (m.ffn.is_moe()) {
    o << "  moe:\n    n_routed_experts: " << m.ffn.moe.n_routed_experts
      << "\n    n_shared_experts: " << m.ffn.moe.n_shared_experts
      << "\n    experts_per_token: " << m.ffn.moe.experts_per_token
      << "\n    expert_intermediate_size: " << m.ffn.moe.expert_intermediate_size
      << "\n    first_k_dense: " << m.ffn.moe.first_k_dense << "\n";
  }
  return o.str();
}

const std::string kMinimalProfile = R"(name: Test GPU
source: https://example.com/datasheet
memory:
  capacity: 80 GB
  bandwidth: 3.35 TB/s
compute:
  bf16: 989 TFLOP/s
sms: 132
l2: 50 MB
launch_overhead: 4 us
interconnect:
  name: NVLink 4
  bandwidth: 450 GB/s
  latency: 5 us
)";

}  // namespace

TEST_CASE("every built-in model card loads and validates") {
  const std::vector<CatalogEntry> cards = list_model_cards();
  REQUIRE(cards.size() >= 9);
  for (const CatalogEntry& c : cards) {
    INFO(c.id);
    const ModelSpec m = resolve_model(c.id);
    CHECK(validate(m).empty());
    CHECK(m.source.rfind("https://huggingface.co/", 0) == 0);
    CHECK_FALSE(c.summary.empty());
  }
}

TEST_CASE("every built-in hardware profile loads with dense peaks, units and a source") {
  const std::vector<CatalogEntry> profiles = list_hw_profiles();
  REQUIRE(profiles.size() >= 8);
  for (const CatalogEntry& p : profiles) {
    INFO(p.id);
    const HardwareSpec hw = resolve_hw(p.id);
    CHECK(validate(hw).empty());
    CHECK(hw.id == p.id);
    CHECK(hw.source.rfind("https://", 0) == 0);
    CHECK(hw.peak_flops_per_s.count(Dtype::kBf16) == 1);
    CHECK(hw.calibration.empty());  // filled by `mlasim calibrate`, never by hand
    CHECK(hw.interconnect.bandwidth_bytes_per_s > 0);
    CHECK(hw.gpus_per_node >= 1);
    // A network, when given, is named and slower than the scale-up link it extends.
    if (hw.scale_out.bandwidth_bytes_per_s > 0) {
      CHECK_FALSE(hw.scale_out.name.empty());
      CHECK(hw.scale_out.latency_s > 0);
      CHECK(hw.scale_out.bandwidth_bytes_per_s < hw.interconnect.bandwidth_bytes_per_s);
    }
  }
}

TEST_CASE("model cards hold the values of the config.json they cite") {
  // (layers, hidden, vocab, heads, kv heads, head_dim, intermediate): from each card's source config.json.
  struct Dense {
    const char* id;
    int layers, hidden, vocab, heads, kv, head_dim, inter;
    AttentionKind kind;
    bool tied;
  };
  const Dense dense[] = {
      {"llama-2-7b", 32, 4096, 32000, 32, 32, 128, 11008, AttentionKind::kMha, false},
      {"llama-3-8b", 32, 4096, 128256, 32, 8, 128, 14336, AttentionKind::kGqa, false},
      {"llama-3-70b", 80, 8192, 128256, 64, 8, 128, 28672, AttentionKind::kGqa, false},
      {"mistral-7b", 32, 4096, 32000, 32, 8, 128, 14336, AttentionKind::kGqa, false},
      {"qwen2.5-72b", 80, 8192, 152064, 64, 8, 128, 29568, AttentionKind::kGqa, false},
      {"falcon-7b", 32, 4544, 65024, 71, 1, 64, 18176, AttentionKind::kMqa, true},
  };
  for (const Dense& d : dense) {
    INFO(d.id);
    const ModelSpec m = resolve_model(d.id);
    CHECK(m.n_layers == d.layers);
    CHECK(m.hidden_size == d.hidden);
    CHECK(m.vocab_size == d.vocab);
    CHECK(m.attention.kind == d.kind);
    CHECK(m.attention.n_heads == d.heads);
    CHECK(m.attention.n_kv_heads == d.kv);
    CHECK(m.attention.head_dim == d.head_dim);
    CHECK(m.ffn.intermediate_size == d.inter);
    CHECK(m.tie_word_embeddings == d.tied);
    CHECK_FALSE(m.ffn.is_moe());
  }

  struct Mla {
    const char* id;
    int layers, hidden, vocab, heads, q_lora, inter, routed, shared, top_k, expert_inter, first_dense;
  };
  const Mla mla[] = {
      {"deepseek-v2-lite", 27, 2048, 102400, 16, 0, 10944, 64, 2, 6, 1408, 1},
      {"deepseek-v2", 60, 5120, 102400, 128, 1536, 12288, 160, 2, 6, 1536, 1},
      {"deepseek-v3", 61, 7168, 129280, 128, 1536, 18432, 256, 1, 8, 2048, 3},
  };
  for (const Mla& d : mla) {
    INFO(d.id);
    const ModelSpec m = resolve_model(d.id);
    CHECK(m.n_layers == d.layers);
    CHECK(m.hidden_size == d.hidden);
    CHECK(m.vocab_size == d.vocab);
    CHECK(m.attention.kind == AttentionKind::kMla);
    CHECK(m.attention.n_heads == d.heads);
    CHECK(m.attention.kv_lora_rank == 512);
    CHECK(m.attention.q_lora_rank == d.q_lora);
    CHECK(m.attention.qk_rope_head_dim == 64);
    CHECK(m.attention.qk_nope_head_dim == 128);
    CHECK(m.attention.v_head_dim == 128);
    CHECK(m.ffn.intermediate_size == d.inter);
    CHECK(m.ffn.moe.n_routed_experts == d.routed);
    CHECK(m.ffn.moe.n_shared_experts == d.shared);
    CHECK(m.ffn.moe.experts_per_token == d.top_k);
    CHECK(m.ffn.moe.expert_intermediate_size == d.expert_inter);
    CHECK(m.ffn.moe.first_k_dense == d.first_dense);
    CHECK_FALSE(m.tie_word_embeddings);
  }
}

TEST_CASE("hardware profiles hold the dense datasheet figures") {
  const HardwareSpec h100 = resolve_hw("h100-sxm");
  CHECK(h100.hbm_bytes == Approx(80e9));
  CHECK(h100.hbm_bandwidth_bytes_per_s == Approx(3.35e12));
  CHECK(h100.peak_flops_per_s.at(Dtype::kBf16) == Approx(989e12));
  CHECK(h100.peak_flops_per_s.at(Dtype::kFp8) == Approx(1979e12));
  CHECK(h100.sms == 132);
  CHECK(h100.l2_bytes == Approx(50e6));
  CHECK(h100.launch_overhead_s == Approx(4e-6));
  CHECK(h100.interconnect.bandwidth_bytes_per_s == Approx(450e9));

  const HardwareSpec h800 = resolve_hw("h800");
  CHECK(h800.peak_flops_per_s.at(Dtype::kBf16) == Approx(989e12));
  CHECK(h800.interconnect.bandwidth_bytes_per_s == Approx(200e9));  // 400 GB/s bidirectional

  const HardwareSpec h200 = resolve_hw("h200");
  CHECK(h200.hbm_bytes == Approx(141e9));
  CHECK(h200.hbm_bandwidth_bytes_per_s == Approx(4.8e12));

  const HardwareSpec a100 = resolve_hw("a100-80gb");
  CHECK(a100.hbm_bandwidth_bytes_per_s == Approx(2.039e12));
  CHECK(a100.peak_flops_per_s.at(Dtype::kBf16) == Approx(312e12));
  CHECK(a100.peak_flops_per_s.count(Dtype::kFp8) == 0);  // Ampere has no fp8 tensor cores
  CHECK(a100.sms == 108);
  CHECK(a100.l2_bytes == Approx(40e6));
  CHECK(a100.interconnect.bandwidth_bytes_per_s == Approx(300e9));

  const HardwareSpec b200 = resolve_hw("b200");
  CHECK(b200.hbm_bytes == Approx(180e9));
  CHECK(b200.hbm_bandwidth_bytes_per_s == Approx(8e12));
  CHECK(b200.peak_flops_per_s.at(Dtype::kBf16) == Approx(2250e12));
  CHECK(b200.peak_flops_per_s.at(Dtype::kFp8) == Approx(4500e12));
  CHECK(b200.interconnect.bandwidth_bytes_per_s == Approx(900e9));

  const HardwareSpec mi300x = resolve_hw("mi300x");
  CHECK(mi300x.hbm_bytes == Approx(192e9));
  CHECK(mi300x.hbm_bandwidth_bytes_per_s == Approx(5.3e12));
  CHECK(mi300x.peak_flops_per_s.at(Dtype::kBf16) == Approx(1307e12));
  CHECK(mi300x.peak_flops_per_s.at(Dtype::kFp8) == Approx(2615e12));
  CHECK(mi300x.sms == 304);
  CHECK(mi300x.l2_bytes == Approx(256e6));

  const HardwareSpec l40s = resolve_hw("l40s");
  CHECK(l40s.hbm_bytes == Approx(48e9));
  CHECK(l40s.hbm_bandwidth_bytes_per_s == Approx(864e9));
  CHECK(l40s.peak_flops_per_s.at(Dtype::kBf16) == Approx(362e12));
  CHECK(l40s.peak_flops_per_s.at(Dtype::kFp8) == Approx(733e12));
  CHECK(l40s.sms == 142);
  CHECK(l40s.l2_bytes == Approx(96e6));
}

TEST_CASE("hardware profiles hold their node size and scale-out network") {
  // (id, GPUs per node, scale-out bandwidth per GPU per direction in B/s; 0 = none given): from each
  // profile's cited system (DGX / Azure VM pages, DeepEP's README for the H800).
  struct Node {
    const char* id;
    int gpus;
    double net;
  };
  const Node nodes[] = {
      {"h100-sxm", 8, 50e9},  {"h200", 8, 50e9},   {"h800", 8, 50e9}, {"b200", 8, 50e9},
      {"a100-80gb", 8, 25e9}, {"mi300x", 8, 50e9}, {"l40s", 8, 0.0},  {"h20", 8, 25e9},
  };
  for (const Node& n : nodes) {
    INFO(n.id);
    const HardwareSpec hw = resolve_hw(n.id);
    CHECK(hw.gpus_per_node == n.gpus);
    CHECK(hw.scale_out.bandwidth_bytes_per_s == Approx(n.net));
    if (n.net > 0) CHECK(hw.scale_out.latency_s == Approx(10e-6));
  }
  CHECK(resolve_hw("h800").scale_out.name == "InfiniBand NDR (CX7, one per GPU)");
  // `mlasim list hw` says both.
  for (const CatalogEntry& e : list_hw_profiles()) {
    INFO(e.id);
    if (e.id == "a100-80gb")
      CHECK_THAT(e.summary, Catch::Contains(", 8 GPUs per node, scale-out 25 GB/s per GPU"));
    if (e.id == "l40s") {
      CHECK_THAT(e.summary, Catch::Contains(", 8 GPUs per node"));
      CHECK_THAT(e.summary, !Catch::Contains("scale-out"));
    }
  }
}

TEST_CASE("the H20 profile holds the reported H20 figures") {
  const HardwareSpec h20 = resolve_hw("h20");
  CHECK(h20.name == "H20");
  CHECK(h20.hbm_bytes == Approx(96e9));
  CHECK(h20.hbm_bandwidth_bytes_per_s == Approx(4.0e12));
  CHECK(h20.peak_flops_per_s.at(Dtype::kBf16) == Approx(148e12));
  CHECK(h20.peak_flops_per_s.at(Dtype::kFp8) == Approx(296e12));
  CHECK(h20.peak_flops_per_s.at(Dtype::kInt8) == Approx(296e12));
  CHECK(h20.sms == 78);
  CHECK(h20.l2_bytes == Approx(60e6));
  CHECK(h20.interconnect.bandwidth_bytes_per_s == Approx(450e9));  // 900 GB/s bidirectional
  CHECK_FALSE(h20.price_per_gpu_hour.has_value());                 // no public list price found
  // The H20's bf16 rate is 148/989 of the H100's: the memory-bound decode is not where it loses.
  CHECK(h20.peak_flops(Dtype::kBf16) / resolve_hw("h100-sxm").peak_flops(Dtype::kBf16) ==
        Approx(0.1496).epsilon(1e-3));
}

TEST_CASE("gpus_per_node and scale_out load with their units, defaults and located errors") {
  ScratchDir dir;
  const fs::path full = dir.write("net.yaml", kMinimalProfile + R"(gpus_per_node: 72
scale_out:
  name: InfiniBand XDR
  bandwidth: 100 GB/s
  latency: 3 us
)");
  const HardwareSpec hw = load_hw_profile(full);
  CHECK(hw.gpus_per_node == 72);
  CHECK(hw.scale_out.name == "InfiniBand XDR");
  CHECK(hw.scale_out.bandwidth_bytes_per_s == Approx(100e9));
  CHECK(hw.scale_out.latency_s == Approx(3e-6));

  // Without them: one 8-GPU node and no network (bandwidth 0 means "not given").
  const HardwareSpec plain = load_hw_profile(dir.write("plain.yaml", kMinimalProfile));
  CHECK(plain.gpus_per_node == 8);
  CHECK(plain.scale_out.name.empty());
  CHECK(plain.scale_out.bandwidth_bytes_per_s == 0.0);
  CHECK(plain.scale_out.latency_s == 0.0);

  // Line 15 is the first line after kMinimalProfile.
  const fs::path no_bw =
      dir.write("no_bw.yaml", kMinimalProfile + "scale_out:\n  name: IB\n  latency: 5 us\n");
  CHECK(error_of([&] { (void)load_hw_profile(no_bw); }) ==
        no_bw.string() + ":16:3: error: scale_out.bandwidth: missing required key");
  const fs::path bare =
      dir.write("bare.yaml", kMinimalProfile + "scale_out: {name: IB, bandwidth: 50, latency: 5 us}\n");
  CHECK_THAT(error_of([&] { (void)load_hw_profile(bare); }),
             Catch::StartsWith(bare.string() + ":15:34: error: scale_out.bandwidth: `50` has no unit"));
  const fs::path zero = dir.write("zero.yaml", kMinimalProfile + "gpus_per_node: 0\n");
  CHECK(error_of([&] { (void)load_hw_profile(zero); }) ==
        zero.string() + ":15:1: error: gpus_per_node: must be between 1 and 1024, got 0");
  const fs::path huge = dir.write("huge.yaml", kMinimalProfile + "gpus_per_node: 1025\n");
  CHECK_THAT(error_of([&] { (void)load_hw_profile(huge); }),
             Catch::Contains("gpus_per_node: must be between 1 and 1024, got 1025"));
  const fs::path frac = dir.write("frac.yaml", kMinimalProfile + "gpus_per_node: 8.5\n");
  CHECK_THAT(error_of([&] { (void)load_hw_profile(frac); }),
             Catch::StartsWith(frac.string() + ":15:16: error"));
  const fs::path no_net =
      dir.write("no_net.yaml", kMinimalProfile + "scale_out: {name: IB, bandwidth: 0 GB/s, latency: 5 us}\n");
  CHECK_THAT(error_of([&] { (void)load_hw_profile(no_net); }),
             Catch::Contains("scale_out.bandwidth: must be between 1 GB/s and 1 PB/s, got 0 B/s"));
  const fs::path no_lat = dir.write(
      "no_lat.yaml", kMinimalProfile + "scale_out: {name: IB, bandwidth: 50 GB/s, latency: 0 us}\n");
  CHECK_THAT(error_of([&] { (void)load_hw_profile(no_lat); }),
             Catch::Contains("scale_out.latency: must be positive, at most 1 ms, got 0 s"));
  // Unknown keys still get a did-you-mean, at the top level and inside the block.
  const fs::path typo = dir.write("typo.yaml", kMinimalProfile + "scale_ot: {name: IB}\n");
  CHECK_THAT(error_of([&] { (void)load_hw_profile(typo); }), Catch::Contains("did you mean `scale_out`?"));
  const fs::path inner =
      dir.write("inner.yaml", kMinimalProfile + "scale_out: {name: IB, bandwith: 50 GB/s, latency: 5 us}\n");
  CHECK_THAT(error_of([&] { (void)load_hw_profile(inner); }),
             Catch::Contains("scale_out.bandwith: unknown key `bandwith`; did you mean `bandwidth`?"));
}

TEST_CASE("a card written back in the schema loads to the same spec") {
  ScratchDir dir;
  for (const CatalogEntry& c : list_model_cards()) {
    INFO(c.id);
    const ModelSpec original = resolve_model(c.id);
    const ModelSpec again = load_model_card(dir.write(c.id + ".yaml", render_card(original)));
    CHECK(again.name == original.name);
    CHECK(again.source == original.source);
    CHECK(again.n_layers == original.n_layers);
    CHECK(again.hidden_size == original.hidden_size);
    CHECK(again.vocab_size == original.vocab_size);
    CHECK(again.tie_word_embeddings == original.tie_word_embeddings);
    CHECK(again.attention.kind == original.attention.kind);
    CHECK(again.attention.n_kv_heads == original.attention.n_kv_heads);
    CHECK(again.attention.head_dim == original.attention.head_dim);
    CHECK(again.attention.kv_elements_per_token() == original.attention.kv_elements_per_token());
    CHECK(again.ffn.moe.n_routed_experts == original.ffn.moe.n_routed_experts);
    CHECK(again.ffn.moe.expert_intermediate_size == original.ffn.moe.expert_intermediate_size);
  }
}

TEST_CASE("models and GPUs resolve by id, by name in any case, or by path") {
  CHECK(resolve_model("DeepSeek-V3").n_layers == 61);
  CHECK(resolve_model("LLAMA-3-70B").n_layers == 80);
  CHECK(resolve_model((model_cards_dir() / "falcon-7b.yaml").string()).attention.n_heads == 71);
  CHECK(resolve_hw("H100-SXM").sms == 132);
  CHECK(resolve_hw("MI300X").sms == 304);
  CHECK(resolve_hw((hw_profiles_dir() / "l40s.yaml").string()).sms == 142);
}

TEST_CASE("an unknown model or GPU name lists the known ones with a did-you-mean") {
  const std::string model = error_of([] { (void)resolve_model("deepseek-v4"); });
  CHECK_THAT(model, Catch::StartsWith("error: unknown model `deepseek-v4`; did you mean `deepseek-v"));
  CHECK_THAT(model, Catch::Contains("`llama-3-8b`"));
  const std::string hw = error_of([] { (void)resolve_hw("h100"); });
  CHECK_THAT(hw, Catch::Contains("did you mean `h100-sxm`?"));
  CHECK_THAT(hw, Catch::Contains("`mi300x`"));
}

TEST_CASE("did-you-mean suggests near misses only") {
  const std::vector<std::string> keys{"layers", "hidden_size", "vocab_size", "experts_per_token",
                                      "n_kv_heads"};
  CHECK(closest_match("hiden_size", keys) == std::optional<std::string>("hidden_size"));
  CHECK(closest_match("Layers", keys) == std::optional<std::string>("layers"));
  CHECK(closest_match("experts_per_tok", keys) == std::optional<std::string>("experts_per_token"));
  CHECK(closest_match("n_kv_head", keys) == std::optional<std::string>("n_kv_heads"));
  CHECK_FALSE(closest_match("temperature", keys).has_value());
  CHECK(closest_match("fp9", {"fp32", "bf16", "fp16", "fp8", "int8", "int4"}) ==
        std::optional<std::string>("fp8"));
  CHECK(edit_distance("ab", "ba") == 1);  // a swap is one edit
  CHECK(edit_distance("kitten", "sitting") == 3);
}

TEST_CASE("errors point at the file, line and column of the offending key") {
  ScratchDir dir;
  const fs::path card = dir.write("typo.yaml", R"(name: X
source: https://example.com
layers: 2
hidden_size: 64
vocab_size: 100
attention:
  variant: gqa
  n_heads: 8
  n_kv_head: 2
ffn:
  intermediate_size: 128
)");
  CHECK(error_of([&] { (void)load_model_card(card); }) ==
        card.string() +
            ":9:3: error: attention.n_kv_head: unknown key `n_kv_head`; did you mean `n_kv_heads`?");

  const fs::path missing = dir.path() / "nope.yaml";
  CHECK(error_of([&] { (void)load_model_card(missing); }) == missing.string() + ": error: no such file");
}

TEST_CASE("validator problems are placed on the key they name") {
  ScratchDir dir;
  const fs::path card = dir.write("bad.yaml", R"(name: X
source: https://example.com
layers: 2
hidden_size: 768
vocab_size: 100
attention:
  variant: gqa
  n_heads: 12
  n_kv_heads: 5
ffn:
  intermediate_size: 128
)");
  CHECK(error_of([&] { (void)load_model_card(card); }) ==
        card.string() + ":9:3: error: attention.n_kv_heads: (5) must divide n_heads (12)");
}

TEST_CASE("a profile's price and calibration block are read with units") {
  ScratchDir dir;
  const fs::path p = dir.write("gpu.yaml", kMinimalProfile + R"(price_per_gpu_hour: 2.5 USD
calibration:
  bandwidth:
    copy: {t0: 3 us, bw_inf: 3.0 TB/s}
  launch: {eager: 2.5 us}
  gemm_peak:
    bf16: 700 TFLOP/s
  fingerprint: "H100 SXM, driver 550, 2025-01-01"
)");
  const HardwareSpec hw = load_hw_profile(p);
  CHECK(hw.id == "gpu");
  REQUIRE(hw.price_per_gpu_hour.has_value());
  CHECK(*hw.price_per_gpu_hour == Approx(2.5));
  CHECK(hw.calibration.hbm_ramp()->bw_inf_bytes_per_s == Approx(3.0e12));
  CHECK(hw.calibration.hbm_ramp()->t0_s == Approx(3e-6));
  CHECK(*hw.calibration.launch_eager_s == Approx(2.5e-6));
  CHECK(hw.calibration.gemm_peak_flops_per_s.at(Dtype::kBf16) == Approx(700e12));
  CHECK(hw.calibration.fingerprint == "H100 SXM, driver 550, 2025-01-01");
  CHECK(hw.datasheet_efficiency.compute == Approx(DatasheetEfficiency{}.compute));

  const fs::path bare = dir.write("bare.yaml", kMinimalProfile + "price_per_gpu_hour: 2.5\n");
  CHECK_THAT(error_of([&] { (void)load_hw_profile(bare); }),
             Catch::StartsWith(bare.string() + ":15:21: error: price_per_gpu_hour: expected a price"));
}

TEST_CASE("count grids: scalars, geometric and arithmetic ranges") {
  const std::vector<std::int64_t> ctx = parse_count_grid("1k..128k x2");
  REQUIRE(ctx.size() == 8);
  CHECK(ctx.front() == 1024);
  CHECK(ctx.back() == 131072);
  CHECK(parse_count_grid("1..8 +1") == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(parse_count_grid("1..10 x3") == std::vector<std::int64_t>{1, 3, 9});  // 10 is not hit: excluded
  CHECK(parse_count_grid("2..9 +3") == std::vector<std::int64_t>{2, 5, 8});
  CHECK(parse_count_grid("4k") == std::vector<std::int64_t>{4096});
  CHECK(parse_count_grid(" 64 ") == std::vector<std::int64_t>{64});
  CHECK_THROWS_WITH(parse_count_grid("1k..128k"), Catch::Contains("needs a step"));
  CHECK_THROWS_WITH(parse_count_grid("8..1 x2"), Catch::Contains("ends (1) before it starts (8)"));
  CHECK_THROWS_WITH(parse_count_grid("1..8 x1"), Catch::Contains("factor of at least 2"));
  CHECK_THROWS_WITH(parse_count_grid("0..8 x2"), Catch::Contains("cannot start at 0"));
  CHECK_THROWS_WITH(parse_count_grid("1..8 +0"), Catch::Contains("step of at least 1"));
  CHECK_THROWS_WITH(parse_count_grid("1..1M +1"), Catch::Contains("more than"));
  CHECK_THROWS_AS(parse_count_grid("lots"), InputError);
  CHECK_THROWS_AS(parse_count_grid(""), InputError);
}

TEST_CASE("a sweep config resolves names, paths relative to itself, grids and options") {
  ScratchDir dir;
  dir.write("cards/tiny.yaml", R"(name: Tiny
source: https://example.com/tiny
layers: 2
hidden_size: 256
vocab_size: 1000
attention:
  variant: gqa
  n_heads: 8
  n_kv_heads: 2
ffn:
  intermediate_size: 512
)");
  dir.write("gpus/test-gpu.yaml", kMinimalProfile);
  const fs::path cfg = dir.write("exp/sweep.yaml", R"(sweep:
  name: tiny-vs-v3
  models: [../cards/tiny.yaml, deepseek-v3]
  variants: [native, "gqa:8", mqa, "mla:512/64"]
  hardware: [h100-sxm, ../gpus/test-gpu.yaml]
  tp: [1, 8]
  batch: "1..4 x2"
  context: [1k..4k x2, 128k]
  sq: 2
  precision: {weights: fp8, kv_cache: bf16, activations: bf16}
  mla_mode: absorbed
  mode: speed-of-light
  capacity: {gpu_memory_utilization: 0.85, block_size: 64, max_batched_tokens: 16k, runtime_reserve: 2 GiB}
)");
  const SweepSpec s = load_sweep_config(cfg);
  CHECK(s.name == "tiny-vs-v3");
  CHECK(s.source == cfg.string());
  REQUIRE(s.models.size() == 2);
  CHECK(s.models[0].name == "Tiny");
  CHECK(s.models[1].name == "DeepSeek-V3");
  REQUIRE(s.variants.size() == 4);
  CHECK(s.variants[0].kind == VariantSpec::Kind::kNative);
  CHECK(s.variants[1].n_kv_heads == 8);
  CHECK(s.variants[3].kv_lora_rank == 512);
  REQUIRE(s.hardware.size() == 2);
  CHECK(s.hardware[0].id == "h100-sxm");
  CHECK(s.hardware[1].id == "test-gpu");
  CHECK(s.tp == std::vector<int>{1, 8});
  CHECK(s.batch == std::vector<BatchChoice>{1, 2, 4});
  CHECK(s.context == std::vector<std::int64_t>{1024, 2048, 4096, 131072});
  CHECK(s.s_q == std::vector<int>{2});
  CHECK(s.precision.weights == Dtype::kFp8);
  CHECK(s.mla_mode == MlaMode::kAbsorbed);
  CHECK(s.device_mode == DeviceMode::kSpeedOfLight);
  CHECK(s.capacity.gpu_memory_utilization == Approx(0.85));
  CHECK(s.capacity.block_size == 64);
  CHECK(s.capacity.max_batched_tokens == 16384);
  CHECK(s.capacity.runtime_reserve_bytes == Approx(2.0 * 1024 * 1024 * 1024));
}

TEST_CASE("a sweep's defaults: native variant, tp 1, s_q 1") {
  ScratchDir dir;
  const fs::path cfg = dir.write("s.yaml", R"(sweep:
  models: llama-3-8b
  hardware: h200
  batch: 1
  context: 1k..128k x2
)");
  const SweepSpec s = load_sweep_config(cfg);
  CHECK(s.name == "s");
  REQUIRE(s.variants.size() == 1);
  CHECK(s.variants[0].kind == VariantSpec::Kind::kNative);
  CHECK(s.tp == std::vector<int>{1});
  CHECK(s.s_q == std::vector<int>{1});
  CHECK(s.context.size() == 8);
  CHECK(s.device_mode == DeviceMode::kDatasheet);
}

TEST_CASE("a sweep's bad entries are located in the sweep, errors inside a card in the card") {
  ScratchDir dir;
  const fs::path unknown = dir.write("u.yaml", R"(sweep:
  models: [llama-3-8b]
  hardware: [h100-sxm, h200x]
  batch: 1
  context: 1k
)");
  // (`h200x`, not `h201`: that one is one edit from both `h200` and `h20`.)
  CHECK_THAT(
      error_of([&] { (void)load_sweep_config(unknown); }),
      Catch::StartsWith(unknown.string() + ":3:24: error: sweep.hardware[1]: unknown hardware `h200x`; "
                                           "did you mean `h200`?"));
  const fs::path card = dir.write("broken.yaml", "name: B\nsource: s\nlayers: 0\n");
  const fs::path uses = dir.write("v.yaml", R"(sweep:
  models: [broken.yaml]
  hardware: [h100-sxm]
  batch: 1
  context: 1k
)");
  CHECK_THAT(error_of([&] { (void)load_sweep_config(uses); }), Catch::StartsWith(card.string() + ":"));
}

TEST_CASE("a sweep's batch grid takes `max`, alone or in the list, once") {
  ScratchDir dir;
  const auto batch_of = [&](const std::string& batch) {
    const fs::path cfg =
        dir.write("b.yaml", "sweep:\n  models: llama-3-8b\n  hardware: h100-sxm\n  batch: " + batch +
                                "\n  context: 4k\n");
    return load_sweep_config(cfg).batch;
  };
  CHECK(batch_of("max") == std::vector<BatchChoice>{BatchChoice::max()});
  CHECK(batch_of("[1, 32, max]") == std::vector<BatchChoice>{1, 32, BatchChoice::max()});
  CHECK(batch_of("[max, \"1..4 x2\"]") == std::vector<BatchChoice>{BatchChoice::max(), 1, 2, 4});
  CHECK(BatchChoice::max().to_string() == "max");
  CHECK(BatchChoice(32).to_string() == "32");
  CHECK_FALSE(BatchChoice(32) == BatchChoice::max());

  // A misspelt `max` is located and gets a did-you-mean; another word gets the list of what a batch can be.
  const fs::path misspelt = dir.write("m.yaml", R"(sweep:
  models: llama-3-8b
  hardware: h100-sxm
  batch: [1, 32, maximum]
  context: 4k
)");
  CHECK(error_of([&] { (void)load_sweep_config(misspelt); }) ==
        misspelt.string() +
            ":4:18: error: sweep.batch[2]: unknown batch `maximum`; did you mean `max`? (valid: a count such "
            "as "
            "`32`, a range such as `1..256 x2`, or `max`, the largest batch that fits at each point)");
  const fs::path capital = dir.write(
      "c.yaml", "sweep:\n  models: llama-3-8b\n  hardware: h100-sxm\n  batch: MAX\n  context: 4k\n");
  CHECK_THAT(error_of([&] { (void)load_sweep_config(capital); }),
             Catch::StartsWith(capital.string() +
                               ":4:10: error: sweep.batch: unknown batch `MAX`; did you mean `max`?"));
  const fs::path word = dir.write(
      "w.yaml", "sweep:\n  models: llama-3-8b\n  hardware: h100-sxm\n  batch: lots\n  context: 4k\n");
  CHECK_THAT(error_of([&] { (void)load_sweep_config(word); }),
             Catch::Contains("unknown batch `lots` (valid: a count") && !Catch::Contains("did you mean"));
  const fs::path twice = dir.write(
      "t.yaml",
      "sweep:\n  models: llama-3-8b\n  hardware: h100-sxm\n  batch: [max, 8, max]\n  context: 4k\n");
  CHECK(error_of([&] { (void)load_sweep_config(twice); }) ==
        twice.string() + ":4:19: error: sweep.batch[2]: `max` is already in the grid");
  const fs::path zero = dir.write(
      "z.yaml", "sweep:\n  models: llama-3-8b\n  hardware: h100-sxm\n  batch: [0, max]\n  context: 4k\n");
  CHECK_THAT(error_of([&] { (void)load_sweep_config(zero); }),
             Catch::Contains("values must be at least 1, got 0"));
}

TEST_CASE("a sweep's layout and MTP keys read back; absent, the layout is TP alone and MTP off") {
  ScratchDir dir;
  const fs::path cfg = dir.write("ep.yaml", R"(sweep:
  models: deepseek-v3
  hardware: h200
  tp: [8, 16]
  dp_attention: true
  batch: 64
  context: 4k
  expert_parallel: true
  redundant_experts: 32
  expert_imbalance: 1.2
  micro_batches: 2
  mtp: {depth: 2, acceptance: [0.9, 0.8]}
)");
  const SweepSpec s = load_sweep_config(cfg);
  CHECK(s.expert_parallel);
  CHECK(s.layout.redundant_experts == 32);
  CHECK(s.layout.expert_imbalance == 1.2);
  CHECK(s.layout.micro_batches == 2);
  CHECK(s.mtp.depth == 2);
  CHECK(s.mtp.acceptance == std::vector<double>{0.9, 0.8});
  const Parallelism at16 = s.parallel_at(16, true);
  CHECK(at16.ep == 16);
  CHECK(at16.tp == 16);
  CHECK(at16.dp_attention);
  CHECK(at16.redundant_experts == 32);

  const fs::path one = dir.write("one.yaml", R"(sweep:
  models: deepseek-v3
  hardware: h200
  batch: 1
  context: 1k
  mtp: {depth: 1, acceptance: 0.85}
)");
  const SweepSpec o = load_sweep_config(one);
  CHECK(o.mtp.depth == 1);
  CHECK(o.mtp.acceptance == std::vector<double>{0.85});
  CHECK_FALSE(o.expert_parallel);
  CHECK(o.parallel_at(8, false).ep == 1);

  const fs::path plain = dir.write("plain.yaml", R"(sweep:
  models: deepseek-v3
  hardware: h200
  batch: 1
  context: 1k
)");
  const SweepSpec p = load_sweep_config(plain);
  CHECK_FALSE(p.expert_parallel);
  CHECK_FALSE(p.mtp.enabled());
  CHECK(p.layout.redundant_experts == 0);
  CHECK(p.layout.expert_imbalance == 0.0);
  CHECK(p.layout.micro_batches == 1);
}

TEST_CASE("a sweep's bad layout and MTP values are located at their key, with the step's messages") {
  ScratchDir dir;
  const std::string head = "sweep:\n  models: deepseek-v3\n  hardware: h200\n  batch: 1\n  context: 1k\n";
  const auto error = [&](const std::string& tail) {
    const fs::path cfg = dir.write("bad.yaml", head + tail);
    return error_of([&] { (void)load_sweep_config(cfg); });
  };
  const std::string file = (dir.path() / "bad.yaml").string();
  // Line 6 is the first line after the head; columns count from 1.
  CHECK(error("  micro_batches: 3\n") == file + ":6:18: error: sweep.micro_batches: must be 1 or 2, got 3");
  CHECK(
      error("  redundant_experts: 8\n") ==
      file +
          ":6:22: error: sweep.redundant_experts: needs expert parallelism (ep > 1): copies of experts live "
          "on expert ranks");
  CHECK(error("  expert_parallel: true\n  redundant_experts: -1\n") ==
        file + ":7:22: error: sweep.redundant_experts: must be at least 0, got -1");
  CHECK_THAT(error("  expert_imbalance: 0.5\n"),
             Catch::StartsWith(file + ":6:21: error: sweep.expert_imbalance: must be at least 1 (the busiest "
                                      "GPU's routed tokens over the mean)") &&
                 Catch::EndsWith("got 0.5"));
  CHECK(error("  expert_parallel: maybe\n") ==
        file + ":6:20: error: sweep.expert_parallel: expected `true` or `false`, got `maybe`");
  CHECK(error("  mtp: {depth: 20, acceptance: 0.8}\n") ==
        file + ":6:16: error: sweep.mtp.depth: must be 0 to 16 draft tokens, got 20");
  CHECK(error("  mtp: {depth: 1, acceptance: 1.5}\n") ==
        file + ":6:31: error: sweep.mtp.acceptance: each rate must be in [0, 1], got 1.5");
  CHECK(error("  mtp: {depth: 3, acceptance: [0.9, 0.8]}\n") ==
        file +
            ":6:31: error: sweep.mtp.acceptance: give one acceptance rate, or one per draft position (3); "
            "got 2");
  CHECK_THAT(error("  mtp: {depth: 2}\n"),
             Catch::StartsWith(file + ":6:8: error: sweep.mtp") && Catch::Contains("acceptance"));
  CHECK(error("  sq: [1, 2]\n  mtp: {depth: 2, acceptance: 0.8}\n") ==
        file +
            ":6:7: error: sweep.sq: `mtp` (depth 2) sets the tokens per step itself (1 + depth verified, 1 + "
            "accepted kept): the `sq` axis must be [1] or absent with `mtp`, got [1, 2]");
  // sq 1 is what MTP runs at: no error.
  CHECK(error("  sq: 1\n  mtp: {depth: 2, acceptance: 0.8}\n").empty());
}

TEST_CASE("the example sweep configs in configs/ load") {
  int loaded = 0;
  for (const auto& entry : fs::directory_iterator(data_dir() / "configs")) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string file = entry.path().filename().string();
    if (file.rfind("serve_", 0) == 0) continue;  // serving configs: test_serving_config
    if (file.rfind("plan_", 0) == 0) continue;   // capacity plans: test_plan_config
    INFO(entry.path().string());
    const SweepSpec s = load_sweep_config(entry.path());
    CHECK(sweep_size(s) > 0);
    // The attention comparisons show a sweep at capacity: their batch grids end with `max`. (The published
    // deployments sweep the batches per GPU their reports ran.)
    if (file.find("_attention") != std::string::npos) CHECK(s.batch.back() == BatchChoice::max());
    ++loaded;
  }
  CHECK(loaded >= 5);
}

// ---- issue 14: hardened readers ------------------------------------------------------------------------

namespace {
fs::path reliability(const std::string& name) {
  return fs::path(MLASIM_TEST_DATA_DIR) / "reliability" / name;
}

/// Seconds `f` takes.
template <class F>
double seconds_of(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace

TEST_CASE("H1: a stray comma is a located syntax error, not an endless run of empty documents") {
  const fs::path comma = reliability("H1_comma.yaml");
  CHECK(error_of([&] { (void)load_sweep_config(comma); }) ==
        comma.string() + ":1:1: error: YAML syntax error: unexpected `,` outside a flow collection");
  // tests/hf/llama-3-8b/config.json with its last `}` written `},`: invalid JSON, said so before YAML reads
  // it.
  const fs::path json = reliability("H1_llama3_trailing_comma.json");
  CHECK_THAT(error_of([&] { (void)load_hf_config(json); }),
             Catch::StartsWith(json.string() + ":27:2: error: invalid JSON: "));
  ScratchDir dir;
  const fs::path flow = dir.write("flow.yaml", "{name: X, layers: 2},\n");
  CHECK(error_of([&] { (void)load_model_card(flow); }) ==
        flow.string() + ":1:21: error: YAML syntax error: unexpected `,` outside a flow collection");
  const fs::path two = dir.write("two.yaml", "name: X\n---\nname: Y\n");
  CHECK(error_of([&] { (void)load_model_card(two); }) ==
        two.string() + ":2:1: error: expected one YAML document (a model card), found more");
}

TEST_CASE("JSON inputs are strict JSON; valid JSON keeps its key locations") {
  ScratchDir dir;
  const fs::path quotes = dir.write("q/config.json", "{\n  'hidden_size': 1\n}\n");
  CHECK_THAT(error_of([&] { (void)load_hf_config(quotes); }),
             Catch::StartsWith(quotes.string() + ":2:3: error: invalid JSON: "));
  const fs::path bad_key = dir.write("k/config.json", "{\n  \"hidden_size\": \"x\"\n}\n");
  CHECK_THAT(error_of([&] { (void)load_hf_config(bad_key); }), Catch::StartsWith(bad_key.string() + ":2:"));
}

TEST_CASE("M6: YAML anchors and aliases are refused at once (no alias bomb)") {
  const fs::path bomb = reliability("M6_alias_bomb_profile.yaml");
  std::string err;
  const double took = seconds_of([&] { err = error_of([&] { (void)load_hw_profile(bomb); }); });
  CHECK_THAT(err,
             Catch::StartsWith(bomb.string() + ":") &&
                 Catch::Contains("error: YAML anchors (`&name`) are not supported: write the value out"));
  CHECK(took < 1.0);
  ScratchDir dir;
  const fs::path anchor = dir.write("anchor.yaml", "source: s\nname: &n X\n");
  CHECK(error_of([&] { (void)load_model_card(anchor); }) ==
        anchor.string() + ":2:7: error: YAML anchors (`&name`) are not supported: write the value out");
}

TEST_CASE("L2: a huge unknown word gets no suggestion, fast, and the message echoes only its start") {
  const std::string huge(1 << 20, 'q');
  std::optional<std::string> match;
  const double took = seconds_of([&] { match = closest_match(huge, {"qqqq", "table", "csv"}); });
  CHECK_FALSE(match.has_value());
  CHECK(took < 0.5);
  const std::string message = unknown_name_message("mode", huge, {"analytic", "calibrated"});
  CHECK(message.size() < 200);
  CHECK_THAT(message, Catch::StartsWith("unknown mode `" + std::string(64, 'q') + "\u2026`"));
  ScratchDir dir;
  const fs::path card = dir.write("huge_key.yaml", "name: X\n" + huge + ": 1\n");
  CHECK(error_of([&] { (void)load_model_card(card); }).size() < 400);
  CHECK(clipped("abc", 2) == "ab\u2026");
  CHECK(clipped("\u00e9\u00e9", 3) == "\u00e9\u2026");  // never half a UTF-8 character
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("abcd", "badc") == 2);
}

TEST_CASE("L4: a referenced file that is missing is located at the item that names it") {
  const fs::path sweep = reliability("L4_missing_model_file.yaml");
  const std::string err = error_of([&] { (void)load_sweep_config(sweep); });
  CHECK_THAT(err, Catch::StartsWith(sweep.string() + ":2:24: error: sweep.models[1]: ") &&
                      Catch::EndsWith("cart.yaml: no such file"));
}

TEST_CASE("L2: a YAML file of megabytes is refused before yaml-cpp spends seconds on it") {
  ScratchDir dir;
  const fs::path huge = dir.write("huge_mode.yaml", "sweep:\n  mode: " + std::string(5 << 20, 'a') + "\n");
  std::string err;
  const double took = seconds_of([&] { err = error_of([&] { (void)load_sweep_config(huge); }); });
  CHECK(err == huge.string() + ": error: the file has 5242896 bytes; a sweep config is at most 4 MiB");
  CHECK(took < 1.0);
}
