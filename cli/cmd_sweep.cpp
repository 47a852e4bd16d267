// mlasim sweep: run a grid from a YAML config and write CSV, JSON, a Markdown summary and an HTML report;
// with
// --shard I/N, one block of the grid into a shard file that `mlasim merge` joins with the others.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "cli/progress.hpp"
#include "reports/sweep_report.hpp"
#include "reports/sweep_shard.hpp"
#include "sim/config/loader.hpp"
#include "sim/output.hpp"
#include "sim/shard.hpp"
#include "sim/sweep/sweep.hpp"

namespace mlasim::cli {

void apply_sweep_overrides(SweepSpec& spec, const std::vector<std::string>& prices) {
  std::vector<HardwareSpec*> hws;
  for (HardwareSpec& hw : spec.hardware) hws.push_back(&hw);
  for (const std::string& p : prices) {
    apply_price_override(parse_price_override(p, /*gpu_required=*/true), hws);
    spec.cli_overrides.push_back("--price " + p);
  }
}

void write_sweep_outputs(const SweepSpec& spec, const std::function<void(SweepOutputWriter&)>& produce,
                         const std::string& out_dir, bool charts, bool quiet, const char* command, int jobs) {
  // Nothing replaces a file of out_dir before the commit; an error (or an interrupt) before it leaves the
  // folder as it was and no temporary behind.
  OutputSet outputs(out_dir);
  SweepOutputWriter writer(spec, outputs, jobs);
  produce(writer);
  const SweepReport report = writer.finish(charts, jobs);
  const auto written = outputs.commit();

  if (!report.note.empty() && charts) std::cerr << "mlasim " << command << ": " << report.note << "\n";
  if (!quiet) std::cout << report.summary_markdown << "\n";
  std::cout << fmt::format("mlasim {}: {} points written to:\n", command, writer.points());
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
}

namespace {

/// Evaluates grid points [first, last) kSweepChunkPoints at a time on `jobs` threads, handing each chunk,
/// in grid order, to `consume`.
void evaluate_in_chunks(const SweepSpec& spec, std::size_t first, std::size_t last, int jobs,
                        ProgressLine& progress,
                        const std::function<void(const std::vector<SweepPoint>&)>& consume) {
  std::vector<std::size_t> indices;
  for (std::size_t begin = first; begin < last; begin += kSweepChunkPoints) {
    const std::size_t end = std::min(last, begin + kSweepChunkPoints);
    indices.resize(end - begin);
    for (std::size_t k = 0; k < indices.size(); ++k) indices[k] = begin + k;
    const std::vector<SweepPoint> points =
        run_sweep_points(spec, indices, SweepRunOptions{jobs, [&](std::size_t done, std::size_t) {
                                                          progress.update(begin - first + done, last - first);
                                                        }});
    consume(points);
  }
  progress.finish();
}

}  // namespace

int cmd_sweep(const Args& args) {
  po::options_description desc("mlasim sweep options");
  std::string config, out_dir, shard_text;
  int jobs = 1;
  desc.add_options()("help,h", "show this help")("config", po::value(&config)->required(), "sweep YAML file")(
      "out,o", po::value(&out_dir)->required(), "output directory (created; files replaced whole)")(
      "quiet,q", "print only the paths written (and no progress line)")(
      "price", po::value<std::vector<std::string>>()->composing(),
      "GPU=USD: price per GPU-hour overriding the profile (repeatable), e.g. --price h200=3.5")(
      "no-charts", "no charts: report.html has the tables only, no charts/ folder, gnuplot is not run");
  add_jobs_option(desc, &jobs);
  add_shard_option(desc, &shard_text, "the grid's points", kSweepShardKind);
  po::positional_options_description pos;
  pos.add("config", 1);
  po::variables_map vm;
  if (!parse_options(args, desc, vm, &pos, "usage: mlasim sweep CONFIG.yaml --out DIR [-j N] [--shard I/N]"))
    return 0;
  check_jobs(jobs);

  const std::optional<Shard> shard = shard_option(vm, shard_text);
  SweepSpec spec = load_sweep_config(config);
  if (vm.count("price") != 0U) apply_sweep_overrides(spec, vm["price"].as<std::vector<std::string>>());
  prepare_output_dir(out_dir);  // an unwritable --out fails now, not after the run

  // The whole grid, or the shard's block of it, evaluated and written a chunk at a time.
  // Plain variables, not a structured binding: lambdas below capture them (clang 14 cannot capture bindings).
  const std::pair<std::size_t, std::size_t> block = shard_range(sweep_size(spec), shard.value_or(Shard{}));
  const std::size_t first = block.first, last = block.second;
  ProgressLine progress("sweep", "points", vm.count("quiet") == 0U);
  if (shard) {
    OutputSet outputs(out_dir);
    OutputStream& file = outputs.stream(shard_file_name(kSweepShardKind));
    file.write(sweep_shard_header_line(spec, *shard));
    evaluate_in_chunks(spec, first, last, jobs, progress,
                       [&](const std::vector<SweepPoint>& points) { file.write(sweep_shard_lines(points)); });
    write_shard_output(outputs, "sweep", *shard, sweep_size(spec), "points");
    return 0;
  }
  write_sweep_outputs(
      spec,
      [&](SweepOutputWriter& writer) {
        evaluate_in_chunks(spec, first, last, jobs, progress,
                           [&](const std::vector<SweepPoint>& points) { writer.add(points); });
      },
      out_dir, vm.count("no-charts") == 0U, vm.count("quiet") != 0U, "sweep", jobs);
  return 0;
}

}  // namespace mlasim::cli
