#!/usr/bin/env bash
# Whole-command timings for issue 12 (run by hand; numbers go into the notes, never into tests): the median
# of N runs (default 5) of each command, wall seconds and peak RSS, pinned to one core unless the row says
# otherwise. BEFORE (optional) is an older mlasim binary to time beside this one.
#
#   bench/cli_bench.sh [MLASIM] [BEFORE] [N]
set -euo pipefail
cd "$(dirname "$0")/.."
now=${1:-build/cli/mlasim} before=${2:-} n=${3:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# median wall seconds and the peak RSS (KB) of that run: time_it CPUS BINARY ARGS...
time_it() {
  local cpus=$1 bin=$2
  shift 2
  local rows=()
  for _ in $(seq "$n"); do
    rm -rf "$work/out"
    taskset -c "$cpus" /usr/bin/time -o "$work/time" -f '%e %M' "$bin" "$@" --out "$work/out" >/dev/null 2>&1
    rows+=("$(cat "$work/time")")
  done
  printf '%s\n' "${rows[@]}" | sort -n | sed -n "$(((n + 1) / 2))p"
}
row() {  # row LABEL CPUS ARGS...
  local label=$1 cpus=$2
  shift 2
  local a b=""
  a=$(time_it "$cpus" "$now" "$@")
  [ -n "$before" ] && b=$(time_it "$cpus" "$before" "$@")
  printf '| %s | %s | %s |\n' "$label" "${b:-—}" "$a"
}
echo "| command | before: s KB | now: s KB |"
echo "|---|---|---|"
row "sweep bench/sweep_1k.yaml (1,000 points, charts)" 0 sweep bench/sweep_1k.yaml -q
row "sweep bench/sweep_10k.yaml (10,000 points, charts)" 0 sweep bench/sweep_10k.yaml -q
row "sweep configs/deepseek_v3_attention.yaml (demo, charts)" 0 sweep configs/deepseek_v3_attention.yaml -q
