#pragma once
/// What traffic a serving run sees: Poisson arrivals at a rate, a closed loop at a fixed concurrency, or a
/// trace file; with prompt and output lengths from LengthSpecs. Everything is seeded.
#include <cstdint>
#include <filesystem>
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

/// Reads a trace CSV: rows `arrival_time_s,prompt_tokens,output_tokens` (header row optional, `#` comments),
/// arrival times non-decreasing. Bad rows are InputError at file:line:column.
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
  [[nodiscard]] bool exhausted() const { return issued_ >= total_; }

  /// The next request. Poisson: arrival = previous arrival + Exp(rate); trace: the next row; closed loop:
  /// arrival = `now_ps` (the time a slot freed, or a client's start). Precondition: !exhausted().
  TraceRequest next(TimePs now_ps);

 private:
  const WorkloadSpec& spec_;
  Rng arrival_rng_;
  Rng length_rng_;
  std::int64_t issued_ = 0;
  std::int64_t total_ = 0;
  TimePs last_arrival_ps_ = 0;
};

}  // namespace mlasim
