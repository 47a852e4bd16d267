#pragma once
/// One attention core launch timed as a split-KV decode kernel (DESIGN.md §6): in datasheet mode from first
/// principles (fixed costs, SM occupancy and waves of the kernel's launch shape, per-SM bandwidth by Little's
/// law), in calibrated mode from our kernels' measured tables (interpolated in log space inside the grid,
/// transferred by the fitted ramp outside it). The launch shape follows kernels/attention: its layout
/// constants (kernel_layout.hpp) and its split-KV schedule (schedule.hpp).
#include <optional>
#include <string>
#include <vector>

#include "kernels/attention/schedule.hpp"
#include "models/workload.hpp"
#include "sim/device/hardware_spec.hpp"
#include "sim/device/measured_tables.hpp"
#include "sim/provenance.hpp"

namespace mlasim {

/// How a decode kernel of one family is built: what it keeps in flight and how it is launched.
struct DecodeKernelDesign {
  AttentionKernel kernel = AttentionKernel::kMla;
  int rows_per_cta = 64;                 ///< query rows (s_q × heads of one KV head) sharing one KV pass
  int ctas_per_sm = 1;                   ///< resident CTAs per SM
  double bytes_in_flight_per_cta = 0.0;  ///< KV bytes a CTA has requested and not yet received
  int page_tokens = 64;                  ///< KV-cache page (FlashMLA's block size)
  int fixed_cost_pages = 2;              ///< the scheduler's cost of starting a piece, in pages
};

/// Our kernels' designs (kernels/attention/kernel_layout.hpp): MLA (576-wide latent), GQA for head dim 64 or
/// 128 (other head dims use the d 128 design scaled by their tile bytes).
[[nodiscard]] DecodeKernelDesign decode_kernel_design(const AttentionCall& call);

/// The launch shape the split-KV schedule gives one call (kernels/attention/schedule.hpp, from sums only: the
/// schedule balances pages plus a per-piece cost over its parts, so a batch's shape depends on B and ΣL).
struct SplitKvLaunch {
  double row_blocks = 1;  ///< CTAs sharing one KV run: KV heads × ceil(s_q·group / rows_per_cta)
  double parts = 1;       ///< CTAs along the KV axis
  double ctas = 1;        ///< row_blocks × parts
  double waves = 1;       ///< ceil(ctas / (SMs × ctas_per_sm))
  double active_sms = 1;  ///< SMs busy in the first wave
  double slot_fill = 1;   ///< fraction of the SMs' CTA slots doing work, over all waves (tail included)
  bool combine = false;   ///< a sequence is split over parts: partial outputs and a combine kernel
  double segments = 1;    ///< pieces (sequence, token range) the parts walk
};
[[nodiscard]] SplitKvLaunch split_kv_launch(const DecodeKernelDesign& design, const AttentionCall& call,
                                            int sms);

/// attention::schedule_shape(batch × pages_per_sequence, batch, opt) — the schedule of `batch` sequences of
/// `pages_per_sequence` pages each — without walking its parts: O(log pages) instead of O(parts) (the walk
/// was a quarter of a sweep point's time). Exactly the same counts (tests/test_measured_tables.cpp compares
/// them over every small case and many large ones). Throws std::invalid_argument as schedule_shape does.
[[nodiscard]] attention::ScheduleShape uniform_schedule_shape(long long pages_per_sequence, long long batch,
                                                              const attention::ScheduleOptions& opt);

/// A datasheet-mode decode call, split into its terms [s].
struct DecodeCallTime {
  double fixed_s = 0.0;    ///< prologue (block table, first KV tile) and epilogue of the attention kernel
  double body_s = 0.0;     ///< max(memory, compute) at the bandwidth and rate the launch shape reaches
  double memory_s = 0.0;   ///< the memory term of the body
  double compute_s = 0.0;  ///< the compute term of the body
  double combine_s = 0.0;  ///< the combine kernel (its fixed cost and its partial-output traffic)
  int kernels = 1;         ///< launches per call: attention, and combine when needed
  [[nodiscard]] double total_s() const { return fixed_s + body_s + combine_s; }
};

/// Datasheet-mode time of one decode call on `hw` (launch cost excluded; the caller adds it per kernel).
/// `bytes`/`flops` are the call's own (per launch). Memory: bytes over min(BW·η_m, active SMs × per-SM
/// bandwidth), the per-SM bandwidth being the bytes a CTA keeps in flight over the HBM latency (Little's
/// law); compute: FLOPs over the dense peak·η_c times the fraction of SM slots the launch fills; fixed costs
/// are whole HBM round trips (latency) the kernel waits for in sequence.
[[nodiscard]] DecodeCallTime datasheet_decode_call(const HardwareSpec& hw, const AttentionCall& call,
                                                   double bytes, double flops, Dtype math_dtype);
/// The same with hw.peak_flops(math_dtype) given (`peak_flops_per_s`): the device model looks it up once.
[[nodiscard]] DecodeCallTime datasheet_decode_call(const HardwareSpec& hw, const AttentionCall& call,
                                                   double bytes, double flops, double peak_flops_per_s);

/// A kernel-level prediction: the time of one call as the attention bench measures it (one eager launch
/// between CUDA events, attention + combine), and where it comes from.
struct KernelPrediction {
  double time_s = 0.0;
  Provenance provenance = Provenance::kAnalytic;
};

/// Our decode kernels' measured tables, prepared for lookups: MLA tables merged into one grid over
/// (batch, context, query rows h_q·s_q) per lengths kind; GQA tables one grid each over (batch, context). A
/// mixed-length call uses the tables measured with mixed lengths (their schedule splits sequences and runs a
/// combine pass, which a uniform batch may not), a uniform call the uniform ones; without a table of its kind
/// it takes the other kind's, extrapolated.
class CalibratedAttention {
 public:
  explicit CalibratedAttention(const Calibration& calibration);

  /// Whether any table is loaded.
  [[nodiscard]] bool empty() const { return mla_.empty() && gqa_.empty(); }

  /// Predicts one decode call of `call`'s shape that moves `bytes` and computes `flops`. Inside a measured
  /// grid of the same shape and dtype: interpolated (measured at a node). Otherwise: the time at the nearest
  /// point of the nearest measured shape, scaled by the family's ramp from that point's work to this call's
  /// (extrapolated). nullopt for prefill calls, or when no table or ramp of the family exists.
  [[nodiscard]] std::optional<KernelPrediction> predict(const AttentionCall& call, double bytes,
                                                        double flops) const;

 private:
  struct Grid {
    AttentionTable shape;  ///< identity (time_s unused)
    LogGrid grid;
  };
  std::vector<Grid> mla_;  ///< one merged grid (batch, context, rows) per lengths kind (uniform, mixed)
  std::vector<Grid> gqa_;  ///< one per measured shape (batch, context)
  std::vector<std::pair<std::string, KernelRamp>> ramps_;
  [[nodiscard]] const KernelRamp* ramp(const std::string& key) const;
};

/// The work one measured call of a table's shape does at (batch, context): FlashMLA's counting for MLA,
/// K + V + Q + O for GQA (kernels/attention/reference.hpp). {bytes, flops}.
struct KernelWork {
  double bytes = 0.0;
  double flops = 0.0;
};
[[nodiscard]] KernelWork table_call_work(AttentionKernel kernel, double batch, double context, double s_q,
                                         double n_h, double n_kv, double d);

}  // namespace mlasim
