#!/usr/bin/env bash
# Tests scripts/gpu_measure.sh's orchestration without a GPU and without compiling anything: the programs are
# replaced by fakes that speak their protocol (scripts/testing/), so crashes, failed checks, watchdog exits,
# deadlines and a process that ignores SIGTERM can be staged. About 45 s. Exit 0 when every expectation holds.
#
#   scripts/test_gpu_measure_orchestration.sh [WORK_DIR]
#
# Scenarios:
#   mixed     probes crash inside bandwidth (restarted for gemm); attention check case 3 (MLA) crashes and
#             case 10 (GQA d64) fails; memcheck runs on case 3 and reports an error; the timing run is ended
#             by its watchdog at point 3 and restarted behind it; the failed variant's rows say FAILED.
#   deadline  MLASIM_DEADLINE_S=40: the probes hang and ignore SIGTERM; the overall deadline kills them
#             (SIGKILL) and the attention phase is skipped for lack of time; the archive still comes back,
#             inside deadline + 6 s.
#   fallback  a fake cmake leaves a probes program that cannot start and fails on the attention bench: the
#             broken program is dropped and both are built by scripts/gpu_build_nvcc.sh (with a fake nvcc that
#             links the fakes); everything else passes: exit 0, build ok by "nvcc".
#   variants  the build lists mla-d576-sm90a too; its first timing run hangs at point 0 after mla-d576 was timed
#             there: the restart goes on at point 0 without both (no duplicate row); the PyTorch peers step
#             (a fake, scripts/testing/fake_peers.sh) writes peers.csv from the bench's peer_inputs.csv; best.csv.
#   unavailable  mla-d576-sm90a compiled but unavailable on the device: neither checked nor timed, attention
#             ok; the peers stop at their deadline (exit 4): peers partial, and the script still exits 0.
#   (mixed, fallback, partial: the real peers.py runs without torch and is skipped with its one line.)
#   partial   the probes stop at their own --deadline-s (exit 4): status partial; attention ok. A fake
#             nvidia-smi (scripts/testing/fake-bin) names an "NVIDIA H200" (gpu_id h200) and rejects two
#             query fields, which read "unavailable"; scripts/unpack_measurement.sh unpacks the archive twice
#             into h200-<date>/ and h200-<date>-2/.
set -u -o pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/mlasim-orchestration.XXXXXX")}
mkdir -p "$work"
fakes="$root/scripts/testing"
failures=0

fail() { echo "FAIL [$scenario]: $*"; failures=$((failures + 1)); }
# expect_phase PHASE STATUS: run.yaml's phase line has that status.
expect_phase() {
  grep -q "^  $1: *{status: \"$2\"" "$out/run.yaml" || fail "phase $1: want status $2, run.yaml says: $(grep "^  $1:" "$out/run.yaml")"
}
expect_file() { [ -f "$run/$1" ] || fail "missing $1 in the archive"; }
expect_grep() { grep -q -e "$1" "$run/$2" 2>/dev/null || fail "$2 lacks '$1'"; }
unpack() {
  rm -rf "$work/$scenario.unpacked"
  mkdir -p "$work/$scenario.unpacked"
  tar -C "$work/$scenario.unpacked" -xzf "$out/gpu_results.tar.gz" || fail "archive does not unpack"
  run=$(find "$work/$scenario.unpacked" -mindepth 1 -maxdepth 1 -type d | head -1)
  [ "$(find "$work/$scenario.unpacked" -mindepth 1 -maxdepth 1 | wc -l)" = 1 ] || fail "archive holds more than one folder"
  [ "$(find "$out" -type f | wc -l)" -le 6 ] || fail "more than 6 files in \$OUT"
  for f in run.yaml gpu_measure.log build.log ptxas.txt nvidia_smi.csv; do expect_file "$f"; done
}
# gpu_measure ENV...: runs the script with the fakes and the given environment; sets rc and took.
gpu_measure() {
  out="$work/$scenario.out"
  rm -rf "$out"
  local t0=$SECONDS
  env OUT="$out" MLASIM_SKIP_BUILD=1 MLASIM_PROBES_BIN="$fakes/fake_probes.sh" \
    MLASIM_ATTENTION_BIN="$fakes/fake_attention_bench.sh" "$@" \
    MLASIM_COMPUTE_SANITIZER="$fakes/fake_compute_sanitizer.sh" MLASIM_GIT_REV=test \
    bash "$root/scripts/gpu_measure.sh" > "$work/$scenario.console" 2>&1
  rc=$?
  took=$((SECONDS - t0))
  echo "[$scenario] exit $rc after $took s"
}

scenario=mixed
gpu_measure FAKE_PROBES_MODE=crash-bandwidth FAKE_ATTENTION_MODE=mixed
[ "$rc" = 4 ] || fail "exit $rc, want 4"
unpack
expect_phase build skipped
expect_phase probes failed
expect_phase attention failed
expect_phase sanitizer failed
expect_file probes/launch.csv
expect_file probes/gemm.csv
expect_grep "probes: gemm: done" probes/run.log
expect_file attention/sanitizer_case3_memcheck.txt
expect_file attention/sanitizer_case3_racecheck.txt
expect_grep "--check-case 3" attention/sanitizer_case3_memcheck.txt
expect_grep "^gqa,gqa-d64,1,512,uniform,1,16,1,64,.*,FAILED$" attention/gqa_decode.csv
expect_grep "^gqa,gqa-d128,1,512,uniform,1,16,1,128,.*,pass$" attention/gqa_decode.csv
grep -q "^mla," "$run/attention/mla_decode.csv" && fail "the crashed MLA variant was timed"
[ "$(grep -c '^gqa,' "$run/attention/gqa_decode.csv")" = 3 ] || fail "want 3 GQA rows (points 2, 4, 5; 3 hung)"
expect_grep ",NO$" attention/check.csv
expect_grep "restarting behind it" gpu_measure.log
expect_phase peers skipped
expect_grep "peers: skipped: torch \(cannot be imported\|sees no CUDA device\)" gpu_measure.log

scenario=deadline
gpu_measure MLASIM_DEADLINE_S=40 FAKE_PROBES_MODE=hang FAKE_ATTENTION_MODE=ok
[ "$rc" = 4 ] || fail "exit $rc, want 4"
(( took <= 46 )) || fail "took $took s, over deadline + 6"
unpack
expect_phase probes timeout
expect_phase attention skipped
expect_phase sanitizer skipped
expect_phase peers skipped
grep -q "exit_code: 137" "$out/run.yaml" || fail "want the probes killed (137) after ignoring SIGTERM"

scenario=fallback
gpu_measure MLASIM_SKIP_BUILD=0 MLASIM_PROBES_BIN= MLASIM_ATTENTION_BIN= MLASIM_BUILD_DIR="$work/fallback.build" \
  PATH="$fakes/fake-bin:$PATH" CUDACXX="$fakes/fake-nvcc/nvcc"
[ "$rc" = 0 ] || fail "exit $rc, want 0"
unpack
grep -q '^  build: *{status: "ok", exit_code: 0, seconds: [0-9]*, method: "nvcc"}$' "$out/run.yaml" ||
  fail "want build ok by nvcc: $(grep build: "$out/run.yaml")"
expect_phase probes ok
expect_phase attention ok
expect_phase sanitizer skipped
expect_grep "mlasim_probes does not start (exit 12[67]): dropped" gpu_measure.log
expect_grep "plain-nvcc fallback for: probes attention" gpu_measure.log
expect_grep "uses too much local data (fake)" build.log
expect_grep "Used 32 registers, used 0 barriers (fake, mla_decode.cu)" ptxas.txt
expect_phase peers skipped
expect_file attention/best.csv

scenario=variants
gpu_measure FAKE_ATTENTION_MODE=variants MLASIM_PYTHON=bash MLASIM_PEERS_SCRIPT="$fakes/fake_peers.sh"
[ "$rc" = 4 ] || fail "exit $rc, want 4 (a hang in the grid)"
unpack
expect_phase attention failed
expect_phase peers ok
expect_grep "variants compiled in: mla-d576 gqa-d128 gqa-d64 mla-d576-sm90a" gpu_measure.log
expect_grep "from point 0 (not again there: mla-d576,mla-d576-sm90a)" gpu_measure.log
[ "$(grep -c '^mla,mla-d576,' "$run/attention/mla_decode.csv")" = 2 ] || fail "want 2 mla-d576 rows (points 0, 1), no duplicate"
[ "$(grep -c '^mla,mla-d576-sm90a,' "$run/attention/mla_decode.csv")" = 1 ] || fail "want 1 mla-d576-sm90a row (point 1)"
[ "$(grep -c '^mla-d576-sm90a\|,mla-d576-sm90a,' "$run/attention/check.csv")" = 6 ] || fail "want 6 check rows of mla-d576-sm90a"
expect_file attention/peers.csv
expect_file attention/peers_vs_ours.csv
expect_file attention/peer_inputs.csv
expect_file attention/best.csv
expect_grep "^0,1,mla," attention/peer_inputs.csv
expect_grep "^gqa,1,512,uniform,1,16,1,64,4,sdpa-flash," attention/peers.csv
expect_grep "summary (Fake GPU" gpu_measure.log
expect_grep "peers: ok (exit 0)" gpu_measure.log

scenario=unavailable
gpu_measure FAKE_ATTENTION_MODE=variants FAKE_ATTENTION_UNAVAILABLE=mla-d576-sm90a MLASIM_PYTHON=bash \
  MLASIM_PEERS_SCRIPT="$fakes/fake_peers.sh" FAKE_PEERS_EXIT=4
[ "$rc" = 0 ] || fail "exit $rc, want 0 (peers partial never fails the run)"
unpack
expect_phase attention ok
expect_phase peers partial
expect_grep "unavailable on this device (not timed): mla-d576-sm90a" gpu_measure.log
grep -q "mla-d576-sm90a" "$run/attention/mla_decode.csv" && fail "the unavailable variant was timed"

scenario=partial
gpu_measure PATH="$fakes/fake-bin:$PATH" MLASIM_PROBES_CAP_S=18 FAKE_PROBES_MODE=deadline FAKE_ATTENTION_MODE=ok
[ "$rc" = 4 ] || fail "exit $rc, want 4"
unpack
expect_phase probes partial
expect_phase attention ok
expect_phase sanitizer skipped
expect_phase peers skipped
expect_grep "^mla,mla-d576,.*,pass$" attention/mla_decode.csv
expect_grep '^device: "NVIDIA H200"$' run.yaml
expect_grep '^gpu_id: "h200"$' run.yaml
expect_grep '^driver: "580.159.04"$' run.yaml
[ "$(basename "$run")" = "h200-$(date -u +%Y-%m-%d)" ] || [ "$(basename "$run")" = "h200-$(date -u -d yesterday +%Y-%m-%d)" ] ||
  fail "run folder $(basename "$run"), want h200-<date>"
# Header fixed; power.draw (rejected) reads unavailable; the throttle mask comes from clocks_event_reasons.
expect_grep "^phase,when,timestamp,name,pci.bus_id,driver_version,pstate,clocks.sm,clocks.mem,clocks.max.sm,clocks.max.mem,temperature.gpu,power.draw,power.limit,utilization.gpu,memory.used,clocks_throttle_reasons.active$" nvidia_smi.csv
expect_grep "^probes,before,2026/12/01 10:00:00.000,NVIDIA H200,v:pci.bus_id,580.159.04,v:pstate,1980,v:clocks.mem,v:clocks.max.sm,v:clocks.max.mem,v:temperature.gpu,unavailable,v:power.limit,v:utilization.gpu,v:memory.used,0x0000000000000000$" nvidia_smi.csv
[ "$(grep -c '^attention,' "$run/nvidia_smi.csv")" -ge 4 ] || fail "want attention snapshots before/after checks and timing"
dest=$(mktemp -d "$work/measurements.XXXXXX")
first=$("$root/scripts/unpack_measurement.sh" "$out/gpu_results.tar.gz" "$dest") || fail "unpack_measurement failed"
second=$("$root/scripts/unpack_measurement.sh" "$out/gpu_results.tar.gz" "$dest") || fail "unpack_measurement failed twice"
[ "$first" = "$dest/$(basename "$run")" ] || fail "unpacked into $first"
[ "$second" = "$dest/$(basename "$run")-2" ] || fail "second unpack into $second, want the -2 folder"
if [ ! -f "$second/run.yaml" ] || [ ! -f "$first/attention/mla_decode.csv" ]; then fail "unpacked folders incomplete"; fi

if [ "$failures" = 0 ]; then
  echo "gpu_measure orchestration: 6 passed, 0 failed"
  [ -z "${1:-}" ] && rm -rf "$work"
  exit 0
fi
echo "gpu_measure orchestration: $failures expectation(s) failed; consoles and archives under $work"
exit 1
