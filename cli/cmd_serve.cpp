// mlasim serve: a discrete-event serving run (or a sweep over rate / concurrency) from a YAML config.
// Exit codes: 0 ok; 2 bad input; 5 (with --strict) when any request was rejected (can never fit the KV
// cache).
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "cli/progress.hpp"
#include "reports/serve_report.hpp"
#include "reports/table_writers.hpp"
#include "sim/config/loader.hpp"
#include "sim/config/serve_config.hpp"
#include "sim/error.hpp"
#include "sim/output.hpp"
#include "sim/serving/serve.hpp"
#include "sim/serving/serve_sweep.hpp"

namespace mlasim::cli {

namespace {
/// `--strict` and a request was rejected: the outputs are written, the exit code says the run is not clean.
constexpr int kExitRejected = 5;
}  // namespace

int cmd_serve(const Args& args) {
  po::options_description desc("mlasim serve options");
  std::string config, out_dir;
  int jobs = 1;
  desc.add_options()("help,h", "show this help")("config", po::value(&config)->required(), "serve YAML file")(
      "out,o", po::value(&out_dir)->required(), "output directory (created; files replaced whole)")(
      "no-sweep", "run only the base experiment even if the config has a `sweep:`")(
      "strict", "exit with code 5 when any request is rejected (can never fit the KV cache)")(
      "price", po::value<std::string>(),
      "USD per GPU-hour, overriding the profile and the config (e.g. 3.5)")(
      "no-charts", "write report.html without charts (no gnuplot run)")(
      "quiet,q", "print only the paths written (and no progress line)");
  add_jobs_option(desc, &jobs);
  po::positional_options_description pos;
  pos.add("config", 1);
  po::variables_map vm;
  if (!parse_options(
          args, desc, vm, &pos,
          "usage: mlasim serve CONFIG.yaml --out DIR [--no-sweep] [--strict] [--no-charts] [-j N]"))
    return 0;
  check_jobs(jobs);

  ServeConfig cfg = load_serve_config(config);
  if (vm.count("no-sweep") != 0U) {
    cfg.sweep = ServeSweepSpec{};
    cfg.spec.cli_overrides.emplace_back("--no-sweep");
  }
  if (vm.count("price") != 0U) {
    const std::string& price = vm["price"].as<std::string>();
    apply_price_override(parse_price_override(price, false), {&cfg.spec.hardware});
    cfg.spec.cli_overrides.push_back("--price " + price);
  }

  prepare_output_dir(out_dir);  // an unwritable --out fails now, not after the run
  // Render everything first; only then touch the disk (outputs are whole or absent).
  OutputSet outputs(out_dir);
  std::string text;
  std::vector<std::string> warnings;
  std::int64_t rejected = 0;
  ReportFiles report;
  if (cfg.sweep.axis == ServeSweepSpec::Axis::kNone) {
    const ServeResult result = run_serve(cfg.spec);
    add_serve_outputs(outputs, cfg.spec, result);
    report = build_serve_report(cfg.spec, result, vm.count("no-charts") == 0U);
    text = table_to_text(with_missing_as(summary_long_table(result.summary), "—"));
    warnings = serve_warnings(result.summary);
    rejected = result.summary.rejected;
  } else {
    std::vector<ServeSummary> rows;
    {
      ProgressLine progress("serve", "runs", vm.count("quiet") == 0U);
      rows = run_serve_sweep(cfg, jobs,
                             [&](std::size_t done, std::size_t total) { progress.update(done, total); });
      progress.finish();
    }
    add_serve_sweep_outputs(outputs, cfg.spec, rows);
    report = build_serve_sweep_report(cfg.spec, rows, vm.count("no-charts") == 0U);
    text = table_to_text(with_missing_as(throughput_latency_table(rows), "—"));
    for (const ServeSummary& s : rows) {
      const std::string at = s.arrival == "poisson" ? fmt::format("at {:.4g} req/s", s.rate_per_s)
                                                    : fmt::format("at concurrency {}", s.concurrency);
      for (const std::string& w : serve_warnings(s)) warnings.push_back(at + ": " + w);
      rejected += s.rejected;
    }
    if (const std::string onset = overload_onset_sentence(rows); !onset.empty()) warnings.push_back(onset);
  }
  for (auto& [name, content] : report.files) outputs.add(name, std::move(content));
  if (!report.note.empty() && vm.count("no-charts") == 0U) warnings.push_back(report.note);
  const auto written = outputs.commit();
  if (vm.count("quiet") == 0U) std::cout << text << "\n";
  std::cout << "mlasim serve: written to:\n";
  for (const auto& p : written) std::cout << "  " << p.string() << "\n";
  for (const std::string& w : warnings) std::cerr << "mlasim serve: warning: " << w << "\n";
  if (rejected > 0 && vm.count("strict") != 0U) {
    std::cerr << "mlasim serve: error: " << rejected << " requests rejected (--strict)\n";
    return kExitRejected;
  }
  return 0;
}

}  // namespace mlasim::cli
