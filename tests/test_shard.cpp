// Shards: the partition of a study (sim/shard.hpp) and a sweep shard's file read back exactly
// (reports/sweep_shard.hpp). The command-line path (sweep --shard, merge) is in test_cli.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "reports/serve_report.hpp"
#include "reports/serve_shard.hpp"
#include "reports/sweep_shard.hpp"
#include "reports/table_writers.hpp"
#include "sim/config/loader.hpp"
#include "sim/config/serve_config.hpp"
#include "sim/error.hpp"
#include "sim/output.hpp"
#include "sim/serving/serve_sweep.hpp"
#include "sim/shard.hpp"
#include "tests/test_support.hpp"

using namespace mlasim;

namespace {
std::string with_kind(std::string text, const std::string& kind) {
  const std::string from = "\"kind\":\"sweep\"";
  const std::size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), "\"kind\":\"" + kind + "\"");
}
}  // namespace

TEST_CASE("--shard reads I/N counted from 1 and refuses anything else, saying what it expects") {
  CHECK(parse_shard("1/4") == Shard{1, 4});
  CHECK(parse_shard("4/4") == Shard{4, 4});
  CHECK(parse_shard("1/1").whole());
  CHECK(parse_shard("3/7").to_string() == "3/7");
  for (const char* bad : {"", "4", "0/4", "5/4", "-1/4", "1/0", "a/b", "1/4x", " 1/4", "1/100001", "1//4"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_shard(bad), InputError);
  }
  CHECK_THROWS_WITH(parse_shard("5/4"),
                    Catch::Contains("--shard 5/4") && Catch::Contains("I must be 1 to N"));
  CHECK_THROWS_WITH(parse_shard("x"), Catch::Contains("expected I/N"));
}

TEST_CASE("shards partition the work into contiguous blocks, in order, sizes within one of each other") {
  // By hand: 10 items in 4 shards are 3, 3, 2, 2.
  CHECK(shard_range(10, {1, 4}) == std::pair<std::size_t, std::size_t>{0, 3});
  CHECK(shard_range(10, {2, 4}) == std::pair<std::size_t, std::size_t>{3, 6});
  CHECK(shard_range(10, {3, 4}) == std::pair<std::size_t, std::size_t>{6, 8});
  CHECK(shard_range(10, {4, 4}) == std::pair<std::size_t, std::size_t>{8, 10});
  CHECK(shard_range(2, {3, 5}) == std::pair<std::size_t, std::size_t>{2, 2});  // more shards than items
  for (const std::size_t total : {0UL, 1UL, 7UL, 160UL, 1000003UL}) {
    for (const int count : {1, 2, 3, 7, 16, 1000}) {
      std::size_t next = 0, smallest = total, largest = 0;
      for (int i = 1; i <= count; ++i) {
        const auto [first, last] = shard_range(total, {i, count});
        CHECK(first == next);
        CHECK(last >= first);
        smallest = std::min(smallest, last - first);
        largest = std::max(largest, last - first);
        next = last;
      }
      CHECK(next == total);
      CHECK(largest - smallest <= 1);
    }
  }
}

TEST_CASE("a sweep shard's file reads back to the same points, bit for bit, non-finite numbers included") {
  const SweepSpec spec = load_sweep_config("configs/llama3_70b_attention.yaml");
  std::vector<SweepPoint> points = run_sweep(spec);
  const auto [first, last] = shard_range(points.size(), {2, 3});
  std::vector<SweepPoint> mine(points.begin() + static_cast<std::ptrdiff_t>(first),
                               points.begin() + static_cast<std::ptrdiff_t>(last));
  mine[0].step_time_s = std::numeric_limits<double>::infinity();
  mine[1].tokens_per_s = std::numeric_limits<double>::quiet_NaN();
  mine[2].cost = DeploymentCost{4, 12.5, 0.1 + 0.2, std::nan("")};
  mine[4].cost.reset();
  mine[3].invalid_reason = "quote \" and newline \n kept";
  const test::ScratchDir dir("mlasim_test_shard");
  write_file_atomically(dir.path() / shard_file_name(kSweepShardKind), sweep_shard_text(spec, {2, 3}, mine));
  const SweepShardFile back = read_sweep_shard(dir.path());
  CHECK(back.header.kind == "sweep");
  CHECK(back.header.shard == Shard{2, 3});
  CHECK(back.header.first == first);
  CHECK(back.header.items == last - first);
  CHECK(back.header.total == points.size());
  CHECK(back.header.config_path == std::filesystem::absolute("configs/llama3_70b_attention.yaml"));
  CHECK(back.header.config_file == "configs/llama3_70b_attention.yaml");
  CHECK(back.path == dir.path() / "sweep-shard.jsonl");
  REQUIRE(back.points.size() == mine.size());
  const auto same = [](double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; };
  CHECK(std::isnan(back.points[2].cost->usd_per_million_total_tokens));
  CHECK_FALSE(back.points[4].cost.has_value());
  for (std::size_t i = 0; i < mine.size(); ++i) {
    const SweepPoint &a = mine[i], &b = back.points[i];
    INFO(i);
    CHECK(a.context == b.context);
    CHECK(a.batch == b.batch);
    CHECK(a.status == b.status);
    CHECK(a.attention == b.attention);
    CHECK(a.invalid_reason == b.invalid_reason);
    CHECK(a.attention_bound == b.attention_bound);
    CHECK(same(a.step_time_s, b.step_time_s));
    CHECK(same(a.tokens_per_s, b.tokens_per_s));
    CHECK(same(a.flops, b.flops));
    CHECK(same(a.kv_bytes_per_token_per_gpu, b.kv_bytes_per_token_per_gpu));
    CHECK(a.max_concurrency == b.max_concurrency);
    CHECK(a.time_share == b.time_share);
    CHECK(a.cost.has_value() == b.cost.has_value());
    if (a.cost && b.cost) {
      CHECK(a.cost->gpus == b.cost->gpus);
      CHECK(a.cost->usd_per_million_output_tokens ==
            b.cost->usd_per_million_output_tokens);  // 0.1 + 0.2 exact
      CHECK(same(a.cost->usd_per_million_total_tokens, b.cost->usd_per_million_total_tokens));
      CHECK(a.cost->usd_per_hour == b.cost->usd_per_hour);
    }
  }

  // Joined with the other two, every point once, in grid order; a gap or a repeat is refused by name.
  std::vector<SweepShardFile> shards;
  for (int i = 1; i <= 3; ++i) {
    const auto [f, l] = shard_range(points.size(), {i, 3});
    SweepShardFile s = back;
    s.header.shard = {i, 3};
    s.header.first = f;
    s.header.items = l - f;
    s.path = "shard" + std::to_string(i);
    s.points.assign(points.begin() + static_cast<std::ptrdiff_t>(f),
                    points.begin() + static_cast<std::ptrdiff_t>(l));
    shards.push_back(s);
  }
  std::swap(shards[0], shards[2]);
  const std::vector<SweepPoint> joined = join_sweep_shards(shards);
  REQUIRE(joined.size() == points.size());
  for (std::size_t i = 0; i < joined.size(); ++i) CHECK(joined[i].step_time_s == points[i].step_time_s);
  std::vector<SweepShardFile> gap{shards[0], shards[1]};
  CHECK_THROWS_WITH(join_sweep_shards(gap), Catch::Contains("shard 1 of 3 is missing"));
  std::vector<SweepShardFile> twice{shards[0], shards[1], shards[2], shards[1]};
  CHECK_THROWS_WITH(join_sweep_shards(twice), Catch::Contains("is given twice"));
  std::vector<SweepShardFile> other = shards;
  other[1].header.config_json = "{}";
  CHECK_THROWS_WITH(join_sweep_shards(other),
                    Catch::Contains("shards of different studies: their configs differ"));
  other = shards;
  other[1].header.items -= 1;
  CHECK_THROWS_WITH(join_sweep_shards(other), Catch::Contains("should hold items"));
  other = shards;
  other[2].header.mlasim_version = "0.0.1";
  CHECK_THROWS_WITH(join_sweep_shards(other), Catch::Contains("written by mlasim 0.0.1"));
}

TEST_CASE("a shard file cut short, edited or missing is a located error") {
  const SweepSpec spec = load_sweep_config("configs/llama3_70b_attention.yaml");
  const std::vector<SweepPoint> points = run_sweep(spec);
  const test::ScratchDir dir("mlasim_test_shard_bad");
  const std::string text = sweep_shard_text(spec, {1, 1}, points);
  const std::filesystem::path file = dir.path() / "sweep-shard.jsonl";

  write_file_atomically(file, text.substr(0, text.rfind('\n', text.size() - 2) + 1));  // last line lost
  CHECK_THROWS_WITH(read_sweep_shard(file), Catch::Contains("the header says 160 items, the file has 159"));
  std::string edited = text;
  edited.insert(text.find('\n') + 2, "\"x\",");  // a point's first field is not a number
  write_file_atomically(file, edited);
  CHECK_THROWS_WITH(read_sweep_shard(file),
                    Catch::Contains(file.string() + ":2") && Catch::Contains("item 1"));
  write_file_atomically(file, "{\"schema\": \"mlasim-sweep\"}\n");
  CHECK_THROWS_WITH(read_sweep_shard(file), Catch::Contains("not a shard"));
  write_file_atomically(file, with_kind(text, "plan"));
  CHECK_THROWS_WITH(read_sweep_shard(file), Catch::Contains("a plan shard, not a sweep shard"));
  write_file_atomically(file, "");
  CHECK_THROWS_WITH(read_sweep_shard(file), Catch::Contains("empty file"));
  std::filesystem::remove(file);
  CHECK_THROWS_WITH(read_sweep_shard(dir.path()), Catch::Contains("has no sweep-shard.jsonl"));
}

TEST_CASE("a serve summary reads back from a shard line exactly: every field, NaN and verdicts included") {
  ServeConfig cfg = load_serve_config("configs/serve_llama3_8b_h100.yaml");
  cfg.spec.workload.num_requests = 1500;
  cfg.sweep.rates_per_s = {10.0,
                           160.0};  // one stable, one overloaded: verdicts, SLO misses, NaN-free and not
  std::vector<ServeSummary> rows = run_serve_sweep(cfg);
  REQUIRE(rows.size() == 2);
  rows[0].ttft.p90_s = std::numeric_limits<double>::quiet_NaN();
  rows[1].first_rejection = "a \"quoted\" reason\nover two lines";
  REQUIRE_FALSE(rows[1].slo_verdicts.empty());
  REQUIRE(rows[1].overload.verdict == LoadVerdict::kOverloaded);

  ShardHeader h = make_shard_header("serve-sweep", "configs/serve_llama3_8b_h100.yaml", cfg.spec.config_json,
                                    {}, {1, 1}, rows.size());
  std::vector<nlohmann::ordered_json> items;
  for (const ServeSummary& s : rows) items.push_back(summary_json(s));
  const test::ScratchDir dir("mlasim_test_serve_shard");
  write_file_atomically(dir.path() / shard_file_name("serve-sweep"), shard_file_text(h, items));
  std::vector<ServeSummary> back;
  const ShardHeader read =
      read_shard_file(dir.path(), "serve-sweep",
                      [&](const nlohmann::ordered_json& j, std::size_t) { back.push_back(summary_of(j)); });
  CHECK(read.items == 2);
  REQUIRE(back.size() == 2);
  CHECK(std::isnan(back[0].ttft.p90_s));
  CHECK(back[1].first_rejection == rows[1].first_rejection);
  // Every field the reports print, identical: a field left out of the list would read back as its default.
  CHECK(table_to_csv(summary_row_table(back)) == table_to_csv(summary_row_table(rows)));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    CHECK(table_to_csv(summary_long_table(back[i])) == table_to_csv(summary_long_table(rows[i])));
    CHECK(table_to_csv(slo_verdict_table(back[i])) == table_to_csv(slo_verdict_table(rows[i])));
    CHECK(summary_json(back[i]).dump() == summary_json(rows[i]).dump());
    CHECK(back[i].overload.reason == rows[i].overload.reason);
    CHECK(back[i].meets_slos() == rows[i].meets_slos());
  }
  CHECK(serve_sweep_markdown(cfg.spec, back) == serve_sweep_markdown(cfg.spec, rows));
}
