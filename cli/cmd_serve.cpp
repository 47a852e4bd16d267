// mlasim serve: a discrete-event serving run (or a sweep over rate / concurrency) from a YAML config.
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "reports/serve_report.hpp"
#include "reports/table_writers.hpp"
#include "sim/config/serve_config.hpp"
#include "sim/output.hpp"
#include "sim/serving/serve.hpp"
#include "sim/serving/serve_sweep.hpp"

namespace mlasim::cli {

int cmd_serve(const Args& args) {
  po::options_description desc("mlasim serve options");
  std::string config, out_dir;
  desc.add_options()("help,h", "show this help")("config", po::value(&config)->required(), "serve YAML file")(
      "out,o", po::value(&out_dir)->required(), "output directory (created; files replaced whole)")(
      "no-sweep", "run only the base experiment even if the config has a `sweep:`")(
      "quiet,q", "print only the paths written");
  po::positional_options_description pos;
  pos.add("config", 1);
  po::variables_map vm;
  if (!parse_options(args, desc, vm, &pos, "usage: mlasim serve CONFIG.yaml --out DIR [--no-sweep]")) return 0;

  ServeConfig cfg = load_serve_config(config);
  if (vm.count("no-sweep") != 0U) cfg.sweep = ServeSweepSpec{};

  // Render everything first; only then touch the disk (outputs are whole or absent).
  OutputSet outputs(out_dir);
  std::string text;
  if (cfg.sweep.axis == ServeSweepSpec::Axis::kNone) {
    const ServeResult result = run_serve(cfg.spec);
    add_serve_outputs(outputs, result);
    text = table_to_text(summary_long_table(result.summary));
  } else {
    const std::vector<ServeSummary> rows = run_serve_sweep(cfg);
    add_serve_sweep_outputs(outputs, cfg.spec, rows);
    text = table_to_text(throughput_latency_table(rows));
  }
  const auto written = outputs.commit();
  if (vm.count("quiet") == 0U) std::cout << text << "\n";
  std::cout << "mlasim serve: written to:\n";
  for (const auto& p : written) std::cout << "  " << p.string() << "\n";
  return 0;
}

}  // namespace mlasim::cli
