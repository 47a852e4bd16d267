#pragma once
/// The report of `mlasim validate` (DESIGN.md §9, §10): the held-out points of a measurement run, predicted
/// by the calibrated and by the datasheet model side by side. Renders a ValidationReport as validate.csv (one
/// row per point), validate.json, validate.md (a headline table per family, then the notes), charts
/// (predicted versus measured, error versus x) and a self-contained validate.html. Pure rendering: same
/// report, same bytes; the caller writes the files through OutputSet.
#include <string>
#include <utility>
#include <vector>

#include "reports/chart.hpp"
#include "sim/calibration/validate.hpp"
#include "sim/output.hpp"
#include "sim/table.hpp"

namespace mlasim {

/// A family whose calibrated MAPE is above this fraction gets a line saying so in validate.md.
inline constexpr double kValidateFlagMape = 0.10;

/// One row per held-out point, in the report's order: family, point, x_label, x, measured_s, calibrated_s,
/// calibrated_error, calibrated_provenance, datasheet_s, datasheet_error (errors as fractions, predicted /
/// measured − 1), source (file:line of the measured row).
[[nodiscard]] Table validation_points_table(const ValidationReport& report);

/// validate.csv: validation_points_table as CSV.
[[nodiscard]] std::string validation_csv(const ValidationReport& report);

/// validate.json: {inputs, worst_calibrated_mape, families (points, calibrated and datasheet ErrorStats),
/// points, notes}. Numbers in base SI units (seconds, tokens, bytes; errors as fractions), booleans as JSON
/// booleans, NaN as null.
[[nodiscard]] std::string validation_json(const ValidationReport& report);

/// The headline table, one row per family: points, then calibrated and datasheet MAPE, p95, worst (signed)
/// and the point of the worst, as percents with one decimal. A Markdown pipe table; `mlasim validate` prints
/// it.
[[nodiscard]] std::string validation_family_table(const ValidationReport& report);

/// The families whose calibrated MAPE is above `max_mape` (a fraction), in the report's order.
[[nodiscard]] std::vector<std::string> families_above(const ValidationReport& report, double max_mape);

/// validate.md: what was held out, the headline table, a line per family above kValidateFlagMape, the notes.
[[nodiscard]] std::string validation_markdown(const ValidationReport& report);

/// The report's charts: predicted versus measured (log-log, µs; per family calibrated filled and datasheet
/// hollow in the family's colour; y = x and the ±10% band), and one error-versus-x chart per kind of x
/// (context, m, bytes; error in percent, zero and ±10% lines). Charts with no point are left out.
[[nodiscard]] std::vector<ScatterChart> validation_charts(const ValidationReport& report);

/// Everything validate writes, rendered.
struct ValidateReportFiles {
  /// (file name relative to the output folder, content): validate.csv, validate.json, validate.md,
  /// validate.html, then charts/NAME.dat and charts/NAME.gp per chart when charts were asked for.
  std::vector<std::pair<std::string, std::string>> files;
  /// Empty when the charts were drawn; else why not, one line (also on the page).
  std::string note;
};

/// Renders every file. With `charts`, each chart's data and script, rendered to SVG by one run_gnuplot call
/// when there is a gnuplot (reports/gnuplot.hpp) and embedded in validate.html; without gnuplot the page says
/// so and keeps its tables. Throws InternalError when gnuplot fails on a script.
[[nodiscard]] ValidateReportFiles build_validate_report(const ValidationReport& report, bool charts);

/// build_validate_report, its files added to `outputs` (nothing is written until the caller commits).
/// Returns the note.
std::string add_validate_report(OutputSet& outputs, const ValidationReport& report, bool charts);

}  // namespace mlasim
