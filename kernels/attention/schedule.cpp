#include "kernels/attention/schedule.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace mlasim::attention {

int target_parts(const ScheduleOptions& opt) {
  if (opt.num_sms < 1 || opt.ctas_per_sm < 1 || opt.row_blocks < 1) {
    throw std::invalid_argument("schedule: num_sms, ctas_per_sm and row_blocks must be >= 1");
  }
  return std::max(1, opt.num_sms * opt.ctas_per_sm / opt.row_blocks);
}

namespace {

void push_segment(SplitSchedule& s, int seq, int begin, int end) {
  s.seg_seq.push_back(seq);
  s.seg_token_begin.push_back(begin);
  s.seg_token_end.push_back(end);
  ++s.num_segments;
}

void finish(SplitSchedule& s, int batch) {
  s.num_parts = static_cast<int>(s.part_segment_begin.size());
  s.part_segment_begin.push_back(s.num_segments);
  s.seq_segment_begin.assign(static_cast<std::size_t>(batch) + 1, 0);
  // Segments are emitted sequence by sequence, so a running count gives each sequence's first segment.
  for (int i = 0; i < s.num_segments; ++i) ++s.seq_segment_begin[static_cast<std::size_t>(s.seg_seq[static_cast<std::size_t>(i)]) + 1];
  for (int b = 0; b < batch; ++b) {
    s.seq_segment_begin[static_cast<std::size_t>(b) + 1] += s.seq_segment_begin[static_cast<std::size_t>(b)];
    s.max_splits_per_seq = std::max(s.max_splits_per_seq, s.splits_of(b));
  }
}

}  // namespace

SplitSchedule make_split_schedule(const std::vector<int>& context_lens, const ScheduleOptions& opt) {
  if (context_lens.empty()) throw std::invalid_argument("schedule: empty batch");
  if (opt.page_tokens < 1 || opt.fixed_cost_pages < 0) throw std::invalid_argument("schedule: bad page options");
  const int batch = static_cast<int>(context_lens.size());
  long long total_pages = 0;
  for (const int len : context_lens) {
    if (len < 1) throw std::invalid_argument("schedule: context length must be >= 1, got " + std::to_string(len));
    total_pages += pages_for(len, opt.page_tokens);
  }
  const long long parts = std::min<long long>(target_parts(opt), total_pages);
  const long long overhead = opt.fixed_cost_pages;
  // Each sequence pays its start-up cost once, plus once per extra split; FlashMLA sizes the payload the same way.
  const long long payload =
      std::max<long long>((total_pages + batch * overhead + parts - 1) / parts + overhead, overhead + 1);

  SplitSchedule s;
  s.part_segment_begin.push_back(0);
  long long remaining = payload;
  bool part_has_work = false;
  for (int b = 0; b < batch; ++b) {
    const int len = context_lens[static_cast<std::size_t>(b)];
    const int pages = pages_for(len, opt.page_tokens);
    int cursor = 0;
    while (cursor < pages) {
      const bool last_part = static_cast<long long>(s.part_segment_begin.size()) >= parts;
      long long room = last_part ? pages - cursor : remaining - overhead;
      if (room <= 0 && part_has_work) {  // this part is full: open the next one
        s.part_segment_begin.push_back(s.num_segments);
        remaining = payload;
        part_has_work = false;
        continue;
      }
      room = std::max<long long>(room, 1);
      const int take = static_cast<int>(std::min<long long>(pages - cursor, room));
      push_segment(s, b, cursor * opt.page_tokens, std::min(len, (cursor + take) * opt.page_tokens));
      cursor += take;
      remaining -= take + overhead;
      part_has_work = true;
    }
  }
  finish(s, batch);
  return s;
}

SplitSchedule make_unsplit_schedule(const std::vector<int>& context_lens) {
  if (context_lens.empty()) throw std::invalid_argument("schedule: empty batch");
  SplitSchedule s;
  const int batch = static_cast<int>(context_lens.size());
  for (int b = 0; b < batch; ++b) {
    const int len = context_lens[static_cast<std::size_t>(b)];
    if (len < 1) throw std::invalid_argument("schedule: context length must be >= 1, got " + std::to_string(len));
    s.part_segment_begin.push_back(s.num_segments);
    push_segment(s, b, 0, len);
  }
  finish(s, batch);
  return s;
}

}  // namespace mlasim::attention
