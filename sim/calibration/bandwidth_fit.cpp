#include "sim/calibration/bandwidth_fit.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

namespace mlasim {

namespace {

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Weighted least squares for y = a + b·x; with `through_origin`, a = 0.
std::pair<double, double> weighted_line(const std::vector<double>& x, const std::vector<double>& y,
                                        const std::vector<double>& w, bool through_origin) {
  double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sw += w[i];
    sx += w[i] * x[i];
    sy += w[i] * y[i];
    sxx += w[i] * x[i] * x[i];
    sxy += w[i] * x[i] * y[i];
  }
  if (through_origin) return {0.0, sxy / sxx};
  const double det = sw * sxx - sx * sx;
  const double b = (sw * sxy - sx * sy) / det;
  const double a = (sy - b * sx) / sw;
  return {a, b};
}

}  // namespace

RampFit fit_bandwidth_ramp(std::span<const BandwidthPoint> points, const RampFitOptions& options,
                           const std::string& what) {
  std::set<double> distinct;
  for (const BandwidthPoint& p : points) {
    if (!(p.bytes > 0.0) || !(p.time_s > 0.0) || !std::isfinite(p.bytes) || !std::isfinite(p.time_s)) {
      throw InputError(fmt::format("{}: points need positive, finite bytes and time (got {:g} B, {:g} s)",
                                   what, p.bytes, p.time_s));
    }
    distinct.insert(p.bytes);
  }
  if (points.size() < 3 || distinct.size() < 2) {
    throw InputError(
        fmt::format("{}: the fit needs at least 3 points over at least 2 sizes (got {} points, {} sizes)",
                    what, points.size(), distinct.size()));
  }
  const std::size_t n = points.size();
  std::vector<double> x(n), y(n), base(n), w(n), r(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = points[i].bytes;
    y[i] = points[i].time_s;
    base[i] = 1.0 / (y[i] * y[i]);  // relative residuals: minimise Σ ((t - t̂) / t)²
    w[i] = base[i];
  }

  double a = 0.0, b = 0.0;
  bool origin = false;
  auto solve = [&] {
    std::tie(a, b) = weighted_line(x, y, w, false);
    origin = a < 0.0;  // a negative fixed cost is unphysical: refit through the origin
    if (origin) std::tie(a, b) = weighted_line(x, y, w, true);
  };
  solve();

  RampFit fit;
  double scale = 0.0;
  for (int it = 1; it <= options.max_iterations; ++it) {
    fit.iterations = it;
    for (std::size_t i = 0; i < n; ++i) r[i] = (y[i] - (a + b * x[i])) / y[i];
    std::vector<double> abs_dev(n);
    const double med = median_of(r);
    for (std::size_t i = 0; i < n; ++i) abs_dev[i] = std::abs(r[i] - med);
    // 1.4826·MAD estimates σ for Gaussian noise (Rousseeuw & Croux 1993); the floor keeps exact data finite.
    scale = std::max(1.4826 * median_of(abs_dev), 1e-9);
    for (std::size_t i = 0; i < n; ++i) {
      const double u = std::abs(r[i]) / scale;
      // Huber weight ψ(u)/u: 1 inside c, c/|u| outside (Huber 1964).
      w[i] = base[i] * (u <= options.huber_c ? 1.0 : options.huber_c / u);
    }
    const double a_old = a, b_old = b;
    solve();
    const double da = std::abs(a - a_old) / std::max(std::abs(a), 1e-300);
    const double db = std::abs(b - b_old) / std::max(std::abs(b), 1e-300);
    if ((a == 0.0 || da < options.tolerance) && db < options.tolerance) break;
  }
  if (!(b > 0.0)) {
    throw InputError(
        fmt::format("{}: time does not grow with bytes (slope {:g} s/B); cannot fit a bandwidth", what, b));
  }
  fit.t0_s = a;
  fit.bw_inf_bytes_per_s = 1.0 / b;
  fit.points = static_cast<int>(n);
  double ss = 0.0;
  int inliers = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double rel = (y[i] - fit.time_s(x[i])) / y[i];
    if (std::abs(rel) / scale > options.huber_c) {
      ++fit.downweighted;
    } else {
      ss += rel * rel;
      ++inliers;
    }
  }
  fit.rms_rel_residual = inliers > 0 ? std::sqrt(ss / inliers) : 0.0;
  return fit;
}

double l2_plateau_bytes_per_s(std::span<const BandwidthPoint> points, double top_fraction) {
  if (points.empty()) throw InputError("L2 plateau: no L2-resident points");
  std::vector<double> bw;
  bw.reserve(points.size());
  for (const BandwidthPoint& p : points) bw.push_back(p.bytes / p.time_s);
  std::sort(bw.begin(), bw.end(), std::greater<>());
  const auto wanted = static_cast<std::size_t>(std::ceil(top_fraction * static_cast<double>(bw.size())));
  const std::size_t take = std::min(bw.size(), std::max<std::size_t>(3, wanted));
  return median_of(std::vector<double>(bw.begin(), bw.begin() + static_cast<std::ptrdiff_t>(take)));
}

std::vector<KernelBandwidthFit> fit_bandwidth_rows(const std::vector<ProbeRow>& rows,
                                                   const BandwidthFitOptions& options) {
  // kernel -> level -> working set -> fastest point across grids
  std::map<std::string, std::map<std::string, std::map<std::int64_t, BandwidthPoint>>> best;
  for (const ProbeRow& r : rows) {
    if (r.probe != "bandwidth") continue;
    auto& slot = best[r.kernel][r.level];
    auto it = slot.find(r.working_set_bytes);
    if (it == slot.end() || r.median_s < it->second.time_s) {
      slot[r.working_set_bytes] = BandwidthPoint{r.bytes, r.median_s};
    }
  }
  std::vector<KernelBandwidthFit> out;
  for (const auto& [kernel, levels] : best) {
    KernelBandwidthFit f;
    f.kernel = kernel;
    std::vector<BandwidthPoint> ramp, l2;
    for (const auto& [level, by_ws] : levels) {
      const bool in_ramp = level == "hbm" || (options.include_cold && level == "cold");
      for (const auto& [ws, p] : by_ws) {
        if (in_ramp) ramp.push_back(p);
        if (level == "l2") l2.push_back(p);
      }
    }
    f.hbm_points = static_cast<int>(ramp.size());
    for (const BandwidthPoint& p : ramp) {
      f.min_bytes = f.min_bytes == 0.0 ? p.bytes : std::min(f.min_bytes, p.bytes);
      f.max_bytes = std::max(f.max_bytes, p.bytes);
    }
    f.hbm = fit_bandwidth_ramp(ramp, options.ramp, fmt::format("bandwidth kernel '{}'", kernel));
    f.l2_points = static_cast<int>(l2.size());
    f.has_l2 = !l2.empty();
    if (f.has_l2) f.l2_plateau_bytes_per_s = l2_plateau_bytes_per_s(l2);
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace mlasim
