#!/usr/bin/env bash
# clang-tidy with the project's checks (.clang-tidy) over every C++ source in a build's compile database.
#   scripts/tidy.sh [BUILD_DIR] [file-regex]     (default build; all of models/ sim/ reports/ cli/ fuzz/)
# Run by hand (about 7 s of CPU per file); exits 1 when a check fires.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
filter=${2:-'/(models|sim|reports|cli|fuzz)/.*\.cpp$'}
[ -f "$build_dir/compile_commands.json" ] || { echo "tidy.sh: no $build_dir/compile_commands.json (build first)" >&2; exit 2; }
runner=$(command -v run-clang-tidy || command -v run-clang-tidy-14 || true)
[ -n "$runner" ] || { echo "tidy.sh: run-clang-tidy is needed (apt install clang-tidy)" >&2; exit 2; }
log=$(mktemp)
"$runner" -quiet -p "$build_dir" -j "$(nproc)" "$filter" >"$log" 2>&1 || true
grep -E 'warning:|error:' "$log" | sort -u | tee /dev/stderr | grep -q . && { echo "tidy.sh: findings above" >&2; rm -f "$log"; exit 1; }
rm -f "$log"
echo "tidy.sh: clean"
