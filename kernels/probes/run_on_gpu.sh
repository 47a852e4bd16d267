#!/usr/bin/env bash
# Builds the GPU ceiling probes from the CUDA toolkit alone and runs every probe family in one device call.
#
# On the device machine, from the repository root:
#   MLASIM_GIT_REV=<sha> bash kernels/probes/run_on_gpu.sh            # full run
#   MLASIM_GIT_REV=<sha> bash kernels/probes/run_on_gpu.sh --quick    # smoke run, a few points per family
# Here, without a GPU (checks the toolchain, the cuBLAS link and the build; the program must start):
#   OUT=/tmp/probes MLASIM_JOBS=1 bash kernels/probes/run_on_gpu.sh --build-only
#
# Time estimate on one H100 (no measurement exists yet; from `mlasim_probes plan` and counted host overhead):
#   toolchain + cuBLAS link check ~10 s; cmake configure ~10 s; build (5 .cu files, -j16) ~30 s;
#   probes ~1-2 min (device work ~15 s: GEMM ~13 s over 57 shape families x 14 m x bf16+fp8, bandwidth ~2 s,
#   launch <1 s; plus ~3 ms host work per GEMM point for cuBLASLt set-up and the CPU check, and CUDA/cuBLAS
#   start-up). Total ~2-3 min, target under 4; the probe run is cut at MLASIM_PROBE_TIMEOUT (default 420 s).
#
# Writes under $OUT (flat, 8 files): build.log, run.log, fingerprint.yaml, bandwidth.csv, gemm.csv, launch.csv,
# device_state.csv, nvidia_smi.csv. Prints a short summary last. Never changes clocks, power or GPU modes.
set -uo pipefail

mode=full
probe_args=()
for a in "$@"; do
  case "$a" in
    --quick) probe_args+=(--quick) ;;
    --build-only) mode=build ;;
    *) echo "run_on_gpu.sh: unknown argument '$a' (known: --quick, --build-only)" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-$root/out-probes}
mkdir -p "$OUT"
build=${MLASIM_PROBES_BUILD:-$root/build-probes-gpu}
jobs=${MLASIM_JOBS:-$(nproc)}
rev=${MLASIM_GIT_REV:-$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)}
log="$OUT/run.log"
: > "$log"
say() { echo "$*" | tee -a "$log"; }
t_start=$(date +%s)

say "== mlasim probes: $(date -u +%Y-%m-%dT%H:%M:%SZ), revision $rev, mode $mode"
say "== command: $0 $*"

# 1. Toolchain, and cuBLASLt links and loads (needs no GPU).
nvcc_bin=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
"$nvcc_bin" --version | tail -2 | tee -a "$log"
cmake --version | head -1 | tee -a "$log"
probe_src=$(mktemp -d)/cublas_link_check.cu
cat > "$probe_src" <<'CU'
#include <cublasLt.h>
#include <cstdio>
int main() { std::printf("cuBLASLt version %zu links and loads\n", cublasLtGetVersion()); return 0; }
CU
if ! "$nvcc_bin" -o "${probe_src%.cu}" "$probe_src" -lcublasLt >> "$log" 2>&1 || ! "${probe_src%.cu}" | tee -a "$log"; then
  say "FAILED: cuBLASLt does not link or load; see $log"
  exit 1
fi

# 2. Configure and build only the probe program, standalone (cmake -S kernels: CUDA toolkit alone).
if ! { cmake -S "$root/kernels" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release &&
       cmake --build "$build" --target mlasim_probes -j "$jobs"; } > "$OUT/build.log" 2>&1; then
  tail -30 "$OUT/build.log"
  say "FAILED: build; see $OUT/build.log"
  exit 1
fi
bin="$build/probes/mlasim_probes"
say "== built $bin in $(( $(date +%s) - t_start )) s"

# 3. The program starts (plan needs no GPU) and prints what it will measure.
if ! "$bin" plan "${probe_args[@]}" > "$OUT/plan.txt" 2>&1; then
  cat "$OUT/plan.txt"
  say "FAILED: mlasim_probes does not start"
  exit 1
fi
tail -2 "$OUT/plan.txt" | tee -a "$log"
rm -f "$OUT/plan.txt"
if [ "$mode" = build ]; then
  say "== build-only: toolchain, cuBLASLt link, build and start-up OK in $(( $(date +%s) - t_start )) s"
  exit 0
fi

# 4. Device state from nvidia-smi before and after (read only).
smi_query=timestamp,name,driver_version,pci.bus_id,clocks.sm,clocks.max.sm,clocks.mem,clocks.max.mem,temperature.gpu,power.draw,power.limit,pstate,clocks_throttle_reasons.active
smi() {
  nvidia-smi --query-gpu="$smi_query" --format=csv"$1" >> "$OUT/nvidia_smi.csv" 2>> "$log" ||
    echo "nvidia-smi unavailable" >> "$OUT/nvidia_smi.csv"
}
: > "$OUT/nvidia_smi.csv"
smi ""
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1 || echo unavailable)

# 5. Every probe family, one process.
cmd=("$bin" all --out "$OUT" --git-rev "$rev" "${probe_args[@]}")
say "== running: ${cmd[*]}"
t_run=$(date +%s)
timeout "${MLASIM_PROBE_TIMEOUT:-420}" "${cmd[@]}" 2>&1 | tee -a "$log"
rc=${PIPESTATUS[0]}
smi ",noheader"
if [ -f "$OUT/fingerprint.yaml" ]; then
  {
    echo "nvidia_smi_driver: \"${driver:-unavailable}\""
    echo "script_command: \"MLASIM_GIT_REV=$rev bash kernels/probes/run_on_gpu.sh $*\""
    echo "probe_exit_code: $rc"
  } >> "$OUT/fingerprint.yaml"
fi

# 6. Short summary last (the program printed its own summary above).
say "== probes exit code $rc; run $(( $(date +%s) - t_run )) s, total $(( $(date +%s) - t_start )) s"
for f in bandwidth.csv gemm.csv launch.csv device_state.csv; do
  if [ -f "$OUT/$f" ]; then say "   $f: $(( $(wc -l < "$OUT/$f") - 1 )) rows"; else say "   $f: MISSING"; fi
done
exit "$rc"
