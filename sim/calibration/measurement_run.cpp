#include "sim/calibration/measurement_run.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <tuple>

#include "sim/csv.hpp"

namespace mlasim {

std::string MeasurementRun::device() const {
  if (probes_fingerprint && !probes_fingerprint->device.empty()) return probes_fingerprint->device;
  if (attention_fingerprint && !attention_fingerprint->device.empty()) return attention_fingerprint->device;
  return manifest.device;
}

const std::vector<std::string_view>& attention_csv_required_columns() {
  static const std::vector<std::string_view> columns = {
      "kernel",    "batch",        "context",    "lengths",        "s_q",
      "n_h",       "n_kv",         "d",          "sum_context",    "flops",
      "bytes",     "median_us",    "p90_us",     "min_us",         "repeats",
      "num_parts", "num_segments", "max_splits", "attention_ctas", "combine_ctas",
      "check"};
  return columns;
}

std::vector<AttentionRow> parse_attention_csv(std::string_view text, const std::string& file,
                                              std::vector<std::string>* notes) {
  const CsvFile csv = CsvFile::parse(text, file, attention_csv_required_columns(), "attention timing CSV");
  if (csv.truncated_last_line() && notes != nullptr) {
    notes->push_back(
        fmt::format("{}: the last line was cut short (the run stopped mid-row) and is ignored", file));
  }
  const auto col = [&](std::string_view name) { return csv.column(name); };
  const std::size_t kernel = col("kernel"), batch = col("batch"), context = col("context"),
                    lengths = col("lengths"), s_q = col("s_q"), n_h = col("n_h"), n_kv = col("n_kv"),
                    d = col("d"), sum_context = col("sum_context"), flops = col("flops"),
                    bytes = col("bytes"), median = col("median_us"), p90 = col("p90_us"), min = col("min_us"),
                    repeats = col("repeats"), parts = col("num_parts"), segments = col("num_segments"),
                    splits = col("max_splits"), actas = col("attention_ctas"), cctas = col("combine_ctas"),
                    check = col("check");
  const bool has_variant = csv.has_column("variant");
  const std::size_t variant = has_variant ? col("variant") : 0;
  std::vector<AttentionRow> rows;
  rows.reserve(csv.rows().size());
  const auto positive_int = [](const CsvRecord& r, std::size_t c) {
    const std::int64_t v = r.integer(c);
    if (v < 1 || v > 1'000'000'000) r.fail(c, fmt::format("{} is out of range (1 .. 1e9)", v));
    return static_cast<int>(v);
  };
  for (const CsvRecord& r : csv.rows()) {
    AttentionRow a;
    a.where = r.where();
    const std::string k = r.text(kernel);
    if (k == "mla") {
      a.kernel = AttentionKernel::kMla;
    } else if (k == "gqa") {
      a.kernel = AttentionKernel::kGqa;
    } else {
      r.fail(kernel, fmt::format("unknown kernel '{}' (known: mla, gqa)", k));
    }
    a.batch = positive_int(r, batch);
    a.context = positive_int(r, context);
    const std::string l = r.text(lengths);
    if (l != "uniform" && l != "variable")
      r.fail(lengths, fmt::format("'{}' is neither uniform nor variable", l));
    a.variable_lengths = l == "variable";
    a.s_q = positive_int(r, s_q);
    a.n_h = positive_int(r, n_h);
    a.n_kv = positive_int(r, n_kv);
    a.d = positive_int(r, d);
    if (a.n_h % a.n_kv != 0) r.fail(n_kv, fmt::format("({}) must divide n_h ({})", a.n_kv, a.n_h));
    a.sum_context = r.real(sum_context);
    if (a.sum_context < a.batch)
      r.fail(sum_context, "is smaller than the batch (every sequence holds a token)");
    a.flops = r.real(flops);
    a.bytes = r.real(bytes);
    if (a.bytes <= 0.0) r.fail(bytes, "a decode call moves bytes");
    a.median_s = r.real(median) * 1e-6;
    if (a.median_s <= 0.0) r.fail(median, "a measured time must be positive");
    a.p90_s = r.real(p90) * 1e-6;
    a.min_s = r.real(min) * 1e-6;
    if (a.p90_s < a.median_s) r.fail(p90, "p90 is below the median");
    if (a.min_s > a.median_s) r.fail(min, "min is above the median");
    a.repeats = positive_int(r, repeats);
    a.num_parts = static_cast<int>(r.integer(parts));
    a.num_segments = static_cast<int>(r.integer(segments));
    a.max_splits = static_cast<int>(r.integer(splits));
    a.attention_ctas = static_cast<int>(r.integer(actas));
    a.combine_ctas = static_cast<int>(r.integer(cctas));
    const std::string c = r.text(check);
    if (c != "pass" && c != "FAILED") r.fail(check, fmt::format("'{}' is neither pass nor FAILED", c));
    a.check_passed = c == "pass";
    a.variant = has_variant ? r.text(variant) : baseline_variant(k, a.d);
    if (a.variant.empty()) r.fail(variant, "is empty (the kernel variant that ran)");
    rows.push_back(a);
  }
  return rows;
}

std::vector<CheckRow> parse_check_csv(std::string_view text, const std::string& file) {
  const CsvFile csv =
      CsvFile::parse(text, file, {"kernel", "d", "lens", "rel_l2_error", "pass"}, "check CSV");
  const std::size_t kernel = csv.column("kernel"), d = csv.column("d"), lens = csv.column("lens"),
                    err = csv.column("rel_l2_error"), pass = csv.column("pass");
  const bool has_variant = csv.has_column("variant");
  std::vector<CheckRow> rows;
  for (const CsvRecord& r : csv.rows()) {
    CheckRow c;
    c.where = r.where();
    c.kernel = r.text(kernel);
    c.d = static_cast<int>(r.integer(d));
    c.lens = r.text(lens);
    c.variant = has_variant ? r.text(csv.column("variant")) : "";
    if (c.variant.empty()) c.variant = baseline_variant(c.kernel, c.d);  // a run from before the column
    // A failed check may carry inf or nan: keep the text's meaning without refusing the file.
    const std::string e = r.text(err);
    c.rel_l2_error = e == "inf" || e == "nan" || e == "-nan" ? INFINITY : r.real(err);
    const std::string p = r.text(pass);
    if (p != "yes" && p != "NO") r.fail(pass, fmt::format("'{}' is neither yes nor NO", p));
    c.pass = p == "yes";
    rows.push_back(c);
  }
  return rows;
}

std::string baseline_variant(std::string_view kernel, int d) {
  return fmt::format("{}-d{}", kernel, d);
}

std::vector<std::string> choose_fastest_variants(MeasurementRun& run) {
  std::vector<std::string> notes;
  // Variants that failed: a failing check row or a timing row marked FAILED; the family of each.
  std::map<std::string, std::string> family_of;  // variant -> "mla d 576"
  std::map<std::string, const SourceLocation*> failed;
  for (const AttentionRow& r : run.attention_rows) {
    family_of[r.variant] = fmt::format("{} d {}", to_string(r.kernel), r.d);
    if (!r.check_passed) failed.emplace(r.variant, &r.where);
  }
  for (const CheckRow& c : run.checks) {
    family_of.emplace(c.variant, fmt::format("{} d {}", c.kernel, c.d));
    if (!c.pass) failed[c.variant] = &c.where;  // the check row names the failure best
  }
  std::set<std::string> set_aside;
  for (const auto& [variant, where] : failed) {
    const std::string& family = family_of[variant];
    bool other_passed = false;
    for (const AttentionRow& r : run.attention_rows) {
      other_passed = other_passed || (r.check_passed && failed.count(r.variant) == 0 &&
                                      fmt::format("{} d {}", to_string(r.kernel), r.d) == family);
    }
    if (!other_passed) continue;  // the family has nothing else: refusal_reasons refuses the run
    set_aside.insert(variant);
    std::size_t n = 0;
    for (const AttentionRow& r : run.attention_rows) n += r.variant == variant ? 1 : 0;
    notes.push_back(fmt::format(
        "{}: variant {} failed its correctness check; its {} timing rows are set aside (another {} variant "
        "passed and is used instead)",
        where->to_string(), variant, n, family));
  }
  std::erase_if(run.attention_rows, [&](const AttentionRow& r) { return set_aside.count(r.variant) != 0; });
  std::erase_if(run.checks, [&](const CheckRow& c) { return set_aside.count(c.variant) != 0; });

  // Per point, the fastest row; a FAILED row (a family with no passing variant) only when nothing passed.
  using PointKey = std::tuple<AttentionKernel, bool, int, int, int, int, int, int>;
  std::map<PointKey, std::size_t> best;
  std::map<PointKey, int> timed_by;
  const auto better = [](const AttentionRow& a, const AttentionRow& b) {
    if (a.check_passed != b.check_passed) return a.check_passed;
    return a.median_s < b.median_s;
  };
  for (std::size_t i = 0; i < run.attention_rows.size(); ++i) {
    const AttentionRow& r = run.attention_rows[i];
    const PointKey key{r.kernel, r.variable_lengths, r.s_q, r.n_h, r.n_kv, r.d, r.batch, r.context};
    ++timed_by[key];
    const auto [it, fresh] = best.emplace(key, i);
    if (!fresh) {
      const AttentionRow& held = run.attention_rows[it->second];
      if (held.variant == r.variant) {
        throw InputError(
            r.where, "batch",
            fmt::format("{} batch {} context {} of variant {} was already measured at {}",
                        to_string(r.kernel), r.batch, r.context, r.variant, held.where.to_string()));
      }
      if (better(r, held)) it->second = i;
    }
  }
  std::size_t contested = 0;
  std::map<std::string, int> wins;
  for (const auto& [key, index] : best) {
    if (timed_by[key] < 2) continue;
    ++contested;
    ++wins[run.attention_rows[index].variant];
  }
  if (best.size() < run.attention_rows.size()) {
    std::vector<AttentionRow> kept;
    kept.reserve(best.size());
    std::vector<std::size_t> order;
    for (const auto& [key, index] : best) order.push_back(index);
    std::sort(order.begin(), order.end());  // file order, as before
    for (const std::size_t i : order) kept.push_back(std::move(run.attention_rows[i]));
    run.attention_rows = std::move(kept);
    std::vector<std::string> parts;
    for (const auto& [variant, n] : wins) parts.push_back(fmt::format("{} at {}", variant, n));
    notes.push_back(
        fmt::format("{} points were timed by several kernel variants; the fastest correct one is used: {}",
                    contested, fmt::join(parts, ", ")));
  }
  run.notes.insert(run.notes.end(), notes.begin(), notes.end());
  return notes;
}

std::vector<DeviceStateRow> parse_device_state_csv(std::string_view text, const std::string& file) {
  const CsvFile csv = CsvFile::parse(
      text, file, {"when", "sm_clock_mhz", "mem_clock_mhz", "temperature_c", "power_w", "clock_reasons"},
      "device-state CSV");
  const std::size_t when = csv.column("when"), sm = csv.column("sm_clock_mhz"),
                    mem = csv.column("mem_clock_mhz"), temp = csv.column("temperature_c"),
                    power = csv.column("power_w"), reasons = csv.column("clock_reasons");
  std::vector<DeviceStateRow> rows;
  for (const CsvRecord& r : csv.rows()) {
    DeviceStateRow s;
    s.where = r.where();
    s.when = r.text(when);
    const auto reading = [&](std::size_t c) -> std::optional<double> {
      if (r.text(c) == "unavailable") return std::nullopt;
      return r.real(c);
    };
    s.sm_clock_mhz = reading(sm);
    s.mem_clock_mhz = reading(mem);
    s.temperature_c = reading(temp);
    s.power_w = reading(power);
    if (r.text(reasons) != "unavailable") s.clock_reasons = static_cast<std::uint64_t>(r.integer(reasons));
    rows.push_back(s);
  }
  return rows;
}

namespace {

std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> words;
  std::string cur;
  for (const char ch : text) {
    if (std::isalnum(static_cast<unsigned char>(ch)) != 0) {
      cur += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    } else if (!cur.empty()) {
      words.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  return words;
}

const std::vector<std::string>& known_models() {
  static const std::vector<std::string> models = {"h100", "h200", "h800",   "h20",   "gh200",
                                                  "a100", "a800", "b200",   "b100",  "gb200",
                                                  "l40s", "l40",  "mi300x", "mi325x"};
  return models;
}

}  // namespace

bool device_matches_profile(std::string_view device, const HardwareSpec& profile) {
  const std::vector<std::string> id_words = words_of(profile.id);
  if (id_words.empty()) return false;
  const std::string& model = id_words.front();
  const std::vector<std::string> dev = words_of(device);
  if (std::find(dev.begin(), dev.end(), model) == dev.end()) return false;
  for (const std::string& other : known_models()) {
    if (other != model && std::find(dev.begin(), dev.end(), other) != dev.end()) return false;
  }
  return true;
}

std::vector<std::string> refusal_reasons(const MeasurementRun& run, const HardwareSpec& profile,
                                         bool allow_throttled) {
  std::vector<std::string> out;
  for (const CheckRow& c : run.checks) {
    if (!c.pass) {
      out.push_back(
          fmt::format("{}: the {} kernel (d {}) failed its correctness check on lengths [{}] "
                      "(relative error {:.3g}); its times cannot calibrate anything",
                      c.where.to_string(), c.kernel, c.d, c.lens, c.rel_l2_error));
    }
  }
  std::map<std::string, int> failed_rows;
  for (const AttentionRow& a : run.attention_rows) {
    if (!a.check_passed) ++failed_rows[fmt::format("{} d {} ({})", to_string(a.kernel), a.d, a.where.file)];
  }
  for (const auto& [what, n] : failed_rows) {
    out.push_back(fmt::format("{} timing rows of {} are marked FAILED", n, what));
  }
  const std::string device = run.device();
  if (device.empty() || device == "none") {
    out.push_back(
        "the run names no GPU (no fingerprint and run.yaml's device is `none`): nothing was measured");
  } else if (!device_matches_profile(device, profile)) {
    out.push_back(
        fmt::format("the run measured `{}` but the profile is `{}` ({}); calibrate that GPU's profile "
                    "instead",
                    device, profile.id, profile.name));
  }
  if (!allow_throttled) {
    for (const DeviceStateRow& s : run.device_state) {
      if (s.clock_reasons && (*s.clock_reasons & kThrottleMask) != 0) {
        out.push_back(
            fmt::format("{}: the card throttled at `{}` (clock reasons 0x{:x}: thermal or hardware "
                        "slowdown){}; rerun on a cool card, or pass --allow-throttled",
                        s.where.to_string(), s.when, *s.clock_reasons,
                        s.sm_clock_mhz ? fmt::format(", SM clock {:g} MHz", *s.sm_clock_mhz) : ""));
      }
    }
  }
  if (run.probe_rows.empty() && run.attention_rows.empty()) {
    out.push_back("the run holds no probe and no attention measurement");
  }
  return out;
}

}  // namespace mlasim
