#!/usr/bin/env bash
# Builds the libFuzzer programs (Clang, ASan + UBSan) and runs each fuzz target on a corpus seeded from the
# project's own inputs (fuzz_seeds), then prints one line per target: executions, crashes, hangs, out-of-memory
# and leak reports. Findings land in $WORK/findings/<target>/; copy each into fuzz/corpus/<target>/ once fixed,
# so that tests/test_fuzz_corpus replays it forever.
#
#   fuzz/run.sh [--seconds N] [--runs N] [--jobs N] [target ...]
#     --seconds N  time per target (default 7: about a minute for the nine targets, as CI runs it)
#     --runs N     stop each target after N executions instead (the long run: --runs 10000000)
#     --jobs N     targets fuzzed at once (default 1)
# Environment: BUILD_DIR (default build-fuzz), WORK (default $BUILD_DIR/work).
# Exit status: 0 when no target found anything, 3 when one did, 2 on bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=7
runs=""
jobs=1
targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "fuzz/run.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || targets=(sweep serve card profile hf trace lengths probes cli)

build_dir=${BUILD_DIR:-build-fuzz}
work=${WORK:-$build_dir/work}
command -v clang++ >/dev/null || { echo "fuzz/run.sh: clang++ is needed (Debian: apt install clang)" >&2; exit 2; }
CC=clang CXX=clang++ cmake -S . -B "$build_dir" -G Ninja -DMLASIM_FUZZ=ON -DMLASIM_SANITIZE=ON -DMLASIM_CUDA=OFF \
  -DMLASIM_BUILD_TESTS=OFF -DMLASIM_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target fuzz_seeds $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null

fuzz_one() {
  local t=$1 corpus=$work/corpus/$1 findings=$work/findings/$1 log=$work/$1.log
  rm -rf "$findings" && mkdir -p "$corpus" "$findings"
  "$build_dir"/fuzz/fuzz_seeds "$t" | while read -r f; do cp "$f" "$corpus/seed-$(basename "$f")"; done
  local limit=(-max_total_time="$seconds")
  [ -n "$runs" ] && limit=(-runs="$runs")
  # A target's dictionary (fuzz/<target>.dict: the cli target's commands and options), when it has one.
  [ -f fuzz/"$t".dict ] && limit+=(-dict=fuzz/"$t".dict)
  # -timeout: an input taking over 10 s is a hang; -rss_limit_mb: one over 2 GB is a memory blow-up.
  ASAN_OPTIONS=detect_leaks=1 "$build_dir"/fuzz/fuzz_"$t" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$findings/" "$corpus" >"$log" 2>&1 || true
}
export -f fuzz_one
# The targets write each input to a scratch file (cli: run in a scratch folder): on tmpfs when there is one.
[ -d /dev/shm ] && [ -w /dev/shm ] && export TMPDIR=${TMPDIR:-/dev/shm}
export build_dir work seconds runs

mkdir -p "$work"
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'fuzz_one {}'

found=0
printf '%-8s %12s %8s %8s %6s %6s %6s  %s\n' target executions exec/s crashes hangs ooms leaks corpus
for t in "${targets[@]}"; do
  log=$work/$t.log findings=$work/findings/$t
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  crashes=$(find "$findings" -name 'crash-*' | wc -l)
  hangs=$(find "$findings" -name 'timeout-*' -o -name 'slow-unit-*' | wc -l)
  ooms=$(find "$findings" -name 'oom-*' | wc -l)
  leaks=$(find "$findings" -name 'leak-*' | wc -l)
  size=$(find "$work/corpus/$t" -type f | wc -l)
  printf '%-8s %12s %8s %8s %6s %6s %6s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$crashes" "$hangs" "$ooms" "$leaks" "$size"
  [ -z "$execs" ] && { echo "  $t: no final stats; see $log" >&2; found=1; }
  ((crashes + hangs + ooms + leaks)) && found=1
done
if ((found)); then
  echo "fuzz/run.sh: findings in $work/findings/ (logs: $work/*.log)" >&2
  exit 3
fi
