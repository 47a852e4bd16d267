#pragma once
/// What traffic a serving run sees: Poisson arrivals at a rate, a closed loop at a fixed concurrency, or a
/// trace file; with prompt and output lengths from LengthSpecs. Everything is seeded.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/random.hpp"
#include "sim/serving/lengths.hpp"
#include "sim/time.hpp"

namespace mlasim {

enum class ArrivalKind { kPoisson, kClosedLoop, kTrace };
[[nodiscard]] std::string_view to_string(ArrivalKind k);

/// One request of a trace (or one drawn request).
struct TraceRequest {
  TimePs arrival_ps = 0;
  std::int64_t prompt_tokens = 1;
  std::int64_t output_tokens = 1;
};

struct WorkloadSpec {
  ArrivalKind arrival = ArrivalKind::kPoisson;
  double rate_per_s = 1.0;  ///< kPoisson: mean arrivals per second (all replicas together)
  int concurrency = 1;      ///< kClosedLoop: requests in flight; a completion immediately issues the next
  /// kClosedLoop: the clients start spread over this span: client i of C sends its first request at
  /// i × ramp / C (0: all at time 0).
  TimePs ramp_ps = 0;
  std::vector<TraceRequest> trace;  ///< kTrace: sorted by arrival
  std::string trace_source;
  std::int64_t num_requests = 1000;  ///< requests issued in all (kTrace: at most the trace's length)
  std::uint64_t seed = 1;
  LengthSpec prompt = LengthSpec::fixed(256);
  LengthSpec output = LengthSpec::fixed(256);
};

/// Reads a trace CSV by its header's column names (any order, matched without regard to case):
///  - mlasim: `arrival_time_s,prompt_tokens,output_tokens` (+ `request_id`, ignored); a file without a header
///    is read as these three columns;
///  - Azure LLM inference traces: `TIMESTAMP,ContextTokens,GeneratedTokens`, TIMESTAMP a date and time such
///    as `2023-11-16 18:15:46.6805900`; arrival = time since the first row;
///  - Vidur: `arrived_at` (seconds; optional: without it row i arrives at i s, as Vidur's trace replay
///    does), `num_prefill_tokens,num_decode_tokens` (+ `request_id,num_total_tokens,pd_ratio`, ignored).
/// Quoted cells (RFC 4180) and `#` comment lines are accepted. Arrival times must not decrease and must lie
/// within the 64-bit picosecond clock; token counts are 1 .. kMaxTokens. A missing or unknown column, and
/// every bad cell, is an InputError at file:line:col naming the column.
[[nodiscard]] std::vector<TraceRequest> load_trace(const std::filesystem::path& path);

/// Issues the requests of a WorkloadSpec in order. Arrival times and lengths use separate random streams, so
/// a sweep over the rate sees the same sequence of lengths.
class RequestSource {
 public:
  explicit RequestSource(const WorkloadSpec& spec);

  /// Requests issued so far.
  [[nodiscard]] std::int64_t issued() const { return issued_; }
  /// Requests this source will issue in all.
  [[nodiscard]] std::int64_t total() const { return total_; }
  [[nodiscard]] bool exhausted() const { return beyond_clock_ || issued_ >= total_; }
  /// Whether the arrivals ended early because the next one lies beyond the 64-bit picosecond clock.
  [[nodiscard]] bool beyond_clock() const { return beyond_clock_; }

  /// The next request. Poisson: arrival = previous arrival + Exp(rate); trace: the next row; closed loop:
  /// arrival = `now_ps` (the time a slot freed, or a client's start). Precondition: !exhausted(). nullopt
  /// (and exhausted() from then on) when a Poisson arrival would lie beyond the clock.
  std::optional<TraceRequest> next(TimePs now_ps);

 private:
  const WorkloadSpec& spec_;
  Rng arrival_rng_;
  Rng length_rng_;
  std::int64_t issued_ = 0;
  std::int64_t total_ = 0;
  TimePs last_arrival_ps_ = 0;
  bool beyond_clock_ = false;
};

/// The lowest Poisson rate [req/s]: at a lower one the mean gap between arrivals exceeds the 64-bit
/// picosecond clock (about 106 days).
inline constexpr double kMinPoissonRatePerS = 1.0 / 9.2e6;

}  // namespace mlasim
