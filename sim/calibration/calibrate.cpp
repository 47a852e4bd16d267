#include "sim/calibration/calibrate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <tuple>

#include "sim/calibration/bandwidth_fit.hpp"
#include "sim/calibration/calibration_block.hpp"
#include "sim/calibration/probe_report.hpp"

namespace mlasim {

namespace {

using ShapeKey =
    std::tuple<AttentionKernel, bool, int, int, int, int>;  // kernel, variable, s_q, n_h, n_kv, d

ShapeKey key_of(const AttentionRow& r) {
  return {r.kernel, r.variable_lengths, r.s_q, r.n_h, r.n_kv, r.d};
}

std::vector<double> sorted_unique(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// A measured point slower than both its neighbours suggest, on every axis where it has two, by more than
/// this factor is an isolated slow outlier (a clock dip, a neighbour on the machine): timing noise on a GPU
/// is one-sided. 20% is about seven standard deviations of the few-percent noise of a median of 20 repeats.
constexpr double kSpikeFactor = 1.2;

/// Whether log value `v` at position i of a line (log coordinates x) rises above the log-linear line through
/// its two neighbours by more than kSpikeFactor; nullopt when a neighbour is missing.
std::optional<bool> spike_along(const std::vector<double>& x, const std::vector<double>& logv,
                                std::size_t i) {
  if (i == 0 || i + 1 >= x.size() || std::isnan(logv[i - 1]) || std::isnan(logv[i + 1])) return std::nullopt;
  const double f = (std::log(x[i]) - std::log(x[i - 1])) / (std::log(x[i + 1]) - std::log(x[i - 1]));
  return logv[i] - (logv[i - 1] + f * (logv[i + 1] - logv[i - 1])) > std::log(kSpikeFactor);
}

}  // namespace

std::vector<std::string> drop_isolated_spikes(AttentionTable& t, const std::vector<SourceLocation>& sources) {
  std::vector<std::string> notes;
  const std::size_t nb = t.batch.size(), nc = t.context.size();
  std::vector<double> logv(t.time_s.size());
  for (std::size_t i = 0; i < logv.size(); ++i) logv[i] = std::log(t.time_s[i]);  // NaN stays NaN
  std::vector<std::size_t> drop;
  for (std::size_t bi = 0; bi < nb; ++bi) {
    for (std::size_t ci = 0; ci < nc; ++ci) {
      if (std::isnan(logv[bi * nc + ci])) continue;
      std::vector<double> along_context(logv.begin() + std::ptrdiff_t(bi * nc),
                                        logv.begin() + std::ptrdiff_t(bi * nc + nc));
      std::vector<double> along_batch(nb);
      for (std::size_t b = 0; b < nb; ++b) along_batch[b] = logv[b * nc + ci];
      const std::optional<bool> c = spike_along(t.context, along_context, ci);
      const std::optional<bool> b = spike_along(t.batch, along_batch, bi);
      if ((c || b) && c.value_or(true) && b.value_or(true)) drop.push_back(bi * nc + ci);
    }
  }
  for (const std::size_t i : drop) {
    notes.push_back(
        fmt::format("{}: {} batch {} context {} dropped as an isolated slow outlier ({:.1f} us, over {:.0f}% "
                    "above its neighbours)",
                    i < sources.size() ? sources[i].to_string() : std::string("?"), to_string(t.kernel),
                    t.batch[i / nc], t.context[i % nc], t.time_s[i] * 1e6, (kSpikeFactor - 1) * 100));
    t.time_s[i] = std::nan("");
  }
  return notes;
}

std::vector<AttentionTable> build_attention_tables(const std::vector<AttentionRow>& rows,
                                                   std::vector<std::string>* notes) {
  std::map<ShapeKey, std::vector<const AttentionRow*>> groups;
  for (const AttentionRow& r : rows) {
    if (r.check_passed) groups[key_of(r)].push_back(&r);
  }
  std::vector<AttentionTable> out;
  for (const auto& [key, members] : groups) {
    AttentionTable t;
    std::tie(t.kernel, t.variable_lengths, t.s_q, t.n_h, t.n_kv, t.d) = key;
    std::vector<double> batches, contexts;
    for (const AttentionRow* r : members) {
      batches.push_back(r->batch);
      contexts.push_back(r->context);
    }
    t.batch = sorted_unique(std::move(batches));
    t.context = sorted_unique(std::move(contexts));
    t.time_s.assign(t.batch.size() * t.context.size(), std::nan(""));
    if (t.variable_lengths) t.mean_context.assign(t.time_s.size(), std::nan(""));
    std::vector<const AttentionRow*> source(t.time_s.size(), nullptr);
    for (const AttentionRow* r : members) {
      const auto bi = static_cast<std::size_t>(std::lower_bound(t.batch.begin(), t.batch.end(), r->batch) -
                                               t.batch.begin());
      const auto ci = static_cast<std::size_t>(
          std::lower_bound(t.context.begin(), t.context.end(), r->context) - t.context.begin());
      const std::size_t flat = bi * t.context.size() + ci;
      if (source[flat] != nullptr) {
        throw InputError(
            r->where, "batch",
            fmt::format("{} batch {} context {} was already measured at {}", to_string(r->kernel), r->batch,
                        r->context, source[flat]->where.to_string()));
      }
      source[flat] = r;
      t.time_s[flat] = r->median_s;
      if (t.variable_lengths) t.mean_context[flat] = r->sum_context / r->batch;
    }
    // Which variant each cell holds, recorded only when one is not the family's baseline.
    bool all_baseline = true;
    for (const AttentionRow* r : members)
      all_baseline = all_baseline && r->variant == baseline_variant(to_string(r->kernel), r->d);
    if (!all_baseline) {
      t.variant.assign(t.time_s.size(), "");
      for (std::size_t i = 0; i < source.size(); ++i) {
        if (source[i] != nullptr) t.variant[i] = source[i]->variant;
      }
    }
    std::vector<SourceLocation> where(source.size());
    for (std::size_t i = 0; i < source.size(); ++i) {
      if (source[i] != nullptr) where[i] = source[i]->where;
    }
    std::vector<std::string> dropped = drop_isolated_spikes(t, where);
    for (std::size_t i = 0; i < t.variant.size(); ++i) {
      if (std::isnan(t.time_s[i])) t.variant[i].clear();  // a dropped spike is no longer that variant's
    }
    if (notes != nullptr) notes->insert(notes->end(), dropped.begin(), dropped.end());
    out.push_back(std::move(t));
  }
  return out;
}

KernelRamp fit_attention_ramp(const std::vector<AttentionRow>& rows, double ridge_flop_per_byte,
                              const std::string& family) {
  std::vector<const AttentionRow*> usable;
  for (const AttentionRow& r : rows) {
    if (r.check_passed) usable.push_back(&r);
  }
  if (usable.size() < 3) {
    throw InputError(fmt::format("attention kernel `{}`: {} measured points, a ramp needs at least 3", family,
                                 usable.size()));
  }
  std::sort(usable.begin(), usable.end(), [](const AttentionRow* a, const AttentionRow* b) {
    return a->flops / a->bytes < b->flops / b->bytes;
  });
  std::vector<BandwidthPoint> memory;
  for (const AttentionRow* r : usable) {
    if (r->flops / r->bytes < 0.5 * ridge_flop_per_byte || memory.size() < 3) {
      memory.push_back(BandwidthPoint{r->bytes, r->median_s});
    }
  }
  const RampFit fit = fit_bandwidth_ramp(memory, {}, fmt::format("attention kernel `{}`", family));
  KernelRamp ramp{fit.t0_s, fit.bw_inf_bytes_per_s, 0.0};
  // A compute rate only from points intense enough to be compute-bound at all (at least half the ridge) whose
  // time clearly exceeds the memory line: a small, occupancy-limited point is slow for another reason.
  std::vector<double> rates;
  for (const AttentionRow* r : usable) {
    const double body = r->median_s - ramp.t0_s;
    if (r->flops / r->bytes >= 0.5 * ridge_flop_per_byte && body > 1.2 * r->bytes / ramp.bytes_per_s) {
      rates.push_back(r->flops / body);
    }
  }
  if (!rates.empty()) ramp.flops_per_s = median(rates);
  return ramp;
}

Calibration calibration_from_run(const MeasurementRun& run, const HardwareSpec& profile) {
  Calibration c = calibration_from_fits(fit_probe_rows(run.probe_rows), "");
  c.attention = build_attention_tables(run.attention_rows, &c.notes);
  const double ridge = profile.peak_flops(Dtype::kBf16) * profile.datasheet_efficiency.compute /
                       (profile.hbm_bandwidth_bytes_per_s * profile.datasheet_efficiency.memory);
  std::map<std::string, std::vector<AttentionRow>> families;
  for (const AttentionRow& r : run.attention_rows) {
    families[attention_ramp_key(r.kernel, r.d)].push_back(r);
  }
  for (const auto& [family, rows] : families)
    c.attention_ramps[family] = fit_attention_ramp(rows, ridge, family);
  return c;
}

std::string run_fingerprint(const MeasurementRun& run) {
  std::vector<std::string> parts;
  if (run.manifest.synthetic) parts.emplace_back("SYNTHETIC (generated, not measured)");
  parts.push_back(run.device());
  const RunFingerprint* f = run.probes_fingerprint      ? &*run.probes_fingerprint
                            : run.attention_fingerprint ? &*run.attention_fingerprint
                                                        : nullptr;
  if (f != nullptr) parts.push_back(fmt::format("{} SMs", f->sms));
  const std::string driver = f != nullptr && !f->driver.empty() ? f->driver : run.manifest.driver;
  if (!driver.empty()) parts.push_back("driver " + driver);
  if (f != nullptr && !f->cuda_runtime.empty()) parts.push_back("CUDA runtime " + f->cuda_runtime);
  if (!run.manifest.git_revision.empty()) parts.push_back("git " + run.manifest.git_revision);
  if (!run.manifest.started.empty()) parts.push_back(run.manifest.started);
  return fmt::format("{}", fmt::join(parts, ", "));
}

Calibration calibrate(const MeasurementRun& run, const HardwareSpec& profile,
                      const CalibrateOptions& options) {
  const std::vector<std::string> reasons = refusal_reasons(run, profile, options.allow_throttled);
  if (!reasons.empty()) {
    std::string message = fmt::format("refusing to calibrate `{}` from this run:", profile.id);
    for (const std::string& r : reasons) message += "\n  - " + r;
    throw InputError(SourceLocation{run.dir}, "", message);
  }
  Calibration c = calibration_from_run(run, profile);
  c.fingerprint = run_fingerprint(run);
  c.source = run.dir;
  return c;
}

std::string replace_calibration_block(std::string_view text, std::string_view block) {
  std::string out;
  std::size_t pos = 0;
  bool replaced = false;
  bool skipping = false;
  while (pos < text.size()) {
    const std::size_t end = text.find('\n', pos);
    const std::size_t next = end == std::string_view::npos ? text.size() : end + 1;
    const std::string_view line = text.substr(pos, next - pos);
    pos = next;
    const bool top_level = !line.empty() && line.front() != ' ' && line.front() != '\t' &&
                           line.front() != '\n' && line.front() != '\r';
    if (skipping) {
      if (!top_level) continue;  // indented lines, blank lines and indented comments belong to the old block
      skipping = false;
    }
    if (!replaced && line.rfind("calibration:", 0) == 0) {
      out += block;
      replaced = true;
      skipping = true;
      continue;
    }
    out += line;
  }
  if (!replaced) {
    if (!out.empty() && out.back() != '\n') out += '\n';
    out += block;
  }
  return out;
}

}  // namespace mlasim
