// Bare event-engine throughput: events handled per second on one core. Each handler schedules one new event
// at a pseudo-random delay, keeping `pending` events in the heap (the steady state of a busy simulation).
// Run (Release): build/bench/bench_engine [events] [pending]
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <variant>

#include "sim/engine/simulator.hpp"

namespace {
struct Tick {
  std::uint32_t id;
};
struct Tock {
  std::uint32_t id;
};
using Event = std::variant<Tick, Tock>;
}  // namespace

int main(int argc, char** argv) {
  using namespace mlasim;
  const std::uint64_t events = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 50'000'000ULL;
  const std::uint32_t pending =
      argc > 2 ? static_cast<std::uint32_t>(std::strtoul(argv[2], nullptr, 10)) : 1000U;
  EngineLimits limits;
  limits.max_events = events;
  Simulator<Event> sim(limits);
  sim.reserve(pending + 1);
  std::uint64_t x = 88172645463325252ULL;  // xorshift64 delays: 1 ps .. 1 us
  auto next_delay = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return static_cast<TimePs>(1 + (x % 1'000'000));
  };
  for (std::uint32_t i = 0; i < pending; ++i) sim.schedule(next_delay(), Tick{i});
  std::uint64_t checksum = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const StopReason why = sim.run(
      [&](const Event& e) {
        std::visit(
            [&](const auto& ev) {
              checksum += ev.id;
              if constexpr (std::is_same_v<std::decay_t<decltype(ev)>, Tick>) {
                sim.schedule(next_delay(), Tock{ev.id});
              } else {
                sim.schedule(next_delay(), Tick{ev.id});
              }
            },
            e);
      },
      [] { return std::string(); });
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("bench_engine: {} events, {} pending, {:.3f} s, {:.1f} M events/s (stop: {}, checksum {})\n",
             sim.events_processed(), pending, s, static_cast<double>(sim.events_processed()) / s / 1e6,
             to_string(why), checksum);
  return 0;
}
