#include "kernels/attention/schedule.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "kernels/attention/kernel_layout.hpp"

namespace mlasim::attention {

ScheduleOptions kernel_schedule_options(bool mla, int s_q, int n_h, int n_kv, int head_dim, int sms) {
  ScheduleOptions o;
  o.num_sms = sms;
  o.ctas_per_sm = mla ? layout::mla::kCtasPerSm : layout::gqa::ctas_per_sm(head_dim);
  o.row_blocks = mla ? layout::mla::row_blocks(s_q, n_h) : layout::gqa::row_blocks(s_q, n_h, n_kv);
  return o;
}

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
  for (int i = 0; i < s.num_segments; ++i)
    ++s.seq_segment_begin[static_cast<std::size_t>(s.seg_seq[static_cast<std::size_t>(i)]) + 1];
  for (int b = 0; b < batch; ++b) {
    s.seq_segment_begin[static_cast<std::size_t>(b) + 1] += s.seq_segment_begin[static_cast<std::size_t>(b)];
    s.max_splits_per_seq = std::max(s.max_splits_per_seq, s.splits_of(b));
  }
}

}  // namespace

long long split_payload(long long total_pages, long long batch, long long parts, int fixed_cost_pages) {
  const long long overhead = fixed_cost_pages;
  // Each sequence pays its start-up cost once, plus once per extra split; FlashMLA sizes the payload the same
  // way.
  return std::max<long long>((total_pages + batch * overhead + parts - 1) / parts + overhead, overhead + 1);
}

namespace {

/// The schedule's walk, shared by make_split_schedule (which records the segments) and schedule_shape (which
/// only counts): sequences in order, each cut into pieces that fill the current part's payload; a full part
/// opens the next; the last part takes whatever remains. pages_of(b) gives sequence b's pages and run_of(b)
/// how many sequences from b on have that many pages; on_whole(b, k, pages) sees k consecutive sequences that
/// each fit whole in the current part (one piece each), on_segment(b, first_page, pages) each piece of a
/// sequence that does not, on_new_part() each part after the first. Taking runs of whole sequences at once
/// makes schedule_shape cost O(parts + splits) rather than O(batch) where lengths differ by a page.
template <class PagesOf, class RunOf, class OnWhole, class OnSegment, class OnNewPart>
void walk_schedule(int batch, long long parts, long long payload, long long overhead, PagesOf&& pages_of,
                   RunOf&& run_of, OnWhole&& on_whole, OnSegment&& on_segment, OnNewPart&& on_new_part) {
  long long opened = 1;
  long long remaining = payload;
  bool part_has_work = false;
  for (int b = 0; b < batch;) {
    const long long pages = pages_of(b);
    long long whole = 0;  // sequences from b on that go whole into this part
    if (opened >= parts) {
      whole = run_of(b);
    } else if (remaining - overhead >= pages) {
      whole = std::min<long long>(run_of(b), (remaining - overhead - pages) / (pages + overhead) + 1);
    }
    if (whole > 0) {
      on_whole(b, whole, pages);
      remaining -= whole * (pages + overhead);
      part_has_work = true;
      b += static_cast<int>(whole);
      continue;
    }
    long long cursor = 0;
    while (cursor < pages) {
      const bool last_part = opened >= parts;
      long long room = last_part ? pages - cursor : remaining - overhead;
      if (room <= 0 && part_has_work) {  // this part is full: open the next one
        on_new_part();
        ++opened;
        remaining = payload;
        part_has_work = false;
        continue;
      }
      room = std::max<long long>(room, 1);
      const long long take = std::min(pages - cursor, room);
      on_segment(b, cursor, take);
      cursor += take;
      remaining -= take + overhead;
      part_has_work = true;
    }
    ++b;
  }
}

/// schedule_shape for sequences of `pages` pages each, without walking them: on a line where a sequence
/// takes its pages and then its piece cost (len = pages + cost), a part that starts `phase` pages into a
/// sequence pays the cost again and fills its payload, so the next part starts `w` = payload − cost further
/// on — at the next sequence's start when that lands in the cost (no page of it would fit). A start inside a
/// sequence's pages cuts it (one more segment). Once a start lands on a sequence's start the first n parts
/// repeat, n parts and seq sequences further on: those repeats are counted, not walked. O(parts) at worst.
ScheduleShape uniform_shape(long long pages, long long batch, long long parts, long long payload,
                            long long cost) {
  const long long len = pages + cost;
  const long long w = payload - cost;  // >= 1: split_payload gives at least cost + 1
  const long long w_div = w / len, w_mod = w % len;
  ScheduleShape shape;
  shape.parts = 1;
  shape.segments = batch;
  shape.max_splits = 1;
  long long seq = 0, phase = 0;  // where the current part starts: the sequence, and pages into it
  long long cut_seq = -1;        // the sequence the last start inside one cut
  int splits = 1;                // pieces of cut_seq so far
  bool repeated = false;
  for (long long n = 1; n < parts; ++n) {
    seq += w_div;
    phase += w_mod;
    if (phase >= len) {
      phase -= len;
      ++seq;
    }
    if (phase >= pages) {  // in the piece cost: the next sequence starts this part
      phase = 0;
      ++seq;
    }
    if (seq >= batch) break;  // the parts before took everything
    ++shape.parts;
    if (phase > 0) {
      ++shape.segments;
      splits = seq == cut_seq ? splits + 1 : 2;
      cut_seq = seq;
      shape.max_splits = std::max(shape.max_splits, splits);
    } else if (!repeated) {
      // At a sequence's start, as at n = 0: skip whole repeats of parts 1..n while their last start stays
      // before the end of the batch (each adds n parts and n − 1 cuts, none deeper than the first's).
      repeated = true;
      const long long repeats = std::min((parts - 1 - n) / n, (batch - 1 - seq) / seq);
      if (repeats > 0) {
        shape.parts += repeats * n;
        shape.segments += repeats * (n - 1);
        seq += repeats * seq;
        n += repeats * n;
      }
    }
  }
  return shape;
}

}  // namespace

ScheduleShape schedule_shape(long long total_pages, long long batch, const ScheduleOptions& opt) {
  if (total_pages < batch || batch < 1 || batch > (1LL << 30)) {
    throw std::invalid_argument("schedule: need a page per sequence and at least one sequence");
  }
  const long long parts = std::min<long long>(target_parts(opt), total_pages);
  const long long payload = split_payload(total_pages, batch, parts, opt.fixed_cost_pages);
  // Uniform lengths: the pages spread as evenly as whole pages allow.
  const long long base = total_pages / batch, extra = total_pages % batch;
  if (extra == 0) return uniform_shape(base, batch, parts, payload, opt.fixed_cost_pages);
  ScheduleShape shape;
  shape.parts = 1;
  int last_seq = -1, splits = 0;
  walk_schedule(
      static_cast<int>(batch), parts, payload, opt.fixed_cost_pages,
      [&](int b) { return base + (b < extra ? 1 : 0); },
      [&](int b) { return b < extra ? extra - b : batch - b; },
      [&](int, long long k, long long) {
        shape.segments += k;
        shape.max_splits = std::max(shape.max_splits, 1);
        last_seq = -1;  // a whole sequence is never continued
      },
      [&](int b, long long, long long) {
        ++shape.segments;
        splits = b == last_seq ? splits + 1 : 1;
        last_seq = b;
        shape.max_splits = std::max(shape.max_splits, splits);
      },
      [&] { ++shape.parts; });
  return shape;
}

SplitSchedule make_split_schedule(const std::vector<int>& context_lens, const ScheduleOptions& opt) {
  if (context_lens.empty()) throw std::invalid_argument("schedule: empty batch");
  if (opt.page_tokens < 1 || opt.fixed_cost_pages < 0)
    throw std::invalid_argument("schedule: bad page options");
  const int batch = static_cast<int>(context_lens.size());
  long long total_pages = 0;
  for (const int len : context_lens) {
    if (len < 1)
      throw std::invalid_argument("schedule: context length must be >= 1, got " + std::to_string(len));
    total_pages += pages_for(len, opt.page_tokens);
  }
  const long long parts = std::min<long long>(target_parts(opt), total_pages);
  const long long payload = split_payload(total_pages, batch, parts, opt.fixed_cost_pages);

  SplitSchedule s;
  s.part_segment_begin.push_back(0);
  walk_schedule(
      batch, parts, payload, opt.fixed_cost_pages,
      [&](int b) { return pages_for(context_lens[static_cast<std::size_t>(b)], opt.page_tokens); },
      [&](int) { return 1LL; },
      [&](int b, long long, long long) { push_segment(s, b, 0, context_lens[static_cast<std::size_t>(b)]); },
      [&](int b, long long first_page, long long pages) {
        const int len = context_lens[static_cast<std::size_t>(b)];
        push_segment(s, b, static_cast<int>(first_page) * opt.page_tokens,
                     static_cast<int>(std::min<long long>(len, (first_page + pages) * opt.page_tokens)));
      },
      [&] { s.part_segment_begin.push_back(s.num_segments); });
  finish(s, batch);
  return s;
}

SplitSchedule make_unsplit_schedule(const std::vector<int>& context_lens) {
  if (context_lens.empty()) throw std::invalid_argument("schedule: empty batch");
  SplitSchedule s;
  const int batch = static_cast<int>(context_lens.size());
  for (int b = 0; b < batch; ++b) {
    const int len = context_lens[static_cast<std::size_t>(b)];
    if (len < 1)
      throw std::invalid_argument("schedule: context length must be >= 1, got " + std::to_string(len));
    s.part_segment_begin.push_back(s.num_segments);
    push_segment(s, b, 0, len);
  }
  finish(s, batch);
  return s;
}

}  // namespace mlasim::attention
