#include "sim/calibration/gemm_fit.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace mlasim {

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
                         fmt::format("GEMM {} n={} k={} batch={} m={} was already measured at {}", r.kernel,
                                     r.n, r.k, r.batch, r.m, fam.sources[i]->where.to_string()));
      }
    }
    fam.points.push_back(
        GemmPoint{r.m, r.tflops > 0.0 ? r.tflops : r.flops / r.median_s * 1e-12, r.median_s});
    fam.sources.push_back(&r);
    if (std::find(fam.labels.begin(), fam.labels.end(), r.shape) == fam.labels.end())
      fam.labels.push_back(r.shape);
  }
  std::vector<GemmEfficiencyTable> out;
  out.reserve(families.size());
  for (auto& [key, fam] : families) {
    out.emplace_back(key, std::move(fam.points), fmt::format("{}", fmt::join(fam.labels, "|")));
  }
  return out;
}

}  // namespace mlasim
