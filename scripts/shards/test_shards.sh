#!/usr/bin/env bash
# The shard scripts end to end on this machine: a sweep run once, and again as shards through GNU parallel
# (sweep_parallel.sh), through the Slurm array script run task by task as Slurm would (sweep_slurm.sbatch),
# and through sweep_slurm.sh with a stand-in `sbatch` that runs what it is given; each merged result must
# equal the single run byte for byte. Exit 77 (skipped) without GNU parallel.
#
#   scripts/shards/test_shards.sh MLASIM_BINARY WORK_DIR
set -euo pipefail
mlasim=$(realpath "$1") work=$2
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
command -v parallel >/dev/null || { echo "GNU parallel not installed: skipped (scripts/dev.sh test installs it)"; exit 77; }
rm -rf "$work" && mkdir -p "$work"
config=configs/llama3_70b_attention.yaml
same() {  # the merged folder $2 holds exactly the files of $1 (its shards/ aside)
  diff -r -x shards "$1" "$2" >/dev/null || { echo "FAIL: $2 differs from $1"; diff -r -q -x shards "$1" "$2" | head; exit 1; }
  echo "ok: $2 equals the single run"
}
"$mlasim" sweep $config --price h100-sxm=2 -q --out "$work/one" >/dev/null

MLASIM=$mlasim "$here/sweep_parallel.sh" $config "$work/parallel" 3 --price h100-sxm=2 -q >/dev/null
same "$work/one" "$work/parallel"

for i in 1 2 3 4 5; do
  SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=5 CONFIG=$config OUT="$work/array" MLASIM=$mlasim \
    SWEEP_OPTS="--price h100-sxm=2" bash "$here/sweep_slurm.sbatch" >/dev/null
done
"$mlasim" merge "$work"/array/shards/* -q --out "$work/array" >/dev/null
same "$work/one" "$work/array"

# A stand-in sbatch: runs an --array script once per task with Slurm's variables, or a --wrap command.
mkdir -p "$work/bin"
cat >"$work/bin/sbatch" <<'SB'
#!/usr/bin/env bash
array="" wrap="" script=""
for a in "$@"; do
  case "$a" in --array=*) array=${a#--array=} ;; --wrap=*) wrap=${a#--wrap=} ;; --*) ;; *) script=$a ;; esac
done
echo "$*" >>"$(dirname "$0")/sbatch.log"
if [ -n "$wrap" ]; then bash -c "$wrap" >/dev/null; echo 2; exit; fi
last=${array#*-}
for i in $(seq "${array%-*}" "$last"); do SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=$last bash "$script" >/dev/null; done
echo 1
SB
chmod +x "$work/bin/sbatch"
PATH="$work/bin:$PATH" MLASIM=$mlasim SWEEP_OPTS="--price h100-sxm=2" MERGE_OPTS=-q \
  "$here/sweep_slurm.sh" $config "$work/slurm" 4 --partition=cpu
grep -q -- "--dependency=afterok:1" "$work/bin/sbatch.log" || { echo "FAIL: the merge does not wait for the array"; exit 1; }
same "$work/one" "$work/slurm"
echo "all shard paths equal the single run"
