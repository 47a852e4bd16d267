#include "reports/table_display.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>

#include "sim/units.hpp"

namespace mlasim {

namespace {

/// A column name's suffix and what it says: the kind, the stored unit in base units (`_ms`: 1e-3 s), the
/// base unit's symbol, and whether the suffix is a unit symbol the header replaces (`step_time_s` ->
/// `step_time (ms)`) or a word it keeps (`flops` -> `flops (TFLOP)`).
struct Rule {
  std::string_view suffix;
  DisplayKind kind;
  double to_base;
  std::string_view base_unit;
  bool replaces_suffix;
};

// The one rule table. A suffix matches the whole name or its part after an underscore; the first match wins,
// so the rates (`tokens_per_s`, whose name reads as its unit) come before the seconds.
constexpr std::array<Rule, 18> kRules{{
    {"per_s", DisplayKind::kPlain, 1.0, "", false},
    {"per_s_per_gpu", DisplayKind::kPlain, 1.0, "", false},
    {"per_s_per_user", DisplayKind::kPlain, 1.0, "", false},
    {"s", DisplayKind::kTime, 1.0, "s", true},
    {"ms", DisplayKind::kTime, 1e-3, "s", true},
    {"us", DisplayKind::kTime, 1e-6, "s", true},
    {"bytes_per_token", DisplayKind::kBytesPerToken, 1.0, "B", false},
    {"bytes_per_token_per_gpu", DisplayKind::kBytesPerToken, 1.0, "B", false},
    {"bytes", DisplayKind::kBytes, 1.0, "B", false},
    {"flops", DisplayKind::kFlops, 1.0, "FLOP", false},
    {"share", DisplayKind::kFraction, 1.0, "", false},
    {"usage", DisplayKind::kFraction, 1.0, "", false},
    {"fraction", DisplayKind::kFraction, 1.0, "", false},
    {"attainment", DisplayKind::kFraction, 1.0, "", false},
    {"shortfall", DisplayKind::kFraction, 1.0, "", false},
    {"tolerance", DisplayKind::kFraction, 1.0, "", false},
    {"margin", DisplayKind::kFraction, 1.0, "", false},
    {"error", DisplayKind::kFraction, 1.0, "", false},
}};

bool has_suffix(std::string_view name, std::string_view suffix) {
  if (name == suffix) return true;
  return name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix &&
         name[name.size() - suffix.size() - 1] == '_';
}

std::optional<Rule> rule_for(std::string_view name) {
  for (const Rule& r : kRules) {
    if (has_suffix(name, r.suffix)) return r;
  }
  return std::nullopt;
}

// The largest finite magnitude among the numbers of `column` (0 when there is none).
double largest_in(const Table& table, std::size_t column) {
  double largest = 0.0;
  for (const auto& row : table.rows()) {
    const Cell& c = row[column];
    double v = 0.0;
    if (const auto* i = std::get_if<std::int64_t>(&c)) v = static_cast<double>(*i);
    if (const auto* d = std::get_if<double>(&c)) v = *d;
    if (std::isfinite(v)) largest = std::max(largest, std::fabs(v));
  }
  return largest;
}

double magnitude(const Cell& c) {
  if (const auto* i = std::get_if<std::int64_t>(&c)) return std::fabs(static_cast<double>(*i));
  if (const auto* d = std::get_if<double>(&c)) return std::isfinite(*d) ? std::fabs(*d) : 0.0;
  return 0.0;
}

}  // namespace

std::string readable_number(double value, int significant) {
  if (std::isnan(value)) return std::string(kMissingNumber);
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (value == 0.0) return "0";
  significant = std::max(significant, 1);
  const double mag = std::fabs(value);
  if (mag < 1e-4 || mag >= 1e15) return fmt::format("{:.{}g}", value, significant);
  const int before_point = static_cast<int>(std::floor(std::log10(mag))) + 1;
  const int decimals = std::max(0, significant - before_point);
  std::string s = fmt::format("{:.{}f}", value, decimals);
  if (decimals > 0) {
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
  }
  return s == "-0" ? "0" : s;
}

std::string DisplayUnit::cell(const Cell& c, int significant) const {
  if (const auto* s = std::get_if<std::string>(&c)) return *s;
  if (const auto* i = std::get_if<std::int64_t>(&c)) {
    if (kind == DisplayKind::kPlain) return fmt::format("{}", *i);
    return readable_number(static_cast<double>(*i) * scale, significant);
  }
  if (const auto* d = std::get_if<double>(&c)) return readable_number(*d * scale, significant);
  if (std::holds_alternative<std::monostate>(c)) return std::string(kMissingNumber);
  return cell_text(c);  // a boolean
}

DisplayUnit display_unit(std::string_view name, double largest) {
  DisplayUnit u;
  u.label = std::string(name);
  const std::optional<Rule> rule = rule_for(name);
  if (!rule || rule->kind == DisplayKind::kPlain) return u;
  u.kind = rule->kind;
  // With no value to go by, the unit the name stores (1 in it).
  const bool no_value = !std::isfinite(largest) || largest == 0.0;
  const double base = no_value ? rule->to_base : std::fabs(largest) * rule->to_base;
  switch (rule->kind) {
    case DisplayKind::kTime: {
      // Seconds only from 10 s: a step of 1.5 s beside steps of 16 ms reads as 1500 and 16 ms.
      const UnitPrefix p = no_value       ? si_prefix(base, 1e-9, 1.0)
                           : base >= 10.0 ? UnitPrefix{1.0, ""}
                                          : si_prefix(base, 1e-9, 1e-3);
      u.unit = (p.symbol == "u" ? std::string("µ") : std::string(p.symbol)) + "s";
      u.scale = rule->to_base / p.factor;
      break;
    }
    case DisplayKind::kBytes:
    case DisplayKind::kFlops: {
      // The largest unit in which the largest is at least 10: a step's ops span five decades, and the small
      // ones keep their digits (4454 GFLOP beside 0.024 GFLOP, not 4.454 TFLOP beside 2.4e-05).
      const UnitPrefix p = si_prefix(base / 10.0, 1.0);
      u.unit = std::string(p.symbol) + std::string(rule->base_unit);
      u.scale = rule->to_base / p.factor;
      break;
    }
    case DisplayKind::kBytesPerToken:
      // Always KiB: a model's KV cache per token is tens of KiB to a few MiB, and a sweep compares them.
      u.unit = "KiB";
      u.scale = rule->to_base / 1024.0;
      break;
    case DisplayKind::kFraction:
      u.unit = "%";
      u.scale = 100.0;
      break;
    case DisplayKind::kPlain:
      break;
  }
  std::string_view stem = name;
  if (rule->replaces_suffix && name.size() > rule->suffix.size())
    stem = name.substr(0, name.size() - rule->suffix.size() - 1);
  u.label = fmt::format("{} ({})", stem, u.unit);
  return u;
}

DisplayUnit column_display(const Table& table, std::size_t column) {
  return display_unit(table.columns().at(column).name, largest_in(table, column));
}

Table display_table(const Table& table, int significant) {
  const auto& cols = table.columns();
  const auto is = [&](std::size_t i, std::string_view n) { return i < cols.size() && cols[i].name == n; };
  std::optional<std::size_t> metric, value;
  for (std::size_t i = 0; i < cols.size(); ++i) {
    if (is(i, "metric")) metric = i;
    if (is(i, "value")) value = i;
  }
  if (metric && value) {
    // A long table: each row's unit from its metric and its own value.
    Table out(cols);
    out.reserve(table.rows().size());
    for (const auto& row : table.rows()) {
      std::vector<Cell> r;
      r.reserve(row.size());
      const auto* name = std::get_if<std::string>(&row[*metric]);
      const DisplayUnit u = name ? display_unit(*name, magnitude(row[*value])) : DisplayUnit{};
      for (std::size_t i = 0; i < row.size(); ++i) {
        if (i == *metric && name) {
          r.emplace_back(u.label);
        } else {
          r.emplace_back(i == *value ? u.cell(row[i], significant) : DisplayUnit{}.cell(row[i], significant));
        }
      }
      out.add_row(std::move(r));
    }
    return out;
  }
  std::vector<DisplayUnit> units;
  std::vector<Column> shown;
  units.reserve(cols.size());
  for (std::size_t i = 0; i < cols.size(); ++i) {
    units.push_back(column_display(table, i));
    shown.push_back({units.back().label, cols[i].description});
  }
  Table out(std::move(shown));
  out.reserve(table.rows().size());
  for (const auto& row : table.rows()) {
    std::vector<Cell> r;
    r.reserve(row.size());
    for (std::size_t i = 0; i < row.size(); ++i) r.emplace_back(units[i].cell(row[i], significant));
    out.add_row(std::move(r));
  }
  return out;
}

}  // namespace mlasim
