#include "reports/chart.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

namespace mlasim {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Darker greys first: ceilings should read as frames, not as data.
const std::vector<std::string>& ceiling_greys() {
  static const std::vector<std::string> greys{"#222222", "#777777", "#aaaaaa"};
  return greys;
}

std::string color_of(int color, std::size_t position) {
  const auto& p = chart_palette();
  const std::size_t i = color >= 0 ? static_cast<std::size_t>(color) : position;
  return p[i % p.size()];
}

// Fixed precision keeps data files short and byte-identical; NaN marks "no point" for gnuplot.
std::string number(double v) {
  if (!std::isfinite(v)) return "NaN";
  return fmt::format("{:.6g}", v);
}

double on_axis(double v, const Axis& axis) {
  return axis.log && !(v > 0.0) ? kNaN : v;
}

bool drawable(double v, bool log) {
  return std::isfinite(v) && (!log || v > 0.0);
}

// One line of text, safe inside a `#` comment.
std::string one_line(const std::string& s) {
  std::string out = s;
  std::replace(out.begin(), out.end(), '\n', ' ');
  std::replace(out.begin(), out.end(), '\r', ' ');
  return out;
}

// A gnuplot single-quoted string: no escapes are processed inside, '' stands for one quote. With the terminal
// in `noenhanced` mode, _ ^ { } @ & stay literal too, so model and variant names print as written.
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : one_line(s)) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

bool any_flag(const std::vector<bool>& flags) {
  return std::any_of(flags.begin(), flags.end(), [](bool f) { return f; });
}

// The default text size of the SVG terminal, in points; titles are set larger only when a chart asks for
// larger text.
constexpr int kDefaultFontPoints = 11;

std::string preamble(const std::string& name, const std::string& title, const std::string& data_file_name,
                     const std::string& key = "outside right top", int font_points = kDefaultFontPoints) {
  const std::string title_font =
      font_points == kDefaultFontPoints ? "" : fmt::format(" font ',{}'", font_points + 2);
  return fmt::format(
      "# {0}: {1}\n"
      "# Written by mlasim. `gnuplot {0}.gp` in this folder reads {2} and writes {0}.svg.\n"
      "set terminal svg size 800,480 dynamic noenhanced font 'sans,{6}' background '#ffffff'\n"
      "set output {3}\n"
      "set encoding utf8\n"
      "set title {4}{7}\n"
      "set grid\n"
      "set key {5}\n",
      name, one_line(title), one_line(data_file_name), quoted(name + ".svg"), quoted(title), key, font_points,
      title_font);
}

std::string axis_commands(const Axis& axis, char letter) {
  std::string out = fmt::format("set {}label {}\n", letter, quoted(axis.label));
  if (axis.log) out += fmt::format("set logscale {} {}\n", letter, axis.log_base);
  if (!axis.ticks.empty()) {
    std::vector<std::string> ticks;
    for (const auto& [value, text] : axis.ticks)
      ticks.push_back(fmt::format("{} {}", quoted(text), number(value)));
    out += fmt::format("set {}tics ({})\n", letter, fmt::join(ticks, ", "));
  }
  if (!axis.format.empty()) {
    out += fmt::format("set format {} {}\n", letter, quoted(axis.format));
  } else if (axis.log && axis.ticks.empty()) {
    // SI prefixes (1k, 10M, 1P) read better than gnuplot's 1x10^6 without enhanced text.
    out += fmt::format("set format {} '%.0s%c'\n", letter);
  }
  return out;
}

// On a log x axis gnuplot drops a tick that falls exactly on the autoscaled end: widen the range a little.
// The range spans the x values and the explicit ticks, so that charts that share ticks share their range.
std::string x_range(const LineChart& chart) {
  double lo = std::numeric_limits<double>::infinity(), hi = 0.0;
  auto take = [&](double x) {
    if (!drawable(x, chart.x.log)) return;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  };
  for (const double x : chart.x_values) take(x);
  for (const auto& tick : chart.x.ticks) take(tick.first);
  if (!chart.x.log || !(hi > 0.0)) return "";
  const double pad = std::pow(static_cast<double>(chart.x.log_base), 0.15);
  return fmt::format("set xrange [{}:{}]\n", number(lo / pad), number(hi * pad));
}

// A key entry (and nothing drawn) that says what hollow markers mean.
std::string hollow_key(const std::string& text) {
  return "NaN with points pt 6 ps 0.9 lc rgb '#444444' title " + quoted(text);
}

// Ranges of a roofline: powers of ten around every point, ridge and roof, so the chart frames all of them.
struct RooflineRange {
  double x_min = 0.1, x_max = 1e3, y_min = 1e9, y_max = 1e16;
};

double decade_below(double v) {
  return std::pow(10.0, std::floor(std::log10(v)));
}
double decade_above(double v) {
  return std::pow(10.0, std::ceil(std::log10(v)));
}

RooflineRange roofline_range(const Roofline& r) {
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = 0.0;
  double y_lo = std::numeric_limits<double>::infinity(), y_hi = 0.0;
  auto take = [&](double x, double y) {
    if (!drawable(x, true) || !drawable(y, true)) return;
    x_lo = std::min(x_lo, x);
    x_hi = std::max(x_hi, x);
    y_lo = std::min(y_lo, y);
    y_hi = std::max(y_hi, y);
  };
  for (const Ceiling& c : r.ceilings) take(c.ridge_flop_per_byte(), c.peak_flops_per_s);
  for (const RooflineSeries& s : r.series) {
    for (std::size_t i = 0; i < s.intensity_flop_per_byte.size() && i < s.achieved_flops_per_s.size(); ++i) {
      take(s.intensity_flop_per_byte[i], s.achieved_flops_per_s[i]);
    }
  }
  RooflineRange out;
  if (x_hi <= 0.0) return out;
  out.x_min = decade_below(x_lo / 2);
  out.x_max = decade_above(x_hi * 4);
  out.y_min = decade_below(y_lo / 2);
  out.y_max = decade_above(y_hi * 2);
  return out;
}

// A scatter chart's ranges: the drawable points' extent (and, on y, the reference lines' ends), padded by
// 10^0.1 on a log axis and by 5% of the span on a linear one.
struct ScatterRange {
  double x_lo = 0, x_hi = 0, y_lo = 0, y_hi = 0;
};

std::pair<double, double> padded(double lo, double hi, const Axis& axis) {
  if (!(hi >= lo)) return axis.log ? std::pair{1.0, 10.0} : std::pair{0.0, 1.0};
  if (axis.log) {
    const double pad = std::pow(10.0, 0.1);
    return {lo / pad, hi * pad};
  }
  double span = hi - lo;
  if (!(span > 0.0)) span = std::max(std::abs(lo), 1.0);
  return {lo - 0.05 * span, hi + 0.05 * span};
}

double line_y(const ReferenceLine& line, double x) {
  return line.kind == ReferenceLine::Kind::kProportional ? line.value * x : line.value;
}

bool point_drawable(const ScatterChart& c, const ScatterSeries& s, std::size_t i) {
  return i < s.y.size() && drawable(s.x[i], c.x.log) && drawable(s.y[i], c.y.log);
}

ScatterRange scatter_range(const ScatterChart& c) {
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
  double y_lo = x_lo, y_hi = -x_lo;
  for (const ScatterSeries& s : c.series) {
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!point_drawable(c, s, i)) continue;
      x_lo = std::min(x_lo, s.x[i]);
      x_hi = std::max(x_hi, s.x[i]);
      y_lo = std::min(y_lo, s.y[i]);
      y_hi = std::max(y_hi, s.y[i]);
    }
  }
  for (const ReferenceLine& line : c.lines) {
    if (line.kind != ReferenceLine::Kind::kVertical || !drawable(line.value, c.x.log)) continue;
    x_lo = std::min(x_lo, line.value);
    x_hi = std::max(x_hi, line.value);
  }
  ScatterRange r;
  std::tie(r.x_lo, r.x_hi) = padded(x_lo, x_hi, c.x);
  for (const ReferenceLine& line : c.lines) {
    if (line.kind == ReferenceLine::Kind::kVertical) continue;
    for (const double x : {r.x_lo, r.x_hi}) {
      const double y = line_y(line, x);
      if (!drawable(y, c.y.log)) continue;
      y_lo = std::min(y_lo, y);
      y_hi = std::max(y_hi, y);
    }
  }
  std::tie(r.y_lo, r.y_hi) = padded(y_lo, y_hi, c.y);
  // The key sits in the top-left corner: a log-log diagonal leaves it empty, a linear y axis gets headroom.
  if (!c.y.log && c.y_headroom) r.y_hi += 0.45 * (r.y_hi - r.y_lo);
  return r;
}

std::string describe(const ReferenceLine& line) {
  switch (line.kind) {
    case ReferenceLine::Kind::kProportional:
      return fmt::format("y = {} * x", number(line.value));
    case ReferenceLine::Kind::kHorizontal:
      return fmt::format("y = {}", number(line.value));
    case ReferenceLine::Kind::kVertical:
      return fmt::format("x = {}", number(line.value));
  }
  return "?";
}

}  // namespace

bool wide_range(const std::vector<double>& values, double ratio) {
  double lo = std::numeric_limits<double>::infinity(), hi = 0.0;
  for (const double v : values) {
    if (!(v > 0.0) || !std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  return hi > ratio * lo;
}

const std::vector<std::string>& chart_palette() {
  static const std::vector<std::string> palette{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return palette;
}

std::string to_dat(const LineChart& chart) {
  std::string out =
      fmt::format("# {}\n# columns:\n#   1: {}\n", one_line(chart.title), one_line(chart.x.label));
  int column = 2;
  for (const Series& s : chart.series) {
    out += fmt::format("#   {}: {} ({})\n", column++, one_line(s.title), one_line(chart.y.label));
    if (!s.flagged.empty()) {
      out +=
          fmt::format("#   {}: {} flagged (1: status not ok, drawn hollow)\n", column++, one_line(s.title));
    }
  }
  for (std::size_t i = 0; i < chart.x_values.size(); ++i) {
    out += number(on_axis(chart.x_values[i], chart.x));
    for (const Series& s : chart.series) {
      out += ' ' + number(i < s.y.size() ? on_axis(s.y[i], chart.y) : kNaN);
      if (!s.flagged.empty()) out += (i < s.flagged.size() && s.flagged[i]) ? " 1" : " 0";
    }
    out += '\n';
  }
  return out;
}

std::string to_gnuplot(const LineChart& chart, const std::string& data_file_name) {
  std::string out = preamble(chart.name, chart.title, data_file_name, chart.key, chart.font_points);
  out += axis_commands(chart.x, 'x') + x_range(chart);
  out += axis_commands(chart.y, 'y');
  std::vector<std::string> plots;
  const std::string data = quoted(data_file_name);
  auto source = [&]() { return plots.empty() ? data : std::string("''"); };
  int column = 2;
  if (chart.style == ChartStyle::kStackedArea) {
    // Each area fills between the sum of the series below it and that sum plus its own value.
    out += "set yrange [0:*]\nset style fill solid 0.8 noborder\n";
    std::string below = "0";
    for (std::size_t k = 0; k < chart.series.size(); ++k) {
      const Series& s = chart.series[k];
      const std::string top =
          below == "0" ? fmt::format("${}", column) : fmt::format("{}+${}", below, column);
      plots.push_back(fmt::format("{} using 1:({}):({}) with filledcurves lc rgb '{}' title {}", source(),
                                  below, top, color_of(s.color, k), quoted(s.title)));
      below = top;
      column += s.flagged.empty() ? 1 : 2;
    }
  } else {
    if (chart.y_from_zero && !chart.y.log) out += "set yrange [0:*]\n";
    bool hollow = false;
    for (std::size_t k = 0; k < chart.series.size(); ++k) {
      const Series& s = chart.series[k];
      const std::string color = color_of(s.color, k);
      const int dash = s.dashed ? 2 : 1;
      if (s.flagged.empty()) {
        plots.push_back(
            fmt::format("{} using 1:{} with linespoints lw 2 pt 7 ps 0.6 dt {} lc rgb '{}' title {}",
                        source(), column, dash, color, quoted(s.title)));
        column += 1;
        continue;
      }
      // The line runs through every point; markers say which points are ok (filled) or not (hollow).
      const int flag = column + 1;
      plots.push_back(fmt::format("{} using 1:{} with lines lw 2 dt {} lc rgb '{}' title {}", source(),
                                  column, dash, color, quoted(s.title)));
      plots.push_back(
          fmt::format("'' using 1:(${} == 0 ? ${} : NaN) with points pt 7 ps 0.6 lc rgb '{}' notitle", flag,
                      column, color));
      plots.push_back(
          fmt::format("'' using 1:(${} != 0 ? ${} : NaN) with points pt 6 ps 0.9 lc rgb '{}' notitle", flag,
                      column, color));
      hollow = hollow || any_flag(s.flagged);
      column += 2;
    }
    if (hollow) plots.push_back(hollow_key(chart.hollow_key));
  }
  out += fmt::format("plot {}\n", fmt::join(plots, ", \\\n     "));
  return out;
}

std::string to_dat(const Roofline& r) {
  const RooflineRange range = roofline_range(r);
  std::string out = fmt::format(
      "# {}\n# Blocks separated by two blank lines (gnuplot `index`): first the ceilings, three points each\n"
      "# (slope start, ridge, roof end), then the points of each series.\n",
      one_line(r.title));
  bool first = true;
  auto block = [&](const std::string& header) {
    out += first ? "" : "\n\n";
    first = false;
    out += header;
  };
  for (const Ceiling& c : r.ceilings) {
    block(
        fmt::format("# ceiling: {}: peak {} FLOP/s, bandwidth {} B/s, ridge {} FLOP/B\n"
                    "# intensity_flop_per_byte flops_per_s\n",
                    one_line(c.label), number(c.peak_flops_per_s), number(c.bandwidth_bytes_per_s),
                    number(c.ridge_flop_per_byte())));
    // The slope starts where it enters the frame, so gnuplot never has to clip it.
    const double x0 = std::max(range.x_min, range.y_min / c.bandwidth_bytes_per_s);
    out += fmt::format("{} {}\n", number(x0), number(c.bandwidth_bytes_per_s * x0));
    out += fmt::format("{} {}\n", number(c.ridge_flop_per_byte()), number(c.peak_flops_per_s));
    out += fmt::format("{} {}\n", number(range.x_max), number(c.peak_flops_per_s));
  }
  for (const RooflineSeries& s : r.series) {
    block(fmt::format("# series: {}\n# intensity_flop_per_byte achieved_flops_per_s flagged\n",
                      one_line(s.title)));
    const std::size_t n = std::min(s.intensity_flop_per_byte.size(), s.achieved_flops_per_s.size());
    if (n == 0) out += "NaN NaN 0\n";  // an empty block would shift every later `index`
    for (std::size_t i = 0; i < n; ++i) {
      const double x = s.intensity_flop_per_byte[i], y = s.achieved_flops_per_s[i];
      out += fmt::format("{} {} {}\n", number(drawable(x, true) ? x : kNaN),
                         number(drawable(y, true) ? y : kNaN), i < s.flagged.size() && s.flagged[i] ? 1 : 0);
    }
  }
  return out;
}

std::string to_gnuplot(const Roofline& r, const std::string& data_file_name) {
  const RooflineRange range = roofline_range(r);
  std::string out = preamble(r.name, r.title, data_file_name, r.key, r.font_points);
  out += "set xlabel 'arithmetic intensity (FLOP/byte of HBM traffic)'\nset ylabel 'TFLOP/s'\n";
  out += "set logscale x 10\nset logscale y 10\nset format x '%g'\n";
  // The data stay in FLOP/s; the ticks, one per decade, read in TFLOP/s as plain numbers (0.01, 1, 100).
  std::vector<std::string> y_ticks;
  for (double v = range.y_min; v <= range.y_max * 1.0001; v *= 10.0)
    y_ticks.push_back(fmt::format("{} {}", quoted(fmt::format("{:g}", v / 1e12)), number(v)));
  out += fmt::format("set ytics ({})\n", fmt::join(y_ticks, ", "));
  out += fmt::format("set xrange [{}:{}]\nset yrange [{}:{}]\n", number(range.x_min), number(range.x_max),
                     number(range.y_min), number(range.y_max));
  std::vector<std::string> plots;
  const std::string data = quoted(data_file_name);
  auto source = [&]() { return plots.empty() ? data : std::string("''"); };
  int index = 0;
  for (std::size_t k = 0; k < r.ceilings.size(); ++k) {
    const Ceiling& c = r.ceilings[k];
    const auto& greys = ceiling_greys();
    const std::string grey = greys[(c.color >= 0 ? static_cast<std::size_t>(c.color) : k) % greys.size()];
    // Each ridge's label a line lower than the one before: ridges of one GPU sit close together.
    out += fmt::format("set label {} {} at {},{} point pt 2 ps 1.2 lc rgb '{}' offset 0.8,{} tc rgb '{}'\n",
                       k + 1, quoted(fmt::format("ridge {:.3g} FLOP/B", c.ridge_flop_per_byte())),
                       number(c.ridge_flop_per_byte()), number(c.peak_flops_per_s), grey,
                       number(-0.8 - 1.2 * static_cast<double>(k)), grey);
    plots.push_back(fmt::format("{} index {} using 1:2 with lines lw 2 dt {} lc rgb '{}' title {}", source(),
                                index++, c.dashed ? 2 : 1, grey, quoted(c.label)));
  }
  bool hollow = false;
  for (std::size_t k = 0; k < r.series.size(); ++k) {
    const RooflineSeries& s = r.series[k];
    const std::string color = color_of(s.color, k);
    const int filled = s.triangles ? 9 : 7, open = s.triangles ? 8 : 6;
    plots.push_back(
        fmt::format("{} index {} using 1:($3 == 0 ? $2 : NaN) with points pt {} ps 0.8 lc rgb '{}' title {}",
                    source(), index, filled, color, quoted(s.title)));
    if (any_flag(s.flagged)) {
      plots.push_back(
          fmt::format("'' index {} using 1:($3 != 0 ? $2 : NaN) with points pt {} ps 1 lc rgb '{}' notitle",
                      index, open, color));
      hollow = true;
    }
    ++index;
  }
  if (hollow) plots.push_back(hollow_key(r.hollow_key));
  out += fmt::format("plot {}\n", fmt::join(plots, ", \\\n     "));
  return out;
}

std::string to_dat(const ScatterChart& c) {
  const ScatterRange range = scatter_range(c);
  std::string out = fmt::format(
      "# {}\n"
      "# Blocks separated by two blank lines (gnuplot `index`): first the reference lines, two points each\n"
      "# (the ends of the x range), then the points of each series.\n",
      one_line(c.title));
  bool first = true;
  auto block = [&](const std::string& header) {
    out += first ? "" : "\n\n";
    first = false;
    out += header;
  };
  for (const ReferenceLine& line : c.lines) {
    block(fmt::format("# line: {}{}\n# x y\n", describe(line),
                      line.title.empty() ? "" : " (" + one_line(line.title) + ")"));
    if (line.kind == ReferenceLine::Kind::kVertical) {
      for (const double y : {range.y_lo, range.y_hi}) {
        out += fmt::format("{} {}\n", number(on_axis(line.value, c.x)), number(on_axis(y, c.y)));
      }
      continue;
    }
    for (const double x : {range.x_lo, range.x_hi}) {
      out += fmt::format("{} {}\n", number(x), number(on_axis(line_y(line, x), c.y)));
    }
  }
  for (const ScatterSeries& s : c.series) {
    block(fmt::format("# series: {}\n# x: {}; y: {}\n", one_line(s.title), one_line(c.x.label),
                      one_line(c.y.label)));
    const std::size_t n = std::min(s.x.size(), s.y.size());
    if (n == 0) out += "NaN NaN\n";  // an empty block would shift every later `index`
    for (std::size_t i = 0; i < n; ++i) {
      out += fmt::format("{} {}\n", number(on_axis(s.x[i], c.x)), number(on_axis(s.y[i], c.y)));
    }
  }
  return out;
}

std::string to_gnuplot(const ScatterChart& c, const std::string& data_file_name) {
  const ScatterRange range = scatter_range(c);
  // A scatter's legend names a series per family and model: beside the plot it would take half the width. The
  // chart is a diagonal band, so the top-left corner is empty: the key goes there, small.
  std::string out = preamble(
      c.name, c.title, data_file_name,
      c.key.empty() ? std::string("inside left top reverse Left samplen 1 spacing 0.85 font ',9' opaque")
                    : c.key);
  out += axis_commands(c.x, 'x') + axis_commands(c.y, 'y');
  out += fmt::format("set xrange [{}:{}]\nset yrange [{}:{}]\n", number(range.x_lo), number(range.x_hi),
                     number(range.y_lo), number(range.y_hi));
  std::vector<std::string> plots;
  const std::string data = quoted(data_file_name);
  auto source = [&]() { return plots.empty() ? data : std::string("''"); };
  int index = 0;
  for (const ReferenceLine& line : c.lines) {
    plots.push_back(fmt::format("{} index {} using 1:2 with lines lw {} dt {} lc rgb '{}' {}", source(),
                                index++, line.dashed ? 1 : 2, line.dashed ? 2 : 1,
                                line.dashed ? "#777777" : "#222222",
                                line.title.empty() ? std::string("notitle") : "title " + quoted(line.title)));
  }
  for (std::size_t k = 0; k < c.series.size(); ++k) {
    const ScatterSeries& s = c.series[k];
    if (s.connected) {
      plots.push_back(fmt::format("{} index {} using 1:2 with {} lw 2 lc rgb '{}' title {}", source(),
                                  index++, s.markers ? "linespoints pt 7 ps 0.6" : "lines",
                                  color_of(s.color, k), quoted(s.title)));
      continue;
    }
    plots.push_back(fmt::format("{} index {} using 1:2 with points pt {} ps {} lc rgb '{}' title {}",
                                source(), index++,
                                s.large    ? 5
                                : s.hollow ? 6
                                           : 7,
                                s.large    ? "1.6"
                                : s.hollow ? "0.9"
                                           : "0.7",
                                color_of(s.color, k), quoted(s.title)));
  }
  out += fmt::format("plot {}\n", fmt::join(plots, ", \\\n     "));
  return out;
}

bool has_drawable_points(const LineChart& chart) {
  for (std::size_t i = 0; i < chart.x_values.size(); ++i) {
    if (!drawable(chart.x_values[i], chart.x.log)) continue;
    for (const Series& s : chart.series) {
      if (i < s.y.size() && drawable(s.y[i], chart.y.log)) return true;
    }
  }
  return false;
}

bool has_drawable_points(const Roofline& roofline) {
  if (!roofline.ceilings.empty()) return true;
  for (const RooflineSeries& s : roofline.series) {
    for (std::size_t i = 0; i < s.intensity_flop_per_byte.size() && i < s.achieved_flops_per_s.size(); ++i) {
      if (drawable(s.intensity_flop_per_byte[i], true) && drawable(s.achieved_flops_per_s[i], true))
        return true;
    }
  }
  return false;
}

bool has_drawable_points(const ScatterChart& chart) {
  for (const ScatterSeries& s : chart.series) {
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (point_drawable(chart, s, i)) return true;
    }
  }
  return false;
}

}  // namespace mlasim
