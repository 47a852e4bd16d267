#include "reports/sweep_output.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <optional>

#include "reports/table_writers.hpp"
#include "sim/error.hpp"
#include "sim/parallel.hpp"
#include "sim/units.hpp"

namespace mlasim {

namespace {

constexpr std::size_t kStatuses = 4;  // PointStatus values

constexpr std::array<const char*, kSweepAxes> kAxisNames{"model",        "variant", "GPU",     "TP",
                                                         "DP-attention", "batch",   "context", "s_q"};

std::size_t axis_length(const SweepSpec& s, SweepAxis axis) {
  switch (axis) {
    case SweepAxis::kModel:
      return s.models.size();
    case SweepAxis::kVariant:
      return s.variants.size();
    case SweepAxis::kHardware:
      return s.hardware.size();
    case SweepAxis::kTp:
      return s.tp.size();
    case SweepAxis::kDp:
      return s.dp_attention.size();
    case SweepAxis::kBatch:
      return s.batch.size();
    case SweepAxis::kContext:
      return s.context.size();
    case SweepAxis::kSq:
      return s.s_q.size();
  }
  return 0;
}

// A value of an inner axis at position i, for thinning in order of value (a batch `max` is never thinned).
std::int64_t inner_value(const SweepSpec& s, SweepAxis axis, std::size_t i) {
  switch (axis) {
    case SweepAxis::kBatch:
      return s.batch[i].sequences;
    case SweepAxis::kContext:
      return s.context[i];
    default:
      return s.s_q[i];
  }
}

std::size_t product(const std::array<std::vector<std::uint32_t>, kSweepAxes>& kept) {
  std::size_t n = 1;
  for (const auto& k : kept) n *= k.size();
  return n;
}

// The thinnable positions of an inner axis (a batch's counts; every context and s_q).
std::vector<std::uint32_t> thinnable(const SweepSpec& s, SweepAxis axis,
                                     const std::vector<std::uint32_t>& kept) {
  std::vector<std::uint32_t> out;
  for (const std::uint32_t i : kept) {
    if (axis != SweepAxis::kBatch || !s.batch[i].is_max) out.push_back(i);
  }
  return out;
}

// Halves an inner axis's thinnable positions: about half of them, the smallest and largest values kept
// and the others evenly spaced between them by rank; `max` batches stay.
void thin(const SweepSpec& s, SweepAxis axis, std::vector<std::uint32_t>& kept, std::size_t target) {
  std::vector<std::uint32_t> values = thinnable(s, axis, kept);
  std::stable_sort(values.begin(), values.end(), [&](std::uint32_t a, std::uint32_t b) {
    return inner_value(s, axis, a) < inner_value(s, axis, b);
  });
  std::vector<std::uint32_t> chosen;
  if (target == 1) {
    chosen.push_back(values.front());
  } else {
    for (std::size_t k = 0; k < target; ++k) {
      // Rank k*(n-1)/(target-1), rounded to nearest: 0 and n-1 included.
      const std::size_t n = values.size();
      chosen.push_back(values[(k * (n - 1) * 2 + (target - 1)) / (2 * (target - 1))]);
    }
  }
  std::vector<std::uint32_t> next;
  for (const std::uint32_t i : kept) {
    const bool is_max = axis == SweepAxis::kBatch && s.batch[i].is_max;
    if (is_max || std::find(chosen.begin(), chosen.end(), i) != chosen.end()) next.push_back(i);
  }
  kept = std::move(next);
}

std::string value_text(const SweepSpec& s, SweepAxis axis, std::uint32_t i) {
  switch (axis) {
    case SweepAxis::kModel:
      return s.models[i].name;
    case SweepAxis::kVariant:
      return s.variants[i].to_string();
    case SweepAxis::kHardware:
      return s.hardware[i].id;
    case SweepAxis::kTp:
      return std::to_string(s.tp[i]);
    case SweepAxis::kDp:
      return s.dp_attention[i] ? "on" : "off";
    case SweepAxis::kBatch:
      return s.batch[i].to_string();
    case SweepAxis::kContext:
      return format_count(s.context[i]);
    case SweepAxis::kSq:
      return std::to_string(s.s_q[i]);
  }
  return {};
}

// "context: 12 of the 2,500 values (512 to 80,448 tokens)" or "GPU: h100-sxm, h200 (the first 2 of 5)".
std::string axis_description(const SweepSpec& s, SweepAxis axis, const std::vector<std::uint32_t>& kept) {
  const std::size_t n = axis_length(s, axis);
  const char* name = kAxisNames[static_cast<std::size_t>(axis)];
  std::vector<std::string> shown;
  if (kept.size() <= 8) {
    for (const std::uint32_t i : kept) shown.push_back(value_text(s, axis, i));
    return fmt::format("{}: {} of the {}", name, fmt::join(shown, ", "), n);
  }
  std::vector<std::int64_t> values;
  for (const std::uint32_t i : thinnable(s, axis, kept)) values.push_back(inner_value(s, axis, i));
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  const bool has_max = values.size() < kept.size();
  return fmt::format("{}: {} of the {} values, {} to {}{}", name, values.size(), n, format_count(*lo),
                     format_count(*hi), has_max ? ", and max" : "");
}

SweepSpec sub_spec(const SweepSpec& s, const std::array<std::vector<std::uint32_t>, kSweepAxes>& kept) {
  SweepSpec sub = s;
  const auto pick = [&](auto& list, const auto& from, SweepAxis axis) {
    list.clear();
    for (const std::uint32_t i : kept[static_cast<std::size_t>(axis)]) list.push_back(from[i]);
  };
  pick(sub.models, s.models, SweepAxis::kModel);
  pick(sub.variants, s.variants, SweepAxis::kVariant);
  pick(sub.hardware, s.hardware, SweepAxis::kHardware);
  pick(sub.tp, s.tp, SweepAxis::kTp);
  pick(sub.dp_attention, s.dp_attention, SweepAxis::kDp);
  pick(sub.batch, s.batch, SweepAxis::kBatch);
  pick(sub.context, s.context, SweepAxis::kContext);
  pick(sub.s_q, s.s_q, SweepAxis::kSq);
  return sub;
}

}  // namespace

SweepReportGrid sweep_report_grid(const SweepSpec& spec, std::size_t max_points) {
  SweepReportGrid grid;
  for (std::size_t a = 0; a < kSweepAxes; ++a) {
    grid.kept[a].resize(axis_length(spec, static_cast<SweepAxis>(a)));
    std::iota(grid.kept[a].begin(), grid.kept[a].end(), 0U);
  }
  const std::size_t max = std::max<std::size_t>(max_points, 1);
  if (product(grid.kept) <= max) {
    grid.spec = spec;
    return grid;
  }
  constexpr std::array<SweepAxis, 3> inner{SweepAxis::kContext, SweepAxis::kBatch, SweepAxis::kSq};
  constexpr std::array<SweepAxis, 5> outer{SweepAxis::kHardware, SweepAxis::kTp, SweepAxis::kModel,
                                           SweepAxis::kVariant, SweepAxis::kDp};
  // The inner axis with the most thinnable values above `floor` (the first in `inner` on ties), if any.
  const auto widest_inner = [&](std::size_t floor) -> std::optional<SweepAxis> {
    std::optional<SweepAxis> best;
    std::size_t most = floor;
    for (const SweepAxis a : inner) {
      const std::size_t n = thinnable(spec, a, grid.kept[static_cast<std::size_t>(a)]).size();
      if (n > most) {
        most = n;
        best = a;
      }
    }
    return best;
  };
  while (product(grid.kept) > max) {
    if (const auto a = widest_inner(2)) {
      auto& kept = grid.kept[static_cast<std::size_t>(*a)];
      const std::size_t n = thinnable(spec, *a, kept).size();
      thin(spec, *a, kept, std::max<std::size_t>(2, (n + 1) / 2));
      continue;
    }
    std::optional<SweepAxis> longest;
    std::size_t most = 1;
    for (const SweepAxis a : outer) {
      if (grid.kept[static_cast<std::size_t>(a)].size() > most) {
        most = grid.kept[static_cast<std::size_t>(a)].size();
        longest = a;
      }
    }
    if (longest) {
      auto& kept = grid.kept[static_cast<std::size_t>(*longest)];
      kept.resize((kept.size() + 1) / 2);
      continue;
    }
    const auto a = widest_inner(1);
    if (!a) break;  // one value on every axis (and `max` batches): as small as it gets
    thin(spec, *a, grid.kept[static_cast<std::size_t>(*a)], 1);
  }
  grid.whole = false;
  grid.spec = sub_spec(spec, grid.kept);
  std::vector<std::string> parts;
  for (std::size_t a = 0; a < kSweepAxes; ++a) {
    if (grid.kept[a].size() < axis_length(spec, static_cast<SweepAxis>(a)))
      parts.push_back(axis_description(spec, static_cast<SweepAxis>(a), grid.kept[a]));
  }
  grid.description = fmt::format("{}", fmt::join(parts, "; "));
  return grid;
}

bool is_grid_point(const SweepSpec& spec, const SweepPoint& p, std::size_t index) {
  const SweepPosition at = sweep_position(spec, index);
  return p.model == at.model && p.variant == at.variant && p.hardware == at.hardware && p.tp_index == at.tp &&
         p.dp_index == at.dp && p.batch_index == at.batch && p.context_index == at.context &&
         p.s_q_index == at.s_q;
}

SweepOutputWriter::SweepOutputWriter(const SweepSpec& spec, OutputSet& outputs, int jobs)
    : spec_(spec),
      outputs_(outputs),
      jobs_(std::max(jobs, 1)),
      csv_(outputs.stream("sweep.csv")),
      json_(outputs.stream("sweep.json")),
      json_rows_(
          json_envelope(kSweepSchema, config_file_json(spec.source, spec.config_json, spec.cli_overrides)),
          "points"),
      json_row_(sweep_table(spec, {}).columns()),
      grid_(sweep_report_grid(spec)),
      by_status_(kStatuses, 0),
      total_(sweep_size(spec)) {
  for (std::size_t a = 0; a < kSweepAxes; ++a) {
    sub_position_[a].assign(axis_length(spec, static_cast<SweepAxis>(a)), -1);
    for (std::size_t k = 0; k < grid_.kept[a].size(); ++k)
      sub_position_[a][grid_.kept[a][k]] = static_cast<std::int64_t>(k);
  }
  csv_.write(table_to_csv(sweep_table(spec, {})));
  json_.write(json_rows_.begin());
}

void SweepOutputWriter::add(const std::vector<SweepPoint>& points) {
  if (points.size() > total_ - next_) {
    throw InternalError(
        fmt::format("sweep output: {} points past the grid's {}", next_ + points.size(), total_));
  }
  for (std::size_t k = 0; k < points.size(); ++k) {
    const SweepPoint& p = points[k];
    if (!is_grid_point(spec_, p, next_ + k))
      throw InternalError(fmt::format("sweep output: point {} is not the grid's point there", next_ + k));
    const std::array<std::size_t, kSweepAxes> pos{p.model,    p.variant,     p.hardware,      p.tp_index,
                                                  p.dp_index, p.batch_index, p.context_index, p.s_q_index};
    ++by_status_.at(static_cast<std::size_t>(p.status));
    bool in_report = true;
    for (std::size_t a = 0; a < kSweepAxes && in_report; ++a) in_report = sub_position_[a][pos[a]] >= 0;
    if (!in_report) continue;
    SweepPoint q = p;
    std::array<std::uint32_t*, kSweepAxes> fields{&q.model,         &q.variant,  &q.hardware,
                                                  &q.tp_index,      &q.dp_index, &q.batch_index,
                                                  &q.context_index, &q.s_q_index};
    for (std::size_t a = 0; a < kSweepAxes; ++a)
      *fields[a] = static_cast<std::uint32_t>(sub_position_[a][pos[a]]);
    kept_.push_back(std::move(q));
  }

  // The rows' text, rendered in pieces on up to jobs_ threads, written in order.
  constexpr std::size_t kPiece = 1024;
  const std::size_t pieces = (points.size() + kPiece - 1) / kPiece;
  std::vector<std::string> csv(pieces);
  std::vector<std::vector<std::string>> json(pieces);
  parallel_for(pieces, jobs_, [&](std::size_t i) {
    const std::size_t begin = i * kPiece, end = std::min(points.size(), begin + kPiece);
    Table table = sweep_table(spec_, std::span<const SweepPoint>(points).subspan(begin, end - begin));
    json[i].reserve(end - begin);
    for (const std::vector<Cell>& row : table.rows()) json[i].push_back(json_row_.row(row));
    csv[i] = table_to_csv(with_missing_as(std::move(table), ""), /*header=*/false);
  });
  for (std::size_t i = 0; i < pieces; ++i) {
    csv_.write(csv[i]);
    for (const std::string& row : json[i]) {
      json_.write(json_rows_.separator());
      json_.write(row);
    }
  }
  next_ += points.size();
}

SweepReport SweepOutputWriter::finish(bool charts, int chart_processes) {
  if (next_ != total_) {
    throw InternalError(fmt::format("sweep output: {} points of a grid of {}", next_, total_));
  }
  json_.write(json_rows_.end());
  SweepReportScope scope;
  if (!grid_.whole) {
    scope.whole = &spec_;
    scope.points = total_;
    for (std::size_t s = 0; s < kStatuses; ++s) {
      if (by_status_[s] > 0)
        scope.by_status.emplace_back(std::string(to_string(static_cast<PointStatus>(s))), by_status_[s]);
    }
    scope.description = grid_.description;
  }
  SweepReport report =
      build_sweep_pages(grid_.spec, kept_, charts, chart_processes, grid_.whole ? nullptr : &scope);
  for (auto& [name, content] : report.files) outputs_.add(name, std::move(content));
  report.files.clear();
  return report;
}

}  // namespace mlasim
