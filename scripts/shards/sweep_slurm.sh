#!/usr/bin/env bash
# A sweep as a Slurm job array of N shards, then `mlasim merge` once every shard has succeeded
# (--dependency=afterok): OUT holds the same outputs as one `mlasim sweep CONFIG --out OUT`.
#
#   scripts/shards/sweep_slurm.sh CONFIG OUT N [SBATCH OPTION...]
#
# OUT must be on a file system every node sees, mlasim at the same path on each (MLASIM, default the
# repository's build/cli/mlasim). SWEEP_OPTS: options for every shard (`--price h200=3.5`); MERGE_OPTS: for
# the merge (`--no-charts`). Prints the two job ids; the logs are mlasim-sweep-JOB_TASK.log.
set -euo pipefail
if (($# < 3)); then
  sed -n '2,10p' "$0" >&2
  exit 2
fi
config=$1 out=$2 shards=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
export MLASIM=${MLASIM:-$(cd "$here/../.." && pwd)/build/cli/mlasim}
export CONFIG=$config OUT=$out SWEEP_OPTS=${SWEEP_OPTS:-}
mkdir -p "$out/shards"
array=$(sbatch --parsable --array=1-"$shards" "$@" "$here/sweep_slurm.sbatch")
merge=$(sbatch --parsable --dependency=afterok:"$array" --job-name=mlasim-merge --ntasks=1 "$@" \
  --wrap="\"$MLASIM\" merge $(seq -f "'$out/shards/%g'" 1 "$shards" | tr '\n' ' ')--out '$out' ${MERGE_OPTS:-}")
echo "shards: job $array (array 1-$shards); merge: job $merge, after every shard succeeds"
