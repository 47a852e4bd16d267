#include "sim/calibration/gemm_fit.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace mlasim {

GemmEfficiencyTable::GemmEfficiencyTable(GemmShapeKey key, std::vector<GemmPoint> points, std::string label)
    : key_(std::move(key)), points_(std::move(points)), label_(std::move(label)) {
  const std::string what = fmt::format("GEMM table {} n={} k={} batch={}", key_.kernel, key_.n, key_.k, key_.batch);
  if (points_.empty()) throw InputError(what + ": no points");
  if (key_.n < 1 || key_.k < 1 || key_.batch < 1) throw InputError(what + ": n, k and batch must be >= 1");
  std::sort(points_.begin(), points_.end(), [](const GemmPoint& a, const GemmPoint& b) { return a.m < b.m; });
  for (std::size_t i = 0; i < points_.size(); ++i) {
    if (points_[i].m < 1 || !(points_[i].tflops > 0.0) || !std::isfinite(points_[i].tflops)) {
      throw InputError(fmt::format("{}: point m={} has rate {:g} TFLOP/s; need m >= 1 and a positive rate", what,
                                   points_[i].m, points_[i].tflops));
    }
    if (i > 0 && points_[i].m == points_[i - 1].m) {
      throw InputError(fmt::format("{}: m={} appears twice", what, points_[i].m));
    }
  }
}

GemmRate GemmEfficiencyTable::rate_at(double m) const {
  if (!(m >= 1.0) || !std::isfinite(m)) {
    throw InputError(fmt::format("GEMM lookup needs m >= 1 (got {:g})", m));
  }
  const GemmPoint& first = points_.front();
  const GemmPoint& last = points_.back();
  const auto m_first = static_cast<double>(first.m);
  const auto m_last = static_cast<double>(last.m);
  if (m < m_first) return {first.tflops * m / m_first, Provenance::kExtrapolated};
  if (m > m_last) return {last.tflops, Provenance::kExtrapolated};
  const auto hi = std::lower_bound(points_.begin(), points_.end(), m,
                                   [](const GemmPoint& p, double v) { return static_cast<double>(p.m) < v; });
  if (static_cast<double>(hi->m) == m) return {hi->tflops, Provenance::kMeasured};
  const auto lo = hi - 1;
  const double f = (std::log(m) - std::log(static_cast<double>(lo->m))) /
                   (std::log(static_cast<double>(hi->m)) - std::log(static_cast<double>(lo->m)));
  const double log_rate = std::log(lo->tflops) + f * (std::log(hi->tflops) - std::log(lo->tflops));
  return {std::exp(log_rate), Provenance::kInterpolated};
}

double GemmEfficiencyTable::time_s(double m) const {
  // 2·m·n·k FLOPs per GEMM (DESIGN.md §5), times the batch.
  const double flops = 2.0 * m * static_cast<double>(key_.n) * static_cast<double>(key_.k) *
                       static_cast<double>(key_.batch);
  return flops / (rate_at(m).tflop_per_s * 1e12);
}

std::vector<GemmEfficiencyTable> build_gemm_tables(const std::vector<ProbeRow>& rows) {
  struct Family {
    std::vector<GemmPoint> points;
    std::vector<const ProbeRow*> sources;
    std::vector<std::string> labels;
  };
  std::map<GemmShapeKey, Family> families;
  for (const ProbeRow& r : rows) {
    if (r.probe != "gemm") continue;
    Family& fam = families[GemmShapeKey{r.kernel, r.dtype, r.n, r.k, r.batch}];
    for (std::size_t i = 0; i < fam.points.size(); ++i) {
      if (fam.points[i].m == r.m) {
        throw InputError(r.where, "m",
                         fmt::format("GEMM {} n={} k={} batch={} m={} was already measured at {}", r.kernel, r.n,
                                     r.k, r.batch, r.m, fam.sources[i]->where.to_string()));
      }
    }
    fam.points.push_back(GemmPoint{r.m, r.tflops > 0.0 ? r.tflops : r.flops / r.median_s * 1e-12, r.median_s});
    fam.sources.push_back(&r);
    if (std::find(fam.labels.begin(), fam.labels.end(), r.shape) == fam.labels.end()) fam.labels.push_back(r.shape);
  }
  std::vector<GemmEfficiencyTable> out;
  out.reserve(families.size());
  for (auto& [key, fam] : families) {
    out.emplace_back(key, std::move(fam.points), fmt::format("{}", fmt::join(fam.labels, "|")));
  }
  return out;
}

}  // namespace mlasim
