// The workload model (DESIGN.md §5) against numbers computed by hand here or published (named per test).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "models/variant.hpp"
#include "models/workload.hpp"
#include "sim/device/capacity.hpp"
#include "sim/device/device_model.hpp"
#include "sim/error.hpp"
#include "tests/op_lookup.hpp"
#include "tests/spec_fixtures.hpp"

using namespace mlasim;
using namespace mlasim::test;

namespace {

StepShape decode(std::vector<std::int64_t> contexts, int s_q = 1, int tp = 1) {
  StepShape s;
  for (auto l : contexts) s.sequences.push_back(SequenceWork{l, s_q, false, true});
  s.parallel.tp = tp;
  return s;
}

}  // namespace

TEST_CASE("MQA cache is MHA's divided by n_heads") {
  const ModelSpec mha = apply_variant(llama2_7b(), parse_variant("mha"));
  const ModelSpec mqa = apply_variant(llama2_7b(), parse_variant("mqa"));
  CHECK(kv_bytes_per_token(mqa, Dtype::kBf16) * 32 == kv_bytes_per_token(mha, Dtype::kBf16));
  // Llama-2-7B, bf16, all layers: 2·32·128·2 B·32 layers = 512 KiB (DESIGN.md §11).
  CHECK(kv_bytes_per_token(mha, Dtype::kBf16) == 512.0 * 1024);
}

TEST_CASE("GQA with n_kv = n_h costs exactly what MHA costs") {
  const ModelSpec gqa = apply_variant(llama2_7b(), parse_variant("gqa:32"));
  const ModelSpec mha = apply_variant(llama2_7b(), parse_variant("mha"));
  const DeviceModel dev(h100(), DeviceMode::kDatasheet);
  for (int tp : {1, 2}) {
    const StepShape shape = decode({100, 4096, 777}, 1, tp);
    const StepWorkload a = build_step(gqa, shape);
    const StepWorkload b = build_step(mha, shape);
    REQUIRE(a.ops.size() == b.ops.size());
    for (std::size_t i = 0; i < a.ops.size(); ++i) {
      CHECK(a.ops[i].name == b.ops[i].name);
      CHECK(a.ops[i].flops == b.ops[i].flops);
      CHECK(a.ops[i].bytes() == b.ops[i].bytes());
    }
    CHECK(cost_step(a, dev).step_time_s == cost_step(b, dev).step_time_s);
  }
}

TEST_CASE("MLA cache of DeepSeek-V2 equals GQA with only 2.25 groups (DeepSeek-V2 paper, §2.1.4)") {
  const ModelSpec v2 = deepseek_v2();
  // d_c + d_R = 512 + 64 = 576 elements = 2 · 2.25 groups · d_h (d_h = 128).
  CHECK(v2.attention.kv_elements_per_token() == 576);
  CHECK(double(v2.attention.kv_elements_per_token()) == 2.0 * 2.25 * 128);
  // 60 layers · 576 elements = 34,560 elements per token = 67.5 KiB in bf16 (DESIGN.md §11).
  CHECK(kv_bytes_per_token(v2, Dtype::kBf16) == 67.5 * 1024);
  CHECK(kv_bytes_per_token(deepseek_v3(), Dtype::kBf16) == 70272.0);
}

TEST_CASE("absorbed MLA core FLOPs and bytes equal FlashMLA's counting") {
  // FlashMLA's benchmark: FLOPs = 2·s_q·h_q·(576 + 512)·ΣL; bytes = 2·(576·ΣL + B·s_q·h_q·(576 + 512)).
  const ModelSpec v3 = deepseek_v3();
  for (int s_q : {1, 2}) {
    const std::vector<std::int64_t> lens{1000, 4096, 77, 65536};
    StepShape shape = decode(lens, s_q);
    shape.mla_mode = MlaMode::kAbsorbed;
    const StepWorkload w = build_step(v3, shape);
    const Op& core = find_op(w, "attention_decode_mla_absorbed");
    double sum_l = 0;
    for (auto l : lens) sum_l += double(l);
    const double b = double(lens.size()), hq = 128;
    const double flops = 2.0 * s_q * hq * (576 + 512) * sum_l;
    const double bytes = 2.0 * (576 * sum_l + b * s_q * hq * (576 + 512));
    CHECK(core.flops / 61 == Approx(flops).epsilon(1e-12));
    CHECK(core.bytes() / 61 == Approx(bytes).epsilon(1e-12));
    CHECK(core.count == 61);
  }
}

TEST_CASE("MHA attention core: 4·n_h·d_h·ΣL FLOPs on 2·n_kv·d_h·c·ΣL bytes, intensity about n_h/n_kv") {
  const StepWorkload w = build_step(llama2_7b(), decode({1000, 1000}));
  const Op& core = find_op(w, "attention_decode");
  // Per layer: 4·32·128·2000 = 32,768,000 FLOPs; KV 2·32·128·2 B·2000 = 32,768,000 B; Q and O 2·2·32·128·2 B.
  CHECK(core.flops == 32.0 * 32'768'000);
  CHECK(core.kv_read_bytes == 32.0 * 32'768'000);
  CHECK(core.activation_bytes == 32.0 * 2 * 2 * 32 * 128 * 2);
  CHECK(core.intensity() == Approx(1.0).epsilon(0.01));
  const StepWorkload w8 = build_step(llama3_8b(), decode({8192}));
  CHECK(find_op(w8, "attention_decode").intensity() == Approx(4.0).epsilon(0.01));
}

TEST_CASE("decode GEMMs: 2·m·k·n FLOPs, k·n weights, (m·k + m·n) activations") {
  const StepWorkload w = build_step(llama3_8b(), decode({512}));
  const Op& qkv = find_op(w, "qkv_proj");
  // Llama-3-8B: hidden 4096 -> (32 + 2·8)·128 = 6144; one token; 32 layers.
  CHECK(qkv.flops == 32.0 * 2 * 4096 * 6144);
  CHECK(qkv.weight_bytes == 32.0 * 4096 * 6144 * 2);
  CHECK(qkv.activation_bytes == 32.0 * (4096 + 6144) * 2);
  CHECK(qkv.count == 32);
  const Op& lm = find_op(w, "lm_head");
  CHECK(lm.flops == 2.0 * 4096 * 128256);
  CHECK(lm.count == 1);
}

TEST_CASE("tensor parallelism splits heads and FFN columns and adds two all-reduces per layer") {
  const ModelSpec m = llama3_8b();
  const StepWorkload one = build_step(m, decode({4096, 4096}, 1, 1));
  const StepWorkload four = build_step(m, decode({4096, 4096}, 1, 4));
  CHECK(find_op(four, "attention_decode").flops * 4 == find_op(one, "attention_decode").flops);
  CHECK(find_op(four, "ffn_down").weight_bytes * 4 == find_op(one, "ffn_down").weight_bytes);
  CHECK_FALSE(has_op(one, "allreduce_attn"));
  const Op& ar = find_op(four, "allreduce_attn");
  CHECK(ar.count == 32);
  // Ring all-reduce: 2·(p − 1)/p of a T·hidden·2-byte message per layer.
  CHECK(ar.comm_bytes == Approx(32 * 2.0 * 3.0 / 4.0 * 2 * 4096 * 2));
  CHECK(find_op(four, "allreduce_ffn").count == 32);
  // MLA under TP: query heads split, every rank reads the whole latent cache.
  const StepWorkload v1 = build_step(deepseek_v3(), decode({4096}, 1, 1));
  const StepWorkload v8 = build_step(deepseek_v3(), decode({4096}, 1, 8));
  CHECK(find_op(v8, "attention_decode_mla_absorbed").kv_read_bytes ==
        find_op(v1, "attention_decode_mla_absorbed").kv_read_bytes);
  CHECK(find_op(v8, "attention_decode_mla_absorbed").flops * 8 ==
        find_op(v1, "attention_decode_mla_absorbed").flops);
  CHECK_THROWS_AS(build_step(m, decode({4096}, 1, 3)), InputError);
}

TEST_CASE("MoE reads the distinct experts touched: E·(1 − (1 − k/E)^T)") {
  CHECK(expected_distinct_experts(256, 8, 1) == Approx(8.0));
  CHECK(expected_distinct_experts(256, 8, 2) == Approx(15.75));  // 256·(1 − (31/32)²)
  CHECK(expected_distinct_experts(256, 8, 100000) == Approx(256.0));
  const StepWorkload w = build_step(deepseek_v3(), decode({1024}));
  const Op& e = find_op(w, "moe_experts");
  // One token: 8 experts × 3·7168·2048 weights, 58 MoE layers, bf16; FLOPs 2·1·8·3·7168·2048 per layer.
  CHECK(e.weight_bytes == Approx(58.0 * 8 * 3 * 7168 * 2048 * 2));
  CHECK(e.flops == Approx(58.0 * 2 * 8 * 3 * 7168 * 2048));
  CHECK(e.count == 58);
  CHECK(find_op(w, "ffn_down").count == 3);
}

TEST_CASE("prefill attention is causal: a chunk of q tokens scores q·L − q(q−1)/2 pairs") {
  StepShape s;
  s.sequences.push_back(SequenceWork{4, 4, true, true});
  const StepWorkload w = build_step(llama2_7b(), s);
  // 4 tokens from an empty context: 1 + 2 + 3 + 4 = 10 pairs; 4·n_h·d_h FLOPs per pair per layer.
  CHECK(find_op(w, "attention_prefill").flops == 32.0 * 4 * 32 * 128 * 10);
  // MLA auto: naive for prefill, absorbed for decode, in one mixed step.
  StepShape mixed;
  mixed.sequences = {SequenceWork{2048, 512, true, false}, SequenceWork{4096, 1, false, true}};
  const StepWorkload mw = build_step(deepseek_v3(), mixed);
  CHECK(has_op(mw, "attention_mla_naive"));
  CHECK(has_op(mw, "attention_decode_mla_absorbed"));
  CHECK(mw.output_tokens == 1);
  CHECK(find_op(mw, "lm_head").gemm_m == 1);
}

TEST_CASE("naive MLA adds 2·ΣL·d_c·n_h·(d_n + d_v) FLOPs of up-projection") {
  StepShape s = decode({4096});
  s.mla_mode = MlaMode::kNaive;
  const StepWorkload w = build_step(deepseek_v3(), s);
  CHECK(find_op(w, "kv_b_proj_context").flops == Approx(61.0 * 2 * 4096 * 512 * 128 * (128 + 128)));
  CHECK(find_op(w, "attention_mla_naive").flops == Approx(61.0 * 2 * 128 * 4096 * (128 + 64 + 128)));
}

TEST_CASE("DeepSeek-V3 has 671B parameters with about 37B activated (DeepSeek-V3 technical report)") {
  const ParameterCount p = count_parameters(deepseek_v3());
  CHECK(std::fabs(p.total - 671e9) / 671e9 < 0.01);
  // Activated, counted without the input embedding (a row lookup) but with the LM head, is 36.6B; with the
  // embedding table as well it is 37.5B. The published "37B" lies between the two conventions, 1.0% and 1.5%
  // from them, so neither alone meets 1%: we check the bracket and 1.5%.
  CHECK(p.activated <= 37e9);
  CHECK(p.activated + p.embedding >= 37e9);
  CHECK(std::fabs(p.activated - 37e9) / 37e9 < 0.015);
  // DeepSeek-V2: 236B total, 21B activated (DeepSeek-V2 paper, abstract).
  const ParameterCount v2 = count_parameters(deepseek_v2());
  CHECK(std::fabs(v2.total - 236e9) / 236e9 < 0.01);
  CHECK(std::fabs(v2.activated - 21e9) / 21e9 < 0.01);
  // Llama-3-8B: 8.03B (Meta's model card).
  CHECK(count_parameters(llama3_8b()).total == Approx(8.03e9).epsilon(0.001));
}

TEST_CASE("the bound flips from memory to compute where intensity crosses the ridge") {
  const HardwareSpec hw = h100();
  const DeviceModel dev(hw, DeviceMode::kSpeedOfLight);
  const double ridge = 989e12 / 3.35e12;  // ≈ 295 FLOP/byte
  bool saw_memory = false, saw_compute = false;
  for (int tp : {1, 2, 4, 8}) {
    for (int s_q : {1, 2, 4}) {
      StepShape s = decode({8192, 8192, 8192, 8192}, s_q, tp);
      const StepWorkload w = build_step(deepseek_v3(), s);
      const StepCost c = cost_step(w, dev);
      for (const TimedOp& op : c.ops) {
        if (op.op.name != "attention_decode_mla_absorbed") continue;
        const bool compute = op.op.intensity() > ridge;
        CHECK((op.time.bound == Bound::kCompute) == compute);
        saw_memory |= !compute;
        saw_compute |= compute;
      }
    }
  }
  CHECK(saw_memory);
  CHECK(saw_compute);
}

TEST_CASE("doubling bandwidth never slows a step") {
  HardwareSpec fast = h100();
  fast.hbm_bandwidth_bytes_per_s *= 2;
  fast.interconnect.bandwidth_bytes_per_s *= 2;
  for (const DeviceMode mode : {DeviceMode::kSpeedOfLight, DeviceMode::kDatasheet}) {
    const DeviceModel slow_dev(h100(), mode), fast_dev(fast, mode);
    for (const ModelSpec& m : {llama3_8b(), deepseek_v3(), llama2_7b()}) {
      for (int batch : {1, 16, 256}) {
        for (std::int64_t ctx : {128, 4096, 131072}) {
          for (int tp : {1, 8}) {
            StepShape s = decode(std::vector<std::int64_t>(static_cast<std::size_t>(batch), ctx), 1, tp);
            const StepWorkload w = build_step(m, s);
            const double t_slow = cost_step(w, slow_dev).step_time_s;
            const double t_fast = cost_step(w, fast_dev).step_time_s;
            CHECK(t_fast <= t_slow);
          }
        }
      }
    }
  }
}

TEST_CASE("roofline time: launch + max(FLOPs / peak·η, 2·latency + bytes / BW·η) per launch") {
  HardwareSpec hw = h100();
  hw.datasheet_efficiency = {0.5, 0.8, 1.0};
  const DeviceModel dev(hw, DeviceMode::kDatasheet, LaunchMode::kEager);
  Op op;
  op.name = "x";
  op.op_class = OpClass::kGemm;
  op.count = 2;
  op.flops = 989e12 * 0.5 * 1e-3;          // 1 ms of compute at η = 0.5
  op.weight_bytes = 3.35e12 * 0.8 * 2e-3;  // 2 ms of memory at η = 0.8
  const OpTime t = dev.time_op(op);
  // Two launches: each pays the eager launch (4 us) and two HBM round trips of the ramp (2 x 600 ns).
  CHECK(t.time_s == Approx(2e-3 + 2 * 4e-6 + 2 * 2 * 600e-9));
  CHECK(t.bound == Bound::kMemory);
  const DeviceModel graph(hw, DeviceMode::kDatasheet, LaunchMode::kGraph);
  CHECK(graph.time_op(op).time_s == Approx(2e-3 + 2 * 1e-6 + 2 * 2 * 600e-9));
  CHECK(t.provenance == Provenance::kAnalytic);
  CHECK_THROWS_AS(DeviceModel(hw, DeviceMode::kCalibrated), InputError);
}

TEST_CASE("capacity: blocks = budget / (block·KV bytes per token); concurrency = blocks / ceil(L / block)") {
  const ModelSpec m = llama3_8b();
  const Capacity c = compute_capacity(m, h100(), Precision{}, Parallelism{1});
  // Llama-3-8B bf16 weights: 8,030,261,248 parameters · 2 B.
  CHECK(c.weight_bytes_per_gpu == Approx(8'030'261'248.0 * 2).epsilon(1e-9));
  CHECK(c.kv_bytes_per_token_per_gpu == 131072.0);  // 128 KiB (DESIGN.md §11)
  CHECK(c.block_size == 16);
  const double budget =
      80e9 * 0.9 - c.weight_bytes_per_gpu - c.activation_workspace_bytes - c.runtime_reserve_bytes;
  CHECK(c.kv_budget_bytes == Approx(budget));
  CHECK(c.kv_blocks() == static_cast<std::int64_t>(std::floor(budget / (16 * 131072.0))));
  CHECK(max_concurrency(c, 4096) == c.kv_blocks() / 256);
  CHECK(max_concurrency(c, 4097) == c.kv_blocks() / 257);
  // DeepSeek-V3 in fp8 (671 GB) cannot fit on one 80 GB GPU; TP 16 of H100 is the smallest that fits.
  Precision fp8;
  fp8.weights = Dtype::kFp8;
  const Capacity v3 = compute_capacity(deepseek_v3(), h100(), fp8, Parallelism{1});
  CHECK_FALSE(v3.fits());
  CHECK(smallest_fitting_tp(deepseek_v3(), h100(), fp8, 4096) == 16);
}

TEST_CASE("attention what-if keeps everything but the attention") {
  const ModelSpec base = llama3_8b();
  const ModelSpec mla = apply_variant(base, parse_variant("mla:512/64"));
  CHECK(mla.attention.kind == AttentionKind::kMla);
  CHECK(mla.attention.kv_lora_rank == 512);
  CHECK(mla.attention.qk_nope_head_dim == 128);
  CHECK(mla.ffn.intermediate_size == base.ffn.intermediate_size);
  CHECK(mla.n_layers == base.n_layers);
  CHECK(kv_bytes_per_token(mla, Dtype::kBf16) == 32.0 * 576 * 2);
  CHECK_THROWS_AS(apply_variant(base, parse_variant("gqa:5")), InputError);
  CHECK_THROWS_WITH(parse_variant("gqb:8"), Catch::Contains("did you mean `gqa`"));
  CHECK(apply_variant(deepseek_v3(), parse_variant("gqa:8")).attention.head_dim == 128);
}

TEST_CASE("op names are unique within a step, so JSON consumers can key on them") {
  StepShape mixed;
  mixed.sequences = {SequenceWork{2048, 512, true, true}, SequenceWork{4096, 1, false, true}};
  mixed.parallel.tp = 8;
  for (const ModelSpec& m : {deepseek_v3(), llama3_8b()}) {
    const StepWorkload w = build_step(m, mixed);
    for (std::size_t i = 0; i < w.ops.size(); ++i) {
      for (std::size_t j = i + 1; j < w.ops.size(); ++j) CHECK(w.ops[i].name != w.ops[j].name);
    }
  }
}

TEST_CASE("DP-attention: each rank attends to its own sequences with all heads; FFN stays tensor-parallel") {
  const ModelSpec v3 = deepseek_v3();
  StepShape tp8 = decode(std::vector<std::int64_t>(64, 8192), 1, 8);
  StepShape dp8 = tp8;
  dp8.parallel.dp_attention = true;
  const StepWorkload a = build_step(v3, tp8);
  const StepWorkload b = build_step(v3, dp8);
  const Op& core_tp = find_op(a, "attention_decode_mla_absorbed");
  const Op& core_dp = find_op(b, "attention_decode_mla_absorbed");
  // Same FLOPs per GPU (16 heads × 64 sequences = 128 heads × 8 sequences); an eighth of the latent cache
  // read, since under plain TP every rank reads every sequence's latent (DESIGN.md §5).
  CHECK(core_dp.flops == Approx(core_tp.flops));
  CHECK(core_dp.kv_read_bytes * 8 == Approx(core_tp.kv_read_bytes));
  // Attention projections: replicated weights, an eighth of the tokens. FFN and experts: unchanged.
  CHECK(find_op(b, "q_b_proj").weight_bytes == Approx(8 * find_op(a, "q_b_proj").weight_bytes));
  CHECK(find_op(b, "q_b_proj").gemm_m == 8);
  CHECK(find_op(b, "moe_experts").flops == find_op(a, "moe_experts").flops);
  // Communication: no all-reduce after o_proj; all-gather before and reduce-scatter after the FFN, which
  // together move what one all-reduce moves: (p − 1)/p · T·h·2 bytes each.
  CHECK_FALSE(has_op(b, "allreduce_attn"));
  CHECK(find_op(b, "allgather_tokens").count == 61);
  CHECK(find_op(b, "allgather_tokens").comm_bytes == Approx(61 * 7.0 / 8 * 64 * 7168 * 2));
  CHECK(find_op(b, "reducescatter_moe").comm_bytes + find_op(b, "allgather_tokens").comm_bytes / 61 * 58 ==
        Approx(find_op(a, "allreduce_moe").comm_bytes));
  // One sequence on 8 ranks: one rank does all of it.
  StepShape one = decode({8192}, 1, 8);
  one.parallel.dp_attention = true;
  const StepShape one_tp = decode({8192}, 1, 8);
  CHECK(find_op(build_step(v3, one), "attention_decode_mla_absorbed").flops ==
        Approx(8 * find_op(build_step(v3, one_tp), "attention_decode_mla_absorbed").flops));
  // 9 sequences on 8 ranks: the busiest rank has 2.
  StepShape nine = decode(std::vector<std::int64_t>(9, 1000), 1, 8);
  nine.parallel.dp_attention = true;
  CHECK(find_op(build_step(v3, nine), "attention_decode_mla_absorbed").kv_read_bytes ==
        Approx(61.0 * 576 * 2 * 2000));
  // DP-attention with tp = 1 is plain execution.
  StepShape single = decode({100, 200}, 1, 1);
  const StepWorkload s0 = build_step(v3, single);
  single.parallel.dp_attention = true;
  const StepWorkload s1 = build_step(v3, single);
  REQUIRE(s0.ops.size() == s1.ops.size());
  for (std::size_t i = 0; i < s0.ops.size(); ++i) CHECK(s0.ops[i].bytes() == s1.ops[i].bytes());
}

TEST_CASE("DP-attention capacity: one KV pool per GPU, each holding whole sequences") {
  Precision fp8;
  fp8.weights = Dtype::kFp8;
  const ModelSpec v3 = deepseek_v3();
  const HardwareSpec hw = h200();
  const Capacity tp = compute_capacity(v3, hw, fp8, Parallelism{8, false});
  const Capacity dp = compute_capacity(v3, hw, fp8, Parallelism{8, true});
  CHECK(tp.kv_pools == 1);
  CHECK(dp.kv_pools == 8);
  // MLA's latent is per token either way; DP-attention replicates the attention weights instead.
  CHECK(dp.kv_bytes_per_token_per_gpu == tp.kv_bytes_per_token_per_gpu);
  // Plain TP already replicates q_a and kv_a; it splits q_b (1536 × 128·192), kv_b (512 × 128·256) and o_proj
  // (128·128 × 7168), which DP-attention holds whole: 7/8 of them more per GPU, fp8 = 1 byte each.
  const double split = 1536.0 * 128 * 192 + 512.0 * 128 * 256 + 128.0 * 128 * 7168;
  CHECK(dp.weight_bytes_per_gpu - tp.weight_bytes_per_gpu == Approx(61 * split * 7 / 8));
  CHECK(dp.kv_blocks() == 8 * dp.kv_blocks_per_pool);
  CHECK(max_concurrency(dp, 32768) == 8 * (dp.kv_blocks_per_pool / 512));
  CHECK(max_concurrency(dp, 32768) > 5 * max_concurrency(tp, 32768));
  // GQA under DP-attention keeps all KV heads of its own sequences.
  const ModelSpec l8 = llama3_8b();
  CHECK(kv_bytes_per_token_per_gpu(l8, Dtype::kBf16, Parallelism{4, true}) == 131072.0);
  CHECK(kv_bytes_per_token_per_gpu(l8, Dtype::kBf16, Parallelism{4, false}) == 32768.0);
}

// M2 (issue 14): a step's cost depends only on sums over its sequences, so B identical sequences are one
// record with count B, and the answer for a batch of a billion needs no more memory than a batch of one.
TEST_CASE("a record of count B gives exactly the ops of B identical records") {
  const auto same_ops = [](const StepWorkload& a, const StepWorkload& b) {
    REQUIRE(a.ops.size() == b.ops.size());
    CHECK(a.tokens == b.tokens);
    CHECK(a.output_tokens == b.output_tokens);
    CHECK(a.sequences == b.sequences);
    CHECK(a.context_sum == b.context_sum);
    for (std::size_t i = 0; i < a.ops.size(); ++i) {
      INFO(a.ops[i].name);
      CHECK(a.ops[i].name == b.ops[i].name);
      CHECK(a.ops[i].flops == b.ops[i].flops);
      CHECK(a.ops[i].bytes() == b.ops[i].bytes());
      CHECK(a.ops[i].comm_bytes == b.ops[i].comm_bytes);
      CHECK(a.ops[i].gemm_m == b.ops[i].gemm_m);
      CHECK(a.ops[i].attention.sequences == b.ops[i].attention.sequences);
      CHECK(a.ops[i].attention.context_sum == b.ops[i].attention.context_sum);
      CHECK(a.ops[i].attention.mixed_lengths == b.ops[i].attention.mixed_lengths);
    }
  };
  for (const bool dp : {false, true}) {
    for (const ModelSpec& m : {llama3_8b(), deepseek_v3()}) {
      INFO(m.name << (dp ? " DP-attention" : ""));
      StepShape records, counted;
      records.parallel = counted.parallel = Parallelism{8, dp};
      // 37 decodes at 5000 (s_q 2) and 3 prefill chunks of 512 ending at 2048: records one by one, and
      // counted.
      for (int i = 0; i < 37; ++i) records.sequences.push_back(SequenceWork{5000, 2, false, true});
      for (int i = 0; i < 3; ++i) records.sequences.push_back(SequenceWork{2048, 512, true, true});
      counted.sequences = {SequenceWork{5000, 2, false, true, 37}, SequenceWork{2048, 512, true, true, 3}};
      same_ops(build_step(m, records), build_step(m, counted));
    }
  }
  StepShape one = uniform_decode(1, 4096);
  CHECK(one.sequences.size() == 1);
  same_ops(build_step(llama3_8b(), uniform_decode(64, 4096)),
           build_step(llama3_8b(), decode(std::vector<std::int64_t>(64, 4096))));
}

TEST_CASE("a batch of a billion sequences is one record and its totals are the sums") {
  const StepShape shape = uniform_decode(1'000'000'000, 1024);
  REQUIRE(shape.sequences.size() == 1);
  const StepWorkload w = build_step(llama3_8b(), shape);
  CHECK(w.sequences == 1'000'000'000);
  CHECK(w.tokens == 1'000'000'000);
  CHECK(w.context_sum == 1'024'000'000'000);
  CHECK(find_op(w, "attention_decode").attention.sequences == 1e9);
}

TEST_CASE("token totals that overflow a 64-bit count are an input error, not a wrapped number") {
  StepShape shape;
  shape.sequences.push_back(SequenceWork{std::int64_t{1} << 40, 1, false, true, std::int64_t{1} << 30});
  CHECK_THROWS_WITH(build_step(llama3_8b(), shape), Catch::Contains("overflow a 64-bit count"));
  shape.sequences = {SequenceWork{4096, 1, false, true, 0}};
  CHECK_THROWS_WITH(build_step(llama3_8b(), shape), Catch::Contains("count must be at least 1"));
}

// M5 (issue 14): a profile that validate() would refuse, built in code, never makes work free.
TEST_CASE("a zero peak or a missing link is an error, never a zero time") {
  HardwareSpec hw = h100();
  hw.peak_flops_per_s[Dtype::kBf16] = 0.0;
  hw.peak_flops_per_s.erase(Dtype::kFp32);
  const StepWorkload w = build_step(llama3_8b(), uniform_decode(8, 4096));
  CHECK_THROWS_AS(cost_step(w, DeviceModel(hw, DeviceMode::kDatasheet, LaunchMode::kGraph)), InputError);
  HardwareSpec alone = h100();
  alone.interconnect.bandwidth_bytes_per_s = 0.0;
  StepShape tp4 = uniform_decode(8, 4096);
  tp4.parallel.tp = 4;
  const DeviceModel device(alone, DeviceMode::kDatasheet, LaunchMode::kGraph);
  CHECK_THROWS_WITH(cost_step(build_step(llama3_8b(), tp4), device), Catch::Contains("no interconnect"));
  // One GPU needs no link.
  CHECK(cost_step(w, device).step_time_s > 0.0);
}

TEST_CASE("an MTP step's draft ops are named mtp_ and the name of an op the plain step has") {
  // Every attention form (GQA decode and prefill; MLA absorbed and naive) and both FFNs (dense, MoE).
  StepShape shape = uniform_decode(8, 4096);
  shape.sequences.push_back(SequenceWork{1024, 512, true, true, 2});
  shape.parallel.tp = 2;
  for (const ModelSpec& m : {llama3_8b(), deepseek_v2()}) {
    for (const MlaMode mode : {MlaMode::kAuto, MlaMode::kAbsorbed, MlaMode::kNaive}) {
      StepShape plain = shape;
      plain.mla_mode = mode;
      StepShape mtp = plain;
      mtp.mtp.depth = 1;
      mtp.mtp.acceptance = {0.5};
      const StepWorkload a = build_step(m, plain);
      const StepWorkload b = build_step(m, mtp);
      INFO(m.name << " " << to_string(mode));
      REQUIRE(b.ops.size() > a.ops.size());
      for (std::size_t i = a.ops.size(); i < b.ops.size(); ++i) {
        const std::string name(b.ops[i].name);
        INFO(name);
        REQUIRE(name.rfind("mtp_", 0) == 0);
        const std::string base = name.substr(4);
        const bool projection = base == "eh_norms" || base == "eh_proj";
        CHECK((projection ||
               std::any_of(a.ops.begin(), a.ops.end(), [&](const Op& op) { return op.name == base; })));
      }
      if (!m.ffn.is_moe()) {
        // A dense model's draft block is the plain step's ops, one layer of them, with the projection after
        // the embedding.
        REQUIRE(b.ops.size() - a.ops.size() == a.ops.size() + 2);
        CHECK(b.ops[a.ops.size()].name == "mtp_embedding");
        CHECK(b.ops[a.ops.size() + 1].name == "mtp_eh_norms");
        CHECK(b.ops[a.ops.size() + 2].name == "mtp_eh_proj");
        for (std::size_t i = 1; i < a.ops.size(); ++i)
          CHECK(std::string(b.ops[a.ops.size() + 2 + i].name) == "mtp_" + std::string(a.ops[i].name));
      }
    }
  }
}
