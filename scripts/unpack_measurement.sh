#!/usr/bin/env bash
# Unpacks one GPU measurement archive (scripts/gpu_measure.sh's gpu_results.tar.gz) into its own folder:
#
#   scripts/unpack_measurement.sh ARCHIVE [DEST_ROOT]      (DEST_ROOT default: <repo>/measurements)
#
# The archive holds exactly one run folder with a run.yaml (measurements/README.md). It lands in
# DEST_ROOT/<gpu_id>-<yyyy-mm-dd>/ (gpu_id from run.yaml, the date from its `started`), or -2, -3 ... when that
# folder exists: an existing folder is never touched. Prints the new folder's path. Exit 0 done, 1 a bad
# archive (nothing written), 2 bad usage.
set -u -o pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ $# -lt 1 ] || [ $# -gt 2 ] || [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
  echo "usage: $0 ARCHIVE [DEST_ROOT=$root/measurements]" >&2
  exit 2
fi
archive=$1
dest_root=${2:-$root/measurements}
die() { echo "unpack_measurement.sh: $archive: $*" >&2; exit 1; }
[ -f "$archive" ] || die "no such file"

# Refuse members that would land outside the folder (absolute paths, ..) before extracting anything.
members=$(tar -tzf "$archive" 2>/dev/null) || die "not a readable .tar.gz"
if grep -q -E '^/|(^|/)\.\.(/|$)' <<< "$members"; then die "holds absolute or .. paths"; fi
tops=$(sed -e 's|^\./||' -e 's|/.*||' <<< "$members" | grep -v '^$' | sort -u)
[ "$(wc -l <<< "$tops")" = 1 ] || die "holds more than one top-level entry: $(echo "$tops" | tr '\n' ' ')"

mkdir -p "$dest_root" || exit 1
tmp=$(mktemp -d "$dest_root/.unpack.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
tar -C "$tmp" -xzf "$archive" || die "extraction failed"
run="$tmp/$tops"
if [ ! -f "$run/run.yaml" ]; then die "no run.yaml in $tops/"; fi

yaml_value() { sed -n "s/^$1: *\"\\(.*\\)\" *\$/\\1/p" "$run/run.yaml" | head -1; }
gpu_id=$(yaml_value gpu_id)
started=$(yaml_value started)
[[ "$gpu_id" =~ ^[a-z0-9][a-z0-9-]*$ ]] || die "run.yaml: gpu_id '$gpu_id' is not a slug"
[[ "$started" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T ]] || die "run.yaml: started '$started' is not an ISO date"
base="$dest_root/$gpu_id-${started%%T*}"

# mkdir claims a name atomically: the first free one of base, base-2, base-3 ...
dest=$base
n=1
until mkdir "$dest" 2>/dev/null; do
  n=$((n + 1))
  dest="$base-$n"
  (( n < 1000 )) || die "no free folder name after $base-999"
done
# Move the contents in (the claimed folder is empty), then drop the temporary folder.
if ! (shopt -s dotglob && mv "$run"/* "$dest"/); then
  rm -rf "$dest"
  die "could not move the run into $dest"
fi
echo "$dest"
