#pragma once
/// One engine replica scheduled as vLLM v1 does it (vllm/v1/core/sched/scheduler.py) by default, or with one
/// of TensorRT-LLM's capacity policies (SchedulerPolicy): continuous batching with limits on sequences
/// (max_num_seqs) and tokens (max_num_batched_tokens) per iteration, chunked prefill, paged KV blocks, FCFS,
/// and preemption by recompute when blocks run out.
///
/// One iteration: (1) every running request that has finished its prefill decodes one token, in arrival
/// order; a decode that needs a new block while none is free preempts the most recently arrived running
/// request (possibly itself) — its blocks are freed and it goes back to the front of the waiting queue, to
/// prefill its prompt and the tokens generated so far again; (2) running requests part-way through a prefill
/// get chunks of min(remaining, token budget), preempting the latest-arrived unscheduled request when blocks
/// are short; (3) if nothing was preempted, waiting requests are admitted in order while the sequence limit,
/// the token budget and free blocks allow (a first chunk of min(prompt, budget) tokens). A request whose
/// prompt + output − 1 tokens (the most it ever holds in the cache) need more blocks than the replica has is
/// rejected on arrival.
///
/// Multi-token prediction (Speculation): a decode verifies 1 + depth tokens (the token budget counts them, as
/// vLLM's scheduler counts a request's speculative tokens) and emits 1 + accepted, accepted drawn when the
/// step is scheduled (draft token i kept with probability a_i given the ones before it were), capped at the
/// tokens the request still has to produce. The cache then grows by the emitted tokens only: the scheduler
/// allocates the blocks of the accepted tokens, not of every draft (vLLM reserves lookahead slots for all
/// drafts and frees the rejected ones; the difference is at most ⌈depth / block size⌉ blocks per running
/// request).
#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "models/workload.hpp"
#include "sim/random.hpp"
#include "sim/serving/metrics.hpp"
#include "sim/serving/step_time.hpp"
#include "sim/serving/workload_spec.hpp"
#include "sim/time.hpp"

namespace mlasim {

/// How a replica admits requests and what it does when KV blocks run out (sim/serving/README.md,
/// "Scheduler").
enum class SchedulerPolicy {
  /// vLLM v1: admit what fits now; when a block is short, preempt the latest-arrived running request by
  /// recompute (decodes first, then running prefill chunks).
  kVllm,
  /// TensorRT-LLM GUARANTEED_NO_EVICT: admit a request only when the blocks for its whole length (prompt +
  /// output − 1 tokens) fit beside the whole lengths of the running requests; nothing is ever preempted.
  /// A started request holds its whole prompt's blocks (TensorRT-LLM allocates them at the first chunk).
  kNoEvict,
  /// TensorRT-LLM MAX_UTILIZATION: admit greedily when the whole prompt's blocks are free; walk the running
  /// requests once in arrival order and, when a decode's block is short, pause (evict by recompute) the most
  /// recently started request not yet scheduled.
  kMaxUtilization,
};
[[nodiscard]] std::string_view to_string(SchedulerPolicy p);
/// Parses "vllm", "no_evict", "max_utilization"; throws InputError.
[[nodiscard]] SchedulerPolicy parse_scheduler_policy(std::string_view text);

/// Scheduler limits of one replica (vLLM's names) and its policy.
struct SchedulerSpec {
  int max_num_seqs = 256;                      ///< sequences per iteration
  std::int64_t max_num_batched_tokens = 8192;  ///< tokens per iteration (chunked-prefill budget)
  SchedulerPolicy policy = SchedulerPolicy::kVllm;
};

/// What a prefill replica of a disaggregated run hands on when a request's prefill ends (its first token
/// sampled): the request's state, for the decode replica that takes it after the KV transfer.
struct Handoff {
  std::uint64_t id = 0;
  std::uint32_t slot = 0;  ///< its slot on the prefill replica (release it when the transfer is done)
  TimePs arrival = 0, first_scheduled = 0, first_token = 0;
  std::int64_t prompt = 0, output = 0;
  int preemptions = 0;
};

/// What a replica does: both phases (the default, vLLM-style), or one pool's half of a disaggregated run.
enum class ReplicaRole {
  kBoth,
  /// Admits and chunks prompts as kBoth, never decodes: a request whose prefill ends with more tokens to
  /// produce is handed off (take_handoffs) and keeps its KV blocks until release().
  kPrefill,
  /// Takes handed-off requests (enqueue_decode) in FIFO order, each when the blocks of its whole length
  /// (prompt + output − 1 tokens) fit beside the whole lengths of the running requests, as no_evict admits:
  /// its prompt's blocks are allocated then, the growth as it decodes; nothing is ever preempted.
  kDecode,
};

/// Hooks for tests and tools: every step and every request that ends.
class ServeObserver {
 public:
  virtual ~ServeObserver() = default;
  virtual void on_step(int /*replica*/, TimePs /*start*/, TimePs /*duration*/, const StepMix& /*mix*/,
                       std::int64_t /*used_blocks*/, std::int64_t /*total_blocks*/) {}
  virtual void on_request(const RequestRecord& /*record*/) {}
};

class Replica final : private SequenceWorkSource {
 public:
  /// `kv_blocks` blocks of `block_size` tokens; a sequence holds the blocks of at most `kv_window_tokens`
  /// tokens (a sliding window; 0: its whole context), as Capacity's kv_cached_tokens counts them. With
  /// `check_invariants`, KV-block conservation is verified after every scheduling decision and every step
  /// (InternalError when broken).
  /// `mtp` (off by default) draws its acceptances from a stream of its own seeded with `mtp_seed`, so turning
  /// MTP on shifts no other draw of the run.
  Replica(int index, const SchedulerSpec& spec, std::int64_t kv_blocks, int block_size,
          std::int64_t kv_window_tokens, StepTimeSource& step_time, ServeMetrics& metrics,
          ServeObserver* observer, bool check_invariants, const Speculation& mtp = {},
          std::uint64_t mtp_seed = 0);

  /// Makes this replica one pool's half of a disaggregated run. A prefill replica also rejects, on arrival,
  /// requests whose whole length needs more than `decode_kv_blocks` blocks (a decode replica's cache).
  void set_role(ReplicaRole role, std::int64_t decode_kv_blocks = 0);

  /// Grouped decodes (on by default): where it is exact, the running decodes advance as one group — their
  /// context sum, block boundaries and completions kept as aggregates, a request touched only when it joins,
  /// finishes or the group breaks up — so an iteration costs O(changes), not O(running requests). Only under
  /// the vLLM and no_evict policies, a replica of both phases, without MTP or a sliding window; an iteration
  /// that may preempt, or whose token budget would leave a decode out, runs the step-by-step loop. false:
  /// always the step-by-step loop (the reference: outputs are byte-identical either way).
  void set_grouped_decodes(bool on) { grouped_enabled_ = on; }

  /// Accepts request `id`, or rejects it (returns false) when it can never fit.
  bool enqueue(std::uint64_t id, const TraceRequest& request, TimePs now);
  /// kDecode: queues a request whose first token came from a prefill replica (its KV arrived at `now`).
  void enqueue_decode(const Handoff& h, TimePs now);
  /// kPrefill: the requests whose prefill ended in the last finish_step, in step order (cleared).
  [[nodiscard]] std::vector<Handoff> take_handoffs() { return std::exchange(handoffs_, {}); }
  /// kPrefill: frees the blocks of handed-off request `h` (its KV transfer is done).
  void release(const Handoff& h);
  /// Starts an iteration if idle and anything can run; returns its duration.
  std::optional<TimePs> start_step(TimePs now);
  /// Completes the running iteration at `now`; returns the number of requests that finished.
  int finish_step(TimePs now);

  [[nodiscard]] int index() const { return index_; }
  [[nodiscard]] bool busy() const { return busy_; }
  /// Requests waiting or running.
  [[nodiscard]] std::int64_t outstanding() const {
    return static_cast<std::int64_t>(waiting_.size() + running_.size());
  }
  [[nodiscard]] std::int64_t total_blocks() const { return total_blocks_; }
  [[nodiscard]] std::int64_t free_blocks() const { return free_blocks_; }
  [[nodiscard]] std::int64_t preemptions() const { return preemptions_; }
  /// Iterations scheduled through the decode group.
  [[nodiscard]] std::int64_t grouped_steps() const { return grouped_steps_; }
  /// Blocks reserved for the whole lengths of the running requests (kNoEvict; tracked under every policy).
  [[nodiscard]] std::int64_t committed_blocks() const { return committed_blocks_; }
  /// Verifies that free blocks + blocks held by running requests = total, and that each request holds exactly
  /// the blocks its cached tokens need. Throws InternalError.
  void check_invariants() const;
  /// A dump of the queues, for deadlock errors.
  [[nodiscard]] std::string describe() const;
  /// Records of the requests still waiting or running.
  void collect_in_flight(std::vector<RequestRecord>& out) const;

 private:
  struct Req {
    std::uint64_t id = 0;
    TimePs arrival = 0;
    TimePs first_scheduled = -1;
    TimePs first_token = -1;
    TimePs last_token = 0;
    std::int64_t prompt = 0;
    std::int64_t output = 0;
    std::int64_t generated = 0;
    std::int64_t computed = 0;  ///< tokens whose KV is in the cache
    std::int64_t blocks = 0;
    int preemptions = 0;
    bool prefilling = true;  ///< computing the prompt (and, after a preemption, the generated tokens)
    bool scheduled = false;  ///< part of the current iteration
    bool done = false;
    bool measured = false;    ///< in the metrics' measurement window
    bool handed_off = false;  ///< kPrefill: prefill done, KV being transferred
    /// In the decode group: `computed` and `generated` hold their values less the group's epoch_, `blocks`
    /// and `last_token` are not kept (blocks_for(computed) and group_last_token_).
    bool grouped = false;
    [[nodiscard]] std::int64_t tokens() const { return prompt + generated; }
    /// The most tokens it ever caches: prompt + output − 1 (the last sampled token is never cached).
    [[nodiscard]] std::int64_t peak_tokens() const { return prompt + output - 1; }
  };
  struct Scheduled {
    std::uint32_t slot;
    /// Prefill: the chunk's tokens. Decode: the tokens it emits (1, or 1 + accepted drafts with MTP), whose
    /// KV the step adds to the cache.
    std::int64_t tokens;
  };

  void fill(std::vector<SequenceWork>& out) const override;
  /// The blocks a sequence of `tokens` tokens holds: ⌈min(tokens, window) / block_size⌉ (a sliding-window
  /// model keeps only the last W tokens: Mistral-7B paper §2), without the overflow of tokens + block_size
  /// − 1.
  [[nodiscard]] std::int64_t blocks_for(std::int64_t tokens) const {
    tokens = std::min(tokens, window_);
    return tokens / block_size_ + (tokens % block_size_ != 0 ? 1 : 0);
  }
  /// The tokens a decode of `r` emits this step: 1 without MTP; with it 1 + the draft tokens accepted (drawn
  /// position by position from the MTP stream), at most the tokens `r` still has to produce.
  [[nodiscard]] std::int64_t draw_emitted(const Req& r);
  void preempt(std::uint32_t slot, TimePs now);
  /// Gives running request `slot` `need` more KV blocks and schedules `chunk` of its tokens in this step (the
  /// caller adds the tokens to the step's mix).
  void grant(std::uint32_t slot, std::int64_t need, std::int64_t chunk);
  void insert_running(std::uint32_t slot);
  [[nodiscard]] RequestRecord record(const Req& r, RequestStatus status) const;
  /// The most tokens `r` caches here: its prompt on a prefill replica, else prompt + output − 1.
  [[nodiscard]] std::int64_t peak_of(const Req& r) const {
    return role_ == ReplicaRole::kPrefill ? r.prompt : r.peak_tokens();
  }
  /// kDecode: admits waiting requests whose whole length fits (FIFO).
  void admit_decodes(TimePs now);
  void schedule(TimePs now);
  /// kVllm and kNoEvict: decodes, then running prefill chunks. Returns false when the iteration must stop.
  bool schedule_running_vllm(TimePs now, std::int64_t& budget);
  /// The step-by-step loop's decodes (1) and running prefill chunks (2).
  bool schedule_decodes_vllm(TimePs now, std::int64_t& budget);
  bool schedule_prefills_vllm(TimePs now, std::int64_t& budget);

  // Grouped decodes (set_grouped_decodes).
  [[nodiscard]] bool grouped_allowed() const;
  /// Puts every running decode in the group when their last tokens came at one time; false otherwise.
  bool enter_group();
  /// Gives every grouped request back its own fields; the group is empty after.
  void leave_group();
  void join_group(std::uint32_t slot);
  /// Takes `r` out of the group's aggregates (its fields stay in the group's offset form).
  void drop_from_group(const Req& r);
  /// Schedules the group's decodes as the step-by-step loop would, when that is exact: every decode fits
  /// the token budget and nothing in the iteration can preempt. Returns false (changing nothing) otherwise.
  bool schedule_group(std::int64_t& budget);
  int finish_grouped_step(TimePs now);
  [[nodiscard]] std::int64_t computed_of(const Req& r) const {
    return r.grouped ? r.computed + epoch_ : r.computed;
  }
  [[nodiscard]] std::int64_t generated_of(const Req& r) const {
    return r.grouped ? r.generated + epoch_ : r.generated;
  }
  [[nodiscard]] std::size_t residue(std::int64_t v) const {
    const std::int64_t m = v % block_size_;
    return static_cast<std::size_t>(m < 0 ? m + block_size_ : m);
  }
  /// kMaxUtilization: one pass over the running requests in arrival order.
  bool schedule_running_max_utilization(TimePs now, std::int64_t& budget);

  int index_;
  SchedulerSpec spec_;
  std::int64_t total_blocks_;
  std::int64_t free_blocks_;
  std::int64_t block_size_;
  std::int64_t window_;  ///< the most tokens a sequence caches: its sliding window, or the int64 maximum
  StepTimeSource& step_time_;
  ServeMetrics& metrics_;
  ServeObserver* observer_;
  bool check_;
  bool mtp_on_;                 ///< mtp_.enabled()
  std::int64_t decode_tokens_;  ///< tokens a decode takes from the step's budget: 1 + the draft depth

  std::vector<Req> slots_;
  std::vector<std::uint32_t> free_slots_;
  /// A free slot of slots_ (reused, or a new one at the end).
  std::uint32_t take_slot();
  std::vector<std::uint32_t> running_;  ///< sorted by request id (= arrival order)
  std::deque<std::uint32_t> waiting_;
  std::vector<Scheduled> scheduled_;
  StepMix mix_;
  bool busy_ = false;
  bool preempted_this_step_ = false;
  std::int64_t preemptions_ = 0;
  std::int64_t committed_blocks_ = 0;  ///< Σ blocks_for(peak_of) over running (and transferring) requests
  ReplicaRole role_ = ReplicaRole::kBoth;
  std::int64_t decode_kv_blocks_ = 0;        ///< kPrefill: a decode replica's blocks (0: no check)
  std::vector<Handoff> handoffs_;            ///< kPrefill: handed off in the last step
  std::vector<std::uint32_t> transferring_;  ///< kPrefill: slots holding blocks until release()

  // The decode group (grouped decodes). While group_on_, every running request that is not prefilling is
  // in it, its last token came at group_last_token_, and it decodes in every iteration.
  struct GroupEnd {
    std::int64_t epoch;  ///< the epoch_ of the iteration whose end completes it
    std::uint64_t id;
    std::uint32_t slot;
    friend bool operator>(const GroupEnd& a, const GroupEnd& b) {
      return a.epoch != b.epoch ? a.epoch > b.epoch : a.id > b.id;
    }
  };
  bool grouped_enabled_ = true;
  bool group_on_ = false;
  bool group_step_ = false;      ///< the iteration under way was scheduled through the group
  std::int64_t epoch_ = 0;       ///< grouped iterations finished
  TimePs group_last_token_ = 0;  ///< when every grouped request emitted its last token
  std::int64_t group_size_ = 0;  ///< grouped requests
  std::int64_t group_measured_ = 0;
  // Offsets y = (computed − epoch_) − group_ref_ of the grouped requests: Σy gives the decodes' context
  // sum, and n·Σy² = (Σy)² exactly when every y is equal (the decodes' contexts are not mixed). Exact in
  // 128 bits while |y| <= 2^36 and n <= 2^24 (else group_broken_: the group is left before the next step).
  std::int64_t group_ref_ = 0;
  std::int64_t group_y_sum_ = 0;
  __extension__ using Int128 = __int128;
  Int128 group_y2_sum_ = 0;
  bool group_broken_ = false;
  std::vector<std::int64_t> group_residues_;  ///< grouped requests by (computed − epoch_) mod block size
  std::priority_queue<GroupEnd, std::vector<GroupEnd>, std::greater<>> group_ends_;
  std::int64_t running_prefills_ = 0;       ///< while group_on_: running requests still prefilling
  int group_backoff_ = 1, group_wait_ = 0;  ///< iterations to wait before trying to form the group again
  std::vector<std::uint32_t> done_slots_;   ///< reused buffer
  std::int64_t grouped_steps_ = 0;
  // Last: the generator's 5 KB of state stays out of the cache lines of the fields above.
  Speculation mtp_;
  Rng mtp_rng_;
};

}  // namespace mlasim
