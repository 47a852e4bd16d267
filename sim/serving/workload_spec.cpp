#include "sim/serving/workload_spec.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <optional>

#include "sim/csv.hpp"
#include "sim/error.hpp"
#include "sim/output.hpp"

namespace mlasim {

std::string_view to_string(ArrivalKind k) {
  switch (k) {
    case ArrivalKind::kPoisson:
      return "poisson";
    case ArrivalKind::kClosedLoop:
      return "closed_loop";
    case ArrivalKind::kTrace:
      return "trace";
  }
  return "?";
}

namespace {

/// How a trace format gives the arrival time.
enum class ArrivalColumn {
  kSeconds,   ///< seconds since the start of the trace (ours, Vidur's `arrived_at`)
  kDateTime,  ///< a date and time (Azure's `TIMESTAMP`); arrival = time since the first row
  kRowIndex,  ///< no arrival column: row i arrives at i seconds (Vidur's trace replay without `arrived_at`)
};

/// A trace CSV format: its columns by name (matched without regard to case).
struct TraceFormat {
  std::string_view name;
  std::string_view arrival;  ///< the arrival column
  bool arrival_optional;     ///< a missing arrival column means kRowIndex
  ArrivalColumn kind;
  std::string_view prompt;
  std::string_view output;
  std::vector<std::string_view> harmless;  ///< columns known to carry nothing the simulation uses
};

const std::array<TraceFormat, 3>& trace_formats() {
  static const std::array<TraceFormat, 3> formats{{
      {"mlasim",
       "arrival_time_s",
       false,
       ArrivalColumn::kSeconds,
       "prompt_tokens",
       "output_tokens",
       {"request_id"}},
      {"Azure LLM inference",
       "TIMESTAMP",
       false,
       ArrivalColumn::kDateTime,
       "ContextTokens",
       "GeneratedTokens",
       {}},
      {"Vidur",
       "arrived_at",
       true,
       ArrivalColumn::kSeconds,
       "num_prefill_tokens",
       "num_decode_tokens",
       {"request_id", "num_total_tokens", "pd_ratio"}},
  }};
  return formats;
}

bool same_name(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

std::optional<std::size_t> find_column(const CsvFile& csv, std::string_view name) {
  for (std::size_t i = 0; i < csv.names().size(); ++i) {
    if (same_name(csv.names()[i], name)) return i;
  }
  return std::nullopt;
}

/// Reads `n` digits at `pos` of `s` as a number; nullopt when they are not all digits.
std::optional<std::int64_t> digits(std::string_view s, std::size_t& pos, std::size_t n) {
  if (pos + n > s.size()) return std::nullopt;
  std::int64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  pos += n;
  return v;
}

/// Picoseconds since 1970-01-01 00:00:00 of `YYYY-MM-DD HH:MM:SS[.fraction]` (a `T` may separate the date
/// and the time; a trailing `Z` is allowed; digits of the fraction beyond picoseconds are dropped), as
/// (seconds, picoseconds within the second); nullopt when the text is not such a time.
std::optional<std::pair<std::int64_t, std::int64_t>> parse_datetime(std::string_view s) {
  std::size_t p = 0;
  const auto year = digits(s, p, 4);
  if (!year || p >= s.size() || s[p++] != '-') return std::nullopt;
  const auto month = digits(s, p, 2);
  if (!month || p >= s.size() || s[p++] != '-') return std::nullopt;
  const auto day = digits(s, p, 2);
  if (!day || p >= s.size() || (s[p] != ' ' && s[p] != 'T')) return std::nullopt;
  ++p;
  const auto hour = digits(s, p, 2);
  if (!hour || p >= s.size() || s[p++] != ':') return std::nullopt;
  const auto minute = digits(s, p, 2);
  if (!minute || p >= s.size() || s[p++] != ':') return std::nullopt;
  const auto second = digits(s, p, 2);
  if (!second) return std::nullopt;
  if (*month < 1 || *month > 12 || *day < 1 || *day > 31 || *hour > 23 || *minute > 59 || *second > 60)
    return std::nullopt;
  std::int64_t frac_ps = 0;
  if (p < s.size() && s[p] == '.') {
    ++p;
    std::int64_t scale = kPsPerSecond / 10;
    const std::size_t first = p;
    for (; p < s.size() && s[p] >= '0' && s[p] <= '9'; ++p) {
      frac_ps += (s[p] - '0') * scale;
      scale /= 10;
    }
    if (p == first) return std::nullopt;
  }
  if (p < s.size() && s[p] == 'Z') ++p;
  if (p != s.size()) return std::nullopt;
  // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-Compatible Low-Level Date
  // Algorithms", days_from_civil).
  const std::int64_t y = *year - (*month <= 2 ? 1 : 0);
  const std::int64_t era = y / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (*month + (*month > 2 ? -3 : 9)) + 2) / 5 + *day - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const std::int64_t days = era * 146097 + doe - 719468;
  return std::pair{days * 86400 + *hour * 3600 + *minute * 60 + *second, frac_ps};
}

std::string format_columns(const TraceFormat& f) {
  const std::string arrival =
      f.arrival_optional ? "[" + std::string(f.arrival) + "]" : std::string(f.arrival);
  return arrival + "," + std::string(f.prompt) + "," + std::string(f.output);
}

}  // namespace

std::vector<TraceRequest> load_trace(const std::filesystem::path& path) {
  CsvOptions options;
  options.comments = true;
  options.default_header = {"arrival_time_s", "prompt_tokens", "output_tokens"};
  const std::string file = path.string();
  const CsvFile csv = CsvFile::parse(read_text_file(path), file, {}, "trace", options);
  const int header_line = csv.header_where(0).line;
  const TraceFormat* format = nullptr;
  for (const TraceFormat& f : trace_formats()) {
    if (find_column(csv, f.prompt)) {
      format = &f;
      break;
    }
  }
  if (format == nullptr) {
    std::vector<std::string> known;
    for (const TraceFormat& f : trace_formats())
      known.push_back(fmt::format("`{}` ({})", format_columns(f), f.name));
    throw InputError(SourceLocation{file, header_line, 1}, "",
                     fmt::format("the header names no known trace format; expected the columns {}",
                                 fmt::join(known, ", or ")));
  }
  std::vector<std::string_view> wanted{format->prompt, format->output};
  if (!format->arrival_optional) wanted.insert(wanted.begin(), format->arrival);
  for (const std::string_view col : wanted) {
    if (!find_column(csv, col)) {
      throw InputError(SourceLocation{file, header_line, 1}, std::string(col),
                       fmt::format("the header lacks column '{}' (a {} trace has the columns {})", col,
                                   format->name, format_columns(*format)));
    }
  }
  for (std::size_t c = 0; c < csv.names().size(); ++c) {
    const std::string& n = csv.names()[c];
    bool known =
        same_name(n, format->arrival) || same_name(n, format->prompt) || same_name(n, format->output);
    for (const std::string_view h : format->harmless) known = known || same_name(n, h);
    if (!known) {
      throw InputError(csv.header_where(c), n,
                       fmt::format("unknown column '{}' in a {} trace (its columns: {}{}{})", n, format->name,
                                   format_columns(*format), format->harmless.empty() ? "" : "; ignored: ",
                                   fmt::join(format->harmless, ", ")));
    }
  }
  const std::optional<std::size_t> arrival_col = find_column(csv, format->arrival);
  const std::size_t prompt_col = *find_column(csv, format->prompt);
  const std::size_t output_col = *find_column(csv, format->output);
  constexpr std::string_view kTokenLimit = "the limit of 2^50 tokens";
  constexpr std::string_view kClock =
      "the 64-bit picosecond clock (at most about 106 days after the first request)";

  std::vector<TraceRequest> out;
  out.reserve(csv.rows().size());
  std::optional<std::pair<std::int64_t, std::int64_t>> origin;  // kDateTime: the first row's time
  for (const CsvRecord& row : csv.rows()) {
    TraceRequest r;
    if (!arrival_col) {
      r.arrival_ps = static_cast<TimePs>(out.size()) * kPsPerSecond;
      if (out.size() >= 9'000'000)
        row.fail(prompt_col, fmt::format("row {} arrives beyond {}", out.size(), kClock));
    } else if (format->kind == ArrivalColumn::kSeconds) {
      const double t = row.real(*arrival_col);
      const auto ps = try_seconds_to_ps(t);
      if (!ps) row.fail(*arrival_col, fmt::format("arrival time {} s is beyond {}", t, kClock));
      r.arrival_ps = *ps;
    } else {
      const std::string text = row.text(*arrival_col);
      const auto at = parse_datetime(text);
      if (!at) {
        row.fail(*arrival_col,
                 fmt::format("'{}' is not a date and time such as `2023-11-16 18:15:46.6805900`", text));
      }
      if (!origin) origin = at;
      const std::int64_t ds = at->first - origin->first;
      const std::int64_t dfrac = at->second - origin->second;
      TimePs ps = 0;
      if (ds < 0 || (ds == 0 && dfrac < 0)) {
        row.fail(*arrival_col,
                 fmt::format("{} is before the first row's time: arrival times must not decrease", text));
      }
      if (__builtin_mul_overflow(ds, kPsPerSecond, &ps) || __builtin_add_overflow(ps, dfrac, &ps))
        row.fail(*arrival_col, fmt::format("{} is beyond {}", text, kClock));
      r.arrival_ps = ps;
    }
    r.prompt_tokens = row.integer(prompt_col, kMaxTokens, kTokenLimit);
    r.output_tokens = row.integer(output_col, kMaxTokens, kTokenLimit);
    if (r.prompt_tokens < 1)
      row.fail(prompt_col, fmt::format("must be at least 1 token, got {}", r.prompt_tokens));
    if (r.output_tokens < 1)
      row.fail(output_col, fmt::format("must be at least 1 token, got {}", r.output_tokens));
    if (!out.empty() && r.arrival_ps < out.back().arrival_ps) {
      row.fail(arrival_col.value_or(prompt_col),
               fmt::format("arrival times must not decrease ({} s after {} s)", ps_to_seconds(r.arrival_ps),
                           ps_to_seconds(out.back().arrival_ps)));
    }
    out.push_back(r);
  }
  if (out.empty()) throw InputError(SourceLocation{file}, "", "trace has no requests");
  return out;
}

RequestSource::RequestSource(const WorkloadSpec& spec)
    : spec_(spec), arrival_rng_(spec.seed), length_rng_(spec.seed ^ 0x9E3779B97F4A7C15ULL) {
  total_ = spec.arrival == ArrivalKind::kTrace
               ? std::min<std::int64_t>(spec.num_requests, static_cast<std::int64_t>(spec.trace.size()))
               : spec.num_requests;
}

std::optional<TraceRequest> RequestSource::next(TimePs now_ps) {
  if (exhausted()) throw InternalError("request source exhausted");
  TraceRequest r;
  switch (spec_.arrival) {
    case ArrivalKind::kTrace:
      r = spec_.trace[static_cast<std::size_t>(issued_)];
      break;
    case ArrivalKind::kPoisson: {
      // A gap (or an arrival) beyond the 64-bit clock ends the arrivals: none of the rest could arrive.
      const std::optional<TimePs> gap = try_seconds_to_ps(arrival_rng_.exponential(spec_.rate_per_s));
      const std::optional<TimePs> at = gap ? checked_add(last_arrival_ps_, *gap) : std::nullopt;
      if (!at) {
        beyond_clock_ = true;
        return std::nullopt;
      }
      last_arrival_ps_ = *at;
      r.arrival_ps = last_arrival_ps_;
      break;
    }
    case ArrivalKind::kClosedLoop:
      r.arrival_ps = now_ps;
      break;
  }
  if (spec_.arrival != ArrivalKind::kTrace) {
    r.prompt_tokens = draw_length(spec_.prompt, length_rng_);
    r.output_tokens = draw_length(spec_.output, length_rng_);
  }
  ++issued_;
  return r;
}

}  // namespace mlasim
