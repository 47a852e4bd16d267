#include "sim/calibration/validate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "sim/calibration/bandwidth_fit.hpp"
#include "sim/calibration/calibrate.hpp"
#include "sim/device/attention_kernel_model.hpp"
#include "sim/device/device_model.hpp"

namespace mlasim {

double ValidationReport::worst_calibrated_mape() const {
  double worst = 0.0;
  for (const FamilyValidation& f : families) worst = std::max(worst, f.calibrated.mape);
  return worst;
}

ErrorStats error_stats(const std::vector<double>& errors, const std::vector<std::string>& points) {
  ErrorStats s;
  if (errors.empty()) return s;
  std::vector<double> magnitudes;
  double sum = 0.0;
  std::size_t worst = 0;
  for (std::size_t i = 0; i < errors.size(); ++i) {
    const double m = std::abs(errors[i]);
    magnitudes.push_back(m);
    sum += m;
    if (m > std::abs(errors[worst])) worst = i;
  }
  std::sort(magnitudes.begin(), magnitudes.end());
  s.mape = sum / double(errors.size());
  // Nearest rank: the smallest value with at least 95% of the values at or below it.
  const auto rank = static_cast<std::size_t>(std::ceil(0.95 * double(magnitudes.size())));
  s.p95 = magnitudes[std::max<std::size_t>(rank, 1) - 1];
  s.worst = errors[worst];
  s.worst_point = points[worst];
  return s;
}

namespace {

using TableKey = std::tuple<AttentionKernel, bool, int, int, int, int>;

AttentionCall call_of(const AttentionRow& r) {
  AttentionCall c;
  c.mla = r.kernel == AttentionKernel::kMla;
  c.mixed_lengths = r.variable_lengths && r.batch > 1;
  c.sequences = r.batch;
  c.context_sum = r.sum_context;
  c.new_tokens = double(r.batch) * r.s_q;
  c.q_heads = r.n_h;
  c.kv_heads = c.mla ? 1.0 : r.n_kv;
  c.qk_dim = r.d;
  c.v_dim = c.mla ? 512 : r.d;
  return c;
}

std::string describe(const AttentionRow& r) {
  if (r.kernel == AttentionKernel::kMla) {
    return fmt::format("mla b={} L={}{} h_q={} s_q={}", r.batch, r.context, r.variable_lengths ? "~" : "",
                       r.n_h, r.s_q);
  }
  return fmt::format("gqa b={} L={} ({},{},{})", r.batch, r.context, r.n_h, r.n_kv, r.d);
}

/// Indices of the attention rows to hold out.
std::set<std::size_t> attention_holdout(const std::vector<AttentionRow>& rows, const ValidateOptions& o) {
  std::set<std::size_t> out;
  std::map<TableKey, std::vector<std::size_t>> tables;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const AttentionRow& r = rows[i];
    if (!r.check_passed) continue;
    tables[{r.kernel, r.variable_lengths, r.s_q, r.n_h, r.n_kv, r.d}].push_back(i);
  }
  for (auto& [key, members] : tables) {
    std::sort(members.begin(), members.end(), [&](std::size_t a, std::size_t b) {
      return std::tie(rows[a].batch, rows[a].context) < std::tie(rows[b].batch, rows[b].context);
    });
    int lo = rows[members.front()].context, hi = lo;
    for (const std::size_t i : members) {
      lo = std::min(lo, rows[i].context);
      hi = std::max(hi, rows[i].context);
    }
    for (std::size_t j = 0; j < members.size(); ++j) {
      const AttentionRow& r = rows[members[j]];
      const bool kth =
          o.every > 0 && j % static_cast<std::size_t>(o.every) == static_cast<std::size_t>(o.every - 1);
      const bool end = o.hold_out_context_ends && lo != hi && (r.context == lo || r.context == hi);
      if (kth || end) out.insert(members[j]);
    }
  }
  return out;
}

bool in_ramp(const ProbeRow& r) {
  return r.probe == "bandwidth" && (r.level == "hbm" || r.level == "cold");
}

/// Indices of the probe rows to hold out: every k-th m of each GEMM shape, every k-th working set of each
/// bandwidth kernel (all its grids).
std::set<std::size_t> probe_holdout(const std::vector<ProbeRow>& rows, const ValidateOptions& o) {
  std::set<std::size_t> out;
  if (o.every <= 0) return out;
  const auto k = static_cast<std::size_t>(o.every);
  std::map<std::tuple<std::string, std::string, std::int64_t, std::int64_t, std::int64_t>,
           std::vector<std::size_t>>
      gemm;
  std::map<std::string, std::set<std::int64_t>> working_sets;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const ProbeRow& r = rows[i];
    if (r.probe == "gemm") gemm[{r.kernel, r.dtype, r.n, r.k, r.batch}].push_back(i);
    if (in_ramp(r)) working_sets[r.kernel].insert(r.working_set_bytes);
  }
  for (auto& [key, members] : gemm) {
    std::sort(members.begin(), members.end(),
              [&](std::size_t a, std::size_t b) { return rows[a].m < rows[b].m; });
    for (std::size_t j = 0; j < members.size(); ++j) {
      if (j % k == k - 1) out.insert(members[j]);
    }
  }
  std::map<std::string, std::set<std::int64_t>> held;
  for (const auto& [kernel, sets] : working_sets) {
    std::size_t j = 0;
    for (const std::int64_t ws : sets) {
      if (j++ % k == k - 1) held[kernel].insert(ws);
    }
  }
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const ProbeRow& r = rows[i];
    if (in_ramp(r) && held[r.kernel].count(r.working_set_bytes) != 0) out.insert(i);
  }
  return out;
}

Precision gemm_precision(const std::string& dtype) {
  Precision p;
  p.weights = dtype.rfind("fp8", 0) == 0 ? Dtype::kFp8 : Dtype::kBf16;
  return p;
}

/// calibration_from_run on the training points. When that fails but the whole run calibrates, the hold-out
/// took too many points: the error names the options that chose them, not only the kernel that ran short.
Calibration calibrate_training(const MeasurementRun& run, const MeasurementRun& training,
                               const HardwareSpec& profile, const ValidateOptions& o) {
  try {
    return calibration_from_run(training, profile);
  } catch (const InputError& e) {
    try {
      (void)calibration_from_run(run, profile);
    } catch (const InputError&) {
      throw;  // the run itself does not calibrate: its own error says why
    }
    const std::string ends =
        o.hold_out_context_ends
            ? " and the smallest and largest context of each attention table (--no-context-ends keeps those)"
            : " (with --no-context-ends)";
    throw InputError(
        SourceLocation{run.dir}, "--every",
        fmt::format("holding out one point in every {}{} left too few training points to calibrate: "
                    "{}; hold out fewer with a larger --every",
                    o.every, ends, e.message()));
  }
}

}  // namespace

ValidationReport validate_run(const MeasurementRun& run, const HardwareSpec& profile,
                              const ValidateOptions& options) {
  if (options.every < 2)
    throw InputError(SourceLocation{}, "--every", "must be at least 2 (hold out every k-th point)");
  const std::vector<std::string> reasons = refusal_reasons(run, profile, options.allow_throttled);
  if (!reasons.empty()) {
    std::string message = fmt::format("refusing to validate `{}` against this run:", profile.id);
    for (const std::string& r : reasons) message += "\n  - " + r;
    throw InputError(SourceLocation{run.dir}, "", message);
  }
  ValidationReport report;
  report.run_dir = run.dir;
  report.fingerprint = run_fingerprint(run);
  report.profile = profile.id;
  report.options = options;
  report.notes = run.notes;

  const std::set<std::size_t> held_attention = attention_holdout(run.attention_rows, options);
  const std::set<std::size_t> held_probes = probe_holdout(run.probe_rows, options);
  MeasurementRun training = run;
  training.attention_rows.clear();
  training.probe_rows.clear();
  for (std::size_t i = 0; i < run.attention_rows.size(); ++i) {
    if (held_attention.count(i) == 0) training.attention_rows.push_back(run.attention_rows[i]);
  }
  for (std::size_t i = 0; i < run.probe_rows.size(); ++i) {
    if (held_probes.count(i) == 0) training.probe_rows.push_back(run.probe_rows[i]);
  }
  report.training_points = static_cast<int>(training.attention_rows.size() + training.probe_rows.size());
  if (held_attention.empty() && held_probes.empty()) {
    throw InputError(SourceLocation{run.dir}, "", "too few points to hold any out for validation");
  }
  const Calibration cal = calibrate_training(run, training, profile, options);
  const CalibratedAttention attention(cal);
  const DeviceModel datasheet(profile, DeviceMode::kDatasheet, LaunchMode::kEager);

  std::vector<ValidationPoint> points;
  for (const std::size_t i : held_attention) {
    const AttentionRow& r = run.attention_rows[i];
    ValidationPoint p;
    p.family = r.kernel == AttentionKernel::kGqa ? kFamilyGqa
               : r.variable_lengths              ? kFamilyMlaVariable
                                                 : kFamilyMla;
    p.point = describe(r);
    p.x = r.context;
    p.x_label = "context";
    p.measured_s = r.median_s;
    p.where = r.where;
    const AttentionCall call = call_of(r);
    const std::optional<KernelPrediction> pred = attention.predict(call, r.bytes, r.flops);
    if (!pred) {
      report.notes.push_back(fmt::format("{}: {}: no calibrated prediction (no table or ramp of its kernel)",
                                         r.where.to_string(), p.point));
      continue;
    }
    p.calibrated_s = pred->time_s;
    p.calibrated_provenance = pred->provenance;
    // The bench times one eager launch between events: the datasheet model's call plus one eager launch.
    p.datasheet_s = datasheet_decode_call(profile, call, r.bytes, r.flops, Dtype::kBf16).total_s() +
                    profile.launch_overhead_s;
    points.push_back(p);
  }
  // Bandwidth: the fastest grid of each held-out (kernel, working set), against the ramp fitted on the rest.
  std::map<std::pair<std::string, std::int64_t>, const ProbeRow*> fastest;
  for (const std::size_t i : held_probes) {
    const ProbeRow& r = run.probe_rows[i];
    if (r.probe == "gemm") {
      ValidationPoint p;
      p.family = kFamilyGemm;
      p.point = fmt::format("{} n={} k={} batch={} m={} [{}]", r.kernel, r.n, r.k, r.batch, r.m, r.shape);
      p.x = double(r.m);
      p.x_label = "m";
      p.measured_s = r.median_s;
      p.where = r.where;
      const auto table = std::find_if(cal.gemm.begin(), cal.gemm.end(), [&](const GemmEfficiencyTable& t) {
        return t.key() == GemmShapeKey{r.kernel, r.dtype, r.n, r.k, r.batch};
      });
      if (table == cal.gemm.end()) continue;
      const GemmRoofline roof = cal.gemm_roofline(gemm_precision(r.dtype).weights);
      if (!roof.valid()) continue;
      const Residual residual = table->residual_at(double(r.m), roof);
      p.calibrated_s = residual.value * roof.time_s(r.flops, table->bytes_at(double(r.m)));
      p.calibrated_provenance = residual.provenance;
      Op op;
      op.name = "gemm";
      op.op_class = OpClass::kGemm;
      op.count = 1;
      op.flops = r.flops;
      op.weight_bytes = r.bytes;
      op.math = gemm_precision(r.dtype).weights;
      p.datasheet_s = datasheet.time_op(op).time_s;
      points.push_back(p);
    } else if (in_ramp(r)) {
      const ProbeRow*& best = fastest[{r.kernel, r.working_set_bytes}];
      if (best == nullptr || r.median_s < best->median_s) best = &r;
    }
  }
  for (const auto& [key, r] : fastest) {
    const auto ramp = cal.bandwidth.find(r->kernel);
    if (ramp == cal.bandwidth.end()) continue;
    ValidationPoint p;
    p.family = kFamilyBandwidth;
    p.point = fmt::format("{} {} bytes ({})", r->kernel, r->bytes, r->level);
    p.x = r->bytes;
    p.x_label = "bytes";
    p.measured_s = r->median_s;
    p.where = r->where;
    p.calibrated_s = ramp->second.time_s(r->bytes);
    p.calibrated_provenance = r->bytes >= ramp->second.min_bytes && r->bytes <= ramp->second.max_bytes
                                  ? Provenance::kInterpolated
                                  : Provenance::kExtrapolated;
    Op op;
    op.name = "copy";
    op.op_class = OpClass::kOther;
    op.count = 1;
    op.activation_bytes = r->bytes;
    op.math = Precision{}.activations;
    p.datasheet_s = datasheet.time_op(op).time_s;
    points.push_back(p);
  }
  for (const char* family : {kFamilyMla, kFamilyMlaVariable, kFamilyGqa, kFamilyGemm, kFamilyBandwidth}) {
    FamilyValidation f;
    f.family = family;
    std::vector<double> cal_err, ds_err;
    std::vector<std::string> names;
    for (const ValidationPoint& p : points) {
      if (p.family != family) continue;
      report.points.push_back(p);
      cal_err.push_back(p.calibrated_error());
      ds_err.push_back(p.datasheet_error());
      names.push_back(p.point);
    }
    if (names.empty()) continue;
    f.points = static_cast<int>(names.size());
    f.calibrated = error_stats(cal_err, names);
    f.datasheet = error_stats(ds_err, names);
    report.families.push_back(f);
  }
  return report;
}

}  // namespace mlasim
