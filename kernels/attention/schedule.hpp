#pragma once
// Split-KV schedule (plain C++, no CUDA), in the spirit of FlashMLA's scheduler metadata: the KV work of the
// whole batch (pages, plus a fixed cost per piece) is cut into `num_parts` nearly equal contiguous runs, one
// per CTA along the KV axis. A CTA walks its run piece by piece; a sequence cut between CTAs has several
// splits whose fp32 partial outputs and log-sum-exps a combine kernel merges. Long sequences get many splits,
// short ones one.
#include <cstdint>
#include <vector>

#include "kernels/attention/paging.hpp"

namespace mlasim::attention {

/// Inputs of the scheduler.
struct ScheduleOptions {
  int num_sms = 132;    ///< multiprocessors on the device (H100 SXM: 132)
  int ctas_per_sm = 1;  ///< resident CTAs of the attention kernel per SM
  int row_blocks = 1;   ///< CTAs that share one KV run (query-row blocks x KV heads), launched together
  int page_tokens = kPageTokens;
  int fixed_cost_pages = 2;  ///< cost of starting a piece (Q load, epilogue, combine), in pages of work
};

/// The schedule, as flat int32 arrays ready to upload. Segment = (sequence, [token_begin, token_end)).
/// Invariants (checked by tests): every token of every sequence lies in exactly one segment; segment
/// boundaries are multiples of page_tokens (except a sequence's end); the segments of one sequence are
/// consecutive and in token order; each part has at least one segment; parts <= the requested count.
struct SplitSchedule {
  int num_parts = 0;  ///< CTAs along the KV axis (grid dimension)
  int num_segments = 0;
  int max_splits_per_seq = 0;
  std::vector<std::int32_t> part_segment_begin;  ///< [num_parts + 1]: part p runs segments [p], [p+1])
  std::vector<std::int32_t> seg_seq;             ///< [num_segments] sequence of the segment
  std::vector<std::int32_t> seg_token_begin;     ///< [num_segments] first token (inclusive)
  std::vector<std::int32_t> seg_token_end;       ///< [num_segments] last token (exclusive)
  std::vector<std::int32_t> seq_segment_begin;   ///< [batch + 1]: sequence b owns segments [b], [b+1])

  /// Splits of sequence `b`; 1 means the attention kernel writes the final output itself.
  [[nodiscard]] int splits_of(int b) const {
    return seq_segment_begin[static_cast<std::size_t>(b) + 1] -
           seq_segment_begin[static_cast<std::size_t>(b)];
  }
};

/// The options our kernels' launches give the scheduler on `sms` SMs (kernel_layout.hpp): CTAs per SM and row
/// blocks of MLA (`mla`, head dim 576) or GQA/MQA/MHA (head dim `head_dim`) with s_q new tokens per sequence.
ScheduleOptions kernel_schedule_options(bool mla, int s_q, int n_h, int n_kv, int head_dim, int sms);

/// Target number of parts: enough CTAs to fill the SMs once, given the CTAs per part.
int target_parts(const ScheduleOptions& opt);

/// Pages plus piece costs each part takes (the balanced payload): ceil((pages + batch·cost) / parts) + cost,
/// at least cost + 1. `parts` is the count asked for (min(target_parts, total_pages)).
long long split_payload(long long total_pages, long long batch, long long parts, int fixed_cost_pages);

/// The shape of the schedule of `batch` sequences holding `total_pages` pages in all, spread as evenly as
/// whole pages allow (uniform lengths): the same walk as make_split_schedule, counting instead of recording
/// (when every sequence has the same pages, part by part instead of piece by piece).
/// The device model's launch shape uses it (a mixed batch with the same sums runs alike: the schedule
/// balances pages over parts). Throws std::invalid_argument when there is less than a page per sequence.
struct ScheduleShape {
  long long parts = 0;
  long long segments = 0;
  int max_splits = 0;
};
ScheduleShape schedule_shape(long long total_pages, long long batch, const ScheduleOptions& opt);

/// Builds the schedule for `context_lens` (each >= 1). Deterministic. Throws std::invalid_argument on bad
/// input.
SplitSchedule make_split_schedule(const std::vector<int>& context_lens, const ScheduleOptions& opt);

/// A schedule with exactly one segment per sequence and one part per sequence (no split), for tests and as
/// the fallback a caller may force.
SplitSchedule make_unsplit_schedule(const std::vector<int>& context_lens);

}  // namespace mlasim::attention
