#include "sim/serving/replica.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "sim/error.hpp"

namespace mlasim {

std::string_view to_string(SchedulerPolicy p) {
  switch (p) {
    case SchedulerPolicy::kVllm:
      return "vllm";
    case SchedulerPolicy::kNoEvict:
      return "no_evict";
    case SchedulerPolicy::kMaxUtilization:
      return "max_utilization";
  }
  return "?";
}

SchedulerPolicy parse_scheduler_policy(std::string_view text) {
  if (text == "vllm") return SchedulerPolicy::kVllm;
  if (text == "no_evict") return SchedulerPolicy::kNoEvict;
  if (text == "max_utilization") return SchedulerPolicy::kMaxUtilization;
  throw InputError(
      fmt::format("unknown scheduler policy `{}` (valid: vllm, no_evict, max_utilization)", text));
}

Replica::Replica(int index, const SchedulerSpec& spec, std::int64_t kv_blocks, int block_size,
                 std::int64_t kv_window_tokens, StepTimeSource& step_time, ServeMetrics& metrics,
                 ServeObserver* observer, bool check_invariants, const Speculation& mtp,
                 std::uint64_t mtp_seed)
    : index_(index),
      spec_(spec),
      total_blocks_(kv_blocks),
      free_blocks_(kv_blocks),
      block_size_(block_size),
      window_(kv_window_tokens > 0 ? kv_window_tokens : std::numeric_limits<std::int64_t>::max()),
      step_time_(step_time),
      metrics_(metrics),
      observer_(observer),
      check_(check_invariants),
      mtp_on_(mtp.enabled()),
      decode_tokens_(1 + std::max(mtp.depth, 0)),
      mtp_(mtp),
      mtp_rng_(mtp_seed) {
  if (spec.max_num_seqs < 1 || spec.max_num_batched_tokens < 1 || kv_blocks < 1 || block_size < 1 ||
      kv_window_tokens < 0) {
    throw InternalError(
        "replica needs max_num_seqs, max_num_batched_tokens, kv blocks and block size >= 1, a window >= 0");
  }
}

void Replica::set_role(ReplicaRole role, std::int64_t decode_kv_blocks) {
  if (!slots_.empty()) throw InternalError("set_role on a replica that has taken requests");
  role_ = role;
  decode_kv_blocks_ = decode_kv_blocks;
}

std::uint32_t Replica::take_slot() {
  if (!free_slots_.empty()) {
    const std::uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    return slot;
  }
  slots_.emplace_back();
  return static_cast<std::uint32_t>(slots_.size() - 1);
}

void Replica::enqueue_decode(const Handoff& h, TimePs now) {
  if (role_ != ReplicaRole::kDecode) throw InternalError("enqueue_decode on a replica that does not decode");
  if (h.output < 2 || blocks_for(h.prompt + h.output - 1) > total_blocks_ || h.first_token > now) {
    throw InternalError(fmt::format("replica {}: request {} cannot be decoded here", index_, h.id));
  }
  const std::uint32_t slot = take_slot();
  Req& r = slots_[slot];
  r = Req{};
  r.id = h.id;
  r.arrival = h.arrival;
  r.first_scheduled = h.first_scheduled;
  r.first_token = h.first_token;
  r.last_token = h.first_token;  // the gap to the second token includes the transfer and the wait here
  r.prompt = h.prompt;
  r.output = h.output;
  r.generated = 1;
  r.computed = h.prompt;  // the prompt's KV arrived; the first token's is computed by the first decode
  r.preemptions = h.preemptions;
  r.prefilling = false;
  r.measured = metrics_.measured(h.id);
  waiting_.push_back(slot);
}

void Replica::release(const Handoff& h) {
  const auto it = std::find(transferring_.begin(), transferring_.end(), h.slot);
  if (role_ != ReplicaRole::kPrefill || it == transferring_.end() || slots_[h.slot].id != h.id) {
    throw InternalError(
        fmt::format("replica {}: release of request {} that is not transferring", index_, h.id));
  }
  transferring_.erase(it);
  Req& r = slots_[h.slot];
  free_blocks_ += r.blocks;
  committed_blocks_ -= blocks_for(peak_of(r));
  r.blocks = 0;
  r.handed_off = false;
  free_slots_.push_back(h.slot);
  if (check_) check_invariants();
}

void Replica::admit_decodes(TimePs /*now*/) {
  while (!waiting_.empty() && running_.size() < static_cast<std::size_t>(spec_.max_num_seqs)) {
    const std::uint32_t slot = waiting_.front();
    Req& r = slots_[slot];
    const std::int64_t peak = blocks_for(peak_of(r));
    if (committed_blocks_ + peak > total_blocks_) break;
    // free = total − held >= total − committed >= peak >= the prompt's blocks.
    const std::int64_t need = blocks_for(r.computed);
    waiting_.pop_front();
    free_blocks_ -= need;
    committed_blocks_ += peak;
    r.blocks = need;
    insert_running(slot);
  }
}

RequestRecord Replica::record(const Req& r, RequestStatus status) const {
  RequestRecord rec;
  rec.id = r.id;
  rec.replica = index_;
  rec.status = status;
  rec.arrival_ps = r.arrival;
  rec.first_scheduled_ps = r.first_scheduled;
  rec.first_token_ps = r.first_token;
  rec.finish_ps = status == RequestStatus::kCompleted ? r.last_token : -1;
  rec.prompt_tokens = r.prompt;
  rec.output_tokens = r.output;
  rec.generated_tokens = generated_of(r);
  rec.preemptions = r.preemptions;
  return rec;
}

bool Replica::enqueue(std::uint64_t id, const TraceRequest& request, TimePs now) {
  // The most a request ever holds: prompt + output − 1 tokens (the last token is sampled, never cached).
  // Inputs bound token counts at kMaxTokens; a request built otherwise is rejected before the sum could
  // overflow.
  const bool in_range = request.prompt_tokens >= 1 && request.output_tokens >= 1 &&
                        request.prompt_tokens <= kMaxTokens && request.output_tokens <= kMaxTokens;
  const std::int64_t peak = in_range ? request.prompt_tokens + request.output_tokens - 1 : 0;
  // A prefill replica holds the prompt; the decode replica after it, the whole length.
  const std::int64_t here = role_ == ReplicaRole::kPrefill ? request.prompt_tokens : peak;
  const bool decode_short =
      role_ == ReplicaRole::kPrefill && decode_kv_blocks_ > 0 && blocks_for(peak) > decode_kv_blocks_;
  if (!in_range || blocks_for(here) > total_blocks_ || decode_short) {
    RequestRecord rec;
    rec.id = id;
    rec.replica = index_;
    rec.status = RequestStatus::kRejected;
    rec.arrival_ps = now;
    rec.prompt_tokens = request.prompt_tokens;
    rec.output_tokens = request.output_tokens;
    rec.reason =
        !in_range ? fmt::format("{} prompt and {} output tokens: each must be 1 .. 2^50",
                                request.prompt_tokens, request.output_tokens)
        : decode_short
            ? fmt::format("needs {} KV blocks ({} prompt + {} output - 1 tokens) but a decode replica has {}",
                          blocks_for(peak), request.prompt_tokens, request.output_tokens, decode_kv_blocks_)
        : role_ == ReplicaRole::kPrefill
            ? fmt::format("needs {} KV blocks ({} prompt tokens) but a prefill replica has {}",
                          blocks_for(here), request.prompt_tokens, total_blocks_)
            : fmt::format("needs {} KV blocks ({} prompt + {} output - 1 tokens) but the replica has {}",
                          blocks_for(peak), request.prompt_tokens, request.output_tokens, total_blocks_);
    metrics_.on_rejected(rec, now);
    if (observer_) observer_->on_request(rec);
    return false;
  }
  const std::uint32_t slot = take_slot();
  Req& r = slots_[slot];
  r = Req{};
  r.id = id;
  r.arrival = now;
  r.prompt = request.prompt_tokens;
  r.output = request.output_tokens;
  r.measured = metrics_.measured(id);
  waiting_.push_back(slot);
  return true;
}

std::int64_t Replica::draw_emitted(const Req& r) {
  if (!mtp_on_) return 1;
  // Draft token i + 1 is verified only if token i was accepted (DeepSeek-V3 §2.2: the MTP module's tokens are
  // kept up to the first mismatch).
  int accepted = 0;
  while (accepted < mtp_.depth && mtp_rng_.uniform01() < mtp_.acceptance_at(accepted)) ++accepted;
  return std::min<std::int64_t>(1 + accepted, r.output - r.generated);
}

void Replica::grant(std::uint32_t slot, std::int64_t need, std::int64_t chunk) {
  Req& r = slots_[slot];
  free_blocks_ -= need;
  r.blocks += need;
  r.scheduled = true;
  scheduled_.push_back({slot, chunk});
}

void Replica::preempt(std::uint32_t slot, TimePs now) {
  if (spec_.policy == SchedulerPolicy::kNoEvict || role_ == ReplicaRole::kDecode) {
    throw InternalError(fmt::format(
        "replica {}: no_evict or a decode replica would preempt request {}: its reservation is broken",
        index_, slots_[slot].id));
  }
  Req& q = slots_[slot];
  committed_blocks_ -= blocks_for(peak_of(q));
  free_blocks_ += q.blocks;
  q.blocks = 0;
  q.computed = 0;
  q.prefilling = true;  // recompute: prompt + generated tokens are prefilled again
  ++q.preemptions;
  ++preemptions_;
  preempted_this_step_ = true;
  waiting_.push_front(slot);
  metrics_.on_preemption(index_, now);
}

void Replica::insert_running(std::uint32_t slot) {
  const std::uint64_t id = slots_[slot].id;
  if (running_.empty() || slots_[running_.back()].id < id) {
    running_.push_back(slot);
    return;
  }
  const auto pos = std::lower_bound(running_.begin(), running_.end(), id,
                                    [this](std::uint32_t s, std::uint64_t v) { return slots_[s].id < v; });
  running_.insert(pos, slot);
}

bool Replica::schedule_running_vllm(TimePs now, std::int64_t& budget) {
  return schedule_decodes_vllm(now, budget) && schedule_prefills_vllm(now, budget);
}

bool Replica::schedule_decodes_vllm(TimePs now, std::int64_t& budget_io) {
  // A local budget: through the reference the compiler would reload it after every store to an int64 field.
  std::int64_t budget = budget_io;
  const bool mtp = mtp_on_;
  const std::int64_t decode_tokens = decode_tokens_;
  // (1) Decodes, in arrival order; preempt the most recently arrived running request when a block is short.
  for (std::size_t i = 0; i < running_.size() && budget > 0; ++i) {
    const std::uint32_t me = running_[i];
    Req& r = slots_[me];
    if (r.prefilling) continue;
    const std::int64_t context = r.computed + 1;
    const std::int64_t emitted = mtp ? draw_emitted(r) : 1;
    const std::int64_t cached = r.computed + emitted;  // the KV cached after the step
    // blocks_for(cached) > r.blocks, without the division (this runs for every decode of every step).
    if (std::min(cached, window_) > r.blocks * block_size_) {
      const std::int64_t need = emitted == 1 ? 1 : blocks_for(cached) - r.blocks;
      while (free_blocks_ < need) {
        const std::uint32_t victim = running_.back();
        running_.pop_back();
        preempt(victim, now);
        if (victim == me) {
          budget_io = budget;
          return false;
        }
      }
      free_blocks_ -= need;
      r.blocks += need;
    }
    r.scheduled = true;
    scheduled_.push_back({me, emitted});
    mix_.add_decode(context);
    budget -= decode_tokens;
  }
  budget_io = budget;
  return true;
}

bool Replica::schedule_prefills_vllm(TimePs now, std::int64_t& budget_io) {
  std::int64_t budget = budget_io;
  // (2) Running requests part-way through a prefill: the next chunk.
  for (std::size_t i = 0; i < running_.size() && budget > 0; ++i) {
    const std::uint32_t me = running_[i];
    Req& r = slots_[me];
    if (!r.prefilling || r.scheduled) continue;
    const std::int64_t chunk = std::min(r.tokens() - r.computed, budget);
    // no_evict holds the whole prompt's blocks from admission on (TensorRT-LLM): nothing more to allocate.
    const std::int64_t need = std::max<std::int64_t>(0, blocks_for(r.computed + chunk) - r.blocks);
    while (need > free_blocks_) {
      std::size_t j = running_.size();
      while (j > 0 && slots_[running_[j - 1]].scheduled) --j;  // j − 1 >= i: `me` is unscheduled
      const std::uint32_t victim = running_[j - 1];
      running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(j - 1));
      preempt(victim, now);
      if (victim == me) {
        budget_io = budget;
        return false;
      }
    }
    grant(me, need, chunk);
    mix_.add_prefill(chunk, r.computed + chunk, r.computed + chunk == r.tokens());
    budget -= chunk;
  }
  budget_io = budget;
  return true;
}

bool Replica::schedule_running_max_utilization(TimePs now, std::int64_t& budget_io) {
  std::int64_t budget = budget_io;
  // TensorRT-LLM's capacity scheduler (MAX_UTILIZATION) walks the active requests once in order and, when the
  // next one's blocks do not fit, pauses the last started request after it; its micro-batch scheduler then
  // gives generation requests their token first and chunks contexts from what is left. So: reserve one token
  // per decode still to come, and size each prefill chunk from the rest of the budget.
  // (With MTP each decode takes 1 + depth tokens of the budget: decode_tokens_.)
  std::int64_t decodes_left = 0;
  for (const std::uint32_t slot : running_) decodes_left += slots_[slot].prefilling ? 0 : decode_tokens_;
  for (std::size_t i = 0; i < running_.size() && budget > 0; ++i) {
    const std::uint32_t me = running_[i];
    Req& r = slots_[me];
    const bool decode = !r.prefilling;
    if (decode) decodes_left -= decode_tokens_;
    // A decode's "chunk" is the tokens it emits (whose KV it adds).
    const std::int64_t chunk =
        decode ? draw_emitted(r) : std::min(r.tokens() - r.computed, budget - decodes_left);
    if (chunk <= 0) continue;  // no budget left for this prefill after the decodes behind it
    // A prefill holds its whole prompt's blocks from admission on: only decodes allocate here.
    const std::int64_t need = std::max<std::int64_t>(0, blocks_for(r.computed + chunk) - r.blocks);
    // Every request after i is still unscheduled; the last is the most recently started.
    while (need > free_blocks_) {
      const std::uint32_t victim = running_.back();
      running_.pop_back();
      if (victim != me && !slots_[victim].prefilling) decodes_left -= decode_tokens_;
      preempt(victim, now);
      if (victim == me) {
        budget_io = budget;
        return false;
      }
    }
    grant(me, need, chunk);
    if (decode) {
      mix_.add_decode(r.computed + 1);
      budget -= decode_tokens_;
    } else {
      mix_.add_prefill(chunk, r.computed + chunk, r.computed + chunk == r.tokens());
      budget -= chunk;
    }
  }
  budget_io = budget;
  return true;
}

namespace {
/// Grouped decodes count the group's requests by (computed − epoch) mod block size in an array of that size.
constexpr std::int64_t kMaxGroupBlockSize = 1 << 16;

/// Inter-token latencies added to the metrics in runs of equal values: in a busy step nearly all are equal.
struct ItlRuns {
  ServeMetrics& metrics;
  TimePs value = -1;
  std::uint64_t count = 0;
  void add(TimePs itl) {
    if (itl != value) {
      flush();
      value = itl;
    }
    ++count;
  }
  void flush() {
    if (count) metrics.add_itl(value, count);
    count = 0;
  }
};
}  // namespace

bool Replica::grouped_allowed() const {
  return grouped_enabled_ && !mtp_on_ && role_ == ReplicaRole::kBoth &&
         window_ == std::numeric_limits<std::int64_t>::max() &&
         spec_.policy != SchedulerPolicy::kMaxUtilization && block_size_ <= kMaxGroupBlockSize;
}

bool Replica::enter_group() {
  // Every running decode must have emitted its last token at one time: then one inter-token latency covers
  // them all in every grouped iteration.
  bool any = false;
  TimePs last = 0;
  std::int64_t prefills = 0;
  for (const std::uint32_t slot : running_) {
    const Req& r = slots_[slot];
    if (r.prefilling) {
      ++prefills;
    } else if (!any) {
      last = r.last_token;
      any = true;
    } else if (r.last_token != last) {
      return false;
    }
  }
  group_residues_.assign(static_cast<std::size_t>(block_size_), 0);
  group_ends_ = {};
  group_size_ = group_measured_ = group_y_sum_ = 0;
  group_y2_sum_ = 0;
  running_prefills_ = prefills;
  group_last_token_ = last;
  group_on_ = true;
  for (const std::uint32_t slot : running_) {
    if (!slots_[slot].prefilling) join_group(slot);
  }
  return true;
}

void Replica::join_group(std::uint32_t slot) {
  Req& r = slots_[slot];
  r.grouped = true;
  r.computed -= epoch_;
  r.generated -= epoch_;
  if (group_size_ == 0) group_ref_ = r.computed;
  const std::int64_t y = r.computed - group_ref_;
  constexpr std::int64_t kMaxY = std::int64_t{1} << 36;
  if (y > kMaxY || y < -kMaxY || group_size_ >= (std::int64_t{1} << 24)) group_broken_ = true;
  ++group_size_;
  group_measured_ += r.measured ? 1 : 0;
  group_y_sum_ += y;
  group_y2_sum_ += static_cast<Int128>(y) * y;
  ++group_residues_[residue(r.computed)];
  // It completes at the end of the grouped iteration e in which generated + (e − epoch_) + 1 reaches output.
  group_ends_.push(GroupEnd{r.output - 1 - r.generated, r.id, slot});
}

void Replica::drop_from_group(const Req& r) {
  const std::int64_t y = r.computed - group_ref_;
  --group_size_;
  group_measured_ -= r.measured ? 1 : 0;
  group_y_sum_ -= y;
  group_y2_sum_ -= static_cast<Int128>(y) * y;
  --group_residues_[residue(r.computed)];
}

void Replica::leave_group() {
  for (const std::uint32_t slot : running_) {
    Req& r = slots_[slot];
    if (!r.grouped) continue;
    r.grouped = false;
    r.computed += epoch_;
    r.generated += epoch_;
    r.last_token = group_last_token_;
    r.blocks = blocks_for(r.computed);
  }
  group_ends_ = {};
  group_size_ = group_measured_ = group_y_sum_ = 0;
  group_y2_sum_ = 0;
  running_prefills_ = 0;
  group_on_ = false;
  group_broken_ = false;
}

bool Replica::schedule_group(std::int64_t& budget) {
  const std::int64_t n = group_size_;
  // The step-by-step loop schedules a decode (one token without MTP) while the budget is positive: all n of
  // them when n <= budget.
  if (n > budget) return false;
  // A decode needs a new block when its cached tokens fill their blocks (computed % block size == 0; no
  // sliding window here): the grouped requests whose (computed − epoch_) ≡ −epoch_.
  const std::int64_t need = n > 0 ? group_residues_[residue(-epoch_)] : 0;
  std::int64_t free = free_blocks_ - need;
  if (free < 0) return false;
  if (running_prefills_ > 0) {
    // The chunks schedule_prefills_vllm will cut, in its order: none may need a preemption.
    std::int64_t left = budget - n;
    for (std::size_t i = 0; i < running_.size() && left > 0; ++i) {
      const Req& r = slots_[running_[i]];
      if (!r.prefilling) continue;
      const std::int64_t chunk = std::min(r.tokens() - r.computed, left);
      const std::int64_t more = std::max<std::int64_t>(0, blocks_for(r.computed + chunk) - r.blocks);
      if (more > free) return false;
      free -= more;
      left -= chunk;
    }
  }
  free_blocks_ -= need;
  if (n > 0) {
    std::int64_t first = 0;  // the first decode's context, in arrival order
    for (const std::uint32_t slot : running_) {
      if (slots_[slot].grouped) {
        first = slots_[slot].computed + epoch_ + 1;
        break;
      }
    }
    const bool mixed =
        static_cast<Int128>(n) * group_y2_sum_ != static_cast<Int128>(group_y_sum_) * group_y_sum_;
    mix_.add_decodes(n, group_y_sum_ + n * (group_ref_ + epoch_ + 1), mixed, first);
  }
  budget -= n;
  return true;
}

int Replica::finish_grouped_step(TimePs now) {
  group_step_ = false;
  ++grouped_steps_;
  int finished = 0;
  done_slots_.clear();
  auto complete = [&](std::uint32_t slot) {
    Req& r = slots_[slot];
    free_blocks_ += r.blocks;
    committed_blocks_ -= blocks_for(peak_of(r));
    r.blocks = 0;
    r.done = true;
    ++finished;
    done_slots_.push_back(slot);
    const RequestRecord rec = record(r, RequestStatus::kCompleted);
    metrics_.on_completed(rec, now);
    if (observer_) observer_->on_request(rec);
  };
  // The group's decodes come first in the step, in arrival order; each emits one token, so each measured
  // one adds the same inter-token latency (the run the step-by-step loop would build).
  ItlRuns itl_runs{metrics_};
  if (group_measured_ > 0) {
    itl_runs.value = now - group_last_token_;
    itl_runs.count = static_cast<std::uint64_t>(group_measured_);
  }
  const std::int64_t e = epoch_;
  while (!group_ends_.empty() && group_ends_.top().epoch <= e) {
    if (group_ends_.top().epoch < e) {
      throw InternalError(
          fmt::format("replica {}: grouped request {} missed its last token", index_, group_ends_.top().id));
    }
    const std::uint32_t slot = group_ends_.top().slot;
    group_ends_.pop();
    Req& r = slots_[slot];
    drop_from_group(r);
    r.grouped = false;
    r.computed += e + 1;
    r.generated = r.output;
    r.last_token = now;
    r.blocks = blocks_for(r.computed);
    complete(slot);
  }
  ++epoch_;
  group_last_token_ = now;
  // Then the prefill chunks, as finish_step handles them; a prompt that ends joins the group.
  for (const Scheduled& s : scheduled_) {
    Req& r = slots_[s.slot];
    r.scheduled = false;
    r.computed += s.tokens;
    if (r.computed != r.tokens()) continue;
    r.prefilling = false;
    --running_prefills_;
    if (r.generated == 0) {
      r.first_token = now;
    } else if (r.measured) {
      const TimePs itl = now - r.last_token;
      itl_runs.add(itl);
    }
    r.generated += 1;
    r.last_token = now;
    if (r.generated == r.output) {
      complete(s.slot);
    } else {
      join_group(s.slot);
    }
  }
  itl_runs.flush();
  if (!done_slots_.empty()) {
    // Out of running_ (sorted by id), and onto the free list in that order, as finish_step does.
    std::sort(done_slots_.begin(), done_slots_.end(),
              [this](std::uint32_t a, std::uint32_t b) { return slots_[a].id < slots_[b].id; });
    for (auto it = done_slots_.rbegin(); it != done_slots_.rend(); ++it) {
      const std::uint64_t id = slots_[*it].id;
      const auto pos =
          std::lower_bound(running_.begin(), running_.end(), id,
                           [this](std::uint32_t s, std::uint64_t v) { return slots_[s].id < v; });
      running_.erase(pos);
    }
    free_slots_.insert(free_slots_.end(), done_slots_.begin(), done_slots_.end());
  }
  if (check_) check_invariants();
  return finished;
}

void Replica::schedule(TimePs now) {
  scheduled_.clear();
  mix_ = StepMix{};
  preempted_this_step_ = false;
  group_step_ = false;
  std::int64_t budget = spec_.max_num_batched_tokens;
  if (group_on_ && group_broken_) leave_group();
  if (grouped_allowed()) {
    if (!group_on_) {
      if (group_wait_ > 0) {
        --group_wait_;
      } else if (!enter_group()) {
        group_backoff_ = std::min(group_backoff_ * 2, 64);
        group_wait_ = group_backoff_;
      }
    }
    if (group_on_) {
      if (schedule_group(budget)) {
        group_step_ = true;
        group_backoff_ = 1;
      } else {
        leave_group();
        group_backoff_ = std::min(group_backoff_ * 2, 64);
        group_wait_ = group_backoff_;
      }
    }
  } else if (group_on_) {
    leave_group();
  }
  if (group_step_) {
    // The group's decodes are scheduled; running prefills get their chunks (schedule_group checked that
    // none of them preempts), then admissions as below.
    if (running_prefills_ > 0) (void)schedule_prefills_vllm(now, budget);
  } else if (role_ == ReplicaRole::kDecode) {
    // Admitted requests decode in the same step; every running request's whole length is reserved, so the
    // decodes never preempt.
    admit_decodes(now);
    (void)schedule_running_vllm(now, budget);
    return;
  }
  if (!group_step_) {
    const bool go_on = spec_.policy == SchedulerPolicy::kMaxUtilization
                           ? schedule_running_max_utilization(now, budget)
                           : schedule_running_vllm(now, budget);
    if (!go_on) return;
  }

  // (3) Admit waiting requests. Neither vLLM nor TensorRT-LLM admits any in an iteration that preempted.
  const bool no_evict = spec_.policy == SchedulerPolicy::kNoEvict;
  // TensorRT-LLM's KV cache manager allocates the blocks of the whole prompt (with any tokens to recompute)
  // when a request starts, even with chunked context (KVCacheManager::addSequence, getNeededBlocksOneStep);
  // vLLM allocates chunk by chunk.
  const bool whole_prompt = spec_.policy != SchedulerPolicy::kVllm;
  while (!preempted_this_step_ && !waiting_.empty() && budget > 0 &&
         running_.size() < static_cast<std::size_t>(spec_.max_num_seqs)) {
    const std::uint32_t slot = waiting_.front();
    Req& r = slots_[slot];
    const std::int64_t chunk = std::min(r.tokens(), budget);
    const std::int64_t need = blocks_for(whole_prompt ? r.tokens() : chunk);
    const std::int64_t peak = blocks_for(peak_of(r));
    if (need > free_blocks_) break;
    // GUARANTEED_NO_EVICT: the whole length must fit beside the running requests' whole lengths.
    if (no_evict && committed_blocks_ + peak > total_blocks_) break;
    waiting_.pop_front();
    // The next waiting request's record is likely cold (a long queue): fetch it early.
    if (!waiting_.empty()) __builtin_prefetch(&slots_[waiting_.front()]);
    free_blocks_ -= need;
    committed_blocks_ += peak;
    r.blocks = need;
    if (r.first_scheduled < 0) {
      r.first_scheduled = now;
      if (r.measured) metrics_.on_first_scheduled(now - r.arrival);
    }
    insert_running(slot);
    if (group_on_) ++running_prefills_;
    r.scheduled = true;
    scheduled_.push_back({slot, chunk});
    mix_.add_prefill(chunk, chunk, chunk == r.tokens());
    budget -= chunk;
  }
}

void Replica::fill(std::vector<SequenceWork>& out) const {
  out.clear();
  out.reserve(scheduled_.size() + static_cast<std::size_t>(group_step_ ? group_size_ : 0));
  if (group_step_) {
    // The group's decodes come first, in arrival order, as the step-by-step loop schedules them.
    for (const std::uint32_t slot : running_) {
      const Req& r = slots_[slot];
      if (r.grouped) out.push_back(SequenceWork{r.computed + epoch_ + 1, 1, false, true});
    }
  }
  for (const Scheduled& s : scheduled_) {
    const Req& r = slots_[s.slot];
    if (!r.prefilling) {
      // A decode of its one last token; with MTP the step builder adds the drafts it verifies.
      out.push_back(SequenceWork{r.computed + 1, 1, false, true});
      continue;
    }
    const std::int64_t context = r.computed + s.tokens;
    out.push_back(SequenceWork{context, s.tokens, true, context == r.tokens()});
  }
}

std::optional<TimePs> Replica::start_step(TimePs now) {
  if (busy_ || (waiting_.empty() && running_.empty())) return std::nullopt;
  schedule(now);
  if (check_) check_invariants();
  if (scheduled_.empty() && !(group_step_ && group_size_ > 0)) {
    group_step_ = false;
    return std::nullopt;
  }
  const TimePs duration = step_time_.step_time(mix_, *this);
  if (duration < 0) throw InternalError("negative step time");
  busy_ = true;
  const std::int64_t used = total_blocks_ - free_blocks_;
  std::int64_t emitted = mix_.sampled;
  std::int64_t batched = mix_.tokens();
  if (mtp_on_) {
    emitted = 0;
    for (const Scheduled& s : scheduled_) {
      const Req& r = slots_[s.slot];
      emitted += !r.prefilling ? s.tokens : r.computed + s.tokens == r.tokens() ? 1 : 0;
    }
    batched += mix_.decode_seqs * mtp_.depth;  // the drafts each decode verifies
  }
  metrics_.on_step(index_, now, duration, mix_, used, total_blocks_,
                   static_cast<std::int64_t>(waiting_.size()), static_cast<std::int64_t>(running_.size()),
                   emitted, batched);
  if (observer_) observer_->on_step(index_, now, duration, mix_, used, total_blocks_);
  return duration;
}

int Replica::finish_step(TimePs now) {
  if (!busy_) throw InternalError("finish_step on an idle replica");
  busy_ = false;
  if (group_step_) return finish_grouped_step(now);
  int finished = 0;
  int handed = 0;
  ItlRuns itl_runs{metrics_};
  for (const Scheduled& s : scheduled_) {
    Req& r = slots_[s.slot];
    r.scheduled = false;
    const bool decode = !r.prefilling;
    r.computed += s.tokens;
    // A prefill chunk that does not end the prompt emits nothing.
    if (!decode && r.computed != r.tokens()) continue;
    r.prefilling = false;
    // A decode emits s.tokens (1 + accepted drafts with MTP); a prefill's end, one.
    const std::int64_t emitted = decode ? s.tokens : 1;
    if (r.generated == 0) {
      r.first_token = now;
    } else if (r.measured) {
      // Inter-token latencies, one per step that emits: the tokens of a multi-token (MTP) step arrive
      // together, one gap, as `vllm bench serve` records one ITL per streamed chunk (sim/serving/README.md).
      // In a busy step nearly all are equal, so add them in runs.
      const TimePs itl = now - r.last_token;
      itl_runs.add(itl);
    }
    r.generated += emitted;
    r.last_token = now;
    if (r.generated == r.output) {
      free_blocks_ += r.blocks;
      committed_blocks_ -= blocks_for(peak_of(r));
      r.blocks = 0;
      r.done = true;
      ++finished;
      const RequestRecord rec = record(r, RequestStatus::kCompleted);
      metrics_.on_completed(rec, now);
      if (observer_) observer_->on_request(rec);
    } else if (role_ == ReplicaRole::kPrefill) {
      // The first token is out; the KV goes to a decode replica, the blocks stay until release().
      r.handed_off = true;
      ++handed;
      handoffs_.push_back(Handoff{r.id, s.slot, r.arrival, r.first_scheduled, r.first_token, r.prompt,
                                  r.output, r.preemptions});
    }
  }
  itl_runs.flush();
  if (finished || handed) {
    std::size_t out = 0;
    for (std::size_t i = 0; i < running_.size(); ++i) {
      const std::uint32_t slot = running_[i];
      if (slots_[slot].done) {
        free_slots_.push_back(slot);
      } else if (slots_[slot].handed_off) {
        transferring_.push_back(slot);
      } else {
        running_[out++] = slot;
      }
    }
    running_.resize(out);
  }
  if (check_) check_invariants();
  return finished;
}

void Replica::check_invariants() const {
  std::int64_t held = 0;
  std::int64_t grouped = 0, grouped_measured = 0, offsets = 0, prefills = 0;
  for (const std::uint32_t slot : running_) {
    const Req& r = slots_[slot];
    if (group_on_ && !r.prefilling && !r.grouped) {
      throw InternalError(fmt::format("replica {}: running decode {} is not in the group", index_, r.id));
    }
    if (r.grouped) {
      // A grouped request holds the blocks of its cached tokens (with this iteration's token once scheduled).
      held += blocks_for(computed_of(r) + (group_step_ ? 1 : 0));
      ++grouped;
      grouped_measured += r.measured ? 1 : 0;
      offsets += r.computed - group_ref_;
      continue;
    }
    prefills += r.prefilling ? 1 : 0;
    held += r.blocks;
    const std::int64_t cached = r.scheduled ? -1 : r.computed;
    // TensorRT-LLM policies hold the whole prompt's blocks while prefilling.
    const std::int64_t expected =
        r.prefilling && spec_.policy != SchedulerPolicy::kVllm ? blocks_for(r.tokens()) : blocks_for(cached);
    if (cached >= 0 && r.blocks != expected) {
      throw InternalError(
          fmt::format("replica {}: request {} holds {} blocks for {} cached tokens (block size {})", index_,
                      r.id, r.blocks, cached, block_size_));
    }
  }
  for (const std::uint32_t slot : waiting_) {
    if (slots_[slot].blocks != 0) {
      throw InternalError(
          fmt::format("replica {}: waiting request {} holds blocks", index_, slots_[slot].id));
    }
  }
  if (group_on_ &&
      (grouped != group_size_ || grouped_measured != group_measured_ || offsets != group_y_sum_ ||
       prefills != running_prefills_ || group_ends_.size() != static_cast<std::size_t>(group_size_))) {
    throw InternalError(fmt::format(
        "replica {}: the decode group counts {} requests ({} measured, offsets {}, {} prefills running), "
        "found {} ({}, {}, {})",
        index_, group_size_, group_measured_, group_y_sum_, running_prefills_, grouped, grouped_measured,
        offsets, prefills));
  }
  std::int64_t committed = 0;
  for (const std::uint32_t slot : running_) committed += blocks_for(peak_of(slots_[slot]));
  for (const std::uint32_t slot : transferring_) {
    const Req& r = slots_[slot];
    committed += blocks_for(peak_of(r));
    held += r.blocks;
    if (r.blocks != blocks_for(r.prompt)) {
      throw InternalError(
          fmt::format("replica {}: transferring request {} holds {} blocks for a {}-token prompt", index_,
                      r.id, r.blocks, r.prompt));
    }
  }
  // Each running request holds at most its whole length; under no_evict the whole lengths fit the cache.
  if (committed != committed_blocks_ || held > committed ||
      ((spec_.policy == SchedulerPolicy::kNoEvict || role_ == ReplicaRole::kDecode) &&
       committed_blocks_ > total_blocks_)) {
    throw InternalError(
        fmt::format("replica {}: {} blocks committed to running requests, counted {}; {} held, {} total",
                    index_, committed, committed_blocks_, held, total_blocks_));
  }
  if (free_blocks_ < 0 || held + free_blocks_ != total_blocks_) {
    throw InternalError(fmt::format("replica {}: KV blocks not conserved: {} free + {} held != {} total",
                                    index_, free_blocks_, held, total_blocks_));
  }
}

std::string Replica::describe() const {
  std::string s = fmt::format("replica {}: busy={} waiting={} running={} free_blocks={}/{}\n", index_, busy_,
                              waiting_.size(), running_.size(), free_blocks_, total_blocks_);
  int shown = 0;
  auto show = [&](const char* where, std::uint32_t slot) {
    if (shown++ >= 8) return;
    const Req& r = slots_[slot];
    s += fmt::format("  {} request {}: prompt {} output {} generated {} computed {} blocks {}\n", where, r.id,
                     r.prompt, r.output, generated_of(r), computed_of(r),
                     r.grouped ? blocks_for(computed_of(r)) : r.blocks);
  };
  for (const std::uint32_t slot : running_) show("running", slot);
  for (const std::uint32_t slot : waiting_) show("waiting", slot);
  return s;
}

void Replica::collect_in_flight(std::vector<RequestRecord>& out) const {
  for (const std::uint32_t slot : running_) out.push_back(record(slots_[slot], RequestStatus::kInFlight));
  for (const std::uint32_t slot : waiting_) out.push_back(record(slots_[slot], RequestStatus::kInFlight));
  for (const std::uint32_t slot : transferring_)
    out.push_back(record(slots_[slot], RequestStatus::kInFlight));
}

}  // namespace mlasim
