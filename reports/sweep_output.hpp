#pragma once
/// A sweep's outputs written as its points come (issue 12): sweep.csv and sweep.json row by row into the
/// output set's streamed temporaries, and summary.md, report.html and the charts at the end from the points
/// of a bounded sub-grid, so that memory does not grow with the number of points. A sweep of up to
/// kMaxReportedPoints points is reported whole, byte for byte what build_sweep_report writes; a larger one's
/// headline, tables and charts cover a sub-grid of at most that many points (sweep_report_grid), and its
/// summary and page say which, while sweep.csv and sweep.json keep every point.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "reports/json_output.hpp"
#include "reports/sweep_report.hpp"
#include "sim/output.hpp"
#include "sim/sweep/sweep.hpp"

namespace mlasim {

/// The most points a sweep's summary.md and report.html tabulate and chart. A report of 20,000 points is a
/// 41 MB page and a 1 MB summary.md of pivots longer than anyone reads, and its tables take about 100 MB
/// while they are rendered; bench/sweep_10k.yaml's 10,000 points are still reported whole.
inline constexpr std::size_t kMaxReportedPoints = 10'000;

/// The axes of a sweep's grid, in grid order (the last varies fastest).
enum class SweepAxis : std::uint8_t { kModel, kVariant, kHardware, kTp, kDp, kBatch, kContext, kSq };
inline constexpr std::size_t kSweepAxes = 8;

/// The part of a sweep that its report covers.
struct SweepReportGrid {
  SweepSpec spec;  ///< the sub-grid as a sweep of its own: each axis's kept values, in the spec's order
  /// Per axis (SweepAxis order): the positions in the whole spec's list that the sub-grid keeps, increasing.
  std::array<std::vector<std::uint32_t>, kSweepAxes> kept;
  bool whole = true;  ///< the sub-grid is the whole grid
  /// Empty when whole; else which values of which axes are kept, for a reader: "context: 12 of the 2,500
  /// values, 512 to 80,448 tokens; batch: 1, 16 and 512 of the 10 counts, and max".
  std::string description;
};

/// The sub-grid a report of `spec` covers: the whole grid when it has at most `max_points` points; else
/// the context, batch and s_q axes thinned first (each time the one with the most values halved, keeping
/// its smallest and largest values and others evenly spaced between them, a batch `max` always kept), down to
/// two values each, then the GPU, TP, model, variant and DP-attention lists cut to their first entries
/// (halved, the longest first), and last the inner axes down to one value, until it has at most `max_points`
/// points. Deterministic: depends on the spec's lists only.
[[nodiscard]] SweepReportGrid sweep_report_grid(const SweepSpec& spec,
                                                std::size_t max_points = kMaxReportedPoints);

/// Whether `point`'s grid positions are those of grid point `index` of `spec`.
[[nodiscard]] bool is_grid_point(const SweepSpec& spec, const SweepPoint& point, std::size_t index);

/// Writes a sweep's outputs into `outputs` as its points come: create it, add() the points in grid order
/// (any number at a time), then finish(). sweep.csv and sweep.json are streamed (OutputSet::stream); the
/// points of the report's sub-grid are kept, at most kMaxReportedPoints of them. The files are renamed into
/// place by the caller's outputs.commit(); destroying the set without a commit leaves nothing behind.
class SweepOutputWriter {
 public:
  /// `spec` and `outputs` must outlive the writer. `jobs` threads render the rows (the bytes do not depend
  /// on it).
  SweepOutputWriter(const SweepSpec& spec, OutputSet& outputs, int jobs = 1);
  /// The next points of the grid, in grid order: the first add()'s first point is grid point 0. Throws
  /// InternalError when a point is not the one expected there, or past the grid's end.
  void add(const std::vector<SweepPoint>& points);
  /// Points added so far.
  [[nodiscard]] std::size_t points() const { return next_; }
  /// After the last point: ends sweep.csv and sweep.json, renders summary.md, report.html and (with
  /// `charts`) the charts of the sub-grid, and adds them to `outputs`. Returns the summary and the note
  /// (SweepReport::files is empty: they are in `outputs`). InternalError when points are missing.
  SweepReport finish(bool charts, int chart_processes);

 private:
  const SweepSpec& spec_;
  OutputSet& outputs_;
  int jobs_;
  OutputStream& csv_;
  OutputStream& json_;
  JsonArrayWriter json_rows_;
  JsonRowText json_row_;
  SweepReportGrid grid_;
  /// Per axis, the position in the sub-grid of each position of the whole spec's list; -1: not kept.
  std::array<std::vector<std::int64_t>, kSweepAxes> sub_position_;
  std::vector<SweepPoint> kept_;        ///< the sub-grid's points, in its grid order, positions renumbered
  std::vector<std::size_t> by_status_;  ///< points per PointStatus
  std::size_t next_ = 0;                ///< grid index of the next point
  std::size_t total_ = 0;               ///< sweep_size(spec)
};

}  // namespace mlasim
