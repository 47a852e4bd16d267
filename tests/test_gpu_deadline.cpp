// Tests of kernels/common/deadline.hpp: when a measurement program stops taking points, and that the watchdog
// ends a program whose point hangs (exit code 5) but never one that keeps making progress. Registered in
// tests/CMakeLists.txt ("GPU run hardening" block).
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "kernels/common/deadline.hpp"

using mlasim::gpu::Deadline;
using mlasim::gpu::Watchdog;

TEST_CASE("without a deadline every point is taken") {
  Deadline d;
  d.note_point(1e6);
  CHECK_FALSE(d.set());
  CHECK_FALSE(d.too_late_for_next_point());
}

TEST_CASE("a point is refused when 1.5x the longest so far plus 1 s of closing would end past the deadline") {
  Deadline d(100.0);
  CHECK_FALSE(d.too_late_for_next_point());  // nothing measured yet: a 50 ms guess fits
  d.note_point(10.0);
  CHECK_FALSE(d.too_late_for_next_point());  // 0 + 15 + 1 < 100
  d.note_point(70.0);
  CHECK(d.too_late_for_next_point());                 // 0 + 105 + 1 > 100
  CHECK(Deadline(0.5).too_late_for_next_point(1.0));  // a 1 s point cannot fit in half a second
}

TEST_CASE("the watchdog ends a process whose armed activity outlives its limit, with exit code 5") {
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    Watchdog w(0.3);
    w.arm("point 7 (test)");
    std::this_thread::sleep_for(std::chrono::seconds(5));
    ::_exit(0);  // the watchdog should have ended the process long before
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == mlasim::gpu::kExitWatchdog);
}

TEST_CASE("the watchdog leaves alone activities that finish in time, and a disabled one has no effect") {
  {
    Watchdog w(0.5);
    for (int i = 0; i < 4; ++i) {
      w.arm("short point");
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      w.disarm();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(700));  // disarmed: no limit
  }
  Watchdog off(0.0);
  off.arm("never watched");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  SUCCEED("still running");
}
