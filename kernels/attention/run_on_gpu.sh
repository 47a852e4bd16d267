#!/usr/bin/env bash
# The decode-attention kernels alone, in one device call: a thin wrapper over scripts/gpu_measure.sh --only
# attention, which builds kernels/ from the CUDA toolkit alone (CMake, else plain nvcc), checks every kernel
# against the CPU reference, runs compute-sanitizer on a failing check, times the grid (a failed variant is
# still timed, its rows marked check = FAILED) under the overall deadline (MLASIM_DEADLINE_S, default 420 s),
# and packs one run folder (measurements/README.md):
#
#   OUT=/path/to/out GIT_REV=$(git rev-parse HEAD) kernels/attention/run_on_gpu.sh [--quick]
#
# Results: $OUT/gpu_results.tar.gz (<gpu_id>-<date>/attention/{fingerprint.yaml, check.csv, copy.csv,
# mla_decode.csv, gqa_decode.csv, run.log, [sanitizer_case<N>_<tool>.txt]} plus run.yaml, build.log, ptxas.txt,
# nvidia_smi.csv, gpu_measure.log), $OUT/run.yaml and $OUT/gpu_measure.log. GIT_REV (or MLASIM_GIT_REV) names
# the revision: the GPU machine has no git. Exit codes: those of gpu_measure.sh (0 ok, 3 no GPU, 1 nothing
# built, 4 incomplete or failed, 2 bad usage).
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -z "${OUT:-}" ]; then echo "run_on_gpu.sh: set OUT to the output folder" >&2; exit 2; fi
export OUT
[ -n "${GIT_REV:-}" ] && [ -z "${MLASIM_GIT_REV:-}" ] && export MLASIM_GIT_REV=$GIT_REV
exec bash "$root/scripts/gpu_measure.sh" --only attention "$@"
