#include "reports/sweep_shard.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>

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

double number_of(const json& j) {
  if (!j.is_number()) throw std::invalid_argument(fmt::format("{} is not a number", j.dump()));
  return j.get<double>();
}

json point_json(const SweepPoint& p) {
  json cost = nullptr;
  if (p.cost) {
    cost = json::array({p.cost->gpus, p.cost->usd_per_hour, p.cost->usd_per_million_output_tokens,
                        p.cost->usd_per_million_total_tokens});
  }
  json shares = json::array();
  for (const double s : p.time_share) shares.push_back(s);
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
                      (p.step_time_s),
                      (p.attention_s),
                      (p.gemm_s),
                      (p.communication_s),
                      (p.other_s),
                      (p.tokens_per_s),
                      (p.tokens_per_s_per_gpu),
                      (p.tokens_per_s_per_user),
                      (p.flops),
                      (p.bytes),
                      (p.attention_flops),
                      (p.attention_bytes),
                      p.attention_bound ? json(static_cast<int>(*p.attention_bound)) : json(nullptr),
                      (p.kv_bytes_per_token),
                      (p.kv_bytes_per_token_per_gpu),
                      p.kv_capacity_tokens,
                      p.max_concurrency,
                      (p.weight_bytes),
                      (p.weight_bytes_per_gpu),
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

std::string sweep_shard_header_line(const SweepSpec& spec, const Shard& shard) {
  ShardHeader h = make_shard_header(kSweepShardKind, spec.source, spec.config_json, spec.cli_overrides, shard,
                                    sweep_size(spec));
  h.extra["fields"] = field_names();
  return shard_header_line(h);
}

std::string sweep_shard_lines(const std::vector<SweepPoint>& points) {
  std::string out;
  for (const SweepPoint& p : points) out += shard_item_line(point_json(p));
  return out;
}

std::string sweep_shard_text(const SweepSpec& spec, const Shard& shard,
                             const std::vector<SweepPoint>& points) {
  return sweep_shard_header_line(spec, shard) + sweep_shard_lines(points);
}

SweepShardFile read_sweep_shard(const fs::path& path, const std::function<void(SweepPoint&&)>& on_point) {
  SweepShardFile out;
  std::function<void(const json&, std::size_t)> on_item;
  if (on_point) on_item = [&](const json& item, std::size_t) { on_point(point_of(item)); };
  out.header = read_shard_file(path, kSweepShardKind, on_item, &out.path);
  if (out.header.extra.value("fields", json()) != json(field_names())) {
    throw InputError(SourceLocation{out.path.string(), 1, 0}, "extra.fields",
                     "the fields differ from what this mlasim writes (a shard from another version?)");
  }
  return out;
}

SweepShardFile read_sweep_shard(const fs::path& path) {
  std::vector<SweepPoint> points;
  SweepShardFile out = read_sweep_shard(path, [&](SweepPoint&& p) { points.push_back(std::move(p)); });
  out.points = std::move(points);
  return out;
}

std::vector<SweepPoint> join_sweep_shards(const std::vector<SweepShardFile>& shards) {
  std::vector<ShardSource> sources;
  for (const SweepShardFile& s : shards) sources.push_back({s.path, s.header});
  std::vector<SweepPoint> points;
  for (const std::size_t k : check_shards(sources)) {
    points.insert(points.end(), shards[k].points.begin(), shards[k].points.end());
  }
  return points;
}

}  // namespace mlasim
