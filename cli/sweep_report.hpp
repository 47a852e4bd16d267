#pragma once
// The sweep's HTML report and charts (DESIGN.md §10): which charts a sweep table gets, drawn from its
// columns. The generic pieces (chart model, gnuplot runner, HTML page) live in reports/; this file knows the
// sweep's column names.
#include <string>
#include <utility>
#include <vector>

#include "sim/sweep/sweep.hpp"
#include "sim/table.hpp"

namespace mlasim::cli {

/// What the report adds to the sweep's outputs.
struct SweepReport {
  /// (file name relative to the output directory, content): report.html, charts/NAME.dat, charts/NAME.gp.
  std::vector<std::pair<std::string, std::string>> files;
  /// Empty when the charts were drawn; else why not, one line for stderr (also on the page).
  std::string note;
};

/// Builds report.html and, when `charts` is true, every chart's data file and gnuplot script, rendering them
/// through gnuplot when there is one (reports/gnuplot.hpp). `summary_markdown` is summary.md, shown as
/// tables. Writes nothing: the caller commits the files with the rest. Throws InternalError when gnuplot
/// fails on a script.
[[nodiscard]] SweepReport build_sweep_report(const SweepSpec& spec, const Table& table,
                                             const std::string& summary_markdown, bool charts);

}  // namespace mlasim::cli
