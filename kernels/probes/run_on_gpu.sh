#!/usr/bin/env bash
# The ceiling probes alone, in one device call: a thin wrapper over scripts/gpu_measure.sh --only probes, which
# builds kernels/ from the CUDA toolkit alone (CMake, else plain nvcc), runs `mlasim_probes all` under the
# overall deadline (MLASIM_DEADLINE_S, default 420 s), and packs one run folder (measurements/README.md):
#
#   OUT=<dir> MLASIM_GIT_REV=<sha> bash kernels/probes/run_on_gpu.sh [--quick]
#   OUT=<dir> bash kernels/probes/run_on_gpu.sh --build-only      # here, without a GPU: toolchain and build
#
# Results: $OUT/gpu_results.tar.gz (<gpu_id>-<date>/probes/{fingerprint.yaml, bandwidth.csv, gemm.csv,
# launch.csv, device_state.csv, run.log} plus run.yaml, build.log, ptxas.txt, nvidia_smi.csv, gpu_measure.log),
# $OUT/run.yaml and $OUT/gpu_measure.log. OUT defaults to <repo>/out-probes. Exit codes: those of
# gpu_measure.sh (0 ok, 3 no GPU, 1 nothing built, 4 incomplete or failed, 2 bad usage).
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export OUT=${OUT:-$root/out-probes}
exec bash "$root/scripts/gpu_measure.sh" --only probes "$@"
