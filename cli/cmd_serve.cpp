// mlasim serve: a discrete-event serving run (or a sweep over rate / concurrency) from a YAML config.
// Exit codes: 0 ok; 2 bad input; 5 (with --strict) when any request was rejected (can never fit the KV
// cache).
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "cli/progress.hpp"
#include "reports/serve_report.hpp"
#include "reports/serve_shard.hpp"
#include "reports/shard_file.hpp"
#include "reports/table_writers.hpp"
#include "sim/config/loader.hpp"
#include "sim/config/serve_config.hpp"
#include "sim/error.hpp"
#include "sim/output.hpp"
#include "sim/serving/serve.hpp"
#include "sim/serving/serve_sweep.hpp"
#include "sim/shard.hpp"

namespace mlasim::cli {

namespace {
/// `--strict` and a request was rejected: the outputs are written, the exit code says the run is not clean.
constexpr int kExitRejected = 5;
// The report's files added to `outputs` and written, then the table (unless quiet), the paths, the warnings;
// the exit code (kExitRejected with --strict when a request was rejected).
int finish_serve_outputs(OutputSet& outputs, ReportFiles& report, const std::string& text,
                         std::vector<std::string> warnings, std::int64_t rejected, bool charts, bool quiet,
                         bool strict, const char* command) {
  for (auto& [name, content] : report.files) outputs.add(name, std::move(content));
  if (!report.note.empty() && charts) warnings.push_back(report.note);
  const auto written = outputs.commit();
  if (!quiet) std::cout << text << "\n";
  std::cout << "mlasim " << command << ": written to:\n";
  for (const auto& p : written) std::cout << "  " << p.string() << "\n";
  for (const std::string& w : warnings) std::cerr << "mlasim " << command << ": warning: " << w << "\n";
  if (rejected > 0 && strict) {
    std::cerr << "mlasim " << command << ": error: " << rejected << " requests rejected (--strict)\n";
    return kExitRejected;
  }
  return 0;
}

}  // namespace

int cmd_serve(const Args& args) {
  po::options_description desc("mlasim serve options");
  std::string config, out_dir, shard_text;
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
  add_shard_option(desc, &shard_text, "the sweep's runs", kServeSweepShardKind);
  po::positional_options_description pos;
  pos.add("config", 1);
  po::variables_map vm;
  if (!parse_options(args, desc, vm, &pos,
                     "usage: mlasim serve CONFIG.yaml --out DIR [--no-sweep] [--strict] [--no-charts] [-j N] "
                     "[--shard I/N]"))
    return 0;
  check_jobs(jobs);
  const std::optional<Shard> shard = shard_option(vm, shard_text);

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

  if (shard && cfg.sweep.axis == ServeSweepSpec::Axis::kNone) {
    throw InputError(SourceLocation{config}, "sweep",
                     "--shard splits a serve sweep's runs, and this config has no `sweep:` (or --no-sweep)");
  }

  prepare_output_dir(out_dir);  // an unwritable --out fails now, not after the run
  const bool charts = vm.count("no-charts") == 0U, quiet = vm.count("quiet") != 0U;
  const bool strict = vm.count("strict") != 0U;
  if (cfg.sweep.axis == ServeSweepSpec::Axis::kNone) {
    // requests.csv is streamed to a temporary as the run goes (memory stays flat in the number of requests);
    // everything else is rendered after the run. Nothing in the folder changes until commit(): an error or
    // an interrupt leaves it as it was (OutputSet).
    OutputSet outputs(out_dir);
    ServeRunOptions options;
    if (cfg.spec.per_request_csv) {
      OutputStream& requests = outputs.stream("requests.csv");
      options.requests_csv_sink = [&requests](std::string_view text) { requests.write(text); };
    }
    const ServeResult result = run_serve(cfg.spec, options);
    add_serve_outputs(outputs, cfg.spec, result);
    ReportFiles report = build_serve_report(cfg.spec, result, charts);
    return finish_serve_outputs(
        outputs, report, table_to_text(with_missing_as(summary_long_table(result.summary), "—")),
        serve_warnings(result.summary), result.summary.rejected, charts, quiet, strict, "serve");
  }
  std::vector<ServeSummary> rows;
  const auto [first, last] = shard_range(serve_sweep_size(cfg), shard.value_or(Shard{}));
  {
    ProgressLine progress("serve", "runs", !quiet);
    rows = run_serve_sweep_runs(cfg, first, last, jobs,
                                [&](std::size_t done, std::size_t total) { progress.update(done, total); });
    progress.finish();
  }
  if (!shard) return write_serve_sweep_outputs(cfg, rows, out_dir, charts, quiet, strict, "serve");
  std::vector<nlohmann::ordered_json> items;
  items.reserve(rows.size());
  for (const ServeSummary& row : rows) items.push_back(summary_json(row));
  write_shard_output(
      out_dir, "serve", kServeSweepShardKind, *shard, serve_sweep_size(cfg),
      shard_file_text(make_shard_header(kServeSweepShardKind, cfg.spec.source, cfg.spec.config_json,
                                        cfg.spec.cli_overrides, *shard, serve_sweep_size(cfg)),
                      items),
      "runs");
  return 0;
}

int write_serve_sweep_outputs(const ServeConfig& cfg, const std::vector<ServeSummary>& rows,
                              const std::string& out_dir, bool charts, bool quiet, bool strict,
                              const char* command) {
  // Render everything first; only then touch the disk (outputs are whole or absent).
  OutputSet outputs(out_dir);
  add_serve_sweep_outputs(outputs, cfg.spec, rows);
  ReportFiles report = build_serve_sweep_report(cfg.spec, rows, charts);
  std::vector<std::string> warnings;
  std::int64_t rejected = 0;
  for (const ServeSummary& s : rows) {
    const std::string at = s.arrival == "poisson" ? fmt::format("at {:.4g} req/s", s.rate_per_s)
                                                  : fmt::format("at concurrency {}", s.concurrency);
    for (const std::string& w : serve_warnings(s)) warnings.push_back(at + ": " + w);
    rejected += s.rejected;
  }
  if (const std::string onset = overload_onset_sentence(rows); !onset.empty()) warnings.push_back(onset);
  return finish_serve_outputs(outputs, report,
                              table_to_text(with_missing_as(throughput_latency_table(rows), "—")), warnings,
                              rejected, charts, quiet, strict, command);
}

}  // namespace mlasim::cli
