#include "sim/engine/simulator.hpp"

#include <fmt/format.h>

namespace mlasim {

std::string_view to_string(StopReason r) {
  switch (r) {
    case StopReason::kDrained:
      return "drained";
    case StopReason::kTimeLimit:
      return "time_limit";
    case StopReason::kEventLimit:
      return "event_limit";
    case StopReason::kStopped:
      return "stopped";
  }
  return "unknown";
}

void throw_deadlock(TimePs now, std::uint64_t events, const std::string& pending) {
  throw InternalError(
      fmt::format("deadlock: the event queue is empty at t = {} ps ({} s, after {} events) while "
                  "work is pending:\n{}",
                  now, ps_to_seconds(now), events, pending));
}

}  // namespace mlasim
