#pragma once
/// The discrete-event engine (DESIGN.md §4): integer-picosecond time, events ordered by (time, sequence
/// number) in a binary heap so that ties run in the order they were scheduled, typed payloads (a
/// std::variant of event structs, say), lazy cancellation by generation check, limits on simulated time and
/// on the number of events, and a deadlock check when the queue empties while work is pending.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/error.hpp"
#include "sim/time.hpp"

namespace mlasim {

/// Why Simulator::run returned.
enum class StopReason {
  kDrained,     ///< the queue emptied with no work pending
  kTimeLimit,   ///< the next event lies beyond EngineLimits::max_time_ps
  kEventLimit,  ///< EngineLimits::max_events events were processed
  kStopped,     ///< a handler called Simulator::stop()
};
[[nodiscard]] std::string_view to_string(StopReason r);

/// Limits on a run (from the config): simulated time and processed events.
struct EngineLimits {
  TimePs max_time_ps = kTimeNever;  ///< events after this time do not run
  std::uint64_t max_events = std::numeric_limits<std::uint64_t>::max();  ///< events processed at most
};

/// Identifies a cancellable event. Default-constructed handles refer to nothing.
struct EventHandle {
  std::uint32_t slot = 0;        ///< 0 = none
  std::uint32_t generation = 0;  ///< must match the slot's generation for the event to be live
};

/// Throws the deadlock InternalError: the queue is empty at `now` while `pending` describes outstanding work.
[[noreturn]] void throw_deadlock(TimePs now, std::uint64_t events, const std::string& pending);

/// A single-threaded event loop over payloads of type `Payload` (cheap to move; a std::variant of small event
/// structs keeps handlers typed without void* or per-event allocation).
template <class Payload>
class Simulator {
 public:
  explicit Simulator(EngineLimits limits = {}) : limits_(limits) { slot_generation_.push_back(0); }

  /// Current simulated time, ps.
  [[nodiscard]] TimePs now() const { return now_; }
  /// Events handled so far (cancelled ones excluded).
  [[nodiscard]] std::uint64_t events_processed() const { return processed_; }
  /// Events in the queue, cancelled ones included until they surface.
  [[nodiscard]] std::size_t queued() const { return heap_.size(); }
  [[nodiscard]] const EngineLimits& limits() const { return limits_; }

  void reserve(std::size_t n) { heap_.reserve(n); }

  /// Schedules `payload` at now + delay_ps. A negative delay is a bug: InternalError.
  void schedule(TimePs delay_ps, Payload payload) { push(delay_ps, 0, 0, std::move(payload)); }

  /// As schedule(), returning a handle that cancel() accepts.
  EventHandle schedule_cancellable(TimePs delay_ps, Payload payload) {
    std::uint32_t slot = 0;
    if (!free_slots_.empty()) {
      slot = free_slots_.back();
      free_slots_.pop_back();
    } else {
      slot = static_cast<std::uint32_t>(slot_generation_.size());
      slot_generation_.push_back(0);
    }
    const std::uint32_t gen = slot_generation_[slot];
    push(delay_ps, slot, gen, std::move(payload));
    return EventHandle{slot, gen};
  }

  /// Cancels a pending event (lazily: it stays in the heap and is skipped when it surfaces). Cancelling an
  /// event that already ran or was cancelled is a no-op.
  void cancel(EventHandle h) {
    if (h.slot == 0 || h.slot >= slot_generation_.size()) return;
    if (slot_generation_[h.slot] == h.generation) ++slot_generation_[h.slot];
  }

  /// Makes run() return after the current handler.
  void stop() { stop_requested_ = true; }

  /// Runs events in (time, sequence) order, calling `handler(payload)` for each live one, until the queue
  /// drains, a limit is reached or stop() is called. When the queue drains, `pending()` (returning
  /// std::string) describes outstanding work: non-empty means deadlock and throws InternalError.
  template <class Handler, class Pending>
  StopReason run(Handler&& handler, Pending&& pending) {
    stop_requested_ = false;
    while (!heap_.empty()) {
      if (processed_ >= limits_.max_events) return StopReason::kEventLimit;
      if (time_of(heap_.front()) > limits_.max_time_ps) {
        now_ = limits_.max_time_ps;
        return StopReason::kTimeLimit;
      }
      Entry e = pop();
      if (e.slot != 0) {
        const bool live = slot_generation_[e.slot] == e.generation;
        ++slot_generation_[e.slot];  // retire the slot's current generation either way
        free_slots_.push_back(e.slot);
        if (!live) continue;
      }
      now_ = time_of(e);
      ++processed_;
      handler(e.payload);
      if (stop_requested_) return StopReason::kStopped;
    }
    const std::string what = pending();
    if (!what.empty()) throw_deadlock(now_, processed_, what);
    return StopReason::kDrained;
  }

 private:
  // (time, seq) packed into one unsigned 128-bit key so that the heap's hot comparison is a single compare.
  // Times are >= 0, so the unsigned order of the high half is the time order.
  __extension__ using Key = unsigned __int128;
  struct Entry {
    Key key;
    std::uint32_t slot;
    std::uint32_t generation;
    Payload payload;
  };
  static bool before(const Entry& a, const Entry& b) { return a.key < b.key; }
  static TimePs time_of(const Entry& e) {
    return static_cast<TimePs>(static_cast<std::uint64_t>(e.key >> 64));
  }

  void push(TimePs delay_ps, std::uint32_t slot, std::uint32_t gen, Payload&& payload) {
    if (delay_ps < 0)
      throw InternalError("event scheduled with a negative delay (" + std::to_string(delay_ps) + " ps)");
    if (delay_ps > kTimeNever - now_) throw InternalError("event time overflows the picosecond clock");
    const auto t = static_cast<std::uint64_t>(now_ + delay_ps);
    heap_.push_back(Entry{(static_cast<Key>(t) << 64) | next_seq_++, slot, gen, std::move(payload)});
    // Sift up: O(log n), no linear insertion.
    std::size_t i = heap_.size() - 1;
    Entry moving = std::move(heap_[i]);
    while (i > 0) {
      const std::size_t parent = (i - 1) / 2;
      if (!before(moving, heap_[parent])) break;
      heap_[i] = std::move(heap_[parent]);
      i = parent;
    }
    heap_[i] = std::move(moving);
  }

  Entry pop() {
    Entry top = std::move(heap_.front());
    Entry last = std::move(heap_.back());
    heap_.pop_back();
    const std::size_t n = heap_.size();
    if (n > 0) {
      // Floyd's bottom-up sift: walk the hole down to a leaf along the smaller children (a branch-free
      // choice), then sift `last` — which came from the bottom and usually belongs there — up from that leaf.
      std::size_t i = 0;
      for (;;) {
        std::size_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n) child += static_cast<std::size_t>(before(heap_[child + 1], heap_[child]));
        heap_[i] = std::move(heap_[child]);
        i = child;
      }
      while (i > 0) {
        const std::size_t parent = (i - 1) / 2;
        if (!before(last, heap_[parent])) break;
        heap_[i] = std::move(heap_[parent]);
        i = parent;
      }
      heap_[i] = std::move(last);
    }
    return top;
  }

  EngineLimits limits_;
  std::vector<Entry> heap_;
  std::vector<std::uint32_t> slot_generation_;  ///< index 0 unused (means "not cancellable")
  std::vector<std::uint32_t> free_slots_;
  TimePs now_ = 0;
  std::uint64_t next_seq_ = 0;
  std::uint64_t processed_ = 0;
  bool stop_requested_ = false;
};

}  // namespace mlasim
