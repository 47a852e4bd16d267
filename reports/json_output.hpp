#pragma once
/// Every JSON document mlasim writes (step's stdout, sweep.json, summary.json, serve_sweep.json, plan.json,
/// validate.json) is built here, with one writer (nlohmann-json) and one envelope:
///
///   {"schema": "mlasim-<kind>", "schema_version": N, "mlasim_version": "0.1.0", "config": {...}, ...}
///
/// Values are typed: integers, numbers (null where there is none: NaN, infinity), strings, booleans, null.
/// The schemas are in docs/schema/ and documented in the README ("Output contracts"); tests/test_json_schema
/// validates every output against them.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "sim/table.hpp"

namespace mlasim {

/// The document kinds and their schema versions. A version is raised when a field is removed, renamed or
/// changes type; adding a field keeps it.
struct JsonSchema {
  std::string_view name;
  int version;
};
inline constexpr JsonSchema kStepSchema{"mlasim-step", 1};
inline constexpr JsonSchema kSweepSchema{"mlasim-sweep", 1};
inline constexpr JsonSchema kServeSummarySchema{"mlasim-serve-summary", 1};
inline constexpr JsonSchema kServeSweepSchema{"mlasim-serve-sweep", 1};
inline constexpr JsonSchema kPlanSchema{"mlasim-plan", 1};
inline constexpr JsonSchema kValidateSchema{"mlasim-validate", 1};

/// One cell: integer, number (null for NaN and infinities), string, boolean, or null.
[[nodiscard]] nlohmann::ordered_json cell_json(const Cell& cell);

/// Row `row` of `table` as an object keyed by column name, in column order.
[[nodiscard]] nlohmann::ordered_json row_json(const Table& table, std::size_t row);

/// Every row, as an array of objects.
[[nodiscard]] nlohmann::ordered_json rows_json(const Table& table);

/// The envelope's first members; the caller adds the document's own after them.
[[nodiscard]] nlohmann::ordered_json json_envelope(JsonSchema schema, nlohmann::ordered_json config);

/// The text written: indented by one space per level, ending with a newline. Deterministic: numbers in the
/// shortest form that reads back to the same double, members in insertion order.
[[nodiscard]] std::string json_text(const nlohmann::ordered_json& document);

/// A document too large to hold whole, written piece by piece: `document` with its last member `key` an array
/// whose elements come one at a time. begin() + element(e1) + element(e2) + ... + end() is exactly
/// json_text(document with `key` = [e1, e2, ...]), the same bytes, for any number of elements.
class JsonArrayWriter {
 public:
  /// `document` must not have `key` yet (it is added last).
  JsonArrayWriter(nlohmann::ordered_json document, const std::string& key);
  /// The document's text up to the array's first element.
  [[nodiscard]] const std::string& begin() const { return prefix_; }
  /// The next element's text, with its separator.
  [[nodiscard]] std::string element(const nlohmann::ordered_json& value) {
    return element_text(text_of(value));
  }
  /// An element's text without its separator (pure: elements may be rendered on other threads), and the next
  /// element's text with its separator from it.
  [[nodiscard]] static std::string text_of(const nlohmann::ordered_json& value);
  [[nodiscard]] std::string element_text(const std::string& text) { return separator() + text; }
  /// The separator before the next element (element_text without copying the element's text).
  [[nodiscard]] const char* separator() { return elements_++ == 0 ? "\n  " : ",\n  "; }
  /// The rest of the document after the last element.
  [[nodiscard]] std::string end() const;

 private:
  std::string prefix_, suffix_;
  std::size_t elements_ = 0;
};

/// The rows of tables with `columns` as JsonArrayWriter elements: row(cells) is exactly
/// JsonArrayWriter::text_of(row_json(table, r)), written without building the object (each value through the
/// JSON writer, the keys' text once): a streamed sweep writes millions of rows.
class JsonRowText {
 public:
  explicit JsonRowText(const std::vector<Column>& columns);
  [[nodiscard]] std::string row(const std::vector<Cell>& cells) const;

 private:
  std::vector<std::string> keys_;  ///< "\n   \"name\": " per column, the first after "{"
};

/// A config file echoed into an output: {"file": path, "content": the document as JSON, "overrides": [text]}.
/// `content_json` is the JSON text YamlDocument::to_json_text made of the file when it was loaded (empty:
/// null); `overrides` the command-line options that replaced parts of it, as given (`--price h100=3.5`).
[[nodiscard]] nlohmann::ordered_json config_file_json(const std::string& file,
                                                      const std::string& content_json,
                                                      const std::vector<std::string>& overrides);

}  // namespace mlasim
