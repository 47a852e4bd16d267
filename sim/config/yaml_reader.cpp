#include "sim/config/yaml_reader.hpp"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sim/config/loader.hpp"
#include "sim/output.hpp"

namespace mlasim {

namespace {

/// Largest YAML or JSON file parse_file() reads (cards and configs are a few kilobytes).
constexpr std::size_t kMaxYamlBytes = std::size_t{4} << 20U;

char lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

std::string lowered(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

// Strips the last component of a key path: "a.b[2]" -> "a.b", "a.b" -> "a", "a" -> "".
std::string parent_path(std::string_view path) {
  const std::size_t cut = path.find_last_of(".[");
  return cut == std::string_view::npos ? std::string() : std::string(path.substr(0, cut));
}

SourceLocation mark_location(const YAML::Mark& mark, const std::string& file) {
  if (mark.is_null() || mark.line < 0 || mark.column < 0) return SourceLocation{file};
  return SourceLocation{file, mark.line + 1, mark.column + 1};  // yaml-cpp marks are 0-based
}

/// Walks the parser's events without building nodes. Refuses what the schemas never need and what can
/// make the reader loop or blow up: a second document, anchors and aliases (a "billion laughs" expands
/// exponentially when the nodes are walked), and a stray `,` outside a flow collection (yaml-cpp 0.7 reports
/// it as an endless run of empty documents: jbeder/yaml-cpp#1040).
class StructureCheck : public YAML::EventHandler {
 public:
  StructureCheck(const std::string& text, const std::string& file) : text_(text), file_(file) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    const bool stray = mark.pos >= 0 && static_cast<std::size_t>(mark.pos) < text_.size() &&
                       (text_[static_cast<std::size_t>(mark.pos)] == ',' || mark.pos == last_start_);
    if (stray) {
      const char c =
          static_cast<std::size_t>(mark.pos) < text_.size() ? text_[static_cast<std::size_t>(mark.pos)] : ' ';
      throw InputError(mark_location(mark, file_), "",
                       fmt::format("YAML syntax error: unexpected `{}` outside a flow collection", c));
    }
    last_start_ = mark.pos;
    ++documents_;
    if (documents_ == 2) second_ = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { check_anchor(anchor, mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override {
    throw InputError(mark_location(mark, file_), "",
                     "YAML aliases (`*name`) are not supported: write the value out");
  }
  void OnScalar(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                const std::string& /*value*/) override {
    check_anchor(anchor, mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value /*style*/) override {
    check_anchor(anchor, mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value /*style*/) override {
    check_anchor(anchor, mark);
  }
  void OnMapEnd() override {}

  [[nodiscard]] std::size_t documents() const { return documents_; }
  [[nodiscard]] const YAML::Mark& second() const { return second_; }

 private:
  void check_anchor(YAML::anchor_t anchor, const YAML::Mark& mark) const {
    if (anchor == YAML::NullAnchor) return;
    throw InputError(mark_location(mark, file_), "",
                     "YAML anchors (`&name`) are not supported: write the value out");
  }

  const std::string& text_;
  const std::string& file_;
  std::size_t documents_ = 0;
  int last_start_ = -1;
  YAML::Mark second_ = YAML::Mark::null_mark();
};

/// The number of documents in `text` (0 or 1); a second one, anchors, aliases and syntax errors throw.
std::size_t check_yaml_events(const std::string& text, const std::string& file, std::string_view what) {
  std::istringstream in(text);
  StructureCheck check(text, file);
  try {
    YAML::Parser parser(in);
    // At most two documents: the second is already an error (and yaml-cpp 0.7 may never stop producing them).
    while (check.documents() < 2 && parser.HandleNextDocument(check)) {
    }
  } catch (const YAML::Exception& e) {
    throw InputError(mark_location(e.mark, file), "", fmt::format("YAML syntax error: {}", e.msg));
  }
  if (check.documents() > 1) {
    throw InputError(mark_location(check.second(), file), "",
                     fmt::format("expected one YAML document (a {}), found more", what));
  }
  return check.documents();
}

/// Rejects text that is not strict JSON (RFC 8259: no trailing commas, comments or single quotes), located
/// at the offending character. Uses nlohmann-json's SAX parser, so no JSON value is built.
void check_strict_json(const std::string& text, const std::string& file) {
  struct Sax : nlohmann::json_sax<nlohmann::json> {
    bool null() override { return true; }
    bool boolean(bool /*val*/) override { return true; }
    bool number_integer(number_integer_t /*val*/) override { return true; }
    bool number_unsigned(number_unsigned_t /*val*/) override { return true; }
    bool number_float(number_float_t /*val*/, const string_t& /*s*/) override { return true; }
    bool string(string_t& /*val*/) override { return true; }
    bool binary(binary_t& /*val*/) override { return true; }
    bool start_object(std::size_t /*elements*/) override { return true; }
    bool key(string_t& /*val*/) override { return true; }
    bool end_object() override { return true; }
    bool start_array(std::size_t /*elements*/) override { return true; }
    bool end_array() override { return true; }
    bool parse_error(std::size_t position, const std::string& /*last_token*/,
                     const nlohmann::detail::exception& ex) override {
      failed = true;
      byte = position;
      message = ex.what();
      return false;
    }
    bool failed = false;
    std::size_t byte = 0;
    std::string message;
  };
  Sax sax;
  (void)nlohmann::json::sax_parse(text, &sax);
  if (!sax.failed) return;
  // nlohmann's position counts the characters read, the offending one included (1-based).
  const std::size_t at = std::min(sax.byte == 0 ? 0 : sax.byte - 1, text.size());
  const std::size_t line_start = at == 0 ? 0 : text.rfind('\n', at - 1);
  const auto lines = std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n');
  const std::size_t column = line_start == std::string::npos || at == 0 ? at + 1 : at - line_start;
  // Keep what follows "[json.exception.parse_error.101] parse error at line 1, column 9: ".
  std::string detail = sax.message;
  if (const std::size_t col = detail.find("column "); col != std::string::npos) {
    if (const std::size_t colon = detail.find(": ", col); colon != std::string::npos)
      detail = detail.substr(colon + 2);
  } else if (const std::size_t bracket = detail.find("] "); bracket != std::string::npos) {
    detail = detail.substr(bracket + 2);
  }
  // The echoed token ("; last read: '...'") repeats the file with escapes; the location says where.
  if (const std::size_t read = detail.find("; last read: "); read != std::string::npos) {
    const std::size_t expected = detail.rfind("; expected");
    detail.erase(read,
                 expected != std::string::npos && expected > read ? expected - read : std::string::npos);
  }
  throw InputError(SourceLocation{file, static_cast<int>(lines) + 1, static_cast<int>(column)}, "",
                   fmt::format("invalid JSON: {}", clipped(detail, 200)));
}

void index_node(const YAML::Node& node, const std::string& path, const std::string& file,
                LocationIndex& index) {
  if (node.IsMap()) {
    for (const auto& entry : node) {
      if (!entry.first.IsScalar()) continue;  // YamlMap reports non-scalar keys when it reads the map
      const std::string key = entry.first.Scalar();
      const std::string child = path.empty() ? key : path + "." + key;
      index.add(child, node_location(entry.first, file));
      index_node(entry.second, child, file, index);
    }
  } else if (node.IsSequence()) {
    std::size_t i = 0;
    for (const auto& item : node) {
      const std::string child = fmt::format("{}[{}]", path, i++);
      index.add(child, node_location(item, file));
      index_node(item, child, file, index);
    }
  }
}

}  // namespace

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += ", ";
    out += "`" + n + "`";
  }
  return out;
}

std::string unknown_name_message(std::string_view what, std::string_view word,
                                 const std::vector<std::string>& candidates) {
  std::string out = fmt::format("unknown {} `{}`", what, clipped(word));
  const std::optional<std::string> match = closest_match(word, candidates);
  if (match) out += fmt::format("; did you mean `{}`?", *match);
  out += fmt::format(" (valid: {})", join_names(candidates));
  return out;
}

// ---- LocationIndex ---------------------------------------------------------------------------------------

void LocationIndex::add(std::string key_path, SourceLocation where) {
  where_.emplace(std::move(key_path), std::move(where));  // the first occurrence wins, as the reader's does
}

SourceLocation LocationIndex::find(std::string_view key_path) const {
  std::string path(key_path);
  while (true) {
    if (const auto it = where_.find(path); it != where_.end()) return it->second;
    if (path.empty()) return {};
    path = parent_path(path);
  }
}

SourceLocation node_location(const YAML::Node& node, const std::string& file) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null() || mark.line < 0 || mark.column < 0) return SourceLocation{file};
  return SourceLocation{file, mark.line + 1, mark.column + 1};  // yaml-cpp marks are 0-based
}

// ---- YamlValue -------------------------------------------------------------------------------------------

bool YamlValue::is_null() const {
  return !node_.IsDefined() || node_.IsNull();
}
bool YamlValue::is_scalar() const {
  return node_.IsDefined() && node_.IsScalar();
}
bool YamlValue::is_list() const {
  return node_.IsDefined() && node_.IsSequence();
}
bool YamlValue::is_map() const {
  return node_.IsDefined() && node_.IsMap();
}

std::string YamlValue::describe() const {
  if (is_list()) return "a list";
  if (is_map()) return "a map";
  if (is_null()) return "nothing";
  return fmt::format("`{}`", clipped(node_.Scalar()));
}

void YamlValue::fail(std::string message) const {
  throw InputError(where_, key_path_, std::move(message));
}

std::string YamlValue::as_string() const {
  if (!is_scalar()) fail(fmt::format("expected a string, got {}", describe()));
  return node_.Scalar();
}

std::int64_t YamlValue::as_int64() const {
  if (!is_scalar()) fail(fmt::format("expected an integer, got {}", describe()));
  const std::string& text = node_.Scalar();
  std::int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) fail(fmt::format("integer `{}` is out of range", clipped(text)));
  if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty()) {
    fail(fmt::format("expected an integer, got `{}`", clipped(text)));
  }
  return value;
}

int YamlValue::as_int() const {
  const std::int64_t value = as_int64();
  if (value > std::numeric_limits<int>::max() || value < std::numeric_limits<int>::min()) {
    fail(fmt::format("integer `{}` is out of range", value));
  }
  return static_cast<int>(value);
}

double YamlValue::as_double() const {
  if (!is_scalar()) fail(fmt::format("expected a number, got {}", describe()));
  const std::string& text = node_.Scalar();
  double value = 0.0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty() || !std::isfinite(value)) {
    fail(fmt::format("expected a plain number, got `{}`", clipped(text)));
  }
  return value;
}

bool YamlValue::as_bool() const {
  if (is_scalar()) {
    const std::string t = lowered(node_.Scalar());
    if (t == "true") return true;
    if (t == "false") return false;
  }
  fail(fmt::format("expected `true` or `false`, got {}", describe()));
}

double YamlValue::as_quantity(Dimension expected) const {
  if (!is_scalar()) fail(fmt::format("expected {}, got {}", dimension_example(expected), describe()));
  return parse_with([expected](std::string_view text) { return parse_quantity(text, expected); });
}

std::vector<YamlValue> YamlValue::as_list() const {
  if (!is_list()) fail(fmt::format("expected a list, got {}", describe()));
  std::vector<YamlValue> items;
  std::size_t i = 0;
  for (const auto& item : node_) {
    SourceLocation loc = node_location(item, where_.file);
    if (loc.line == 0) loc = where_;
    items.emplace_back(item, fmt::format("{}[{}]", key_path_, i++), std::move(loc));
  }
  return items;
}

YamlMap YamlValue::as_map(std::vector<std::string> allowed) const {
  if (!is_map()) fail(fmt::format("expected a map, got {}", describe()));
  return YamlMap(node_, key_path_, where_, allowed, false);
}

YamlMap YamlValue::as_open_map() const {
  if (!is_map()) fail(fmt::format("expected a map, got {}", describe()));
  return YamlMap(node_, key_path_, where_, {}, true);
}

// ---- YamlMap ---------------------------------------------------------------------------------------------

YamlMap::YamlMap(const YAML::Node& node, std::string key_path, SourceLocation where,
                 const std::vector<std::string>& allowed, bool open)
    : key_path_(std::move(key_path)), where_(std::move(where)) {
  const std::string& file = where_.file;
  for (const auto& entry : node) {
    const SourceLocation key_loc = node_location(entry.first, file);
    if (!entry.first.IsScalar()) throw InputError(key_loc, key_path_, "a key must be a plain name");
    const std::string key = entry.first.Scalar();
    for (const YamlEntry& seen : entries_) {
      if (seen.key == key) {
        // yaml-cpp keeps both entries of a duplicated key; a silent "first wins" would hide a mistake.
        throw InputError(key_loc, child_path(clipped(key)),
                         fmt::format("duplicate key (first given at line {})", seen.key_where.line));
      }
    }
    if (!open && std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      const auto match = closest_match(key, allowed);
      throw InputError(key_loc, child_path(clipped(key)),
                       match
                           ? fmt::format("unknown key `{}`; did you mean `{}`?", clipped(key), *match)
                           : fmt::format("unknown key `{}` (valid: {})", clipped(key), join_names(allowed)));
    }
    SourceLocation value_loc = node_location(entry.second, file);
    // `key:` with no value has no mark of its own; point at the key.
    if (value_loc.line == 0 || entry.second.IsNull()) value_loc = key_loc;
    entries_.push_back(YamlEntry{key, key_loc, YamlValue(entry.second, child_path(key), value_loc)});
  }
}

std::string YamlMap::child_path(std::string_view key) const {
  return key_path_.empty() ? std::string(key) : key_path_ + "." + std::string(key);
}

bool YamlMap::has(std::string_view key) const {
  return optional(key).has_value();
}

std::optional<YamlValue> YamlMap::optional(std::string_view key) const {
  for (const YamlEntry& e : entries_) {
    if (e.key == key) return e.value.is_null() ? std::nullopt : std::optional<YamlValue>(e.value);
  }
  return std::nullopt;
}

YamlValue YamlMap::required(std::string_view key) const {
  for (const YamlEntry& e : entries_) {
    if (e.key == key) return e.value;
  }
  throw InputError(where_, child_path(key), "missing required key");
}

int YamlMap::optional_int(std::string_view key, int fallback) const {
  const auto v = optional(key);
  return v ? v->as_int() : fallback;
}

std::string YamlMap::optional_string(std::string_view key, std::string fallback) const {
  const auto v = optional(key);
  return v ? v->as_string() : std::move(fallback);
}

bool YamlMap::optional_bool(std::string_view key, bool fallback) const {
  const auto v = optional(key);
  return v ? v->as_bool() : fallback;
}

// ---- YamlDocument ----------------------------------------------------------------------------------------

YamlDocument YamlDocument::parse_file(const std::filesystem::path& path, std::string_view what) {
  YamlDocument doc;
  doc.file_ = path.string();
  const std::string text = read_text_file(path);
  // yaml-cpp reads about a microsecond per character, twice here: a config is kilobytes, never megabytes.
  if (text.size() > kMaxYamlBytes) {
    throw InputError(SourceLocation{doc.file_}, "",
                     fmt::format("the file has {} bytes; a {} is at most {} MiB", text.size(), what,
                                 kMaxYamlBytes >> 20U));
  }
  if (path.extension() == ".json") check_strict_json(text, doc.file_);
  // Check the structure on the event stream first (linear time, no nodes built): this is where the
  // yaml-cpp 0.7 LoadAll loop and alias expansion are kept out. Only then build the one document.
  const std::size_t documents = check_yaml_events(text, doc.file_, what);
  if (documents == 0) {
    throw InputError(SourceLocation{doc.file_}, "", fmt::format("the file is empty; expected a {}", what));
  }
  try {
    doc.root_ = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw InputError(mark_location(e.mark, doc.file_), "", fmt::format("YAML syntax error: {}", e.msg));
  }
  if (!doc.root_.IsDefined() || doc.root_.IsNull()) {
    throw InputError(SourceLocation{doc.file_}, "", fmt::format("the file is empty; expected a {}", what));
  }
  SourceLocation root_loc = node_location(doc.root_, doc.file_);
  doc.index_.add("", root_loc);
  index_node(doc.root_, "", doc.file_, doc.index_);
  return doc;
}

namespace {

// YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1023-core-schema) for a plain scalar. Hand-written
// rather than std::regex: libstdc++'s matcher recurses per character, and a scalar can be megabytes long.
bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool core_float(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  const std::size_t e = s.find_first_of("eE");
  std::string_view mantissa = s.substr(0, e);
  if (e != std::string_view::npos) {
    std::string_view exponent = s.substr(e + 1);
    if (!exponent.empty() && (exponent[0] == '-' || exponent[0] == '+')) exponent.remove_prefix(1);
    if (!all_digits(exponent)) return false;
  }
  const std::size_t dot = mantissa.find('.');
  if (dot == std::string_view::npos) return all_digits(mantissa);
  const std::string_view whole = mantissa.substr(0, dot), fraction = mantissa.substr(dot + 1);
  if (whole.empty()) return all_digits(fraction);
  return all_digits(whole) && (fraction.empty() || all_digits(fraction));
}

nlohmann::ordered_json core_schema_scalar(const std::string& text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") return nullptr;
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  const std::string_view digits = std::string_view(text).substr(text[0] == '-' || text[0] == '+' ? 1 : 0);
  const char* first = text.data() + (text[0] == '+' ? 1 : 0);
  const char* last = text.data() + text.size();
  if (all_digits(digits)) {
    std::int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(first, last, v);
    if (ec == std::errc{} && ptr == last) return v;
    return text;  // beyond 64 bits: kept as written
  }
  if (core_float(text)) {
    double v = 0.0;
    const auto [ptr, ec] = std::from_chars(first, last, v);
    if (ec == std::errc{} && ptr == last && std::isfinite(v)) return v;
  }
  return text;
}

nlohmann::ordered_json node_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::ordered_json j = nlohmann::ordered_json::object();
      for (const auto& kv : node) j[kv.first.Scalar()] = node_json(kv.second);
      return j;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::ordered_json j = nlohmann::ordered_json::array();
      for (const auto& item : node) j.push_back(node_json(item));
      return j;
    }
    case YAML::NodeType::Scalar:
      // yaml-cpp tags a quoted scalar "!" and a plain one "?".
      return node.Tag() == "!" ? nlohmann::ordered_json(node.Scalar()) : core_schema_scalar(node.Scalar());
    default:
      return nullptr;
  }
}

}  // namespace

std::string YamlDocument::to_json_text() const {
  return node_json(root_).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

YamlValue YamlDocument::root() const {
  SourceLocation loc = node_location(root_, file_);
  return YamlValue(root_, "", std::move(loc));
}

// ---- validator problems ----------------------------------------------------------------------------------

void throw_first_problem(const std::vector<SpecProblem>& problems, const LocationIndex& index,
                         const std::map<std::string, std::string, std::less<>>& alias) {
  if (problems.empty()) return;
  const SpecProblem& p = problems.front();
  // Translate the longest aliased prefix: "interconnect.bandwidth_bytes_per_s" -> "interconnect.bandwidth".
  std::string yaml_path = p.key_path;
  std::size_t best = 0;
  for (const auto& [from, to] : alias) {
    const bool prefix = p.key_path.size() > from.size() && p.key_path.compare(0, from.size(), from) == 0 &&
                        (p.key_path[from.size()] == '.' || p.key_path[from.size()] == '[');
    if ((p.key_path == from || prefix) && from.size() > best) {
      best = from.size();
      yaml_path = to + p.key_path.substr(from.size());
    }
  }
  throw InputError(index.find(yaml_path), yaml_path, p.message);
}

std::filesystem::path relative_to(const std::filesystem::path& config_dir, const std::string& file) {
  const std::filesystem::path p(file);
  return p.is_absolute() ? p : config_dir / p;
}

std::vector<std::int64_t> read_count_grid(const YamlValue& v) {
  std::vector<std::int64_t> out;
  const std::vector<YamlValue> items = v.is_list() ? v.as_list() : std::vector<YamlValue>{v};
  for (const YamlValue& item : items) {
    if (!item.is_scalar()) item.fail("expected a count, a list of counts or a range such as `1k..128k x2`");
    const std::vector<std::int64_t> part = item.parse_with(parse_count_grid);
    for (const std::int64_t x : part) {
      if (x < 1) item.fail(fmt::format("values must be at least 1, got {}", x));
    }
    out.insert(out.end(), part.begin(), part.end());
  }
  if (out.empty()) v.fail("the grid is empty");
  return out;
}

}  // namespace mlasim
