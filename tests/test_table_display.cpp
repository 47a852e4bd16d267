// Human tables in readable units (reports/table_display.hpp): each column in one unit chosen from its name
// and its largest value, the unit in the header; Markdown, text, HTML and pivots show that; CSV keeps exact
// SI.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>

#include "reports/html.hpp"
#include "reports/pivot.hpp"
#include "reports/table_display.hpp"
#include "reports/table_writers.hpp"

using namespace mlasim;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The text of display_table's cell (row, column).
std::string shown(const Table& t, std::size_t row, std::size_t col) {
  return std::get<std::string>(display_table(t).rows().at(row).at(col));
}

std::string header(const Table& t, std::size_t col) {
  return display_table(t).columns().at(col).name;
}

// Code points of a UTF-8 line.
std::size_t code_points(const std::string& s) {
  std::size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("a readable number has its significant digits in plain notation, whole numbers never cut") {
  CHECK(readable_number(28.374) == "28.37");
  CHECK(readable_number(45.67) == "45.67");
  CHECK(readable_number(28374.2) == "28374");  // {:.4g} wrote 2.837e+04
  CHECK(readable_number(1234567.8) == "1234568");
  CHECK(readable_number(0.5) == "0.5");  // trailing zeros dropped
  CHECK(readable_number(3.0) == "3");
  CHECK(readable_number(0.0012346) == "0.001235");
  CHECK(readable_number(999.96) == "1000");
  CHECK(readable_number(-12.345, 3) == "-12.3");
  CHECK(readable_number(0.0) == "0");
  CHECK(readable_number(kNaN) == "—");
  CHECK(readable_number(std::numeric_limits<double>::infinity()) == "inf");
  CHECK(readable_number(1.5e-5) == "1.5e-05");  // beyond ordinary magnitudes an exponent says so
}

TEST_CASE("a column's unit comes from its name's suffix and its largest value") {
  // 0.028374 s: ms; 0.4567 of the step: %; 2.5e12 FLOP: GFLOP (2.5 TFLOP is below 10); bytes: GB; KV bytes
  // per token: KiB.
  Table t({{"op", ""},
           {"step_time_s", ""},
           {"share", ""},
           {"flops", ""},
           {"weight_bytes", ""},
           {"kv_bytes_per_token", ""},
           {"tokens_per_s", ""},
           {"count", ""},
           {"max_kv_usage", ""}});
  t.add_row({std::string("a"), 0.028374, 0.4567, 2.5e12, 1.6e10, 73728.0, 28374.2, std::int64_t{80}, 0.5});
  t.add_row({std::string("b"), 0.0005, 1.0, 4e9, 5e8, 1024.0, 12.0, std::int64_t{3}, kNaN});
  CHECK(header(t, 0) == "op");
  CHECK(header(t, 1) == "step_time (ms)");  // a unit suffix is replaced
  CHECK(header(t, 2) == "share (%)");       // a word is kept
  CHECK(header(t, 3) == "flops (GFLOP)");
  CHECK(header(t, 4) == "weight_bytes (GB)");
  CHECK(header(t, 5) == "kv_bytes_per_token (KiB)");
  CHECK(header(t, 6) == "tokens_per_s");  // a rate reads as named
  CHECK(header(t, 7) == "count");
  CHECK(header(t, 8) == "max_kv_usage (%)");
  CHECK(shown(t, 0, 1) == "28.37");
  CHECK(shown(t, 1, 1) == "0.5");  // the column's unit, not the row's own (µs)
  CHECK(shown(t, 0, 2) == "45.67");
  CHECK(shown(t, 1, 2) == "100");
  CHECK(shown(t, 0, 3) == "2500");
  CHECK(shown(t, 1, 3) == "4");
  CHECK(shown(t, 0, 4) == "16");
  CHECK(shown(t, 1, 4) == "0.5");
  CHECK(shown(t, 0, 5) == "72");
  CHECK(shown(t, 1, 5) == "1");
  CHECK(shown(t, 0, 6) == "28374");
  CHECK(shown(t, 0, 7) == "80");
  CHECK(shown(t, 1, 8) == "—");  // NaN: the missing marker
  // The description stays for the HTML tooltip.
  Table described(std::vector<Column>{{"time_s", "all launches"}});
  described.add_row({2e-6});
  CHECK(display_table(described).columns()[0].description == "all launches");
  CHECK(header(described, 0) == "time (µs)");
  CHECK(shown(described, 0, 0) == "2");
}

TEST_CASE("times: ns, µs, ms, or s from 10 s, from the column's largest, whatever unit the name stores") {
  CHECK(display_unit("duration_s", 300.0).unit == "s");  // no kiloseconds
  CHECK(display_unit("duration_s", 10.0).unit == "s");
  CHECK(display_unit("step_time_s", 2.5).unit == "ms");  // a long step beside short ones: all in ms
  CHECK(display_unit("step_time_s", 2.5).cell(Cell{2.5}) == "2500");
  CHECK(display_unit("ttft_p99_s", 0.8).unit == "ms");
  CHECK(display_unit("ttft_p99_s", 0.8).scale == 1e3);
  CHECK(display_unit("launch_s", 4e-6).unit == "µs");
  CHECK(display_unit("fill_s", 5e-8).unit == "ns");
  const DisplayUnit us = display_unit("time_us", 1500.0);  // 1.5 ms stored in µs
  CHECK(us.unit == "ms");
  CHECK(us.label == "time (ms)");
  CHECK(us.cell(Cell{1500.0}) == "1.5");
  CHECK(display_unit("step_ms", 20.0).label == "step (ms)");
  CHECK(display_unit("step_time_s", 0.0).unit == "s");  // no value: the stored unit
  CHECK(display_unit("time_us", kNaN).unit == "µs");
  // Names that end in `_s` but are rates, and fractions beside seconds.
  CHECK(display_unit("overload_backlog_slope_per_s", 3.0).kind == DisplayKind::kPlain);
  CHECK(display_unit("output_tokens_per_s_per_gpu", 3.0).kind == DisplayKind::kPlain);
  CHECK(display_unit("slo_ttft_p99_margin_s", 0.1).kind == DisplayKind::kTime);
  CHECK(display_unit("slo_ttft_p99_margin", 0.1).label == "slo_ttft_p99_margin (%)");
  CHECK(display_unit("status", 0.0).label == "status");
  CHECK(display_unit("bytes", 3e7).label == "bytes (MB)");
  CHECK(display_unit("bytes", 3e6).label == "bytes (kB)");  // 3000 kB: at least 10 of the unit
  CHECK(display_unit("bytes", 5.0).label == "bytes (B)");
  CHECK(display_unit("kv_bytes_per_token", 2621440.0).label == "kv_bytes_per_token (KiB)");
  CHECK(display_unit("kv_bytes_per_token", 2621440.0).cell(Cell{2621440.0}) == "2560");
  CHECK(display_unit("flops", 2.5e13).label == "flops (TFLOP)");
  CHECK(display_unit("flops", 2.5e12).label == "flops (GFLOP)");
  CHECK(display_unit("flops", 2.5e12).cell(Cell{2.5e12}) == "2500");
}

TEST_CASE("a long table (metric, value) gets a unit per row, named beside its metric") {
  Table t({{"metric", ""}, {"value", ""}, {"description", ""}});
  t.add_row({std::string("name"), std::string("run"), std::string("experiment")});
  t.add_row({std::string("ttft_p50_s"), 0.0123, std::string("median")});
  t.add_row({std::string("duration_s"), 125.5, std::string("")});
  t.add_row({std::string("max_kv_usage"), 0.5, std::string("")});
  t.add_row({std::string("completed"), std::int64_t{100}, std::string("")});
  t.add_row({std::string("tpot_p99_s"), std::string("—"), std::string("no samples")});
  const std::string md = table_to_markdown(t);
  CHECK(md.find("| metric | value | description |\n") == 0);
  CHECK(md.find("| name | run | experiment |") != std::string::npos);
  CHECK(md.find("| ttft_p50 (ms) | 12.3 | median |") != std::string::npos);
  CHECK(md.find("| duration (s) | 125.5 |  |") != std::string::npos);
  CHECK(md.find("| max_kv_usage (%) | 50 |  |") != std::string::npos);
  CHECK(md.find("| completed | 100 |  |") != std::string::npos);
  CHECK(md.find("| tpot_p99 (s) | — | no samples |") != std::string::npos);
}

TEST_CASE("Markdown, text and HTML show the display table; CSV keeps the exact SI values") {
  Table t({{"op", ""}, {"time_s", "all launches"}, {"share", ""}, {"flops", ""}});
  t.add_row({std::string("attention"), 0.028374, 0.4567, 2.5e13});
  t.add_row({std::string("x"), 2e-6, 0.0, kNaN});
  const std::string md = table_to_markdown(t);
  CHECK(md ==
        "| op | time (ms) | share (%) | flops (TFLOP) |\n|---|---|---|---|\n"
        "| attention | 28.37 | 45.67 | 25 |\n| x | 0.002 | 0 | — |\n");
  const std::string text = table_to_text(t);
  CHECK(text ==
        "op         time (ms)  share (%)  flops (TFLOP)\n"
        "attention      28.37      45.67             25\n"
        "x              0.002          0              —\n");
  // Text columns left-aligned, number columns right-aligned, no trailing blanks.
  Table kinds({{"metric", ""}, {"value", ""}, {"description", ""}});
  kinds.add_row({std::string("ttft_p50_s"), 0.0123, std::string("median")});
  kinds.add_row({std::string("name"), std::string("run-1"), std::string("the experiment")});
  CHECK(table_to_text(kinds) ==
        "metric         value  description\n"
        "ttft_p50 (ms)  12.3   median\n"
        "name           run-1  the experiment\n");
  // `—` is one column wide: every line has as many code points.
  std::size_t start = 0, width = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    const std::size_t w = code_points(text.substr(start, nl - start));
    CHECK((width == 0 || w == width));
    width = w;
    start = nl + 1;
  }
  const std::string html = table_to_html(t);
  CHECK(html.find("<th title=\"all launches\">time (ms)</th>") != std::string::npos);
  CHECK(html.find("<td>28.37</td><td>45.67</td><td>25</td>") != std::string::npos);
  CHECK(table_to_csv(with_missing_as(t, "")) ==
        "op,time_s,share,flops\nattention,0.028374,0.4567,25000000000000\nx,2e-06,0,\n");
}

TEST_CASE("a pivot shows its value in one unit for every group, the unit in the heading") {
  Table t({{"gpu", ""}, {"context", ""}, {"variant", ""}, {"step_time_s", ""}});
  t.add_row({std::string("h100"), std::int64_t{1024}, std::string("mla"), 0.028374});
  t.add_row({std::string("h200"), std::int64_t{1024}, std::string("mla"), 0.0005});
  PivotSpec spec;
  spec.group_by = {"gpu"};
  spec.row_key = "context";
  spec.column_key = "variant";
  spec.value = "step_time_s";
  spec.value_label = "step time";
  const std::string md = pivot_to_markdown(t, spec);
  CHECK(md.find("#### step time (ms) — gpu h100\n") != std::string::npos);
  CHECK(md.find("| 1024 | 28.37 |") != std::string::npos);
  CHECK(md.find("#### step time (ms) — gpu h200\n") != std::string::npos);
  CHECK(md.find("| 1024 | 0.5 |") != std::string::npos);
}
