#pragma once
/// Renders gnuplot scripts to SVG text by running gnuplot as a child process in a private temporary
/// directory. Nothing is written outside that directory, so callers can still commit every output at once
/// (OutputSet).
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mlasim {

/// One script to run: the files it reads, and the SVG it writes, all named relative to its directory.
struct GnuplotJob {
  std::string script_name;                                  ///< "step_time.gp", named in errors
  std::string script;                                       ///< its text
  std::vector<std::pair<std::string, std::string>> inputs;  ///< (file name, text) the script reads
  std::string output_name;                                  ///< "step_time.svg", written by the script
};

/// The gnuplot to run: $MLASIM_GNUPLOT when set (the value `none` turns charts off), else the first
/// executable `gnuplot` on $PATH. nullopt when there is none. Throws InputError when MLASIM_GNUPLOT names a
/// path that is not an executable file: the user asked for that one.
[[nodiscard]] std::optional<std::filesystem::path> find_gnuplot();

/// Renders each job with gnuplot and returns the SVG texts in job order. Jobs are rendered in at most
/// `processes` gnuplot processes run at once (each loads its jobs' scripts one after another, with `reset
/// session` between them, so a script renders as it would in a gnuplot of its own); a job identical to an
/// earlier one (same script, data and output name) is rendered once. Each process has its cwd in a fresh
/// temporary directory (one subdirectory per job), stdin /dev/null, HOME there too so that no ~/.gnuplot
/// changes the look, LC_ALL=C; the directory is removed afterwards. Throws InternalError naming the script
/// and quoting gnuplot's stderr when one fails or writes no SVG.
[[nodiscard]] std::vector<std::string> run_gnuplot(const std::filesystem::path& gnuplot,
                                                   const std::vector<GnuplotJob>& jobs, int processes = 1);

/// Charts rendered for a page, or why not.
struct ChartRendering {
  std::vector<std::string> svgs;  ///< one per job, in order; all empty when not rendered
  std::string note;               ///< empty when rendered; else one line for the page and stderr
};

/// Renders `jobs` (run_gnuplot, in up to `processes` gnuplots) when `charts` is set and there is a gnuplot;
/// otherwise the SVGs stay empty and the note says why: "--no-charts", MLASIM_GNUPLOT=none, or gnuplot not
/// found (with what to do).
[[nodiscard]] ChartRendering render_charts(const std::vector<GnuplotJob>& jobs, bool charts,
                                           int processes = 1);

/// Adds each job's data and script as charts/NAME.dat and charts/NAME.gp to `files` (what a report writes
/// beside its page, so that a chart can be redrawn or restyled by hand).
void append_chart_files(std::vector<std::pair<std::string, std::string>>& files,
                        const std::vector<GnuplotJob>& jobs);

}  // namespace mlasim
