#include "sim/device/measured_tables.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/probes/probe_plan.hpp"
#include "sim/error.hpp"

namespace mlasim {

double KernelRamp::time_s(double bytes, double flops) const {
  const double memory = bytes / bytes_per_s;
  const double compute = flops_per_s > 0.0 ? flops / flops_per_s : 0.0;
  return t0_s + std::max(memory, compute);
}

// ---------------------------------------------------------------- GEMM

GemmEfficiencyTable::GemmEfficiencyTable(GemmShapeKey key, std::vector<GemmPoint> points, std::string label)
    : key_(std::move(key)), points_(std::move(points)), label_(std::move(label)) {
  const std::string what =
      fmt::format("GEMM table {} n={} k={} batch={}", key_.kernel, key_.n, key_.k, key_.batch);
  if (points_.empty()) throw InputError(what + ": no points");
  if (key_.n < 1 || key_.k < 1 || key_.batch < 1) throw InputError(what + ": n, k and batch must be >= 1");
  std::sort(points_.begin(), points_.end(), [](const GemmPoint& a, const GemmPoint& b) { return a.m < b.m; });
  for (std::size_t i = 0; i < points_.size(); ++i) {
    if (points_[i].m < 1 || !(points_[i].tflops > 0.0) || !std::isfinite(points_[i].tflops)) {
      throw InputError(fmt::format("{}: point m={} has rate {:g} TFLOP/s; need m >= 1 and a positive rate",
                                   what, points_[i].m, points_[i].tflops));
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
  const double flops =
      2.0 * m * static_cast<double>(key_.n) * static_cast<double>(key_.k) * static_cast<double>(key_.batch);
  return flops / (rate_at(m).tflop_per_s * 1e12);
}

double GemmEfficiencyTable::flops_at(double m) const {
  return 2.0 * m * static_cast<double>(key_.n) * static_cast<double>(key_.k) *
         static_cast<double>(key_.batch);
}

double GemmEfficiencyTable::bytes_at(double m) const {
  gpu::GemmShape shape{label_, key_.n, key_.k, key_.batch};
  const double in = key_.dtype.rfind("fp8", 0) == 0 ? 1.0 : 2.0;
  // probe_plan's gemm_bytes takes an integral m; the counting is linear in m, so interpolate between floor
  // and ceil to accept fractional m (a mixture of experts' tokens per expert).
  const auto lo = static_cast<std::int64_t>(std::floor(m));
  const double f = m - static_cast<double>(lo);
  const double b_lo = gpu::gemm_bytes(lo, shape, in, 2.0);
  return f == 0.0 ? b_lo : b_lo + f * (gpu::gemm_bytes(lo + 1, shape, in, 2.0) - b_lo);
}

Residual GemmEfficiencyTable::residual_at(double m, const GemmRoofline& roof) const {
  if (!(m >= 1.0) || !std::isfinite(m))
    throw InputError(fmt::format("GEMM lookup needs m >= 1 (got {:g})", m));
  const auto residual = [&](const GemmPoint& p) {
    const double mm = static_cast<double>(p.m);
    const double measured = flops_at(mm) / (p.tflops * 1e12);
    return measured / roof.time_s(flops_at(mm), bytes_at(mm));
  };
  if (m <= static_cast<double>(points_.front().m)) {
    return {residual(points_.front()),
            m == static_cast<double>(points_.front().m) ? Provenance::kMeasured : Provenance::kExtrapolated};
  }
  if (m >= static_cast<double>(points_.back().m)) {
    return {residual(points_.back()),
            m == static_cast<double>(points_.back().m) ? Provenance::kMeasured : Provenance::kExtrapolated};
  }
  const auto hi = std::lower_bound(points_.begin(), points_.end(), m,
                                   [](const GemmPoint& p, double v) { return static_cast<double>(p.m) < v; });
  if (static_cast<double>(hi->m) == m) return {residual(*hi), Provenance::kMeasured};
  const auto lo = hi - 1;
  const double f = (std::log(m) - std::log(static_cast<double>(lo->m))) /
                   (std::log(static_cast<double>(hi->m)) - std::log(static_cast<double>(lo->m)));
  return {std::exp(std::log(residual(*lo)) + f * (std::log(residual(*hi)) - std::log(residual(*lo)))),
          Provenance::kInterpolated};
}

GemmTableMatch nearest_gemm_table(const std::vector<GemmEfficiencyTable>& tables, std::string_view dtype,
                                  double n, double k, double batch) {
  GemmTableMatch best;
  double best_distance = std::numeric_limits<double>::infinity();
  const auto log_ratio = [](double a, double b) { return std::log(std::max(a, 1.0) / std::max(b, 1.0)); };
  for (const GemmEfficiencyTable& t : tables) {
    // "fp8_e4m3" answers "fp8": the dtype's family is what sets the tensor-core rate.
    if (t.key().dtype.rfind(dtype, 0) != 0) continue;
    const double dn = log_ratio(n, double(t.key().n));
    const double dk = log_ratio(k, double(t.key().k));
    const double db = log_ratio(batch, double(t.key().batch));
    const double distance = dn * dn + dk * dk + db * db;
    if (distance < best_distance) {
      best_distance = distance;
      best.table = &t;
      best.exact = distance == 0.0;
    }
  }
  return best;
}

// ---------------------------------------------------------------- attention kernels

std::string_view to_string(AttentionKernel k) {
  return k == AttentionKernel::kMla ? "mla" : "gqa";
}

AttentionKernel parse_attention_kernel(std::string_view text) {
  if (text == "mla") return AttentionKernel::kMla;
  if (text == "gqa") return AttentionKernel::kGqa;
  throw InputError(fmt::format("unknown attention kernel `{}`; valid: mla, gqa", text));
}

// ---------------------------------------------------------------- LogGrid

LogGrid::LogGrid(std::vector<std::vector<double>> axes, std::vector<double> values) : axes_(std::move(axes)) {
  std::size_t size = 1;
  strides_.assign(axes_.size(), 1);
  for (std::size_t a = axes_.size(); a-- > 0;) {
    const std::vector<double>& axis = axes_[a];
    if (axis.empty()) throw InputError("interpolation grid: an axis is empty");
    for (std::size_t i = 0; i < axis.size(); ++i) {
      if (!(axis[i] > 0.0) || !std::isfinite(axis[i]) || (i > 0 && !(axis[i] > axis[i - 1]))) {
        throw InputError("interpolation grid: axis values must be positive and strictly ascending");
      }
    }
    strides_[a] = size;
    size *= axis.size();
  }
  if (values.size() != size) {
    throw InputError(fmt::format("interpolation grid: {} values for a grid of {}", values.size(), size));
  }
  log_values_.reserve(size);
  for (const double v : values) {
    if (std::isnan(v)) {
      log_values_.push_back(std::numeric_limits<double>::quiet_NaN());
    } else if (v > 0.0 && std::isfinite(v)) {
      log_values_.push_back(std::log(v));
    } else {
      throw InputError(fmt::format("interpolation grid: value {:g} is not positive", v));
    }
  }
  measured_.resize(log_values_.size());
  for (std::size_t i = 0; i < log_values_.size(); ++i) measured_[i] = !std::isnan(log_values_[i]);
  fill_holes();
}

void LogGrid::fill_holes() {
  // Pass over the axes (last first) until nothing changes: each missing node between two known nodes of a
  // line along an axis gets their log-linear interpolation.
  bool changed = true;
  while (changed) {
    changed = false;
    for (std::size_t a = axes_.size(); a-- > 0;) {
      const std::size_t n = axes_[a].size();
      const std::size_t stride = strides_[a];
      for (std::size_t start = 0; start < log_values_.size(); ++start) {
        if ((start / stride) % n != 0) continue;  // visit each line along axis a once, from its first node
        for (std::size_t i = 1; i + 1 < n; ++i) {
          const std::size_t at = start + i * stride;
          if (!std::isnan(log_values_[at])) continue;
          std::size_t lo = i, hi = i;
          while (lo > 0 && std::isnan(log_values_[start + lo * stride])) --lo;
          while (hi + 1 < n && std::isnan(log_values_[start + hi * stride])) ++hi;
          const double vlo = log_values_[start + lo * stride], vhi = log_values_[start + hi * stride];
          if (std::isnan(vlo) || std::isnan(vhi)) continue;
          const double f = (std::log(axes_[a][i]) - std::log(axes_[a][lo])) /
                           (std::log(axes_[a][hi]) - std::log(axes_[a][lo]));
          log_values_[at] = vlo + f * (vhi - vlo);
          changed = true;
        }
      }
    }
  }
}

LogGrid::Lookup LogGrid::at(std::span<const double> x) const {
  Lookup out;
  if (x.size() != axes_.size()) throw InputError("interpolation grid: wrong number of coordinates");
  // Per axis: the lower node index and the weight of the upper node (log-linear position).
  std::vector<std::size_t> lo(axes_.size());
  std::vector<double> w(axes_.size());
  bool on_node = true;
  for (std::size_t a = 0; a < axes_.size(); ++a) {
    const std::vector<double>& axis = axes_[a];
    const double v = x[a];
    if (!(v >= axis.front() * (1 - 1e-12)) || !(v <= axis.back() * (1 + 1e-12))) return out;
    const auto hi = std::lower_bound(axis.begin(), axis.end(), v * (1 - 1e-12));
    const std::size_t h = static_cast<std::size_t>(hi - axis.begin());
    if (h < axis.size() && std::abs(axis[h] - v) <= 1e-12 * v) {
      lo[a] = h;
      w[a] = 0.0;
      continue;
    }
    on_node = false;
    lo[a] = h - 1;
    w[a] = (std::log(v) - std::log(axis[h - 1])) / (std::log(axis[h]) - std::log(axis[h - 1]));
  }
  double acc = 0.0;
  const std::size_t corners = std::size_t{1} << axes_.size();
  for (std::size_t c = 0; c < corners; ++c) {
    double weight = 1.0;
    std::size_t index = 0;
    for (std::size_t a = 0; a < axes_.size(); ++a) {
      const bool upper = ((c >> a) & 1U) != 0;
      if (upper && w[a] == 0.0) {
        weight = 0.0;
        break;
      }
      weight *= upper ? w[a] : 1.0 - w[a];
      index += (lo[a] + (upper ? 1 : 0)) * strides_[a];
    }
    if (weight == 0.0) continue;
    const double lv = log_values_[index];
    if (std::isnan(lv)) return out;  // a corner was not measured
    acc += weight * lv;
  }
  out.found = true;
  out.value = std::exp(acc);
  if (on_node) {
    std::size_t index = 0;
    for (std::size_t a = 0; a < axes_.size(); ++a) index += lo[a] * strides_[a];
    out.on_node = measured_[index];
  }
  return out;
}

std::vector<double> LogGrid::clamp(std::span<const double> x) const {
  std::vector<double> out(x.begin(), x.end());
  for (std::size_t a = 0; a < axes_.size(); ++a)
    out[a] = std::clamp(out[a], axes_[a].front(), axes_[a].back());
  return out;
}

LogGrid::Node LogGrid::nearest_node(std::span<const double> x) const {
  Node best;
  double best_distance = std::numeric_limits<double>::infinity();
  std::vector<std::size_t> idx(axes_.size(), 0);
  for (std::size_t flat = 0; flat < log_values_.size(); ++flat) {
    std::size_t rest = flat;
    double distance = 0.0;
    for (std::size_t a = 0; a < axes_.size(); ++a) {
      idx[a] = rest / strides_[a];
      rest %= strides_[a];
      const double d = std::log(axes_[a][idx[a]]) - std::log(x[a]);
      distance += d * d;
    }
    if (!measured_[flat] || !(distance < best_distance)) continue;
    best_distance = distance;
    best.found = true;
    best.value = std::exp(log_values_[flat]);
    best.x.resize(axes_.size());
    for (std::size_t a = 0; a < axes_.size(); ++a) best.x[a] = axes_[a][idx[a]];
  }
  return best;
}

}  // namespace mlasim
