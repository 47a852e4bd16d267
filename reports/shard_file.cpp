#include "reports/shard_file.hpp"

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <map>

#include "sim/error.hpp"
#include "sim/version.hpp"

namespace mlasim {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

constexpr const char* kFloatKey = "$f";

// Non-finite numbers as {"$f": "nan"}: JSON has no NaN, and the shard must read back exactly.
json encode(const json& j) {
  if (j.is_number_float()) {
    const double v = j.get<double>();
    if (std::isnan(v)) return json{{kFloatKey, "nan"}};
    if (std::isinf(v)) return json{{kFloatKey, v > 0 ? "inf" : "-inf"}};
    return j;
  }
  if (j.is_array() || j.is_object()) {
    json out = j.is_array() ? json::array() : json::object();
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (j.is_array()) {
        out.push_back(encode(*it));
      } else {
        out[it.key()] = encode(*it);
      }
    }
    return out;
  }
  return j;
}

void decode(json& j) {
  if (j.is_object() && j.size() == 1 && j.contains(kFloatKey) && j[kFloatKey].is_string()) {
    const std::string s = j[kFloatKey].get<std::string>();
    if (s == "nan") {
      j = std::numeric_limits<double>::quiet_NaN();
    } else if (s == "inf") {
      j = std::numeric_limits<double>::infinity();
    } else if (s == "-inf") {
      j = -std::numeric_limits<double>::infinity();
    } else {
      throw std::invalid_argument(fmt::format("{{\"$f\": \"{}\"}} is not a number", s));
    }
    return;
  }
  if (j.is_array() || j.is_object()) {
    for (auto& v : j) decode(v);
  }
}

std::string line_of(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace

std::string shard_file_name(std::string_view kind) {
  return fmt::format("{}-shard.jsonl", kind);
}

ShardHeader make_shard_header(std::string_view kind, const std::string& config_file,
                              const std::string& config_json, const std::vector<std::string>& overrides,
                              const Shard& shard, std::size_t total) {
  ShardHeader h;
  h.kind = std::string(kind);
  h.mlasim_version = std::string(kMlasimVersion);
  h.config_file = config_file;
  h.config_path = fs::absolute(config_file);
  h.config_json = config_json.empty() ? std::string("null") : json::parse(config_json).dump();
  h.overrides = overrides;
  h.shard = shard;
  h.total = total;
  const auto [first, last] = shard_range(total, shard);
  h.first = first;
  h.items = last - first;
  return h;
}

std::string shard_header_line(const ShardHeader& h) {
  json head = json_envelope(kShardSchema, config_file_json(h.config_file, h.config_json, h.overrides));
  head["kind"] = h.kind;
  head["config_path"] = h.config_path.string();
  head["shard"] = {{"index", h.shard.index}, {"count", h.shard.count}};
  head["total_items"] = h.total;
  head["first_item"] = h.first;
  head["items"] = h.items;
  head["extra"] = h.extra;
  head["mlasim_version"] = h.mlasim_version;
  return line_of(head);
}

std::string shard_item_line(const json& item) {
  return line_of(encode(item));
}

std::string shard_file_text(const ShardHeader& h, const std::vector<json>& items) {
  std::string out = shard_header_line(h);
  for (const json& item : items) out += shard_item_line(item);
  return out;
}

ShardHeader read_shard_file(const fs::path& path, std::string_view kind,
                            const std::function<void(const json&, std::size_t)>& on_item,
                            fs::path* file_read) {
  std::error_code ec;
  const bool folder = fs::is_directory(path, ec);
  const fs::path file = folder ? path / shard_file_name(kind) : path;
  if (file_read != nullptr) *file_read = file;
  const auto fail = [&](std::size_t line, const std::string& key, const std::string& why) {
    throw InputError(SourceLocation{file.string(), static_cast<int>(line), 0}, key, why);
  };
  if (!fs::exists(file, ec)) {
    throw InputError(SourceLocation{file.string()}, "",
                     folder ? fmt::format("no such file: the folder has no {} (is it the --out of a `--shard "
                                          "I/N` run of this kind?)",
                                          shard_file_name(kind))
                            : std::string("no such file or folder"));
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(SourceLocation{file.string()}, "", "cannot read");
  ShardHeader h;
  std::string line;
  if (!std::getline(in, line)) fail(1, "", "empty file: not a shard");
  try {
    const json head = json::parse(line);
    if (!head.is_object() || head.value("schema", std::string()) != kShardSchema.name) {
      fail(1, "schema", fmt::format("not a shard (expected schema \"{}\")", kShardSchema.name));
    }
    if (head.at("schema_version").get<int>() != kShardSchema.version) {
      fail(1, "schema_version",
           fmt::format("version {} of the shard format; this mlasim reads version {}",
                       head.at("schema_version").get<int>(), kShardSchema.version));
    }
    h.kind = head.at("kind").get<std::string>();
    if (h.kind != kind) fail(1, "kind", fmt::format("a {} shard, not a {} shard", h.kind, kind));
    h.mlasim_version = head.at("mlasim_version").get<std::string>();
    h.config_file = head.at("config").at("file").get<std::string>();
    h.config_json = head.at("config").at("content").dump();
    h.overrides = head.at("config").at("overrides").get<std::vector<std::string>>();
    h.config_path = head.at("config_path").get<std::string>();
    h.shard = Shard{head.at("shard").at("index").get<int>(), head.at("shard").at("count").get<int>()};
    h.total = head.at("total_items").get<std::size_t>();
    h.first = head.at("first_item").get<std::size_t>();
    h.items = head.at("items").get<std::size_t>();
    h.extra = head.at("extra");
  } catch (const json::exception& e) {
    fail(1, "", fmt::format("the first line does not read as a shard's header: {}", e.what()));
  }
  if (!on_item) return h;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    try {
      json item = json::parse(line);
      decode(item);
      on_item(item, n);
    } catch (const InputError&) {
      throw;
    } catch (const std::exception& e) {
      fail(n + 2, "", fmt::format("item {} does not read: {}", n + 1, e.what()));
    }
    ++n;
  }
  if (n != h.items)
    fail(n + 1, "", fmt::format("the header says {} items, the file has {} (cut short?)", h.items, n));
  return h;
}

std::vector<std::size_t> check_shards(const std::vector<ShardSource>& shards) {
  if (shards.empty()) throw InputError("no shard to merge");
  const ShardSource& a = shards.front();
  std::map<int, std::size_t> by_index;
  for (std::size_t k = 0; k < shards.size(); ++k) {
    const ShardSource& s = shards[k];
    const auto differ = [&](const std::string& what) {
      throw InputError(fmt::format("{} and {} are shards of different studies: {} differ", a.path.string(),
                                   s.path.string(), what));
    };
    if (s.header.kind != a.header.kind) differ("their kinds");
    if (s.header.config_json != a.header.config_json) differ("their configs");
    if (s.header.overrides != a.header.overrides) differ("their command-line overrides");
    if (s.header.shard.count != a.header.shard.count) {
      differ(fmt::format("their shard counts ({}, {})", a.header.shard.count, s.header.shard.count));
    }
    if (s.header.total != a.header.total) differ("their sizes");
    if (s.header.extra != a.header.extra) differ("their headers");
    if (s.header.mlasim_version != kMlasimVersion) {
      throw InputError(
          SourceLocation{s.path.string()}, "mlasim_version",
          fmt::format("written by mlasim {}, this is mlasim {}: run the shards and the merge with "
                      "one version",
                      s.header.mlasim_version, kMlasimVersion));
    }
    const auto [it, inserted] = by_index.emplace(s.header.shard.index, k);
    if (!inserted) {
      throw InputError(fmt::format("shard {} is given twice: {} and {}", s.header.shard.to_string(),
                                   shards[it->second].path.string(), s.path.string()));
    }
    const auto [first, last] = shard_range(s.header.total, s.header.shard);
    if (s.header.first != first || s.header.items != last - first) {
      throw InputError(SourceLocation{s.path.string()}, "",
                       fmt::format("shard {} should hold items {} to {} of {}, it holds {} from {}",
                                   s.header.shard.to_string(), first, last, s.header.total, s.header.items,
                                   s.header.first));
    }
  }
  std::vector<int> missing;
  for (int i = 1; i <= a.header.shard.count; ++i) {
    if (by_index.count(i) == 0) missing.push_back(i);
  }
  if (!missing.empty()) {
    throw InputError(fmt::format("shard{} {} of {} {} missing: merge needs every shard's folder",
                                 missing.size() == 1 ? "" : "s", fmt::join(missing, ", "),
                                 a.header.shard.count, missing.size() == 1 ? "is" : "are"));
  }
  std::vector<std::size_t> order;
  order.reserve(by_index.size());
  for (const auto& [index, k] : by_index) order.push_back(k);
  return order;
}

}  // namespace mlasim
