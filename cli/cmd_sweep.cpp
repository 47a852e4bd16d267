// mlasim sweep: run a grid from a YAML config and write CSV, JSON, a Markdown summary and an HTML report.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "cli/progress.hpp"
#include "reports/sweep_report.hpp"
#include "sim/config/loader.hpp"
#include "sim/output.hpp"
#include "sim/sweep/sweep.hpp"

namespace mlasim::cli {

int cmd_sweep(const Args& args) {
  po::options_description desc("mlasim sweep options");
  std::string config, out_dir;
  int jobs = 1;
  desc.add_options()("help,h", "show this help")("config", po::value(&config)->required(), "sweep YAML file")(
      "out,o", po::value(&out_dir)->required(), "output directory (created; files replaced whole)")(
      "quiet,q", "print only the paths written (and no progress line)")(
      "price", po::value<std::vector<std::string>>()->composing(),
      "GPU=USD: price per GPU-hour overriding the profile (repeatable), e.g. --price h200=3.5")(
      "no-charts", "no charts: report.html has the tables only, no charts/ folder, gnuplot is not run");
  add_jobs_option(desc, &jobs);
  po::positional_options_description pos;
  pos.add("config", 1);
  po::variables_map vm;
  if (!parse_options(args, desc, vm, &pos, "usage: mlasim sweep CONFIG.yaml --out DIR [-j N]")) return 0;
  check_jobs(jobs);

  SweepSpec spec = load_sweep_config(config);
  if (vm.count("price") != 0U) {
    std::vector<HardwareSpec*> hws;
    for (HardwareSpec& hw : spec.hardware) hws.push_back(&hw);
    for (const std::string& p : vm["price"].as<std::vector<std::string>>()) {
      apply_price_override(parse_price_override(p, /*gpu_required=*/true), hws);
      spec.cli_overrides.push_back("--price " + p);
    }
  }
  prepare_output_dir(out_dir);  // an unwritable --out fails now, not after the run
  std::vector<SweepPoint> points;
  {
    ProgressLine progress("sweep", "points", vm.count("quiet") == 0U);
    points = run_sweep(spec, SweepRunOptions{jobs, [&](std::size_t done, std::size_t total) {
                                               progress.update(done, total);
                                             }});
    progress.finish();
  }

  // Render everything first; only then touch the disk (outputs are whole or absent).
  SweepReport report = build_sweep_report(spec, points, vm.count("no-charts") == 0U);
  OutputSet outputs(out_dir);
  for (auto& [name, content] : report.files) outputs.add(name, std::move(content));
  const auto written = outputs.commit();

  if (!report.note.empty() && vm.count("no-charts") == 0U)
    std::cerr << "mlasim sweep: " << report.note << "\n";
  if (vm.count("quiet") == 0U) {
    std::cout << report.summary_markdown << "\n";
  }
  std::cout << fmt::format("mlasim sweep: {} points written to:\n", points.size());
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
