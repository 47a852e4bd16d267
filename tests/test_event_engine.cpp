#include <catch2/catch.hpp>
#include <string>
#include <variant>
#include <vector>

#include "sim/engine/simulator.hpp"

using namespace mlasim;

namespace {
struct Ping {
  int id;
};
struct Pong {
  int id;
};
using Ev = std::variant<Ping, Pong>;
auto nothing_pending = [] { return std::string(); };
}  // namespace

TEST_CASE("events run in time order, ties in the order they were scheduled") {
  Simulator<Ev> sim;
  std::vector<int> order;
  sim.schedule(30, Ping{3});
  sim.schedule(10, Ping{1});
  sim.schedule(20, Pong{20});
  sim.schedule(10, Pong{2});  // same time as Ping{1}: runs after it
  sim.schedule(0, Ping{0});
  std::vector<TimePs> times;
  const StopReason why = sim.run(
      [&](const Ev& e) {
        times.push_back(sim.now());
        std::visit([&](const auto& x) { order.push_back(x.id); }, e);
      },
      nothing_pending);
  CHECK(why == StopReason::kDrained);
  CHECK(order == std::vector<int>{0, 1, 2, 20, 3});
  CHECK(times == std::vector<TimePs>{0, 10, 10, 20, 30});
  CHECK(sim.events_processed() == 5);
}

TEST_CASE("handlers schedule relative to the current time") {
  Simulator<Ev> sim;
  std::vector<TimePs> times;
  sim.schedule(5, Ping{0});
  sim.run(
      [&](const Ev& e) {
        times.push_back(sim.now());
        if (std::get<Ping>(e).id < 3) sim.schedule(7, Ping{std::get<Ping>(e).id + 1});
      },
      nothing_pending);
  CHECK(times == std::vector<TimePs>{5, 12, 19, 26});
}

TEST_CASE("a negative delay is a bug") {
  Simulator<Ev> sim;
  CHECK_THROWS_AS(sim.schedule(-1, Ping{0}), InternalError);
}

TEST_CASE("cancelled events never run (lazy cancellation)") {
  Simulator<Ev> sim;
  std::vector<int> ran;
  const EventHandle a = sim.schedule_cancellable(10, Ping{1});
  const EventHandle b = sim.schedule_cancellable(20, Ping{2});
  sim.schedule(15, Pong{3});
  sim.cancel(a);
  sim.cancel(a);  // twice is harmless
  sim.run([&](const Ev& e) { std::visit([&](const auto& x) { ran.push_back(x.id); }, e); }, nothing_pending);
  CHECK(ran == std::vector<int>{3, 2});
  sim.cancel(b);  // after it ran: no effect
  // Slots are reused; a stale handle must not cancel the new event.
  const EventHandle c = sim.schedule_cancellable(1, Ping{4});
  sim.cancel(a);
  sim.cancel(b);
  ran.clear();
  sim.run([&](const Ev& e) { std::visit([&](const auto& x) { ran.push_back(x.id); }, e); }, nothing_pending);
  CHECK(ran == std::vector<int>{4});
  (void)c;
}

TEST_CASE("the time limit stops the run before later events") {
  EngineLimits lim;
  lim.max_time_ps = 100;
  Simulator<Ev> sim(lim);
  int n = 0;
  sim.schedule(50, Ping{0});
  sim.schedule(100, Ping{1});
  sim.schedule(101, Ping{2});
  CHECK(sim.run([&](const Ev&) { ++n; }, nothing_pending) == StopReason::kTimeLimit);
  CHECK(n == 2);
  CHECK(sim.now() == 100);
}

TEST_CASE("the event limit stops the run") {
  EngineLimits lim;
  lim.max_events = 3;
  Simulator<Ev> sim(lim);
  sim.schedule(0, Ping{0});
  int n = 0;
  const StopReason why = sim.run(
      [&](const Ev&) {
        ++n;
        sim.schedule(1, Ping{0});
      },
      nothing_pending);
  CHECK(why == StopReason::kEventLimit);
  CHECK(n == 3);
}

TEST_CASE("an empty queue with pending work is a deadlock that dumps the state") {
  Simulator<Ev> sim;
  sim.schedule(42, Ping{0});
  try {
    (void)sim.run([](const Ev&) {}, [] { return std::string("replica 0: 3 requests waiting"); });
    FAIL("expected a deadlock error");
  } catch (const InternalError& e) {
    const std::string what = e.what();
    CHECK(what.find("deadlock") != std::string::npos);
    CHECK(what.find("42 ps") != std::string::npos);
    CHECK(what.find("3 requests waiting") != std::string::npos);
  }
}

TEST_CASE("stop() ends the run after the current handler") {
  Simulator<Ev> sim;
  sim.schedule(1, Ping{0});
  sim.schedule(2, Ping{1});
  int n = 0;
  CHECK(sim.run(
            [&](const Ev&) {
              ++n;
              sim.stop();
            },
            nothing_pending) == StopReason::kStopped);
  CHECK(n == 1);
}
