#!/usr/bin/env bash
# Carries a long fuzz run's working corpus from one machine to the next, so that a run of at least 10 million
# executions per target can be spread over sessions on fresh machines (fuzz/README.md, "Long runs").
#
#   fuzz/long_corpus.sh save target...   minimize $WORK/corpus/<target>/ with libFuzzer's -merge=1 (the fewest
#                                        inputs that reach the same coverage features) into
#                                        fuzz/long/<target>.tar.xz
#   fuzz/long_corpus.sh load target...   unpack fuzz/long/<target>.tar.xz into $WORK/corpus/<target>/, where
#                                        `fuzz/run.sh --runs N <target>` then continues from it
# Environment: BUILD_DIR (default build-fuzz, as fuzz/run.sh builds it), WORK (default $BUILD_DIR/work).
# The archive depends only on the kept inputs (their names are libFuzzer's content hashes; sorted, fixed times and
# owners) and is replaced whole or not at all. Exit status: 0, 2 on bad usage or a missing file.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '5,10p' "$0" >&2; exit 2; }
(($# >= 2)) || usage
mode=$1
shift
build_dir=${BUILD_DIR:-build-fuzz}
work=${WORK:-$build_dir/work}
[ -d /dev/shm ] && [ -w /dev/shm ] && export TMPDIR=${TMPDIR:-/dev/shm}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

save() {
  local t=$1 corpus=$work/corpus/$1 fuzzer=$build_dir/fuzz/fuzz_$1
  [ -x "$fuzzer" ] || { echo "long_corpus.sh: $fuzzer not built (run fuzz/run.sh $t first)" >&2; exit 2; }
  [ -d "$corpus" ] || { echo "long_corpus.sh: no working corpus $corpus" >&2; exit 2; }
  rm -rf "${tmp:?}"/* && mkdir "$tmp/min"
  # The same limits as the fuzzing run; an input that crashed or hung would be left out, but a run with a finding
  # is not saved (its finding is fixed first and goes to fuzz/corpus/<target>/).
  ASAN_OPTIONS=detect_leaks=1 "$fuzzer" -merge=1 -timeout=10 -rss_limit_mb=2048 "$tmp/min" "$corpus" \
    >"$tmp/merge.log" 2>&1 || { tail -20 "$tmp/merge.log" >&2; exit 2; }
  mkdir -p fuzz/long
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$tmp/min" -cf - . | xz -9 -T1 >"$tmp/$t.tar.xz"
  mv "$tmp/$t.tar.xz" "fuzz/long/$t.tar.xz"
  echo "$t: $(find "$corpus" -type f | wc -l) inputs -> $(find "$tmp/min" -type f | wc -l) kept," \
    "fuzz/long/$t.tar.xz ($(stat -c %s "fuzz/long/$t.tar.xz") bytes)"
}

load() {
  local t=$1 archive=fuzz/long/$1.tar.xz
  [ -f "$archive" ] || { echo "long_corpus.sh: no saved corpus $archive" >&2; exit 2; }
  mkdir -p "$work/corpus/$t"
  tar -xJf "$archive" -C "$work/corpus/$t"
  echo "$t: $(tar -tJf "$archive" | grep -vc '/$') inputs from $archive into $work/corpus/$t/"
}

case "$mode" in
  save | load) for t in "$@"; do "$mode" "$t"; done ;;
  *) usage ;;
esac
