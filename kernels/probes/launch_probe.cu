// Launch overhead: an empty kernel launched back to back (eager), the same launches replayed from a CUDA
// graph, and a lone launch between two events. Per-launch time = time of the batch / launches.
#include "kernels/probes/probes.cuh"

namespace mlasim::gpu {

namespace {

__global__ void empty_kernel() {}

constexpr int kLaunchesPerBatch = 1000;

}  // namespace

void run_launch_probe(ProbeContext& ctx) {
  // Four points of well under a second each: the family runs whole or not at all.
  if (ctx.deadline.too_late_for_next_point(2.0)) {
    ctx.skipped_deadline += 4;
    ctx.summary.push_back("launch: skipped (deadline)");
    return;
  }
  record_device_state(ctx, "before launch");
  CsvWriter csv(ctx.options.out_dir + "/launch.csv", probe_csv_columns());
  const int launches = ctx.options.quick ? 100 : kLaunchesPerBatch;
  TimingOptions topt;
  topt.warmup = 3;
  topt.repeats = ctx.options.quick ? 5 : 30;
  topt.flush_l2 = false;  // an empty kernel touches no memory
  cudaStream_t s = ctx.stream;

  auto per_launch = [&](TimingStats t, int n) {
    t.median_s /= n;
    t.p90_s /= n;
    t.min_s /= n;
    t.max_s /= n;
    t.mean_s /= n;
    return t;
  };
  auto emit = [&](const char* kernel, int grid, int block, const TimingStats& t) {
    MeasuredPoint p;
    p.probe = "launch";
    p.kernel = kernel;
    p.shape = "launches=" + std::to_string(launches);
    p.grid = grid;
    p.block = block;
    p.time = t;
    write_point(csv, p, ctx);
  };

  // Eager, one CTA and a full wave (one CTA of 128 threads per SM): back-to-back launches in a stream.
  for (const std::pair<int, int>& shape : {std::pair{1, 1}, std::pair{ctx.device.sms, 128}}) {
    const int grid = shape.first, block = shape.second;  // plain names: lambdas capture them in C++17
    const TimingStats t = time_on_gpu(
        [&](cudaStream_t st) {
          for (int i = 0; i < launches; ++i) empty_kernel<<<grid, block, 0, st>>>();
        },
        topt, nullptr, s);
    const TimingStats pl = per_launch(t, launches);
    emit(grid == 1 ? "empty_eager" : "empty_eager_full", grid, block, pl);
    ctx.summary.push_back("launch " + std::string(grid == 1 ? "eager     " : "eager full") + ": " +
                          std::to_string(pl.median_s * 1e6) + " us per launch (median)");
  }

  // Graph: capture the same launches once, time replays of the instantiated graph.
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  MLASIM_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  for (int i = 0; i < launches; ++i) empty_kernel<<<1, 1, 0, s>>>();
  MLASIM_CUDA_CHECK(cudaStreamEndCapture(s, &graph));
  MLASIM_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  const TimingStats tg =
      time_on_gpu([&](cudaStream_t st) { MLASIM_CUDA_CHECK(cudaGraphLaunch(exec, st)); }, topt, nullptr, s);
  const TimingStats pg = per_launch(tg, launches);
  emit("empty_graph", 1, 1, pg);
  ctx.summary.push_back("launch graph     : " + std::to_string(pg.median_s * 1e6) +
                        " us per kernel (median)");
  MLASIM_CUDA_CHECK(cudaGraphExecDestroy(exec));
  MLASIM_CUDA_CHECK(cudaGraphDestroy(graph));

  // A lone launch between two events: what one isolated small kernel costs end to end on the GPU timeline.
  TimingOptions single = topt;
  single.repeats = ctx.options.quick ? 10 : 200;
  const TimingStats ts =
      time_on_gpu([&](cudaStream_t st) { empty_kernel<<<1, 1, 0, st>>>(); }, single, nullptr, s);
  {
    MeasuredPoint p;
    p.probe = "launch";
    p.kernel = "empty_single";
    p.shape = "launches=1";
    p.grid = 1;
    p.block = 1;
    p.time = ts;
    write_point(csv, p, ctx);
  }
  ctx.summary.push_back("launch single    : " + std::to_string(ts.median_s * 1e6) +
                        " us between events (median)");

  if (!csv.close()) std::fprintf(stderr, "mlasim_probes: cannot write launch.csv\n");
  record_device_state(ctx, "after launch");
}

}  // namespace mlasim::gpu
