// Steady state of the physics: evaluating a step again — a sweep's next point, a serving iteration —
// allocates nothing. This program replaces the global operator new to count its calls (a replacement is
// program-wide, so it is a program of its own).
#include <atomic>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "models/workload.hpp"
#include "sim/device/capacity.hpp"
#include "sim/device/device_model.hpp"
#include "sim/step/evaluate.hpp"
#include "tests/spec_fixtures.hpp"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

// Every form of operator new and delete is replaced, so that no allocation is made by one allocator and freed
// by the other (AddressSanitizer reports such a pair as a mismatch).
namespace {
void* counted(std::size_t size, std::size_t align = 0) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (size == 0) size = 1;
  if (align <= alignof(std::max_align_t)) return std::malloc(size);
  return std::aligned_alloc(align, (size + align - 1) / align * align);
}
void* counted_or_throw(std::size_t size, std::size_t align = 0) {
  if (void* p = counted(size, align)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t size) {
  return counted_or_throw(size);
}
void* operator new[](std::size_t size) {
  return counted_or_throw(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return counted(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return counted(size);
}
void* operator new(std::size_t size, std::align_val_t align) {
  return counted_or_throw(size, static_cast<std::size_t>(align));
}
void* operator new[](std::size_t size, std::align_val_t align) {
  return counted_or_throw(size, static_cast<std::size_t>(align));
}
void* operator new(std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return counted(size, static_cast<std::size_t>(align));
}
void* operator new[](std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return counted(size, static_cast<std::size_t>(align));
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}

using namespace mlasim;
using namespace mlasim::test;

namespace {

/// operator new calls made by `f`.
template <class F>
long allocations(F&& f) {
  const long before = g_allocations.load();
  f();
  return g_allocations.load() - before;
}

struct Case {
  std::string what;
  ModelSpec model;
  StepShape shape;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  out.push_back({"Llama-3-8B decode, TP 1", llama3_8b(), uniform_decode(32, 4096)});
  StepShape tp2 = uniform_decode(64, 8192);
  tp2.parallel.tp = 2;
  tp2.parallel.micro_batches = 2;
  out.push_back({"Llama-3-8B, TP 2, two micro-batches", llama3_8b(), tp2});
  StepShape pp = uniform_decode(16, 2048);
  pp.parallel.pp = 2;
  out.push_back({"Llama-3-8B, PP 2", llama3_8b(), pp});
  StepShape mixed = uniform_decode(8, 4096);
  mixed.sequences.push_back(SequenceWork{1024, 512, true, true, 2});  // two prefill chunks
  out.push_back({"Llama-2-7B, decodes and prefill chunks", llama2_7b(), mixed});
  StepShape mtp = uniform_decode(32, 4096);
  mtp.parallel.tp = 8;
  mtp.mtp.depth = 2;
  mtp.mtp.acceptance = {0.8, 0.6};
  out.push_back({"DeepSeek-V3 (MLA, MoE), TP 8, MTP depth 2", deepseek_v3(), mtp});
  return out;
}

TEST_CASE("evaluating a step again allocates nothing: the sweep's points and the serving iterations") {
  const DeviceModel device(h100(), DeviceMode::kDatasheet);
  for (const Case& c : cases()) {
    INFO(c.what);
    const Capacity cap{};  // the capacity's own arithmetic is not what this measures
    // The first evaluation on this thread grows its op buffer; the same point again, and another point of the
    // same layout (twice the batch, another context), allocate nothing.
    const StepEvaluation first = evaluate_step(c.model, device, c.shape, cap, OpDetail::kTotals);
    StepShape other = c.shape;
    other.sequences.front().count *= 2;
    other.sequences.front().context_tokens += 1000;
    double again = 0, elsewhere = 0, time_only = 0;
    CHECK(allocations([&] {
            again = evaluate_step(c.model, device, c.shape, cap, OpDetail::kTotals).cost.step_time_s;
          }) == 0);
    CHECK(allocations([&] {
            elsewhere = evaluate_step(c.model, device, other, cap, OpDetail::kTotals).cost.step_time_s;
          }) == 0);
    CHECK(allocations([&] { time_only = evaluate_step_time(c.model, device, c.shape); }) == 0);
    // A sweep's points: through the layout prepared once, the same numbers, nothing allocated.
    const PreparedLayout prepared = prepare_layout(c.model, device, c.shape, cap);
    double via_layout = 0;
    CHECK(allocations([&] { via_layout = evaluate_step(prepared, c.shape).cost.step_time_s; }) == 0);
    CHECK(via_layout == first.cost.step_time_s);
    CHECK(again == first.cost.step_time_s);
    CHECK(time_only == first.cost.step_time_s);
    CHECK(elsewhere > 0.0);

    // The same step with its ops kept (one allocation at least: the counter counts) has the same totals; the
    // attention sums are those of its attention ops.
    StepEvaluation full;
    CHECK(allocations([&] { full = evaluate_step(c.model, device, c.shape, cap); }) >= 1);
    CHECK(full.cost.step_time_s == first.cost.step_time_s);
    CHECK(full.cost.serial_time_s == first.cost.serial_time_s);
    CHECK(full.totals.tokens_per_s == first.totals.tokens_per_s);
    CHECK(first.cost.ops.empty());
    REQUIRE_FALSE(full.cost.ops.empty());
    double flops = 0, bytes = 0;
    std::optional<Bound> bound;
    for (const TimedOp& op : full.cost.ops) {
      if (op.op.op_class != OpClass::kAttention) continue;
      flops += op.op.flops;
      bytes += op.op.bytes();
      bound = op.time.bound;
    }
    CHECK(flops > 0.0);
    CHECK(first.cost.attention_flops == flops);
    CHECK(first.cost.attention_bytes == bytes);
    CHECK(first.cost.attention_bound == bound);
  }
}

}  // namespace
