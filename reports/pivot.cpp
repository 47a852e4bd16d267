#include "reports/pivot.hpp"

#include <fmt/format.h>

#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "reports/table_display.hpp"
#include "sim/error.hpp"

namespace mlasim {

namespace {

/// Distinct strings in order of first appearance, with their positions: O(1) per lookup, so that pivoting a
/// table of n rows is O(n), not O(n²) (a 1M-point sweep took minutes with a linear search).
class Interner {
 public:
  std::size_t index_of(const std::string& x) {
    const auto [it, inserted] = index_.try_emplace(x, values_.size());
    if (inserted) values_.push_back(x);
    return it->second;
  }
  [[nodiscard]] const std::vector<std::string>& values() const { return values_; }

 private:
  std::unordered_map<std::string, std::size_t> index_;
  std::vector<std::string> values_;
};

struct PairHash {
  std::size_t operator()(const std::pair<std::size_t, std::size_t>& p) const {
    return std::hash<std::size_t>{}(p.first * 0x9E3779B97F4A7C15ULL ^ p.second);
  }
};

}  // namespace

std::string pivot_to_markdown(const Table& table, const PivotSpec& spec) {
  std::vector<std::size_t> group_idx;
  for (const auto& g : spec.group_by) group_idx.push_back(table.column_index(g));
  const std::size_t row_i = table.column_index(spec.row_key);
  const std::size_t col_i = table.column_index(spec.column_key);
  const std::size_t val_i = table.column_index(spec.value);
  // One unit for the value across every group, so that the tables compare.
  const DisplayUnit unit = column_display(table, val_i);

  struct Group {
    std::string title;
    Interner rows, cols;
    std::unordered_map<std::pair<std::size_t, std::size_t>, std::string, PairHash> cells;
  };
  std::vector<Group> groups;
  Interner titles;
  for (const auto& row : table.rows()) {
    std::vector<std::string> parts;
    for (std::size_t k = 0; k < group_idx.size(); ++k) {
      parts.push_back(fmt::format("{} {}", spec.group_by[k], cell_text(row[group_idx[k]])));
    }
    const std::string title = fmt::format("{}", fmt::join(parts, ", "));
    const std::size_t gi = titles.index_of(title);
    if (gi == groups.size()) groups.push_back(Group{title, {}, {}, {}});
    Group& g = groups[gi];
    const std::size_t r = g.rows.index_of(cell_text(row[row_i]));
    const std::size_t c = g.cols.index_of(cell_text(row[col_i]));
    const Cell& v = row[val_i];
    const auto* d = std::get_if<double>(&v);
    const std::string text = d != nullptr && *d == 0.0 ? "-" : unit.cell(v, spec.significant);
    // Rows that land in one cell must agree, or the grouping hides a dimension of the table.
    const auto [it, inserted] = g.cells.emplace(std::make_pair(r, c), text);
    if (!inserted && it->second != text) {
      throw InternalError(fmt::format(
          "pivot of `{}`: two rows of group `{}` give {} and {} at {} = {}, {} = {}", spec.value, g.title,
          it->second, text, spec.row_key, g.rows.values()[r], spec.column_key, g.cols.values()[c]));
    }
  }
  std::string out;
  for (const Group& g : groups) {
    const std::vector<std::string>& rows = g.rows.values();
    const std::vector<std::string>& cols = g.cols.values();
    out += fmt::format("#### {}{}{}{}\n\n", spec.value_label, unit.unit.empty() ? "" : " (" + unit.unit + ")",
                       g.title.empty() ? "" : " — ", g.title);
    out += "| " + spec.row_key + " |";
    for (const auto& c : cols) out += " " + c + " |";
    out += "\n|---|";
    for (std::size_t i = 0; i < cols.size(); ++i) out += "---|";
    out += "\n";
    for (std::size_t r = 0; r < rows.size(); ++r) {
      out += "| " + rows[r] + " |";
      for (std::size_t c = 0; c < cols.size(); ++c) {
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
