// mlasim plan: the cheapest deployment that serves a workload at a target rate within percentile SLOs, from a
// YAML config (sim/plan/README.md). Exit codes: 0 a deployment meets the SLOs; 2 bad input; 6 none does
// within the budget (every output is still written, and says why).
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "cli/progress.hpp"
#include "reports/plan_report.hpp"
#include "reports/serve_shard.hpp"
#include "reports/shard_file.hpp"
#include "sim/config/plan_config.hpp"
#include "sim/output.hpp"
#include "sim/plan/plan.hpp"
#include "sim/shard.hpp"

namespace mlasim::cli {

namespace {

/// No deployment within the budget meets the SLOs.
constexpr int kExitNoDeployment = 6;

}  // namespace

int cmd_plan(const Args& args) {
  po::options_description desc("mlasim plan options");
  std::string config, out_dir, shard_text;
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
  add_shard_option(desc, &shard_text, "the layouts", kPlanShardKind);
  po::positional_options_description pos;
  pos.add("config", 1);
  po::variables_map vm;
  if (!parse_options(
          args, desc, vm, &pos,
          "usage: mlasim plan CONFIG.yaml --out DIR [--price GPU=USD]... [--no-charts] [-j N] [--shard I/N]"))
    return 0;
  check_jobs(jobs);
  const std::optional<Shard> shard = shard_option(vm, shard_text);

  PlanSpec spec = load_plan_config(config);
  for (const std::string& p : prices) {
    apply_price_override(spec, p);
    spec.cli_overrides.push_back("--price " + p);
  }
  prepare_output_dir(out_dir);  // an unwritable --out fails now, not after the run
  const auto [first, last] = shard_range(plan_size(spec), shard.value_or(Shard{}));
  ProgressLine progress("plan", "layouts", vm.count("no-progress") == 0U && vm.count("quiet") == 0U);
  std::vector<PlanLayoutRun> runs = run_plan_layouts(
      spec, first, last, PlanRunOptions{jobs, [&](int simulations, std::size_t done, std::size_t total) {
                                          progress.update(done, total,
                                                          fmt::format(", {} simulations", simulations));
                                        }});
  int simulations = 0;
  for (const PlanLayoutRun& r : runs) simulations += r.outcome.simulations;
  progress.finish(fmt::format("{} layouts, {} simulations", runs.size(), simulations));

  if (shard) {
    std::vector<nlohmann::ordered_json> items;
    items.reserve(runs.size());
    for (const PlanLayoutRun& r : runs) items.push_back(plan_run_json(r));
    write_shard_output(out_dir, "plan", kPlanShardKind, *shard, plan_size(spec),
                       shard_file_text(make_shard_header(kPlanShardKind, spec.source, spec.config_json,
                                                         spec.cli_overrides, *shard, plan_size(spec)),
                                       items),
                       "layouts");
    return 0;
  }
  return write_plan_outputs(spec, join_plan(spec, std::move(runs)), out_dir, vm.count("no-charts") == 0U,
                            vm.count("quiet") != 0U, "plan");
}

int write_plan_outputs(const PlanSpec& spec, const PlanResult& result, const std::string& out_dir,
                       bool charts, bool quiet, const char* command) {
  // Render everything first; only then touch the disk (outputs are whole or absent).
  OutputSet outputs(out_dir);
  const std::string note = add_plan_outputs(outputs, spec, result, charts);
  const auto written = outputs.commit();
  if (!quiet) std::cout << plan_headline(spec, result);
  std::cout << "mlasim " << command << ": written to:\n";
  for (const auto& p : written) std::cout << "  " << p.string() << "\n";
  if (!note.empty() && charts) std::cerr << "mlasim " << command << ": warning: " << note << "\n";
  if (result.cheapest() == nullptr) {
    std::cerr << "mlasim " << command
              << ": no deployment within the budget meets the SLOs (see summary.md)\n";
    return kExitNoDeployment;
  }
  return 0;
}

}  // namespace mlasim::cli
