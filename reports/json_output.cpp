#include "reports/json_output.hpp"

#include <cmath>

#include "sim/error.hpp"
#include "sim/version.hpp"

namespace mlasim {

nlohmann::ordered_json cell_json(const Cell& cell) {
  if (const auto* i = std::get_if<std::int64_t>(&cell)) return *i;
  if (const auto* d = std::get_if<double>(&cell))
    return std::isfinite(*d) ? nlohmann::ordered_json(*d) : nullptr;
  if (const auto* b = std::get_if<bool>(&cell)) return *b;
  if (const auto* s = std::get_if<std::string>(&cell)) return *s;
  return nullptr;
}

nlohmann::ordered_json row_json(const Table& table, std::size_t row) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  const auto& cols = table.columns();
  const auto& cells = table.rows().at(row);
  for (std::size_t i = 0; i < cols.size(); ++i) j[cols[i].name] = cell_json(cells[i]);
  return j;
}

nlohmann::ordered_json rows_json(const Table& table) {
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (std::size_t r = 0; r < table.rows().size(); ++r) j.push_back(row_json(table, r));
  return j;
}

nlohmann::ordered_json json_envelope(JsonSchema schema, nlohmann::ordered_json config) {
  nlohmann::ordered_json j;
  j["schema"] = std::string(schema.name);
  j["schema_version"] = schema.version;
  j["mlasim_version"] = std::string(kMlasimVersion);
  j["config"] = std::move(config);
  return j;
}

std::string json_text(const nlohmann::ordered_json& document) {
  // Replacement of invalid UTF-8 (a byte from a user's file name) rather than an exception.
  return document.dump(1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

JsonArrayWriter::JsonArrayWriter(nlohmann::ordered_json document, const std::string& key) {
  if (document.contains(key)) throw InternalError("JsonArrayWriter: the document has `" + key + "` already");
  // The document with an empty array where the elements go: json_text writes it `"key": []`, and the members
  // after it (none: it is the last) and the closing brace follow.
  document[key] = nlohmann::ordered_json::array();
  const std::string text = json_text(document);
  const std::string marker = nlohmann::ordered_json(key).dump() + ": []";
  const std::size_t at = text.rfind(marker);
  if (at == std::string::npos)
    throw InternalError("JsonArrayWriter: no `" + key + "` in the document's text");
  prefix_ = text.substr(0, at + marker.size() - 1);  // up to and including '['
  suffix_ = text.substr(at + marker.size() - 1);     // from ']'
}

std::string JsonArrayWriter::text_of(const nlohmann::ordered_json& value) {
  // An element of a member of the top-level object sits two levels deep: every line of its text (a string
  // never holds a raw newline: the writer escapes it) indented by two spaces.
  const std::string text = value.dump(1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (const char c : text) {
    out += c;
    if (c == '\n') out += "  ";
  }
  return out;
}

std::string JsonArrayWriter::end() const {
  return elements_ == 0 ? suffix_ : "\n " + suffix_;
}

JsonRowText::JsonRowText(const std::vector<Column>& columns) {
  // An object two levels deep (an element of the top-level object's array): members at three spaces, the
  // closing brace at two (JsonArrayWriter::text_of indents the object's own lines by two).
  for (const Column& c : columns) {
    keys_.push_back("\n   " +
                    nlohmann::ordered_json(c.name).dump(-1, ' ', false,
                                                        nlohmann::ordered_json::error_handler_t::replace) +
                    ": ");
  }
}

std::string JsonRowText::row(const std::vector<Cell>& cells) const {
  if (cells.size() != keys_.size()) throw InternalError("JsonRowText: a row of another table");
  if (cells.empty()) return "{}";
  std::string out = "{";
  out.reserve(64 * cells.size());
  // One serializer for the row, appending each value to `out` as dump() would write it (the writer's own
  // number and string formatting), not one dump() and its output adapter per value.
  nlohmann::detail::serializer<nlohmann::ordered_json> values(
      nlohmann::detail::output_adapter<char>(out), ' ', nlohmann::ordered_json::error_handler_t::replace);
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) out += ',';
    out += keys_[i];
    values.dump(cell_json(cells[i]), false, false, 0);
  }
  out += "\n  }";
  return out;
}

nlohmann::ordered_json config_file_json(const std::string& file, const std::string& content_json,
                                        const std::vector<std::string>& overrides) {
  nlohmann::ordered_json j;
  j["file"] = file;
  j["content"] =
      content_json.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json::parse(content_json);
  j["overrides"] = overrides;
  return j;
}

}  // namespace mlasim
