#!/usr/bin/env bash
# Decode-attention measurements on a GPU machine (issue 4). Run from the repository root:
#
#   OUT=/path/to/out GIT_REV=$(git rev-parse HEAD) kernels/attention/run_on_gpu.sh [--quick]
#
# Builds kernels/ on its own from the CUDA toolkit (cmake + ninja + nvcc; no other library), records the device
# fingerprint, checks every kernel against the CPU reference on fresh random inputs (relative L2 error <= 1e-2,
# every output written: outputs are poisoned with NaN first), then times the grid and writes, under
# $OUT/attention/ (7 files): fingerprint.yaml, ptxas.txt, check.csv, copy.csv, mla_decode.csv, gqa_decode.csv,
# run.log. If a check fails, nothing is timed and the script exits 1.
#
# Grid: MLA batch {1,8,32,64,128} x context {512..32768} x h_q {16,32,64,128} x s_q {1,2} x {uniform, variable
# lengths} = 560 points; GQA (n_h,n_kv,d) in {(32,32,128),(32,8,128),(64,8,128),(71,1,64)} x the same batches and
# contexts = 140 points (those whose K+V cache exceeds --max-kv-gib 32 are skipped and logged: only (32,32,128)
# at B=128 ctx 32k, 64 GiB); one 2 GiB device-to-device copy as the bandwidth yardstick.
#
# Time estimate on one H100 (not yet measured; no GPU was lent when this was written):
#   build ~1-2 min (4 .cu files, 16 cores); checks ~10 s (CPU reference in double);
#   timing: the whole grid moves ~0.65 TB of KV and does ~50 TFLOP per repeat (~0.3 s at roofline, say 0.6 s),
#   x (3 warm-up + 20 repeats) ~ 15 s, plus ~60 us per timed launch for the L2 flush and event sync
#   (700 points x 23 ~ 1 s) and device-side random fills (~0.1 s): ~1 min with margin for slower kernels.
#   Total ~3-4 min; --quick (2 batches x 2 contexts, 4 checks) ~1.5 min, most of it the build.
set -euo pipefail

OUT=${OUT:?set OUT to the output folder}
GIT_REV=${GIT_REV:-unknown}
BUILD_DIR=${BUILD_DIR:-build-gpu-attention}
dest="$OUT/attention"
mkdir -p "$dest"
command_line="OUT=$OUT GIT_REV=$GIT_REV $0 $*"
log="$dest/run.log"
: > "$log"
say() { echo "$@" | tee -a "$log"; }

say "== mlasim decode-attention run: $(date -u +%Y-%m-%dT%H:%M:%SZ), revision $GIT_REV"
say "== command: $command_line"

# 1. Build (the ptxas report lists registers, shared memory and spills of every kernel; spills fail the build).
start=$(date +%s)
cmake -S kernels -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMLASIM_PTXAS_VERBOSE=ON >> "$log" 2>&1
if ! cmake --build "$BUILD_DIR" --target mlasim_attention_bench --clean-first > "$dest/ptxas.txt" 2>&1; then
  tail -40 "$dest/ptxas.txt"
  say "build FAILED (see $dest/ptxas.txt)"
  exit 1
fi
say "== build: $(( $(date +%s) - start )) s"
grep -E "Compiling entry|Used [0-9]+ registers|spill" "$dest/ptxas.txt" | sed "s/^/   /" | tee -a "$log" || true

# 2. Fingerprint extras from the driver and toolkit (the program writes the rest: device, SMs, clocks, ...).
extra="$dest/.extra.yaml"
{
  smi_line=$(nvidia-smi 2>/dev/null | grep -m1 "Driver Version" | tr -s ' ' || echo "nvidia-smi unavailable")
  echo "nvidia_smi: \"${smi_line//\"/}\""
  q=$(nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,clocks.max.mem,power.limit,temperature.gpu \
        --format=csv,noheader 2>/dev/null || echo "unavailable")
  echo "nvidia_smi_query: \"${q//\"/}\""
  echo "nvcc: \"$(nvcc --version 2>/dev/null | tail -1)\""
  echo "host: \"$(uname -srm)\""
} > "$extra"

# 3. Check, then time; the program prints the summary table last.
start=$(date +%s)
set +e
"$BUILD_DIR/attention/mlasim_attention_bench" --out "$dest" --git-rev "$GIT_REV" --command "$command_line" \
  --extra-yaml "$extra" "$@" 2>&1 | tee -a "$log"
rc=${PIPESTATUS[0]}
set -e
rm -f "$extra"
say "== bench: exit $rc after $(( $(date +%s) - start )) s; files in $dest:"
ls -l "$dest" | tee -a "$log"
exit "$rc"
