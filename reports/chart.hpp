#pragma once
/// A small chart model — line charts, stacked areas, rooflines and scatter charts — and its gnuplot form: a
/// whitespace-separated data file (`to_dat`) and a script that renders it to SVG (`to_gnuplot`). Pure
/// functions returning text, so identical charts give byte-identical files; callers write them through
/// OutputSet or run them (gnuplot.hpp).
#include <string>
#include <utility>
#include <vector>

#include "reports/gnuplot.hpp"

namespace mlasim {

/// One axis of a chart.
struct Axis {
  std::string label;  ///< with its unit: "step time (ms)"
  bool log = false;   ///< logarithmic; non-positive values are then written as NaN (no point)
  int log_base = 10;  ///< 2 for contexts, 10 otherwise
  /// Explicit ticks (value, text); empty: gnuplot chooses. Log axes without ticks use SI prefixes (1k, 1M).
  std::vector<std::pair<double, std::string>> ticks;
  std::string format;  ///< gnuplot tick format ("%g"); empty: SI prefixes on log axes, gnuplot's default else
};

/// One line of a LineChart: a y value per x value of the chart.
struct Series {
  std::string title;
  std::vector<double> y;  ///< one per LineChart::x; NaN: no point there
  /// Empty, or one per x: true draws that point hollow (a point whose status is not ok). The line goes on.
  std::vector<bool> flagged;
  bool dashed = false;
  int color = -1;  ///< index into the palette; -1: the series' position in the chart
};

enum class ChartStyle {
  kLines,        ///< one line with markers per series
  kStackedArea,  ///< series stacked bottom-up in order, areas filled (parts of a whole: time by op class)
};

/// A chart whose series share one x vector.
struct LineChart {
  std::string name;  ///< file stem, [A-Za-z0-9_-]: NAME.dat, NAME.gp, NAME.svg
  std::string title;
  Axis x, y;
  std::vector<double> x_values;
  std::vector<Series> series;
  ChartStyle style = ChartStyle::kLines;
  /// A linear y axis starts at 0 (quantities read against zero: throughput); stacked areas always do.
  bool y_from_zero = false;
  /// The key entry that explains hollow markers, when a series has a flagged point.
  std::string hollow_key = "hollow: status not ok";
  std::string key = "outside right top";  ///< gnuplot `set key` arguments: where the key goes
  int font_points =
      11;  ///< text size on the 800×480 canvas; a size other than 11 sets the title 2 points larger
};

/// A roof: memory slope bandwidth·x up to the ridge, then the flat compute peak.
struct Ceiling {
  std::string label;                 ///< "H100 SXM datasheet (bf16)"
  double peak_flops_per_s = 0;       ///< flat roof, FLOP/s
  double bandwidth_bytes_per_s = 0;  ///< slope, bytes/s
  bool dashed = false;               ///< datasheet ceilings are dashed, measured or effective ones solid
  int color = -1;                    ///< index into the ceiling greys; -1: position (share one per GPU)
  /// Arithmetic intensity where the slope meets the roof, FLOP/byte.
  [[nodiscard]] double ridge_flop_per_byte() const { return peak_flops_per_s / bandwidth_bytes_per_s; }
};

/// Points of one kind (one attention variant) on a roofline.
struct RooflineSeries {
  std::string title;
  std::vector<double> intensity_flop_per_byte;  ///< x
  std::vector<double> achieved_flops_per_s;     ///< y, same length
  std::vector<bool> flagged;                    ///< empty or same length: hollow markers
  int color = -1;                               ///< palette index; -1: position
  bool triangles = false;  ///< triangle markers instead of circles (the second of two series of one colour)
};

/// A log-log roofline: x = FLOP/byte, y = FLOP/s (the data file holds FLOP/s; the axis reads TFLOP/s).
struct Roofline {
  std::string name;  ///< file stem
  std::string title;
  std::vector<Ceiling> ceilings;
  std::vector<RooflineSeries> series;
  /// The key entry that explains hollow markers, when a series has a flagged point.
  std::string hollow_key = "hollow: status not ok";
  /// gnuplot `set key` arguments. Under the roof at high intensity the chart is empty: the key fits there.
  std::string key = "inside right bottom opaque";
  int font_points =
      11;  ///< text size on the 800×480 canvas; a size other than 11 sets the title 2 points larger
};

/// One set of markers of a ScatterChart: points anywhere, no line through them.
struct ScatterSeries {
  std::string title;
  std::vector<double> x;   ///< one per point
  std::vector<double> y;   ///< same length; NaN (or non-positive on a log axis): no point
  bool hollow = false;     ///< open markers instead of filled ones (a second model beside the first)
  int color = -1;          ///< palette index; -1: the series' position in the chart
  bool connected = false;  ///< a line through the points in order (a CDF, a curve over a sweep)
  bool markers = true;     ///< markers at the points (off for a connected series of many points: a CDF)
  bool large = false;      ///< a large filled square: the one point a chart is about (the chosen deployment)
};

/// A straight reference line across a ScatterChart: y = value·x (straight on log-log axes too), the
/// horizontal y = value, or the vertical x = value (a latency target on a CDF).
struct ReferenceLine {
  enum class Kind { kProportional, kHorizontal, kVertical };
  Kind kind = Kind::kProportional;
  double value = 1.0;   ///< slope a of y = a·x, or the height of the horizontal line, or the vertical's x
  std::string title;    ///< key entry; empty: none (a second line of a pair shares the first one's entry)
  bool dashed = false;  ///< dashed lines are drawn lighter: bands; solid: the line of no error
};

/// Points of several series with their own x values (predicted versus measured, error versus x) and
/// reference lines. Both ranges are set from the points (and the horizontal lines), padded, so that the
/// reference lines run from border to border.
struct ScatterChart {
  std::string name;  ///< file stem, [A-Za-z0-9_-]: NAME.dat, NAME.gp, NAME.svg
  std::string title;
  Axis x, y;
  std::vector<ReferenceLine> lines;
  std::vector<ScatterSeries> series;
  /// gnuplot `set key` arguments; empty: small, in the top-left corner (a diagonal band leaves it free).
  std::string key;
  /// A linear y axis gets 45% headroom on top for the key; off when the key goes elsewhere.
  bool y_headroom = true;
};

/// The data file: `#` header lines naming the chart and its columns, then one row per x value (x, then each
/// series' y and, when it has flags, a 0/1 column). Numbers {:.6g}; missing values NaN.
[[nodiscard]] std::string to_dat(const LineChart& chart);

/// The gnuplot script that reads `data_file_name` and writes NAME.svg (800×480, white background) in the
/// current directory. Text from the chart is quoted so that gnuplot takes it literally. A log x axis spans
/// the x values and the explicit ticks, with a little room beyond, so that end markers and tick labels are
/// not cut by the frame.
[[nodiscard]] std::string to_gnuplot(const LineChart& chart, const std::string& data_file_name);

/// Roofline data: one block per ceiling (three points: the slope's start, the ridge, the roof's end), then
/// one block per series (intensity, FLOP/s, flag); blocks separated by two blank lines (gnuplot `index`).
[[nodiscard]] std::string to_dat(const Roofline& roofline);

/// The roofline's script: log-log, ceilings dashed or solid, each ridge marked and labelled; y ticks at the
/// decades, written as plain numbers of TFLOP/s (no SI suffix).
[[nodiscard]] std::string to_gnuplot(const Roofline& roofline, const std::string& data_file_name);

/// Scatter data: one block per reference line (its two ends at the x range's ends), then one block per
/// series (x, y); blocks separated by two blank lines (gnuplot `index`), numbers {:.6g}, NaN for no point.
[[nodiscard]] std::string to_dat(const ScatterChart& chart);

/// The scatter chart's script: ranges set, reference lines grey (dashed ones lighter), series as markers
/// (filled, or open when hollow) in their palette colour.
[[nodiscard]] std::string to_gnuplot(const ScatterChart& chart, const std::string& data_file_name);

/// True when the chart has at least one point gnuplot can draw (finite, and positive on a log axis):
/// gnuplot refuses a plot whose every point is undefined.
[[nodiscard]] bool has_drawable_points(const LineChart& chart);
[[nodiscard]] bool has_drawable_points(const Roofline& roofline);
[[nodiscard]] bool has_drawable_points(const ScatterChart& chart);

/// True when the positive finite values span more than `ratio` (max / min): a log axis reads them better.
[[nodiscard]] bool wide_range(const std::vector<double>& values, double ratio = 50.0);

/// The fixed palette series colours come from (Tableau 10), as "#rrggbb".
[[nodiscard]] const std::vector<std::string>& chart_palette();

/// The job that renders `chart` (any of the kinds above) to NAME.svg from NAME.dat and NAME.gp.
template <class Chart>
[[nodiscard]] GnuplotJob gnuplot_job(const Chart& chart) {
  return {chart.name + ".gp",
          to_gnuplot(chart, chart.name + ".dat"),
          {{chart.name + ".dat", to_dat(chart)}},
          chart.name + ".svg"};
}

}  // namespace mlasim
