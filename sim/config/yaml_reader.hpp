#pragma once
/// A small typed reader over parsed YAML, private to sim/config (never include it from a public header).
/// It keeps the file name and the key path of every value, so each error reads like a compiler's:
/// `file:line:col: error: key.path: message`. yaml-cpp marks are 0-based; locations here are 1-based.
/// Nodes are only ever read through const operations (operator[] on a mutable node would insert keys).
#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/model_spec.hpp"
#include "sim/error.hpp"
#include "sim/suggest.hpp"
#include "sim/units.hpp"

namespace mlasim {

/// "unknown <what> `word`; did you mean `x`? (valid: a, b, c)" — the uniform message for a bad name
/// (suggestion by closest_match()).
[[nodiscard]] std::string unknown_name_message(std::string_view what, std::string_view word,
                                               const std::vector<std::string>& candidates);

/// "`a`, `b`, `c`".
[[nodiscard]] std::string join_names(const std::vector<std::string>& names);

/// Key path -> location of that key in the file, for every key and list item of a document. Lets the
/// loader place problems that validators report by key path after the whole spec has been read.
class LocationIndex {
 public:
  void add(std::string key_path, SourceLocation where);
  /// The location of `key_path`, else of its nearest recorded parent, else of the document.
  [[nodiscard]] SourceLocation find(std::string_view key_path) const;

 private:
  std::map<std::string, SourceLocation, std::less<>> where_;
};

class YamlMap;

/// One value of a document with its key path. Conversions throw InputError located at the value.
class YamlValue {
 public:
  YamlValue(const YAML::Node& node, std::string key_path, SourceLocation where)
      : node_(node), key_path_(std::move(key_path)), where_(std::move(where)) {}

  [[nodiscard]] const std::string& key_path() const { return key_path_; }
  [[nodiscard]] const SourceLocation& where() const { return where_; }
  [[nodiscard]] bool is_null() const;
  [[nodiscard]] bool is_scalar() const;
  [[nodiscard]] bool is_list() const;
  [[nodiscard]] bool is_map() const;

  /// A scalar's text (strings, or numbers as written).
  [[nodiscard]] std::string as_string() const;
  /// An integer that fits an int (negative allowed: validators judge the value).
  [[nodiscard]] int as_int() const;
  [[nodiscard]] std::int64_t as_int64() const;
  /// A plain number without unit.
  [[nodiscard]] double as_double() const;
  /// `true` or `false`.
  [[nodiscard]] bool as_bool() const;
  /// A quantity with a unit, in base SI units (parse_quantity); a bare number is an error.
  [[nodiscard]] double as_quantity(Dimension expected) const;
  /// The items of a sequence, each with its path `key[i]`.
  [[nodiscard]] std::vector<YamlValue> as_list() const;
  /// The value as a map whose keys must be among `allowed` (unknown and duplicate keys are errors).
  [[nodiscard]] YamlMap as_map(std::vector<std::string> allowed) const;
  /// The value as a map with arbitrary keys (e.g. dtype -> rate); duplicates are still errors.
  [[nodiscard]] YamlMap as_open_map() const;

  /// Throws InputError at this value's location and key path.
  [[noreturn]] void fail(std::string message) const;

  /// Runs `parse(text)` on the scalar; an InputError it throws (without location) is re-thrown located here.
  template <class Parse>
  auto parse_with(Parse&& parse) const -> decltype(parse(std::string_view{})) {
    const std::string text = as_string();
    try {
      return parse(std::string_view(text));
    } catch (const InputError& e) {
      fail(e.message());
    }
  }

 private:
  [[nodiscard]] std::string describe() const;  ///< "a list", "a map", "`text`" for type errors

  YAML::Node node_;
  std::string key_path_;
  SourceLocation where_;
};

/// One key of a map: its name, where the key is written, and its value.
struct YamlEntry {
  std::string key;
  SourceLocation key_where;
  YamlValue value;
};

/// One YAML map with its key path.
class YamlMap {
 public:
  /// `allowed` empty and `open` true accepts any key.
  YamlMap(const YAML::Node& node, std::string key_path, SourceLocation where,
          const std::vector<std::string>& allowed, bool open);

  [[nodiscard]] const std::string& key_path() const { return key_path_; }
  [[nodiscard]] const SourceLocation& where() const { return where_; }
  [[nodiscard]] bool has(std::string_view key) const;
  /// The value of `key`; a missing key is an error located at this map.
  [[nodiscard]] YamlValue required(std::string_view key) const;
  /// The value of `key`, or nullopt when absent. An explicit `null` counts as absent.
  [[nodiscard]] std::optional<YamlValue> optional(std::string_view key) const;
  /// Every entry, in file order.
  [[nodiscard]] const std::vector<YamlEntry>& entries() const { return entries_; }
  /// Path of a child key: "a.b" + "c" -> "a.b.c".
  [[nodiscard]] std::string child_path(std::string_view key) const;

  [[nodiscard]] int required_int(std::string_view key) const { return required(key).as_int(); }
  [[nodiscard]] int optional_int(std::string_view key, int fallback) const;
  [[nodiscard]] std::string required_string(std::string_view key) const { return required(key).as_string(); }
  [[nodiscard]] std::string optional_string(std::string_view key, std::string fallback) const;
  [[nodiscard]] bool optional_bool(std::string_view key, bool fallback) const;
  [[nodiscard]] double required_quantity(std::string_view key, Dimension d) const {
    return required(key).as_quantity(d);
  }

 private:
  std::string key_path_;
  SourceLocation where_;
  std::vector<YamlEntry> entries_;
};

/// A parsed YAML (or JSON) file with the locations of all its keys.
class YamlDocument {
 public:
  /// Reads and parses `path`. A missing file, a syntax error (with its line and column) and an empty
  /// document (nothing but comments) are InputErrors; `what` names the expected content ("model card").
  static YamlDocument parse_file(const std::filesystem::path& path, std::string_view what);

  [[nodiscard]] const std::string& file() const { return file_; }
  /// The top-level value (key path "").
  [[nodiscard]] YamlValue root() const;
  [[nodiscard]] const LocationIndex& locations() const { return index_; }
  /// The document as compact JSON text, for echoing a config into an output: maps become objects (keys in
  /// document order), sequences arrays; a plain scalar is read as the YAML 1.2 core schema reads it (null,
  /// true/false, an integer, a finite number), anything else, and every quoted scalar, as a string.
  [[nodiscard]] std::string to_json_text() const;

 private:
  YamlDocument() = default;
  std::string file_;
  YAML::Node root_;
  LocationIndex index_;
};

/// Location of a node in `file` (1-based), or of the file alone when yaml-cpp has no mark for it.
[[nodiscard]] SourceLocation node_location(const YAML::Node& node, const std::string& file);

/// Parses a named choice (dtype, device mode, ...) with `parse`; when it throws, the error is located at
/// `value` and reads `unknown <what> `x`; did you mean `y`? (valid: ...)`.
template <class Parse>
auto parse_named(const YamlValue& value, Parse&& parse, std::string_view what,
                 const std::vector<std::string>& candidates) -> decltype(parse(std::string_view{})) {
  const std::string text = value.as_string();
  try {
    return parse(std::string_view(text));
  } catch (const InputError&) {
    value.fail(unknown_name_message(what, text, candidates));
  }
}

/// Turns validator problems into the first located InputError. `alias` maps a validator's key path to the
/// YAML key path (e.g. "n_layers" -> "layers"); paths not found in the index fall back to their parent.
void throw_first_problem(const std::vector<SpecProblem>& problems, const LocationIndex& index,
                         const std::map<std::string, std::string, std::less<>>& alias);

/// Helpers shared by the experiment-config loaders (sweep, serve).

/// `file` relative to the config's directory, unless it is absolute.
[[nodiscard]] std::filesystem::path relative_to(const std::filesystem::path& config_dir,
                                                const std::string& file);

/// Runs `load()` for a file named by `item` (a model, a trace, a histogram) and places its errors: one
/// without a location (an unknown name) is located at the item; one about the whole file (`cart.yaml: no
/// such file`, no line) is located at the item and names the file; one inside the file keeps its own line.
template <class Load>
auto load_referenced(const YamlValue& item, Load&& load) -> decltype(load()) {
  try {
    return load();
  } catch (const InputError& e) {
    if (e.where().file.empty()) item.fail(e.message());
    if (e.where().line == 0) {
      std::string message = e.where().file + ": ";
      if (!e.key_path().empty()) message += e.key_path() + ": ";
      item.fail(message + e.message());
    }
    throw;
  }
}

/// Resolves a model or hardware entry: paths (containing a slash, or ending in .yaml/.yml/.json) are relative
/// to the config file's directory; names go to the catalogue. Errors are placed as load_referenced() does.
template <class Resolve>
auto resolve_entry(const YamlValue& item, const std::filesystem::path& config_dir, Resolve&& resolve) {
  const std::string text = item.as_string();
  const bool is_path = text.find('/') != std::string::npos || text.find('\\') != std::string::npos ||
                       text.ends_with(".yaml") || text.ends_with(".yml") || text.ends_with(".json");
  const std::string target = is_path ? relative_to(config_dir, text).string() : text;
  return load_referenced(item, [&] { return resolve(std::string_view(target)); });
}

/// The names of an enum's values, for "valid: ..." lists.
template <class Enum, std::size_t N>
std::vector<std::string> enum_names(const std::array<Enum, N>& values) {
  std::vector<std::string> out;
  for (const Enum v : values) out.emplace_back(to_string(v));
  return out;
}

/// A grid of positive counts: a scalar (`8`, `128k`, `1k..128k x2`) or a list whose items are any of those.
[[nodiscard]] std::vector<std::int64_t> read_count_grid(const YamlValue& v);

/// The items of a value that may be one scalar or a list of them (a list of names, ...).
[[nodiscard]] std::vector<YamlValue> one_or_many(const YamlValue& v);

/// read_count_grid for values that must fit an int.
[[nodiscard]] std::vector<int> read_int_grid(const YamlValue& v);

/// `true`, `false`, or a non-empty list of them (both, to compare).
[[nodiscard]] std::vector<bool> read_bool_list(const YamlValue& v);

}  // namespace mlasim
