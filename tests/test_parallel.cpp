// sim/parallel.hpp: every index once, results by index, the lowest failing index's exception, progress
// counts.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "sim/error.hpp"
#include "sim/parallel.hpp"

using namespace mlasim;

namespace {

/// The message of what `f` throws ("" when nothing).
template <class F>
std::string thrown(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("default_jobs is at least one") {
  CHECK(default_jobs() >= 1);
}

TEST_CASE("parallel_for runs every index exactly once, whatever jobs and chunk") {
  for (const int jobs : {1, 2, 3, 8}) {
    for (const std::size_t n : {std::size_t{1}, std::size_t{7}, std::size_t{1000}, std::size_t{100'003}}) {
      INFO("jobs " << jobs << ", n " << n);
      std::vector<std::atomic<int>> runs(n);
      parallel_for(n, jobs, [&](std::size_t i) { runs[i].fetch_add(1); });
      std::size_t once = 0;
      for (const auto& r : runs) once += r.load() == 1 ? 1 : 0;
      CHECK(once == n);
    }
  }
  // Chunks of a given size cover [0, n) exactly, the last one short.
  std::vector<std::pair<std::size_t, std::size_t>> chunks;
  std::mutex m;
  parallel_for_chunks(10, 3, 4, [&](std::size_t b, std::size_t e) {
    const std::lock_guard<std::mutex> lock(m);
    chunks.emplace_back(b, e);
  });
  std::sort(chunks.begin(), chunks.end());
  CHECK(chunks == std::vector<std::pair<std::size_t, std::size_t>>{{0, 4}, {4, 8}, {8, 10}});
}

TEST_CASE("parallel_for results written by index equal the sequential loop's") {
  const std::size_t n = 50'000;
  std::vector<std::uint64_t> serial(n), parallel(n);
  for (std::size_t i = 0; i < n; ++i) serial[i] = i * i + 7;
  parallel_for(n, 4, [&](std::size_t i) { parallel[i] = i * i + 7; });
  CHECK(parallel == serial);
}

TEST_CASE("parallel_for with more jobs than work, and with no work") {
  std::vector<std::atomic<int>> runs(3);
  parallel_for(3, 64, [&](std::size_t i) { runs[i].fetch_add(1); });
  for (const auto& r : runs) CHECK(r.load() == 1);

  bool called = false;
  parallel_for(0, 4, [&](std::size_t) { called = true; });
  parallel_for_chunks(0, 4, 0, [&](std::size_t, std::size_t) { called = true; });
  CHECK_FALSE(called);
}

TEST_CASE("parallel_for refuses fewer than one job") {
  CHECK_THROWS_AS(parallel_for(3, 0, [](std::size_t) {}), InternalError);
  CHECK_THROWS_AS(parallel_for(3, -2, [](std::size_t) {}), InternalError);
}

TEST_CASE("an exception is rethrown on the caller: the lowest failing index's, as with one job") {
  // Index 37 fails late (it sleeps first), 500 and 9000 fail at once: the lowest still wins every time.
  const auto f = [](std::size_t i) {
    if (i == 37) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      throw std::runtime_error("index 37");
    }
    if (i == 500 || i == 9000) throw std::runtime_error("index " + std::to_string(i));
  };
  CHECK(thrown([&] { parallel_for(10'000, 1, f); }) == "index 37");
  for (int repeat = 0; repeat < 10; ++repeat) {
    for (const int jobs : {2, 4, 8}) {
      INFO("jobs " << jobs);
      CHECK(thrown([&] { parallel_for(10'000, jobs, f); }) == "index 37");
      CHECK(thrown([&] {
              parallel_for_chunks(10'000, jobs, 1, [&](std::size_t b, std::size_t) { f(b); });
            }) == "index 37");
    }
  }
  // The exception's type is kept.
  CHECK_THROWS_AS(parallel_for(100, 3,
                               [](std::size_t i) {
                                 if (i == 50) throw InputError("bad");
                               }),
                  InputError);
}

TEST_CASE("after a failure no new work is handed out") {
  std::atomic<int> ran{0};
  const auto f = [&](std::size_t i) {
    ran.fetch_add(1);
    if (i == 0) throw std::runtime_error("first");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  CHECK(thrown([&] { parallel_for_chunks(2000, 4, 1, [&](std::size_t b, std::size_t) { f(b); }); }) ==
        "first");
  CHECK(ran.load() < 200);  // the chunks already running finish; the other ~2000 never start
  ran = 0;
  CHECK(thrown([&] { parallel_for(2000, 1, f); }) == "first");
  CHECK(ran.load() == 1);
}

TEST_CASE("ProgressCounter reports counts that never go down, and the total at the end") {
  std::vector<std::pair<std::size_t, std::size_t>> reports;
  ProgressCounter counter(
      4000, [&](std::size_t done, std::size_t total) { reports.emplace_back(done, total); },
      std::chrono::milliseconds(0));
  parallel_for(4000, 4, [&](std::size_t) { counter.add(1); });
  counter.finish();
  REQUIRE_FALSE(reports.empty());
  CHECK(reports.back() == std::pair<std::size_t, std::size_t>{4000, 4000});
  for (std::size_t i = 1; i < reports.size(); ++i) CHECK(reports[i - 1].first <= reports[i].first);

  // Without a callback it only counts; with a long interval only finish() reports.
  ProgressCounter silent(10, {});
  silent.add(3);
  silent.finish();
  reports.clear();
  ProgressCounter slow(
      10, [&](std::size_t done, std::size_t total) { reports.emplace_back(done, total); },
      std::chrono::hours(1));
  slow.add(4);
  slow.add(6);
  CHECK(reports.empty());
  slow.finish();
  CHECK(reports == std::vector<std::pair<std::size_t, std::size_t>>{{10, 10}});
}
