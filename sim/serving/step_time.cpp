#include "sim/serving/step_time.hpp"

#include <fmt/format.h>

#include "sim/step/evaluate.hpp"

namespace mlasim {

namespace {
/// A step's seconds as picoseconds; a step the clock cannot hold comes from the model and GPU profile (a
/// GPU absurdly slow for the model), so it is the user's input: InputError naming both.
TimePs step_ps(double seconds, const ModelSpec& model, const HardwareSpec& hw) {
  const std::optional<TimePs> ps = try_seconds_to_ps(seconds);
  if (!ps) {
    throw InputError(fmt::format(
        "one step of model {} on hardware {} takes {:g} s, which the 64-bit picosecond clock cannot hold "
        "(at most about 106 days; negative or not finite are invalid): check the GPU profile's rates",
        model.name, hw.name, seconds));
  }
  return *ps;
}
}  // namespace

std::size_t ModelStepTime::MixHash::operator()(const StepMix& m) const noexcept {
  // One multiply per field (this runs every iteration), then a splitmix64 finalizer for the bucket index.
  // The hash only places entries: the cache stays exact whatever it is.
  std::uint64_t h = 0x9E3779B97F4A7C15ULL;
  auto mix = [&h](std::int64_t v) {
    h = (h ^ static_cast<std::uint64_t>(v)) * 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 29;
  };
  mix(m.decode_seqs);
  mix(m.decode_context);
  mix(m.prefill_seqs);
  mix(m.prefill_tokens);
  mix(m.prefill_context);
  mix(m.prefill_pairs);
  mix(m.sampled);
  mix((m.decode_mixed ? 1 : 0) + (m.prefill_mixed ? 2 : 0) + (m.all_mixed() ? 4 : 0));
  h ^= h >> 30;
  h *= 0x94D049BB133111EBULL;
  h ^= h >> 31;
  return static_cast<std::size_t>(h);
}

ModelStepTime::ModelStepTime(ModelSpec model, DeviceModel device, Precision precision, Parallelism parallel,
                             MlaMode mla_mode, double host_overhead_s, Speculation mtp,
                             std::size_t cache_limit)
    : model_(std::move(model)),
      device_(std::move(device)),
      micro_batches_(parallel.micro_batches),
      host_overhead_s_(host_overhead_s),
      cache_limit_(cache_limit) {
  shape_.parallel = parallel;
  shape_.precision = precision;
  shape_.mla_mode = mla_mode;
  shape_.mtp = std::move(mtp);
}

TimePs ModelStepTime::step_time(const StepMix& mix, const SequenceWorkSource& work) {
  const int micro_batches = micro_batches_for(mix.sequences());
  // Two micro-batches cost the busier half of the sequences (build_step: every other one in order), whose
  // sums StepMix does not hold: such a step is costed afresh, never memoized.
  const bool memoized = micro_batches == 1;
  if (memoized) {
    if (auto it = cache_.find(mix); it != cache_.end()) {
      ++hits_;
      return it->second;
    }
  }
  ++misses_;
  work.fill(shape_.sequences);
  shape_.parallel.micro_batches = micro_batches;
  // The same additions, in the same order, as cost_step's step_time_s.
  const double seconds = evaluate_step_time(model_, device_, shape_);
  const TimePs ps = step_ps(seconds + host_overhead_s_, model_, device_.hardware());
  if (!memoized) return ps;
  if (cache_.size() >= cache_limit_) cache_.clear();
  cache_.emplace(mix, ps);
  return ps;
}

TimePs ModelStepTime::reference_time(const std::vector<SequenceWork>& sequences) const {
  StepShape shape = shape_;
  shape.sequences = sequences;
  std::int64_t n = 0;
  for (const SequenceWork& w : sequences) n += w.count;
  shape.parallel.micro_batches = micro_batches_for(n);
  return step_ps(evaluate_step(model_, device_, shape).cost.step_time_s + host_overhead_s_, model_,
                 device_.hardware());
}

}  // namespace mlasim
