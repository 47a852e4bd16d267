#pragma once
/// Where a predicted number comes from (DESIGN.md §6); reports show it. Shared by the device model and the
/// calibration lookups, so both speak of the same four kinds.
#include <string_view>

namespace mlasim {

enum class Provenance { kAnalytic, kMeasured, kInterpolated, kExtrapolated };

/// Every provenance, in report order.
inline constexpr Provenance kProvenances[] = {Provenance::kMeasured, Provenance::kInterpolated,
                                              Provenance::kExtrapolated, Provenance::kAnalytic};

[[nodiscard]] constexpr std::string_view to_string(Provenance p) {
  switch (p) {
    case Provenance::kAnalytic:
      return "analytic";
    case Provenance::kMeasured:
      return "measured";
    case Provenance::kInterpolated:
      return "interpolated";
    case Provenance::kExtrapolated:
      return "extrapolated";
  }
  return "?";
}

}  // namespace mlasim
