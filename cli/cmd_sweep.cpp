// mlasim sweep: run a grid from a YAML config and write CSV, JSON, a Markdown summary and an HTML report.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "cli/sweep_report.hpp"
#include "reports/pivot.hpp"
#include "reports/table_writers.hpp"
#include "sim/config/loader.hpp"
#include "sim/output.hpp"
#include "sim/sweep/sweep.hpp"
#include "sim/units.hpp"

namespace mlasim::cli {

namespace {

std::string summary_markdown(const SweepSpec& spec, const Table& table) {
  std::string md = fmt::format(
      "# Sweep: {}\n\nConfig: `{}`. {} points; device mode {}, weights {}, KV cache {}.\n"
      "One table per model, GPU, TP, DP-attention, batch and s_q; columns are attention variants.\n\n",
      spec.name, spec.source, table.rows().size(), to_string(spec.device_mode),
      to_string(spec.precision.weights), to_string(spec.precision.kv_cache));
  const std::vector<std::string> groups{"model", "hardware", "tp", "dp_attention", "batch", "s_q"};
  md +=
      "## Status (ok; batch-exceeds-capacity: fewer sequences fit than the batch; does-not-fit: not even "
      "one)\n\n" +
      pivot_to_markdown(table, {{"model", "hardware", "tp", "dp_attention", "batch"},
                                "context",
                                "variant",
                                "status",
                                1.0,
                                "status",
                                4});
  md += "## Step time (ms)\n\n" +
        pivot_to_markdown(table, {groups, "context", "variant", "step_time_s", 1e3, "step time (ms)", 4});
  md += "## Output tokens/s per GPU\n\n" +
        pivot_to_markdown(table,
                          {groups, "context", "variant", "tokens_per_s_per_gpu", 1.0, "tokens/s per GPU", 4});
  md += "## Max concurrency (sequences that fit in the KV cache)\n\n" +
        pivot_to_markdown(table, {{"model", "hardware", "tp", "dp_attention"},
                                  "context",
                                  "variant",
                                  "max_concurrency",
                                  1.0,
                                  "max concurrency",
                                  6});
  md += "## KV cache per token, whole model (bytes)\n\n" +
        pivot_to_markdown(table,
                          {{"model"}, "hardware", "variant", "kv_bytes_per_token", 1.0, "KV bytes/token", 9});
  return md;
}

}  // namespace

int cmd_sweep(const Args& args) {
  po::options_description desc("mlasim sweep options");
  std::string config, out_dir;
  desc.add_options()("help,h", "show this help")("config", po::value(&config)->required(), "sweep YAML file")(
      "out,o", po::value(&out_dir)->required(), "output directory (created; files replaced whole)")(
      "quiet,q", "print only the paths written")(
      "no-charts", "no charts: report.html has the tables only, no charts/ folder, gnuplot is not run");
  po::positional_options_description pos;
  pos.add("config", 1);
  po::variables_map vm;
  if (!parse_options(args, desc, vm, &pos, "usage: mlasim sweep CONFIG.yaml --out DIR")) return 0;

  const SweepSpec spec = load_sweep_config(config);
  const Table table = run_sweep(spec);

  // Render everything first; only then touch the disk (outputs are whole or absent).
  OutputSet outputs(out_dir);
  outputs.add("sweep.csv", table_to_csv(table));
  outputs.add("sweep.json", table_to_json(table));
  const std::string md = summary_markdown(spec, table);
  outputs.add("summary.md", md);
  SweepReport report = build_sweep_report(spec, table, md, vm.count("no-charts") == 0U);
  for (auto& [name, content] : report.files) outputs.add(name, std::move(content));
  const auto written = outputs.commit();

  if (!report.note.empty() && vm.count("no-charts") == 0U)
    std::cerr << "mlasim sweep: " << report.note << "\n";
  if (vm.count("quiet") == 0U) {
    std::cout << md << "\n";
  }
  std::cout << fmt::format("mlasim sweep: {} points written to:\n", table.rows().size());
  // The chart files are many: one line for the folder.
  std::size_t chart_files = 0;
  for (const auto& p : written) {
    if (p.parent_path().filename() == "charts") {
      ++chart_files;
    } else {
      std::cout << "  " << p.string() << "\n";
    }
  }
  if (chart_files > 0) {
    std::cout << fmt::format("  {} ({} chart data files and gnuplot scripts)\n",
                             (std::filesystem::path(out_dir) / "charts").string(), chart_files);
  }
  return 0;
}

}  // namespace mlasim::cli
