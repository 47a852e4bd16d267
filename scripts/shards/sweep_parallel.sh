#!/usr/bin/env bash
# A sweep split into N shards run by GNU parallel, then joined by `mlasim merge`: the same outputs as one
# `mlasim sweep CONFIG --out OUT`, byte for byte.
#
#   scripts/shards/sweep_parallel.sh CONFIG OUT N [SWEEP OPTION...]
#
# The shards land in OUT/shards/1..N (kept: a failed merge can be retried), the report in OUT. Options go to
# every shard (`--price h200=3.5`); `--no-charts` and `-q` go to the merge too.
# Environment:
#   MLASIM    the mlasim binary (default: build/cli/mlasim beside this script's repository, else mlasim on PATH)
#   PARALLEL  GNU parallel's own default options. On one machine it runs a shard per core. Across machines
#             (a folder every machine sees at the same path, mlasim at the same path):
#               PARALLEL="--sshloginfile nodes.txt --workdir $PWD" scripts/shards/sweep_parallel.sh ...
# Exit status: mlasim's (2 bad input, 1 internal error) or parallel's (the number of failed shards).
set -euo pipefail
if (($# < 3)); then
  sed -n '2,15p' "$0" >&2
  exit 2
fi
config=$1 out=$2 shards=$3
shift 3
repo=$(cd "$(dirname "$0")/../.." && pwd)
mlasim=${MLASIM:-$repo/build/cli/mlasim}
[ -x "$mlasim" ] || mlasim=$(command -v mlasim) || { echo "sweep_parallel.sh: no mlasim (set MLASIM)" >&2; exit 2; }
command -v parallel >/dev/null || { echo "sweep_parallel.sh: GNU parallel is needed (Debian: apt install parallel)" >&2; exit 2; }
merge_opts=()
for o in "$@"; do
  case "$o" in --no-charts | -q | --quiet) merge_opts+=("$o") ;; esac
done

mkdir -p "$out/shards"
# --halt now,fail=1: the first failing shard stops the others (its message is the one that matters).
parallel --will-cite --halt now,fail=1 --line-buffer \
  "$mlasim" sweep "$config" --shard {}/"$shards" --out "$out/shards/{}" "$@" ::: $(seq 1 "$shards") >/dev/null
"$mlasim" merge $(seq -f "$out/shards/%g" 1 "$shards") --out "$out" "${merge_opts[@]}"
