// How MLA models are deployed (issue 11): expert parallelism, multi-token prediction, two-micro-batch
// overlap, multi-node links and the one step evaluator, against numbers counted by hand here or published
// (named per test).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "models/attention/attention.hpp"
#include "models/workload.hpp"
#include "sim/config/loader.hpp"
#include "sim/device/capacity.hpp"
#include "sim/device/device_model.hpp"
#include "sim/error.hpp"
#include "sim/step/evaluate.hpp"
#include "tests/op_lookup.hpp"
#include "tests/spec_fixtures.hpp"

using namespace mlasim;
using namespace mlasim::test;

namespace {

/// DeepSeek's decode layout on `gpus` GPUs: DP-attention + EP, fp8 weights, `per_gpu` sequences per GPU.
StepShape deepseek_layout(int gpus, int per_gpu, std::int64_t context) {
  StepShape s = uniform_decode(gpus * per_gpu, context);
  s.parallel.tp = gpus;
  s.parallel.dp_attention = true;
  s.parallel.ep = gpus;
  s.precision.weights = Dtype::kFp8;
  return s;
}

/// An H100 with DeepSeek's H800 network: 8 GPUs a node, 50 GB/s InfiniBand per GPU, 10 µs.
HardwareSpec h100_cluster() {
  HardwareSpec hw = h100();
  hw.gpus_per_node = 8;
  hw.scale_out = Interconnect{"InfiniBand NDR", 50e9, 10e-6};
  return hw;
}

}  // namespace

TEST_CASE("EP dispatch and combine bytes per GPU at EP 8, 32 and 144, counted by hand") {
  // DeepSeek-V3, 128 decodes per GPU: each GPU sends its 128 tokens' 8 routed copies of 7168 elements, in fp8
  // with one fp32 scale per 128 elements (1 + 4/128 bytes an element) for dispatch and in bf16 (2 bytes) for
  // combine; (G − 1)/G of the copies leave the GPU. 58 MoE layers (61 − 3 dense), one launch each.
  // 128·8·7168 = 7,340,032 elements.
  struct Case {
    int ep;
    double dispatch_per_layer;  // 7,340,032 × 1.03125 × (G − 1)/G
    double combine_per_layer;   // 7,340,032 × 2 × (G − 1)/G
  };
  for (const Case c : {Case{8, 6'623'232.0, 12'845'056.0}, Case{32, 7'332'864.0, 14'221'312.0},
                       Case{144, 7'516'842.666'666'7, 14'578'119.111'111}}) {
    INFO("EP " << c.ep);
    const StepWorkload w = build_step(deepseek_v3(), deepseek_layout(c.ep, 128, 4096));
    const Op& dispatch = find_op(w, "moe_dispatch");
    const Op& combine = find_op(w, "moe_combine");
    CHECK(dispatch.count == 58);
    CHECK(dispatch.collective == Collective::kAllToAll);
    CHECK(dispatch.comm_ranks == c.ep);
    CHECK(dispatch.comm_bytes == Approx(58 * c.dispatch_per_layer).epsilon(1e-12));
    CHECK(combine.comm_bytes == Approx(58 * c.combine_per_layer).epsilon(1e-12));
    // DeepSeek's layout has no other collective: attention, dense layers, embedding and head are DP.
    for (const Op& op : w.ops) {
      if (op.op_class == OpClass::kCommunication)
        CHECK((op.name == "moe_dispatch" || op.name == "moe_combine"));
    }
  }
}

TEST_CASE("an all-to-all over more GPUs than a node splits its bytes between NVLink and the network") {
  // 144 GPUs, 8 a node: of the 143 other GPUs 7 share the node, so 7/143 of the bytes go over NVLink
  // (450 GB/s) and 136/143 over InfiniBand (50 GB/s); the links carry them at once. Speed of light: no
  // efficiency, no launch cost; the latency is the slower link's (10 µs).
  const DeviceModel dev(h100_cluster(), DeviceMode::kSpeedOfLight);
  Op op;
  op.name = "moe_dispatch";
  op.op_class = OpClass::kCommunication;
  op.collective = Collective::kAllToAll;
  op.count = 1;
  op.comm_ranks = 144;
  op.comm_bytes = 143e6;
  const OpTime t = dev.time_op(op);
  CHECK(t.network_s == Approx(136e6 / 50e9));  // 2.72 ms; NVLink's 7 MB take 15.6 µs
  CHECK(t.time_s == Approx(136e6 / 50e9 + 10e-6));
  CHECK(t.bound == Bound::kNetwork);
  // Within a node only NVLink: 8 GPUs.
  op.comm_ranks = 8;
  CHECK(dev.time_op(op).time_s == Approx(143e6 / 450e9 + 5e-6));
  // A ring over two nodes runs at the network's rate.
  op.collective = Collective::kAllReduce;
  op.comm_ranks = 16;
  CHECK(dev.time_op(op).time_s == Approx(143e6 / 50e9 + 10e-6));
  // No network in the profile: a layout beyond one node is an error naming the profile, not free.
  const DeviceModel single(h100(), DeviceMode::kSpeedOfLight);
  CHECK_THROWS_WITH(single.time_op(op),
                    Catch::Contains("no scale_out network") && Catch::Contains("2 nodes"));
}

TEST_CASE("EP experts: the busiest GPU's routed tokens and the experts it holds, by hand") {
  // EP 8, 64 decodes per GPU (512 tokens): 512·8 = 4096 routed copies, 512 a GPU on average. The expected
  // maximum under uniform routing: 1 + sqrt(2·ln 8 / 512) = 1.0918988; with a balancer's factor 1.05, 537.6.
  StepShape s = deepseek_layout(8, 64, 2048);
  const double factor = 1.0 + std::sqrt(2.0 * std::log(8.0) / 512.0);
  CHECK(expected_max_load_factor(4096, 8) == Approx(factor));
  const double expert = 3.0 * 7168 * 2048;  // gate, up, down of one expert: 44,040,192 elements
  {
    const StepWorkload w = build_step(deepseek_v3(), s);
    const Op& e = find_op(w, "moe_experts");
    CHECK(e.flops == Approx(58 * 2.0 * 512 * factor * expert));
    // 32 experts a GPU (256 / 8); 559 copies among them touch 32·(1 − (31/32)^559) ≈ 32 of them.
    const double touched = 32.0 * (1.0 - std::pow(31.0 / 32.0, 512 * factor));
    CHECK(e.weight_bytes == Approx(58 * touched * expert * 1.0));  // fp8: 1 byte an element
  }
  s.parallel.expert_imbalance = 1.05;
  CHECK(find_op(build_step(deepseek_v3(), s), "moe_experts").flops == Approx(58 * 2.0 * 537.6 * expert));
  // Redundant experts: DeepSeek's decode, 256 + 32 over 144 GPUs, 2 a GPU (V3/R1 inference system overview).
  Parallelism p{144, true};
  p.ep = 144;
  p.redundant_experts = 32;
  CHECK(experts_per_gpu(deepseek_v3(), p) == 2);
  p.redundant_experts = 0;
  CHECK(experts_per_gpu(deepseek_v3(), p) == 2);  // ceil(256 / 144)
  p.ep = p.tp = 32;
  p.redundant_experts = 32;
  CHECK(experts_per_gpu(deepseek_v3(), p) == 9);  // prefill: "each GPU handles 9 routed experts"
}

TEST_CASE("the expected busiest GPU is a conservative estimate of a simulated one") {
  // Throw μ·G items into G bins uniformly 40 times with a fixed seed: the mean largest bin over μ. The
  // leading-order formula overestimates it by up to 7% (at 8 GPUs) (it drops the −ln ln G term).
  std::mt19937_64 rng(7);
  for (const auto& [bins, mean] : std::vector<std::pair<int, int>>{{8, 128}, {32, 256}, {144, 1024}}) {
    INFO(bins << " GPUs, " << mean << " a GPU");
    std::uniform_int_distribution<int> pick(0, bins - 1);
    double sum = 0;
    for (int trial = 0; trial < 40; ++trial) {
      std::vector<int> load(bins, 0);
      for (int i = 0; i < bins * mean; ++i) ++load[pick(rng)];
      sum += *std::max_element(load.begin(), load.end());
    }
    const double simulated = sum / 40 / mean;
    const double formula = expected_max_load_factor(double(bins) * mean, bins);
    CHECK(formula >= simulated);
    CHECK(formula <= simulated * 1.08);
  }
  CHECK(expected_max_load_factor(1000, 1) == 1.0);
  CHECK(expected_max_load_factor(1, 64) == 64.0);  // one item: some GPU holds it, 64 times the mean
  CHECK(expected_max_load_factor(1e9, 64) == Approx(1.0).epsilon(1e-3));
}

TEST_CASE("EP off is the plain model op for op; EP on changes only the MoE side") {
  // ep 1 with every other option at its default builds the same ops as a Parallelism with only tp set.
  for (const bool dp : {false, true}) {
    StepShape plain = uniform_decode(64, 4096);
    plain.parallel = Parallelism{8, dp};
    StepShape spelled = plain;
    spelled.parallel.ep = 1;
    spelled.parallel.micro_batches = 1;
    spelled.parallel.redundant_experts = 0;
    spelled.parallel.expert_imbalance = 0.0;
    const StepWorkload a = build_step(deepseek_v3(), plain);
    const StepWorkload b = build_step(deepseek_v3(), spelled);
    REQUIRE(a.ops.size() == b.ops.size());
    for (std::size_t i = 0; i < a.ops.size(); ++i) {
      CHECK(a.ops[i].name == b.ops[i].name);
      CHECK(a.ops[i].flops == b.ops[i].flops);
      CHECK(a.ops[i].bytes() == b.ops[i].bytes());
      CHECK(a.ops[i].comm_bytes == b.ops[i].comm_bytes);
    }
    CHECK_FALSE(has_op(a, "moe_dispatch"));
  }
  // TP attention + EP 8: the MoE layers reduce-scatter after the attention, each GPU dispatches its eighth of
  // the tokens, and an all-gather brings every token back; the dense layers keep their all-reduces.
  StepShape tp_ep = uniform_decode(64, 4096);
  tp_ep.parallel.tp = tp_ep.parallel.ep = 8;
  const StepWorkload w = build_step(deepseek_v3(), tp_ep);
  CHECK(find_op(w, "allreduce_attn").count == 3);
  CHECK(find_op(w, "reducescatter_attn").count == 58);
  CHECK(find_op(w, "allgather_moe").count == 58);
  // 64 tokens / 8 = 8 a GPU, 8 copies each, bf16 (the weights are bf16 here), 7/8 leave: 8·8·7168·2·7/8.
  CHECK(find_op(w, "moe_dispatch").comm_bytes == Approx(58 * 8.0 * 8 * 7168 * 2 * 7 / 8));
  // Expert parallelism needs experts.
  StepShape dense = uniform_decode(8, 1024);
  dense.parallel.tp = dense.parallel.ep = 8;
  CHECK_THROWS_WITH(build_step(llama3_8b(), dense), Catch::Contains("no experts"));
}

TEST_CASE("weights per GPU in DeepSeek's decode layout, counted by hand") {
  // EP 144 with 32 redundant experts and DP-attention: every GPU holds the attention, the 3 dense FFN layers,
  // the embedding and the head whole, 2 routed experts, the shared expert and the router of each MoE layer.
  // Attention per layer (MLA): q_a 7168·1536 + its norm 1536 + q_b 1536·128·192 + kv_a 7168·576 + its norm
  // 512
  // + kv_b 512·128·256 + o 128·128·7168 = 187,107,328; + 2 norms of 7168 = 187,121,664; × 61 layers.
  // Dense FFN 3·7168·18432 × 3 layers; MoE (2 + 1)·3·7168·2048 + router 7168·256 × 58 layers; embedding and
  // head 2·129280·7168 + final norm 7168.
  const double expected = 187'121'664.0 * 61 + 3.0 * 7168 * 18432 * 3 +
                          (3.0 * 3 * 7168 * 2048 + 7168.0 * 256) * 58 + 2.0 * 129280 * 7168 + 7168;
  CHECK(expected == 22'226'295'808.0);
  Parallelism p{144, true};
  p.ep = 144;
  p.redundant_experts = 32;
  CHECK(parameters_per_gpu(deepseek_v3(), p) == Approx(expected).epsilon(1e-12));
  CHECK(weight_bytes_per_gpu(deepseek_v3(), Dtype::kFp8, p) == Approx(expected).epsilon(1e-12));
  CHECK(attention::parameters_per_layer(deepseek_v3(), 1) == 187'107'328.0);
}

TEST_CASE("every card's parameter count from the one formula matches its published size") {
  // Totals (and activated, for the MoE models) as their publishers state them; 1%.
  struct Published {
    const char* card;
    double total;
    double activated;  // 0: dense
    const char* source;
  };
  for (const Published& p : {
           Published{"deepseek-v3", 671e9, 0, "DeepSeek-V3 technical report, abstract"},
           Published{"deepseek-v2", 236e9, 21e9, "DeepSeek-V2 paper, abstract"},
           Published{"deepseek-v2-lite", 15.7e9, 0, "huggingface.co/deepseek-ai/DeepSeek-V2-Lite model card"},
           Published{"llama-3-8b", 8.03e9, 0, "Meta Llama 3 model card (8.03B)"},
           Published{"llama-3-70b", 70.6e9, 0, "huggingface.co/meta-llama/Meta-Llama-3-70B (70.6B params)"},
           Published{"llama-2-7b", 6.74e9, 0, "Llama 2 paper, Table 1 / HF (6.74B params)"},
           Published{"mistral-7b", 7.24e9, 0, "huggingface.co/mistralai/Mistral-7B-v0.1 (7.24B params)"},
           Published{"qwen2.5-72b", 72.7e9, 0, "Qwen2.5-72B model card (72.7B)"},
       }) {
    INFO(p.card << " (" << p.source << ")");
    const ModelSpec m = resolve_model(p.card);
    const ParameterCount c = count_parameters(m);
    CHECK(std::fabs(c.total - p.total) / p.total < 0.01);
    if (p.activated > 0) CHECK(std::fabs(c.activated - p.activated) / p.activated < 0.01);
    // The one formula: the whole model is the per-GPU count of a one-GPU layout.
    CHECK(c.total == parameters_per_gpu(m, Parallelism{}));
    CHECK(weight_bytes_total(m, Dtype::kBf16) == 2.0 * c.total);
  }
}

TEST_CASE("MTP with acceptance 0 is the verification step plus the draft, and emits one token") {
  // Depth 1: each decode verifies 2 tokens at context L + 1; the draft (one MoE layer, eh_proj, the shared
  // head) runs once.
  StepShape mtp = uniform_decode(32, 4096);
  mtp.parallel.tp = 8;
  mtp.mtp.depth = 1;
  mtp.mtp.acceptance = {0.0};
  StepShape verify = uniform_decode(32, 4097, 2);
  verify.parallel.tp = 8;
  const StepWorkload a = build_step(deepseek_v3(), mtp);
  const StepWorkload b = build_step(deepseek_v3(), verify);
  REQUIRE(a.ops.size() > b.ops.size());
  for (std::size_t i = 0; i < b.ops.size(); ++i) {
    CHECK(a.ops[i].name == b.ops[i].name);
    CHECK(a.ops[i].flops == b.ops[i].flops);
    CHECK(a.ops[i].bytes() == b.ops[i].bytes());
  }
  for (std::size_t i = b.ops.size(); i < a.ops.size(); ++i) CHECK(a.ops[i].name.rfind("mtp_", 0) == 0);
  CHECK(a.output_tokens == 64);  // both positions sampled
  CHECK(a.emitted_tokens == 32.0);
  // The draft's projection: 32 tokens, [h; e] (2·7168) -> 7168, bf16: 2·32·14336·7168 FLOPs.
  CHECK(find_op(a, "mtp_eh_proj").flops == 2.0 * 32 * 14336 * 7168);
  // Its one attention layer: q_a over 32 tokens, once.
  CHECK(find_op(a, "mtp_q_a_proj").count == 1);
  CHECK(find_op(a, "mtp_q_a_proj").flops == 2.0 * 32 * 7168 * 1536);
  // Timed: the step is the verification plus the draft's ops.
  const DeviceModel dev(h100(), DeviceMode::kDatasheet);
  const StepCost ca = cost_step(a, dev);
  const StepCost cb = cost_step(b, dev);
  double draft = 0;
  for (std::size_t i = b.ops.size(); i < ca.ops.size(); ++i) draft += ca.ops[i].time.time_s;
  CHECK(ca.step_time_s == Approx(cb.step_time_s + draft).epsilon(1e-12));
  // Depth 2 with one rate, 0.8: 0.8 + 0.8² = 1.44 accepted; per position 0.9 then 0.5: 0.9 + 0.45 = 1.35.
  mtp.mtp.depth = 2;
  mtp.mtp.acceptance = {0.8};
  CHECK(build_step(deepseek_v3(), mtp).emitted_tokens == Approx(32 * 2.44));
  mtp.mtp.acceptance = {0.9, 0.5};
  const StepWorkload d2 = build_step(deepseek_v3(), mtp);
  CHECK(d2.emitted_tokens == Approx(32 * 2.35));
  CHECK(find_op(d2, "mtp_eh_proj").count == 2);  // the draft runs twice
  // Bad specs are keyed errors.
  mtp.mtp.acceptance = {0.9, 0.5, 0.1};
  CHECK_THROWS_WITH(build_step(deepseek_v3(), mtp), Catch::Contains("one per draft position (2)"));
  mtp.mtp.acceptance = {1.5};
  CHECK_THROWS_WITH(build_step(deepseek_v3(), mtp), Catch::Contains("[0, 1]"));
}

TEST_CASE("MTP throughput counts accepted tokens: the evaluator's tokens/s") {
  StepShape s = uniform_decode(64, 2048);
  s.parallel.tp = 8;
  s.mtp.depth = 1;
  s.mtp.acceptance = {0.85};
  const DeviceModel dev(h100(), DeviceMode::kDatasheet);
  const StepEvaluation e = evaluate_step(deepseek_v3(), dev, s);
  CHECK(e.totals.tokens_per_s == Approx(64 * 1.85 / e.cost.step_time_s));
  CHECK(e.totals.tokens_per_s_per_user == Approx(1.85 / e.cost.step_time_s));
  CHECK(e.totals.tokens_per_s_per_gpu == Approx(e.totals.tokens_per_s / 8));
}

TEST_CASE("two micro-batches: between the larger of compute and communication and back to back") {
  // The schedule by hand: C = 3 ms, M = 1 ms, 10 layers: max(6, 2) + 1/10 = 6.1 ms.
  CHECK(overlap_schedule(3e-3, 1e-3, 10) == Approx(6.1e-3));
  CHECK(overlap_schedule(1e-3, 3e-3, 10) == Approx(6.1e-3));
  const DeviceModel dev(h100_cluster(), DeviceMode::kDatasheet);
  for (const int gpus : {8, 32}) {
    INFO(gpus << " GPUs");
    StepShape one = deepseek_layout(gpus, 64, 4096);
    StepShape two = one;
    two.parallel.micro_batches = 2;
    const StepWorkload w = build_step(deepseek_v3(), two);
    // Each micro-batch is half the batch: every op twice the half batch's.
    const StepWorkload half = build_step(deepseek_v3(), deepseek_layout(gpus, 32, 4096));
    REQUIRE(w.ops.size() == half.ops.size());
    for (std::size_t i = 0; i < w.ops.size(); ++i) {
      CHECK(w.ops[i].flops == Approx(2 * half.ops[i].flops));
      CHECK(w.ops[i].count == 2 * half.ops[i].count);
    }
    const StepCost c = cost_step(w, dev);
    double compute = 0, comm = 0;
    for (const TimedOp& op : c.ops)
      (op.op.op_class == OpClass::kCommunication ? comm : compute) += op.time.time_s;
    CHECK(c.serial_time_s == Approx(compute + comm));
    CHECK(c.step_time_s <= c.serial_time_s);                        // never slower than back to back
    CHECK(c.step_time_s >= std::max(compute, comm) * (1 - 1e-12));  // never faster than the larger
    CHECK(c.step_time_s == Approx(overlap_schedule(compute / 2, comm / 2, 61)));
    // Emitted tokens are the whole batch's, not twice the half's.
    CHECK(c.emitted_tokens == gpus * 64.0);
  }
  // One sequence cannot be split.
  StepShape single = uniform_decode(1, 4096);
  single.parallel.micro_batches = 2;
  CHECK_THROWS_WITH(build_step(deepseek_v3(), single), Catch::Contains("at least 2 sequences"));
  // An odd batch: the busier micro-batch has the extra sequence (3 of 5).
  StepShape odd = uniform_decode(5, 4096);
  odd.parallel.micro_batches = 2;
  CHECK(find_op(build_step(deepseek_v3(), odd), "q_a_proj").flops == 2 * 2.0 * 3 * 7168 * 1536 * 61);
}

TEST_CASE("a layout's options are checked, each by its key") {
  Parallelism p{8, true};
  p.ep = 4;
  CHECK_THROWS_WITH(check_parallelism(p), Catch::Contains("tp (8)"));
  p.ep = 8;
  p.micro_batches = 3;
  CHECK_THROWS_WITH(check_parallelism(p), Catch::Contains("1 or 2"));
  p.micro_batches = 2;
  p.expert_imbalance = 0.5;
  CHECK_THROWS_WITH(check_parallelism(p), Catch::Contains("at least 1"));
  p.expert_imbalance = 1.2;
  CHECK_NOTHROW(check_parallelism(p));
  p.ep = 1;
  p.redundant_experts = 4;
  CHECK_THROWS_WITH(check_parallelism(p), Catch::Contains("needs expert parallelism"));
  try {
    check_parallelism(p);
  } catch (const InputError& e) {
    CHECK(e.key_path() == "redundant_experts");
  }
  CHECK(Parallelism{8, true, 8, 32, 0.0, 2}.describe() ==
        "TP8 + DP-attention + EP8 (32 redundant experts) + 2 micro-batches");
}

TEST_CASE("the evaluator's verdict: the batch against the KV cache at the longest context") {
  const DeviceModel dev(h100(), DeviceMode::kDatasheet);
  StepShape s = uniform_decode(4, 8192);
  const StepEvaluation ok = evaluate_step(llama3_8b(), dev, s);
  CHECK(ok.status == PointStatus::kOk);
  CHECK(ok.totals.max_concurrency == max_concurrency(ok.capacity, 8192));
  s.sequences.front().count = ok.totals.max_concurrency + 1;
  CHECK(evaluate_step(llama3_8b(), dev, s).status == PointStatus::kBatchExceedsCapacity);
  // The step time alone (serving's path) is the evaluator's.
  CHECK(evaluate_step_time(llama3_8b(), dev, s) == evaluate_step(llama3_8b(), dev, s).cost.step_time_s);
}

TEST_CASE("pipeline stages: each GPU runs its stage once per micro-batch, counted by hand") {
  // Llama-3-70B, TP 4 × PP 2, 64 decodes at 4096: 2 micro-batches of 32 in flight; each GPU holds 40 layers.
  // qkv_proj per launch: 2·32·8192·((64 + 2·8)/4·128) = 1,342,177,280 FLOPs; 40 layers × 2 micro-batches.
  const ModelSpec l70 = resolve_model("llama-3-70b");
  StepShape s = uniform_decode(64, 4096);
  s.parallel.tp = 4;
  s.parallel.pp = 2;
  const StepWorkload w = build_step(l70, s);
  CHECK(find_op(w, "qkv_proj").count == 80);
  CHECK(find_op(w, "qkv_proj").flops == 80 * 1'342'177'280.0);
  // Each micro-batch's hidden states (32 × 8192 bf16) go to the next stage: 2 × 524,288 bytes.
  const Op& send = find_op(w, "pp_send_activations");
  CHECK(send.collective == Collective::kSendRecv);
  CHECK(send.comm_bytes == 2 * 524'288.0);
  CHECK(send.comm_ranks == 8);
  // The step is every op once (no bubble: as many micro-batches as stages).
  const DeviceModel dev(h100_cluster(), DeviceMode::kDatasheet);
  const StepCost c = cost_step(w, dev);
  CHECK(c.step_time_s == Approx(c.serial_time_s));
  CHECK(c.emitted_tokens == 64.0);
  // Three sequences on 8 stages: 3 micro-batches of one, and the step waits out the bubble: 8/3 of the work.
  StepShape few = uniform_decode(3, 4096);
  few.parallel.pp = 8;
  const StepCost b = cost_step(build_step(l70, few), dev);
  CHECK(b.step_time_s == Approx(b.serial_time_s * 8.0 / 3.0));
  // Memory: a GPU caches and holds its stage's layers. KV: 40 layers × 2·2·128 elements × 2 bytes (2 KV heads
  // of 8 on each of 4 GPUs). Weights, TP 1 × PP 8, the last stage: 10 layers of 8192·80·128 + 64·128·8192 +
  // 2·8192 + 3·8192·28672 = 855,654,400, and the head 128256·8192, and the final norm.
  CHECK(kv_bytes_per_token_per_gpu(l70, Dtype::kBf16, s.parallel) == 40 * 1024.0);
  Parallelism p8;
  p8.pp = 8;
  CHECK(parameters_per_gpu(l70, p8) == 855'654'400.0 * 10 + 128256.0 * 8192 + 8192);
  CHECK(p8.gpus() == 8);
  // Errors: more stages than layers; two micro-batches on top of the pipeline.
  few.parallel.pp = 81;
  CHECK_THROWS_WITH(build_step(l70, few), Catch::Contains("81 stages for the 80 layers"));
  few.parallel.pp = 2;
  few.parallel.micro_batches = 2;
  CHECK_THROWS_WITH(build_step(l70, few), Catch::Contains("not modelled"));
}

TEST_CASE("micro-batches deal a step's sequences round-robin: the busiest gets the odd ones") {
  // Records of 3, 1 and 4 sequences (positions 0-2, 3, 4-7) over 3 micro-batches: the busiest takes positions
  // 0, 3 and 6, one sequence of each record.
  StepShape s;
  s.sequences = {SequenceWork{1000, 1, false, true, 3}, SequenceWork{2000, 1, false, true, 1},
                 SequenceWork{3000, 1, false, true, 4}};
  s.parallel.pp = 3;
  const StepWorkload w = build_step(llama3_8b(), s);
  // The busiest micro-batch's attention reads 1000 + 2000 + 3000 keys per layer, 3 micro-batches of work.
  CHECK(find_op(w, "attention_decode").attention.sequences == 3);
  CHECK(find_op(w, "attention_decode").attention.context_sum == 6000);
}

TEST_CASE("a fused all-reduce runs under the GEMM before it: the pair takes the longer of the two") {
  // Llama-3-70B on TP 8: o_proj + allreduce_attn and ffn_down + allreduce_ffn, 80 layers each. Fused, each
  // pair costs max(GEMM, all-reduce): the step saves min(GEMM, all-reduce) per pair, summed here from the op
  // times.
  const ModelSpec l70 = resolve_model("llama-3-70b");
  StepShape s = uniform_decode(32, 4096);
  s.parallel.tp = 8;
  const DeviceModel dev(h100(), DeviceMode::kDatasheet);
  const StepCost plain = cost_step(build_step(l70, s), dev);
  s.parallel.fuse_allreduce = true;
  const StepCost fused = cost_step(build_step(l70, s), dev);
  double saved = 0;
  int pairs = 0;
  for (std::size_t i = 1; i < plain.ops.size(); ++i) {
    if (plain.ops[i].op.collective != Collective::kAllReduce) continue;
    REQUIRE(plain.ops[i - 1].op.op_class == OpClass::kGemm);
    saved += std::min(plain.ops[i - 1].time.time_s, plain.ops[i].time.time_s);
    ++pairs;
  }
  CHECK(pairs == 2);  // allreduce_attn after o_proj, allreduce_ffn after ffn_down
  CHECK(fused.serial_time_s == Approx(plain.step_time_s));  // the ops themselves are unchanged
  CHECK(fused.step_time_s == Approx(plain.step_time_s - saved));
  CHECK(fused.step_time_s < plain.step_time_s);
  // Off (the default) is back to back.
  CHECK(plain.step_time_s == Approx(plain.serial_time_s));
}
