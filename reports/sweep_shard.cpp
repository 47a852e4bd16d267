#include "reports/sweep_shard.hpp"

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

// The fields of a point, in the order each line holds them. Raising kSweepShardSchema's version is due when
// this list changes.
const std::vector<std::string>& field_names() {
  static const std::vector<std::string> names{"model",
                                              "variant",
                                              "hardware",
                                              "tp_index",
                                              "dp_index",
                                              "batch_index",
                                              "context_index",
                                              "s_q_index",
                                              "tp",
                                              "dp_attention",
                                              "batch",
                                              "batch_is_max",
                                              "context",
                                              "s_q",
                                              "attention",
                                              "status",
                                              "invalid_reason",
                                              "step_time_s",
                                              "attention_s",
                                              "gemm_s",
                                              "communication_s",
                                              "other_s",
                                              "tokens_per_s",
                                              "tokens_per_s_per_gpu",
                                              "tokens_per_s_per_user",
                                              "flops",
                                              "bytes",
                                              "attention_flops",
                                              "attention_bytes",
                                              "attention_bound",
                                              "kv_bytes_per_token",
                                              "kv_bytes_per_token_per_gpu",
                                              "kv_capacity_tokens",
                                              "max_concurrency",
                                              "weight_bytes",
                                              "weight_bytes_per_gpu",
                                              "time_share",
                                              "cost"};
  return names;
}

json number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

double number_of(const json& j) {
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
    throw std::invalid_argument(fmt::format("\"{}\" is not a number", s));
  }
  if (!j.is_number()) throw std::invalid_argument(fmt::format("{} is not a number", j.dump()));
  return j.get<double>();
}

json point_json(const SweepPoint& p) {
  json cost = nullptr;
  if (p.cost) {
    cost = json::array({p.cost->gpus, number(p.cost->usd_per_hour),
                        number(p.cost->usd_per_million_output_tokens),
                        number(p.cost->usd_per_million_total_tokens)});
  }
  json shares = json::array();
  for (const double s : p.time_share) shares.push_back(number(s));
  return json::array({p.model,
                      p.variant,
                      p.hardware,
                      p.tp_index,
                      p.dp_index,
                      p.batch_index,
                      p.context_index,
                      p.s_q_index,
                      p.tp,
                      p.dp_attention,
                      p.batch,
                      p.batch_is_max,
                      p.context,
                      p.s_q,
                      static_cast<int>(p.attention),
                      static_cast<int>(p.status),
                      p.invalid_reason,
                      number(p.step_time_s),
                      number(p.attention_s),
                      number(p.gemm_s),
                      number(p.communication_s),
                      number(p.other_s),
                      number(p.tokens_per_s),
                      number(p.tokens_per_s_per_gpu),
                      number(p.tokens_per_s_per_user),
                      number(p.flops),
                      number(p.bytes),
                      number(p.attention_flops),
                      number(p.attention_bytes),
                      p.attention_bound ? json(static_cast<int>(*p.attention_bound)) : json(nullptr),
                      number(p.kv_bytes_per_token),
                      number(p.kv_bytes_per_token_per_gpu),
                      p.kv_capacity_tokens,
                      p.max_concurrency,
                      number(p.weight_bytes),
                      number(p.weight_bytes_per_gpu),
                      shares,
                      cost});
}

template <class Enum>
Enum enum_of(const json& j, int last) {
  const int v = j.get<int>();
  if (v < 0 || v > last) throw std::invalid_argument(fmt::format("{} is out of range", v));
  return static_cast<Enum>(v);
}

SweepPoint point_of(const json& a) {
  if (!a.is_array() || a.size() != field_names().size()) {
    throw std::invalid_argument(fmt::format("expected an array of {} fields", field_names().size()));
  }
  SweepPoint p;
  std::size_t k = 0;
  const auto next = [&]() -> const json& { return a[k++]; };
  p.model = next().get<std::uint32_t>();
  p.variant = next().get<std::uint32_t>();
  p.hardware = next().get<std::uint32_t>();
  p.tp_index = next().get<std::uint32_t>();
  p.dp_index = next().get<std::uint32_t>();
  p.batch_index = next().get<std::uint32_t>();
  p.context_index = next().get<std::uint32_t>();
  p.s_q_index = next().get<std::uint32_t>();
  p.tp = next().get<int>();
  p.dp_attention = next().get<bool>();
  p.batch = next().get<int>();
  p.batch_is_max = next().get<bool>();
  p.context = next().get<std::int64_t>();
  p.s_q = next().get<int>();
  p.attention = enum_of<AttentionKind>(next(), static_cast<int>(AttentionKind::kMla));
  p.status = enum_of<PointStatus>(next(), static_cast<int>(PointStatus::kInvalid));
  p.invalid_reason = next().get<std::string>();
  for (double* d : {&p.step_time_s, &p.attention_s, &p.gemm_s, &p.communication_s, &p.other_s,
                    &p.tokens_per_s, &p.tokens_per_s_per_gpu, &p.tokens_per_s_per_user, &p.flops, &p.bytes,
                    &p.attention_flops, &p.attention_bytes}) {
    *d = number_of(next());
  }
  if (const json& b = next(); !b.is_null())
    p.attention_bound = enum_of<Bound>(b, static_cast<int>(Bound::kNetwork));
  p.kv_bytes_per_token = number_of(next());
  p.kv_bytes_per_token_per_gpu = number_of(next());
  p.kv_capacity_tokens = next().get<std::int64_t>();
  p.max_concurrency = next().get<std::int64_t>();
  p.weight_bytes = number_of(next());
  p.weight_bytes_per_gpu = number_of(next());
  const json& shares = next();
  if (!shares.is_array() || shares.size() != p.time_share.size()) {
    throw std::invalid_argument("time_share: expected an array of 4 numbers");
  }
  for (std::size_t i = 0; i < p.time_share.size(); ++i) p.time_share[i] = number_of(shares[i]);
  if (const json& c = next(); !c.is_null()) {
    if (!c.is_array() || c.size() != 4) throw std::invalid_argument("cost: expected an array of 4 values");
    p.cost = DeploymentCost{c[0].get<int>(), number_of(c[1]), number_of(c[2]), number_of(c[3])};
  }
  return p;
}

}  // namespace

std::string sweep_shard_text(const SweepSpec& spec, const fs::path& config_path, const Shard& shard,
                             std::size_t first, const std::vector<SweepPoint>& points) {
  json head =
      json_envelope(kSweepShardSchema, config_file_json(spec.source, spec.config_json, spec.cli_overrides));
  head["config_path"] = config_path.string();
  head["shard"] = {{"index", shard.index}, {"count", shard.count}};
  head["grid_points"] = sweep_size(spec);
  head["first_point"] = first;
  head["points"] = points.size();
  head["fields"] = field_names();
  std::string out = head.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  for (const SweepPoint& p : points)
    out += point_json(p).dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  return out;
}

SweepShardFile read_sweep_shard(const fs::path& path) {
  std::error_code ec;
  const fs::path file = fs::is_directory(path, ec) ? path / kSweepShardFile : path;
  const auto fail = [&](std::size_t line, const std::string& key, const std::string& why) {
    throw InputError(SourceLocation{file.string(), static_cast<int>(line), 0}, key, why);
  };
  if (!fs::exists(file, ec)) {
    throw InputError(
        SourceLocation{file.string()}, "",
        fs::is_directory(path, ec)
            ? fmt::format("no such file: the folder has no {} (is it a shard's --out, written by "
                          "`mlasim sweep --shard I/N`?)",
                          kSweepShardFile)
            : std::string("no such file"));
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(SourceLocation{file.string()}, "", "cannot read");
  SweepShardFile out;
  out.path = file;
  std::string line;
  std::size_t points = 0;
  if (!std::getline(in, line)) fail(1, "", "empty file: not a sweep shard");
  try {
    const json head = json::parse(line);
    if (!head.is_object() || head.value("schema", std::string()) != kSweepShardSchema.name) {
      fail(1, "schema", fmt::format("not a sweep shard (expected schema \"{}\")", kSweepShardSchema.name));
    }
    if (head.at("schema_version").get<int>() != kSweepShardSchema.version) {
      fail(1, "schema_version",
           fmt::format("version {} of the shard format; this mlasim reads version {}",
                       head.at("schema_version").get<int>(), kSweepShardSchema.version));
    }
    out.mlasim_version = head.at("mlasim_version").get<std::string>();
    out.config_path = head.at("config_path").get<std::string>();
    out.config_file = head.at("config").at("file").get<std::string>();
    out.config_json = head.at("config").at("content").dump();
    out.overrides = head.at("config").at("overrides").get<std::vector<std::string>>();
    out.shard = Shard{head.at("shard").at("index").get<int>(), head.at("shard").at("count").get<int>()};
    out.grid_points = head.at("grid_points").get<std::size_t>();
    out.first = head.at("first_point").get<std::size_t>();
    points = head.at("points").get<std::size_t>();
    if (head.at("fields").get<std::vector<std::string>>() != field_names()) {
      fail(1, "fields", "the fields differ from what this mlasim writes (a shard from another version?)");
    }
  } catch (const json::exception& e) {
    fail(1, "", fmt::format("the first line does not read as a sweep shard's header: {}", e.what()));
  }
  out.points.reserve(points);
  std::size_t number = 1;
  while (std::getline(in, line)) {
    ++number;
    try {
      out.points.push_back(point_of(json::parse(line)));
    } catch (const std::exception& e) {
      fail(number, "", fmt::format("point {} does not read: {}", number - 1, e.what()));
    }
  }
  if (out.points.size() != points) {
    fail(number, "",
         fmt::format("the header says {} points, the file has {} (cut short?)", points, out.points.size()));
  }
  return out;
}

std::vector<SweepPoint> join_sweep_shards(const std::vector<SweepShardFile>& shards) {
  if (shards.empty()) throw InputError("no shard to merge");
  const SweepShardFile& a = shards.front();
  std::map<int, const SweepShardFile*> by_index;
  for (const SweepShardFile& s : shards) {
    const auto differ = [&](const std::string& what) {
      throw InputError(fmt::format("{} and {} are shards of different sweeps: {} differ", a.path.string(),
                                   s.path.string(), what));
    };
    if (s.mlasim_version != a.mlasim_version)
      differ(fmt::format("mlasim versions ({}, {})", a.mlasim_version, s.mlasim_version));
    if (s.config_json != a.config_json) differ("their configs");
    if (s.overrides != a.overrides) differ("their command-line overrides");
    if (s.shard.count != a.shard.count)
      differ(fmt::format("their shard counts ({}, {})", a.shard.count, s.shard.count));
    if (s.grid_points != a.grid_points) differ("their grids");
    const auto [it, inserted] = by_index.emplace(s.shard.index, &s);
    if (!inserted) {
      throw InputError(fmt::format("shard {} is given twice: {} and {}", s.shard.to_string(),
                                   it->second->path.string(), s.path.string()));
    }
    const auto [first, last] = shard_range(s.grid_points, s.shard);
    if (s.first != first || s.points.size() != last - first) {
      throw InputError(
          SourceLocation{s.path.string()}, "",
          fmt::format("shard {} should hold points {} to {} of {}, it holds {} from {}", s.shard.to_string(),
                      first, last, s.grid_points, s.points.size(), s.first));
    }
  }
  std::vector<int> missing;
  for (int i = 1; i <= a.shard.count; ++i) {
    if (by_index.count(i) == 0) missing.push_back(i);
  }
  if (!missing.empty()) {
    throw InputError(fmt::format("shard{} {} of {} {} missing: merge needs every shard's folder",
                                 missing.size() == 1 ? "" : "s", fmt::join(missing, ", "), a.shard.count,
                                 missing.size() == 1 ? "is" : "are"));
  }
  std::vector<SweepPoint> points;
  points.reserve(a.grid_points);
  for (const auto& [index, s] : by_index) points.insert(points.end(), s->points.begin(), s->points.end());
  return points;
}

}  // namespace mlasim
