#include "reports/validate_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "reports/gnuplot.hpp"
#include "reports/html.hpp"
#include "reports/json_output.hpp"
#include "reports/table_display.hpp"
#include "reports/table_writers.hpp"
#include "sim/provenance.hpp"

namespace mlasim {

namespace {

/// What the error columns mean, under the headline table's title.
constexpr const char* kErrorDefinition =
    "Error = predicted / measured - 1 at each held-out point (+: the model predicts a slower call than "
    "measured). MAPE: mean |error|; p95: 95th percentile of |error| (nearest rank); worst: the largest "
    "|error|, with its sign. Calibrated: the profile calibrated on the other points; datasheet: the same "
    "profile in datasheet mode.";

/// Beyond this many distinct x values an error chart lets gnuplot choose its ticks.
constexpr std::size_t kMaxExplicitTicks = 12;

/// "file:line" of a measured row ("file" when the line is unknown).
std::string source_of(const SourceLocation& where) {
  return where.line > 0 ? fmt::format("{}:{}", where.file, where.line) : where.file;
}

std::string percent(double fraction) {
  return fmt::format("{:.1f}%", 100.0 * fraction);
}
std::string signed_percent(double fraction) {
  return fmt::format("{:+.1f}%", 100.0 * fraction);
}

/// Text safe inside one Markdown table cell.
std::string cell_text(const std::string& s) {
  std::string out = s;
  std::replace(out.begin(), out.end(), '|', '/');
  std::replace(out.begin(), out.end(), '\n', ' ');
  return out;
}

/// The fixed colour of a family: its position among the kFamily* names, so that a family looks the same on
/// every chart and in every report.
int family_color(const std::string& family) {
  const char* order[] = {kFamilyMla, kFamilyMlaVariable, kFamilyGqa, kFamilyGemm, kFamilyBandwidth};
  for (std::size_t i = 0; i < std::size(order); ++i) {
    if (family == order[i]) return static_cast<int>(i);
  }
  return static_cast<int>(std::size(order));
}

std::string ordinal(int n) {
  const int tens = n % 100, ones = n % 10;
  const char* suffix = tens >= 11 && tens <= 13 ? "th"
                       : ones == 1              ? "st"
                       : ones == 2              ? "nd"
                       : ones == 3              ? "rd"
                                                : "th";
  return fmt::format("{}{}", n, suffix);
}

std::string held_out_text(const ValidateOptions& o) {
  std::string text = fmt::format(
      "every {} point of each attention table (in batch, context order), of each GEMM shape's m sweep and of "
      "each bandwidth kernel's working sets",
      ordinal(o.every));
  if (o.hold_out_context_ends) {
    text += ", and every point at the smallest and the largest context of each attention table";
  }
  return text;
}

/// One chart file stem per kind of x.
std::string stem_of(const std::string& x_label) {
  std::string out;
  for (const char c : x_label) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    out += keep ? c : '_';
  }
  return out;
}

std::string context_tick(double tokens) {
  const auto t = static_cast<long long>(tokens);
  if (t >= 1024 * 1024 && t % (1024 * 1024) == 0) return fmt::format("{}M", t / (1024 * 1024));
  if (t >= 1024 && t % 1024 == 0) return fmt::format("{}k", t / 1024);
  return fmt::format("{}", t);
}

/// The x axis of an error chart for one kind of x.
Axis error_x_axis(const std::string& x_label, const std::set<double>& values) {
  Axis axis;
  axis.log = true;
  if (x_label == "context") {
    axis.label = "context (tokens per sequence)";
    axis.log_base = 2;
  } else if (x_label == "m") {
    axis.label = "m (GEMM rows: tokens)";
    axis.log_base = 2;
  } else if (x_label == "bytes") {
    axis.label = "bytes moved per launch";
    return axis;  // SI prefixes
  } else {
    axis.label = x_label;
  }
  const bool integral =
      std::all_of(values.begin(), values.end(), [](double v) { return v >= 1.0 && v == std::floor(v); });
  if (integral && values.size() <= kMaxExplicitTicks) {
    for (const double v : values)
      axis.ticks.emplace_back(v, x_label == "context" ? context_tick(v) : fmt::format("{}", v));
  } else {
    axis.format = "%g";
  }
  return axis;
}

/// Families in the report's order, each once.
std::vector<std::string> families_of(const std::vector<ValidationPoint>& points) {
  std::vector<std::string> out;
  for (const ValidationPoint& p : points) {
    if (std::find(out.begin(), out.end(), p.family) == out.end()) out.push_back(p.family);
  }
  return out;
}

nlohmann::ordered_json stats_json(const ErrorStats& s) {
  nlohmann::ordered_json j;
  j["mape"] = s.mape;
  j["p95"] = s.p95;
  j["worst"] = s.worst;
  j["worst_point"] = s.worst_point;
  return j;
}

/// The HTML page's table of points: times in µs and errors in percent, as text.
Table points_display_table(const ValidationReport& report) {
  Table t({{"family", ""},
           {"point", ""},
           {"x", "context (tokens), m (rows) or bytes per launch"},
           {"measured (µs)", "median of the timed calls"},
           {"calibrated (µs)", ""},
           {"calibrated error", "calibrated / measured - 1"},
           {"provenance", "where the calibrated time comes from"},
           {"datasheet (µs)", ""},
           {"datasheet error", "datasheet / measured - 1"},
           {"source", "the measured row"}});
  for (const ValidationPoint& p : report.points) {
    t.add_row({p.family, p.point, fmt::format("{} {:g}", p.x_label, p.x), readable_number(p.measured_s * 1e6),
               readable_number(p.calibrated_s * 1e6), signed_percent(p.calibrated_error()),
               std::string(to_string(p.calibrated_provenance)), readable_number(p.datasheet_s * 1e6),
               signed_percent(p.datasheet_error()), source_of(p.where)});
  }
  return t;
}

}  // namespace

Table validation_points_table(const ValidationReport& report) {
  Table t({{"family", "kind of measured point"},
           {"point", "what was measured"},
           {"x_label", "what x is: context, m or bytes"},
           {"x", "context (tokens per sequence), m (GEMM rows) or bytes per launch"},
           {"measured_s", "measured median time per call"},
           {"calibrated_s", "calibrated model, fitted without this point"},
           {"calibrated_error", "calibrated_s / measured_s - 1"},
           {"calibrated_provenance", "measured, interpolated, extrapolated or analytic"},
           {"datasheet_s", "datasheet model"},
           {"datasheet_error", "datasheet_s / measured_s - 1"},
           {"source", "file:line of the measured row"}});
  t.reserve(report.points.size());
  for (const ValidationPoint& p : report.points) {
    t.add_row({p.family, p.point, p.x_label, p.x, p.measured_s, p.calibrated_s, p.calibrated_error(),
               std::string(to_string(p.calibrated_provenance)), p.datasheet_s, p.datasheet_error(),
               source_of(p.where)});
  }
  return t;
}

std::string validation_csv(const ValidationReport& report) {
  return table_to_csv(validation_points_table(report));
}

std::string validation_json(const ValidationReport& report) {
  nlohmann::ordered_json config;
  config["run"] = report.run_dir;
  config["fingerprint"] = report.fingerprint;
  config["profile"] = report.profile;
  config["every"] = report.options.every;
  config["hold_out_context_ends"] = report.options.hold_out_context_ends;
  config["allow_throttled"] = report.options.allow_throttled;
  nlohmann::ordered_json j = json_envelope(kValidateSchema, std::move(config));
  j["training_points"] = report.training_points;
  j["held_out_points"] = report.points.size();
  j["worst_calibrated_mape"] = report.worst_calibrated_mape();
  j["families"] = nlohmann::ordered_json::array();
  for (const FamilyValidation& f : report.families) {
    nlohmann::ordered_json fj;
    fj["family"] = f.family;
    fj["points"] = f.points;
    fj["calibrated"] = stats_json(f.calibrated);
    fj["datasheet"] = stats_json(f.datasheet);
    j["families"].push_back(fj);
  }
  j["points"] = rows_json(validation_points_table(report));  // validate.csv's rows, typed
  j["notes"] = report.notes;
  return json_text(j);
}

std::string validation_family_table(const ValidationReport& report) {
  std::string out =
      "| family | points | calibrated MAPE | calibrated p95 | calibrated worst | calibrated worst at | "
      "datasheet MAPE | datasheet p95 | datasheet worst | datasheet worst at |\n"
      "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const FamilyValidation& f : report.families) {
    out +=
        fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", cell_text(f.family), f.points,
                    percent(f.calibrated.mape), percent(f.calibrated.p95), signed_percent(f.calibrated.worst),
                    cell_text(f.calibrated.worst_point), percent(f.datasheet.mape), percent(f.datasheet.p95),
                    signed_percent(f.datasheet.worst), cell_text(f.datasheet.worst_point));
  }
  return out;
}

std::vector<std::string> families_above(const ValidationReport& report, double max_mape) {
  std::vector<std::string> out;
  for (const FamilyValidation& f : report.families) {
    // NaN (a measured time of zero) fails the gate too.
    if (!(f.calibrated.mape <= max_mape)) out.push_back(f.family);
  }
  return out;
}

std::string validation_markdown(const ValidationReport& report) {
  std::string md = fmt::format("# Validation: `{}` against `{}`\n\n", report.profile, report.run_dir);
  md += fmt::format("Run: {}.\n\n", report.fingerprint);
  md += fmt::format(
      "Held out: {}. The calibration was fitted on the other {} points; {} held-out points were predicted "
      "by the calibrated model and by the datasheet model.\n\n",
      held_out_text(report.options), report.training_points, report.points.size());
  md += std::string(kErrorDefinition) + "\n\n";
  md += "## Error per family\n\n";
  if (report.families.empty()) {
    md += "No point could be predicted.\n\n";
  } else {
    md += validation_family_table(report) + "\n";
    const std::vector<std::string> above = families_above(report, kValidateFlagMape);
    for (const FamilyValidation& f : report.families) {
      if (std::find(above.begin(), above.end(), f.family) == above.end()) continue;
      md += fmt::format("{}: calibrated MAPE {} exceeds {}.\n\n", f.family, percent(f.calibrated.mape),
                        fmt::format("{:.0f}%", 100.0 * kValidateFlagMape));
    }
    if (above.empty()) {
      md += fmt::format("Every family's calibrated MAPE is within {:.0f}%.\n\n", 100.0 * kValidateFlagMape);
    }
  }
  if (!report.notes.empty()) {
    md += "## Notes\n\n";
    for (const std::string& n : report.notes) md += "- " + cell_text(n) + "\n";
  }
  return md;
}

std::vector<ScatterChart> validation_charts(const ValidationReport& report) {
  std::vector<ScatterChart> charts;
  const std::vector<std::string> families = families_of(report.points);

  ScatterChart pvm;
  pvm.name = "validate_predicted_vs_measured";
  pvm.title = fmt::format("predicted versus measured, held-out points, {}", report.profile);
  pvm.x = Axis{"measured time per call (µs)", true, 10, {}, "%g"};
  pvm.y = Axis{"predicted time per call (µs)", true, 10, {}, "%g"};
  pvm.lines = {{ReferenceLine::Kind::kProportional, 1.0, "y = x", false},
               {ReferenceLine::Kind::kProportional, 1.1, "±10%", true},
               {ReferenceLine::Kind::kProportional, 0.9, "", true}};
  for (const std::string& family : families) {
    ScatterSeries cal{family + ", calibrated", {}, {}, false, family_color(family)};
    ScatterSeries ds{family + ", datasheet", {}, {}, true, family_color(family)};
    for (const ValidationPoint& p : report.points) {
      if (p.family != family) continue;
      cal.x.push_back(p.measured_s * 1e6);
      cal.y.push_back(p.calibrated_s * 1e6);
      ds.x.push_back(p.measured_s * 1e6);
      ds.y.push_back(p.datasheet_s * 1e6);
    }
    pvm.series.push_back(std::move(cal));
    pvm.series.push_back(std::move(ds));
  }
  if (has_drawable_points(pvm)) charts.push_back(std::move(pvm));

  std::vector<std::string> x_labels;
  for (const ValidationPoint& p : report.points) {
    if (std::find(x_labels.begin(), x_labels.end(), p.x_label) == x_labels.end())
      x_labels.push_back(p.x_label);
  }
  for (const std::string& x_label : x_labels) {
    std::set<double> values;
    for (const ValidationPoint& p : report.points) {
      if (p.x_label == x_label) values.insert(p.x);
    }
    ScatterChart c;
    c.name = "validate_error_vs_" + stem_of(x_label);
    c.title = fmt::format("prediction error versus {}, held-out points, {}", x_label, report.profile);
    c.x = error_x_axis(x_label, values);
    c.y = Axis{"error: predicted / measured - 1 (%)", false, 10, {}, {}};
    c.lines = {{ReferenceLine::Kind::kHorizontal, 0.0, "no error", false},
               {ReferenceLine::Kind::kHorizontal, 10.0, "±10%", true},
               {ReferenceLine::Kind::kHorizontal, -10.0, "", true}};
    for (const std::string& family : families) {
      ScatterSeries cal{family + ", calibrated", {}, {}, false, family_color(family)};
      ScatterSeries ds{family + ", datasheet", {}, {}, true, family_color(family)};
      for (const ValidationPoint& p : report.points) {
        if (p.family != family || p.x_label != x_label) continue;
        cal.x.push_back(p.x);
        cal.y.push_back(100.0 * p.calibrated_error());
        ds.x.push_back(p.x);
        ds.y.push_back(100.0 * p.datasheet_error());
      }
      if (cal.x.empty()) continue;
      c.series.push_back(std::move(cal));
      c.series.push_back(std::move(ds));
    }
    if (has_drawable_points(c)) charts.push_back(std::move(c));
  }
  return charts;
}

ValidateReportFiles build_validate_report(const ValidationReport& report, bool charts) {
  ValidateReportFiles out;
  const std::string md = validation_markdown(report);
  out.files.emplace_back("validate.csv", validation_csv(report));
  out.files.emplace_back("validate.json", validation_json(report));
  out.files.emplace_back("validate.md", md);

  const std::vector<ScatterChart> planned = charts ? validation_charts(report) : std::vector<ScatterChart>{};
  std::vector<GnuplotJob> jobs;
  for (const ScatterChart& c : planned) {
    jobs.push_back(gnuplot_job(c));
  }
  ChartRendering rendered = render_charts(jobs, charts);
  std::vector<std::string> svgs = std::move(rendered.svgs);
  out.note = charts && planned.empty() ? "no chart: no held-out point to plot" : rendered.note;

  HtmlPage page(fmt::format("mlasim validate: {}", report.profile));
  page.add_heading(1, fmt::format("Validation: {}", report.profile));
  page.add_facts(
      {{"run", report.run_dir},
       {"fingerprint", report.fingerprint},
       {"profile", report.profile},
       {"held out", held_out_text(report.options)},
       {"points", fmt::format("{} held out, {} for training", report.points.size(), report.training_points)},
       {"throttled clocks", report.options.allow_throttled ? "allowed" : "refused"}});
  if (!out.note.empty()) page.add_note(out.note);
  page.add_paragraph(kErrorDefinition);
  page.add_heading(2, "Error per family", "families");
  if (report.families.empty()) {
    page.add_paragraph("No point could be predicted.");
  } else {
    page.add_markdown(validation_family_table(report));
    for (const std::string& family : families_above(report, kValidateFlagMape)) {
      for (const FamilyValidation& f : report.families) {
        if (f.family != family) continue;
        page.add_note(fmt::format("{}: calibrated MAPE {} exceeds {:.0f}%.", f.family,
                                  percent(f.calibrated.mape), 100.0 * kValidateFlagMape));
      }
    }
  }
  if (charts && !planned.empty()) {
    page.add_heading(2, "Charts", "charts");
    std::vector<Figure> figures;
    for (std::size_t i = 0; i < planned.size(); ++i) {
      const std::string what =
          planned[i].name == "validate_predicted_vs_measured"
              ? "Predicted versus measured time per call, log-log: filled markers calibrated, hollow "
                "datasheet; "
                "solid line y = x, dashed the ±10% band."
              : "Error versus x: filled markers calibrated, hollow datasheet; dashed lines at ±10%.";
      figures.push_back({svgs[i],
                         fmt::format("{} Data: charts/{}.dat, script: charts/{}.gp.", what, planned[i].name,
                                     planned[i].name),
                         planned[i].title});
    }
    page.add_figures(figures);
  }
  page.add_heading(2, "Held-out points", "points");
  page.add_table(points_display_table(report));
  if (!report.notes.empty()) {
    page.add_heading(2, "Notes", "notes");
    for (const std::string& n : report.notes) page.add_paragraph(n);
  }
  out.files.emplace_back("validate.html", page.str());
  for (const ScatterChart& c : planned) {
    out.files.emplace_back("charts/" + c.name + ".dat", to_dat(c));
    out.files.emplace_back("charts/" + c.name + ".gp", to_gnuplot(c, c.name + ".dat"));
  }
  return out;
}

std::string add_validate_report(OutputSet& outputs, const ValidationReport& report, bool charts) {
  ValidateReportFiles files = build_validate_report(report, charts);
  for (auto& [name, content] : files.files) outputs.add(name, std::move(content));
  return files.note;
}

}  // namespace mlasim
