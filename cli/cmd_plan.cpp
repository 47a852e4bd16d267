// mlasim plan: the cheapest deployment that serves a workload at a target rate within percentile SLOs, from a
// YAML config (sim/plan/README.md). Exit codes: 0 a deployment meets the SLOs; 2 bad input; 6 none does
// within the budget (every output is still written, and says why).
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "cli/progress.hpp"
#include "reports/plan_report.hpp"
#include "sim/config/plan_config.hpp"
#include "sim/output.hpp"
#include "sim/plan/plan.hpp"

namespace mlasim::cli {

namespace {

/// No deployment within the budget meets the SLOs.
constexpr int kExitNoDeployment = 6;

}  // namespace

int cmd_plan(const Args& args) {
  po::options_description desc("mlasim plan options");
  std::string config, out_dir;
  std::vector<std::string> prices;
  int jobs = 1;
  desc.add_options()("help,h", "show this help")("config", po::value(&config)->required(), "plan YAML file")(
      "out,o", po::value(&out_dir)->required(), "output directory (created; files replaced whole)")(
      "price", po::value(&prices)->composing(),
      "GPU=USD: price per GPU-hour overriding the profile and the config (repeatable), e.g. --price "
      "h200=3.5")("no-charts", "write report.html without charts (no gnuplot run)")(
      "no-progress", "no progress line on stderr")("quiet,q",
                                                   "print only the paths written (and no progress line)");
  add_jobs_option(desc, &jobs);
  po::positional_options_description pos;
  pos.add("config", 1);
  po::variables_map vm;
  if (!parse_options(args, desc, vm, &pos,
                     "usage: mlasim plan CONFIG.yaml --out DIR [--price GPU=USD]... [--no-charts] [-j N]"))
    return 0;
  check_jobs(jobs);

  PlanSpec spec = load_plan_config(config);
  for (const std::string& p : prices) {
    apply_price_override(spec, p);
    spec.cli_overrides.push_back("--price " + p);
  }
  prepare_output_dir(out_dir);  // an unwritable --out fails now, not after the run
  ProgressLine progress("plan", "layouts", vm.count("no-progress") == 0U && vm.count("quiet") == 0U);
  const PlanResult result = run_plan(
      spec, PlanRunOptions{jobs, [&](int simulations, std::size_t done, std::size_t total) {
                             progress.update(done, total, fmt::format(", {} simulations", simulations));
                           }});
  progress.finish(fmt::format("{} layouts, {} simulations", result.layouts.size(), result.simulations));

  // Render everything first; only then touch the disk (outputs are whole or absent).
  OutputSet outputs(out_dir);
  const std::string note = add_plan_outputs(outputs, spec, result, vm.count("no-charts") == 0U);
  const auto written = outputs.commit();
  if (vm.count("quiet") == 0U) std::cout << plan_headline(spec, result);
  std::cout << "mlasim plan: written to:\n";
  for (const auto& p : written) std::cout << "  " << p.string() << "\n";
  if (!note.empty() && vm.count("no-charts") == 0U) std::cerr << "mlasim plan: warning: " << note << "\n";
  if (result.cheapest() == nullptr) {
    std::cerr << "mlasim plan: no deployment within the budget meets the SLOs (see summary.md)\n";
    return kExitNoDeployment;
  }
  return 0;
}

}  // namespace mlasim::cli
