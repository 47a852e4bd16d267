#!/usr/bin/env bash
# Every GPU measurement mlasim needs, in one device call (issues 4 and 5): the decode-attention kernels
# (kernels/attention/run_on_gpu.sh) and the ceiling probes (kernels/probes/run_on_gpu.sh), one after the other.
# The device tool returns at most 8 files, so both result folders travel as one archive:
#
#   $OUT/gpu_results.tar.gz   attention/ (fingerprint, ptxas, check, copy, MLA and GQA CSVs, log) and
#                             probes/ (fingerprint, bandwidth, GEMM, launch, device state, logs)
#   $OUT/attention_run.log, $OUT/probes_run.log   the two logs, readable without unpacking
#
# Usage, from the repository root on the GPU machine (it has the CUDA toolkit, CMake and ninja; no git):
#   MLASIM_GIT_REV=<sha> OUT=<dir> bash scripts/gpu_measure.sh [--quick]
# Time budget (estimates from the two scripts' headers, not yet measured): attention ~3-4 min, probes
# ~2-3 min; each is cut by `timeout` (attention 330 s, probes 240 s) so the call ends inside the device tool's
# 10-minute limit. Then, here: unpack into measurements/<gpu>-<date>/ and run `mlasim fit-probes` on probes/.
set -uo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:?set OUT to the output folder}
rev=${MLASIM_GIT_REV:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
quick=()
[ "${1:-}" = "--quick" ] && quick=(--quick)
work=$(mktemp -d)
mkdir -p "$OUT"

echo "== gpu_measure: revision $rev, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
nvidia-smi -L 2>/dev/null || echo "nvidia-smi: no GPU listed"

OUT="$work" GIT_REV="$rev" timeout 330 bash kernels/attention/run_on_gpu.sh "${quick[@]}"
rc_attention=$?
OUT="$work/probes" MLASIM_GIT_REV="$rev" MLASIM_PROBE_TIMEOUT=220 timeout 240 bash kernels/probes/run_on_gpu.sh "${quick[@]}"
rc_probes=$?

tar -C "$work" -czf "$OUT/gpu_results.tar.gz" . 2>/dev/null
cp "$work/attention/run.log" "$OUT/attention_run.log" 2>/dev/null
cp "$work/probes/run.log" "$OUT/probes_run.log" 2>/dev/null
rm -rf "$work"
echo "== gpu_measure: attention exit $rc_attention, probes exit $rc_probes; results in $OUT/gpu_results.tar.gz"
# Exit 3 (no GPU) when either program found none; otherwise the first failure.
if [ "$rc_attention" -eq 3 ] || [ "$rc_probes" -eq 3 ]; then exit 3; fi
[ "$rc_attention" -ne 0 ] && exit "$rc_attention"
exit "$rc_probes"
