#include "sim/config/yaml_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

#include "sim/config/loader.hpp"
#include "sim/output.hpp"

namespace mlasim {

namespace {

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

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

void index_node(const YAML::Node& node, const std::string& path, const std::string& file, LocationIndex& index) {
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
  std::string out = fmt::format("unknown {} `{}`", what, word);
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

bool YamlValue::is_null() const { return !node_.IsDefined() || node_.IsNull(); }
bool YamlValue::is_scalar() const { return node_.IsDefined() && node_.IsScalar(); }
bool YamlValue::is_list() const { return node_.IsDefined() && node_.IsSequence(); }
bool YamlValue::is_map() const { return node_.IsDefined() && node_.IsMap(); }

std::string YamlValue::describe() const {
  if (is_list()) return "a list";
  if (is_map()) return "a map";
  if (is_null()) return "nothing";
  return fmt::format("`{}`", node_.Scalar());
}

void YamlValue::fail(std::string message) const { throw InputError(where_, key_path_, std::move(message)); }

std::string YamlValue::as_string() const {
  if (!is_scalar()) fail(fmt::format("expected a string, got {}", describe()));
  return node_.Scalar();
}

std::int64_t YamlValue::as_int64() const {
  if (!is_scalar()) fail(fmt::format("expected an integer, got {}", describe()));
  const std::string& text = node_.Scalar();
  std::int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) fail(fmt::format("integer `{}` is out of range", text));
  if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty()) {
    fail(fmt::format("expected an integer, got `{}`", text));
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
    fail(fmt::format("expected a plain number, got `{}`", text));
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
        throw InputError(key_loc, child_path(key),
                         fmt::format("duplicate key (first given at line {})", seen.key_where.line));
      }
    }
    if (!open && std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      const auto match = closest_match(key, allowed);
      throw InputError(key_loc, child_path(key),
                       match ? fmt::format("unknown key `{}`; did you mean `{}`?", key, *match)
                             : fmt::format("unknown key `{}` (valid: {})", key, join_names(allowed)));
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

bool YamlMap::has(std::string_view key) const { return optional(key).has_value(); }

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
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    SourceLocation where{doc.file_};
    if (!e.mark.is_null()) where = SourceLocation{doc.file_, e.mark.line + 1, e.mark.column + 1};
    throw InputError(where, "", fmt::format("YAML syntax error: {}", e.msg));
  }
  if (documents.size() > 1) {
    throw InputError(node_location(documents[1], doc.file_), "",
                     fmt::format("expected one YAML document (a {}), found {}", what, documents.size()));
  }
  if (documents.empty() || !documents[0].IsDefined() || documents[0].IsNull()) {
    throw InputError(SourceLocation{doc.file_}, "", fmt::format("the file is empty; expected a {}", what));
  }
  doc.root_ = documents[0];
  SourceLocation root_loc = node_location(doc.root_, doc.file_);
  doc.index_.add("", root_loc);
  index_node(doc.root_, "", doc.file_, doc.index_);
  return doc;
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
