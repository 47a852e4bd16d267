#include "reports/pivot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "sim/error.hpp"

namespace mlasim {

namespace {

std::string cell_text(const Cell& c) {
  if (const auto* i = std::get_if<std::int64_t>(&c)) return fmt::format("{}", *i);
  if (const auto* d = std::get_if<double>(&c)) return fmt::format("{}", *d);
  return std::get<std::string>(c);
}

template <class T>
std::size_t index_of(std::vector<T>& v, const T& x) {
  auto it = std::find(v.begin(), v.end(), x);
  if (it != v.end()) return static_cast<std::size_t>(it - v.begin());
  v.push_back(x);
  return v.size() - 1;
}

}  // namespace

std::string pivot_to_markdown(const Table& table, const PivotSpec& spec) {
  std::vector<std::size_t> group_idx;
  for (const auto& g : spec.group_by) group_idx.push_back(table.column_index(g));
  const std::size_t row_i = table.column_index(spec.row_key);
  const std::size_t col_i = table.column_index(spec.column_key);
  const std::size_t val_i = table.column_index(spec.value);

  struct Group {
    std::string title;
    std::vector<std::string> rows, cols;
    std::map<std::pair<std::size_t, std::size_t>, std::string> cells;
  };
  std::vector<Group> groups;
  std::vector<std::string> titles;
  for (const auto& row : table.rows()) {
    std::vector<std::string> parts;
    for (std::size_t k = 0; k < group_idx.size(); ++k) {
      parts.push_back(fmt::format("{} {}", spec.group_by[k], cell_text(row[group_idx[k]])));
    }
    const std::string title = fmt::format("{}", fmt::join(parts, ", "));
    const std::size_t gi = index_of(titles, title);
    if (gi == groups.size()) groups.push_back(Group{title, {}, {}, {}});
    Group& g = groups[gi];
    const std::size_t r = index_of(g.rows, cell_text(row[row_i]));
    const std::size_t c = index_of(g.cols, cell_text(row[col_i]));
    const Cell& v = row[val_i];
    std::string text;
    if (const auto* d = std::get_if<double>(&v)) {
      text = *d == 0.0 ? "-" : fmt::format("{:.{}g}", *d * spec.scale, spec.significant);
    } else {
      text = cell_text(v);
    }
    // Rows that land in one cell must agree, or the grouping hides a dimension of the table.
    const auto [it, inserted] = g.cells.emplace(std::make_pair(r, c), text);
    if (!inserted && it->second != text) {
      throw InternalError(
          fmt::format("pivot of `{}`: two rows of group `{}` give {} and {} at {} = {}, {} = {}", spec.value,
                      g.title, it->second, text, spec.row_key, g.rows[r], spec.column_key, g.cols[c]));
    }
  }
  std::string out;
  for (const Group& g : groups) {
    out += fmt::format("#### {}{}{}\n\n", spec.value_label, g.title.empty() ? "" : " — ", g.title);
    out += "| " + spec.row_key + " |";
    for (const auto& c : g.cols) out += " " + c + " |";
    out += "\n|---|";
    for (std::size_t i = 0; i < g.cols.size(); ++i) out += "---|";
    out += "\n";
    for (std::size_t r = 0; r < g.rows.size(); ++r) {
      out += "| " + g.rows[r] + " |";
      for (std::size_t c = 0; c < g.cols.size(); ++c) {
        auto it = g.cells.find({r, c});
        out += " " + (it == g.cells.end() ? std::string("-") : it->second) + " |";
      }
      out += "\n";
    }
    out += "\n";
  }
  return out;
}

}  // namespace mlasim
