#!/usr/bin/env bash
# Every GPU measurement mlasim needs, in one device call that never comes back empty (issues 4, 5 and 8).
#
#   OUT=<dir> MLASIM_GIT_REV=<sha> bash scripts/gpu_measure.sh [--quick] [--only probes|attention] [--build-only]
#
# Run from anywhere on the GPU machine (CUDA toolkit; CMake and ninja if present; no git, no network, none of
# mlasim's Debian libraries). Order: build, then the probes (launch, bandwidth, GEMM), then the attention checks
# (every compiled kernel variant), then the attention timing grid (every variant at every point), then the
# PyTorch peers on the same inputs (kernels/attention/peers.py), then best.csv and the summary, packaging after
# every phase. One measurement folder per run (layout, run.yaml
# and its statuses: measurements/README.md):
#
#   <gpu_id>-<yyyy-mm-dd>/ run.yaml gpu_measure.log build.log ptxas.txt nvidia_smi.csv probes/ attention/
#   (attention/ also holds best.csv, peers.csv, peers_vs_ours.csv and peer_inputs.csv)
#
# After every phase the whole folder is packed again into $OUT/gpu_results.tar.gz (written under a temporary
# name, then renamed, so a kill never leaves a torn archive), and $OUT/gpu_measure.log and $OUT/run.yaml are
# refreshed: 3 files in $OUT (the device tool brings back at most 8, each <= 16 MiB). On this side:
#   scripts/unpack_measurement.sh gpu_results.tar.gz      -> measurements/<gpu_id>-<date>[-N]/
#
# Time: ONE deadline D for everything, MLASIM_DEADLINE_S (default 420, clamped to 30..450), counted from this
# script's start (identity look-ups included). Work ends by W = D - 20 s; the last 20 s are kept for the final
# nvidia-smi snapshot, run.yaml and archive. Every step runs under `timeout` (SIGTERM at its cap, SIGKILL 5 s
# later) with cap = min(its own cap, W - now), and starts only with >= 10 s left before W; a program also gets
# --deadline-s (its cap minus a margin) and stops taking points cleanly before it. Own caps (seconds):
#   build 240 (CMake at most 150 of it, then the nvcc fallback); probes 150; attention checks 60 per pass and
#   90 in all; compute-sanitizer memcheck 60 and racecheck 60 (only for a failed check); attention timing: the
#   rest less the peers' reserve (MLASIM_PEERS_RESERVE_S, default 60; not kept when the grid would get under
#   60 s); PyTorch peers: what is left up to that reserve (not started with < 20 s); summary 10; nvidia-smi 5
#   per snapshot (not started with < 5 s left); each archive 10 (+2 kill grace).
# Worst case, by construction:
#   a work step ends by W + 5 (SIGKILL grace), or is abandoned (stuck in the driver) by W + 10.5;
#   a snapshot ends by W + 1; an intermediate archive is started only before W, so it ends by W + 12;
#   so everything before the final packing ends by W + 12 = D - 8;
#   final snapshot <= 6 s, run.yaml, final archive <= 12 s, copies and clean-up ~1 s: <= D - 8 + 19 = D + 11.
#   D <= 450 (the clamp): <= 461 s < 480 s = 8 minutes. Default D = 420: <= 431 s (7 min 11 s).
# Expected (an estimate; nothing has run on a GPU yet): build ~1.5-2 min on 16 cores (with the sm_90a kernel),
# probes ~1 min, attention checks ~20-40 s (small cases plus 6 large ones per variant), attention grid ~1-3 min
# (700 points x the variants that apply), peers <= 60 s: about 5-7 min; the deadline cuts the grid (headline
# points first) and the peers (headline points first) if the GPU side is slower than that.
#
# A failed correctness check does not stop the run: check.csv and run.yaml record it, compute-sanitizer runs on
# the first failing case (memcheck before the timing, racecheck after it if time is left), and the variant is
# still timed with check = FAILED in its rows. A check or grid point that crashes or hangs (the bench's watchdog
# ends it after 30 s) is skipped and the program restarted behind it (at most 3 restarts per stage).
#
# Exit: 0 every phase ok; 3 no GPU (the programs said so; the archive holds build.log, ptxas.txt, run.yaml);
# 1 nothing could be built; 4 results came back but incomplete or with failures (see run.yaml); 2 bad usage.
#
# Environment (all optional): MLASIM_DEADLINE_S; MLASIM_GIT_REV (no git on the GPU machine); MLASIM_JOBS
# (parallel compiles, default nproc); MLASIM_BUILD_DIR (default <repo>/build-gpu-measure, rebuilt from scratch
# so that build.log always holds the full ptxas report); MLASIM_FORCE_NVCC_BUILD=1 (skip CMake, use
# scripts/gpu_build_nvcc.sh); MLASIM_SKIP_BUILD=1 with MLASIM_PROBES_BIN / MLASIM_ATTENTION_BIN (use these
# programs instead of building; also how the tests substitute fakes); MLASIM_COMPUTE_SANITIZER (its path);
# MLASIM_BUILD_CAP_S, MLASIM_CMAKE_CAP_S, MLASIM_PROBES_CAP_S (tighter caps, for tests); MLASIM_PEERS=0 (no
# peers), MLASIM_PYTHON (default python3: the one with torch), MLASIM_PEERS_SCRIPT (tests substitute a fake),
# MLASIM_PEERS_RESERVE_S.
set -u -o pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
script_args=("$@")

usage() { sed -n '2,5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
quick=()
only=all
build_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=(--quick) ;;
    --only) only=${2:-}; shift
            case "$only" in probes|attention) ;; *) echo "gpu_measure.sh: --only takes probes or attention" >&2; exit 2 ;; esac ;;
    --build-only) build_only=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "gpu_measure.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
if [ -z "${OUT:-}" ]; then echo "gpu_measure.sh: set OUT to the output folder" >&2; exit 2; fi
mkdir -p "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd)

# ------------------------------------------------------------------ time
deadline=${MLASIM_DEADLINE_S:-420}
case "$deadline" in ''|*[!0-9]*) echo "gpu_measure.sh: MLASIM_DEADLINE_S must be whole seconds" >&2; exit 2 ;; esac
deadline=$((10#$deadline))  # "0420" is not octal here
(( deadline > 450 )) && deadline=450
(( deadline < 30 )) && deadline=30
readonly FINAL_RESERVE=20 GRACE=5 MIN_STEP=10
work_end=$(( deadline - FINAL_RESERVE ))   # W: no work step runs past it (plus the kill grace)
SECONDS=0
left() { echo $(( work_end - SECONDS )); }
# cap_for MAX: seconds a step may take now: min(MAX, W - now), or 0 when fewer than MIN_STEP are left.
cap_for() {
  local l
  l=$(left)
  if (( l < MIN_STEP )); then echo 0; elif (( l < $1 )); then echo "$l"; else echo "$1"; fi
}

# ------------------------------------------------------------------ tools and identity
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH=/usr/local/cuda/bin:$PATH; fi
jobs_n=${MLASIM_JOBS:-$(nproc 2>/dev/null || echo 8)}
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
yaml_str() {  # a YAML double-quoted scalar
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/ }
  printf '"%s"' "$s"
}
# Only a successful query counts: without a device nvidia-smi prints "No devices were found" and fails.
device_name=none
driver=unavailable
if smi_out=$(timeout 5 nvidia-smi --query-gpu=name,driver_version --format=csv,noheader -i 0 2>/dev/null) &&
   [[ "$smi_out" == *,* ]]; then
  smi_out=$(head -1 <<< "$smi_out")
  device_name=$(sed -e 's/,[^,]*$//' -e 's/ *$//' <<< "$smi_out")
  driver=$(sed -e 's/.*,//' -e 's/ //g' <<< "$smi_out")
  [ -n "$device_name" ] || device_name=none
  [ -n "$driver" ] || driver=unavailable
fi
gpu_id=$(printf '%s' "$device_name" | tr '[:upper:]' '[:lower:]' | sed -e 's/^nvidia //' -e 's/[^a-z0-9]\{1,\}/-/g' -e 's/^-//' -e 's/-$//')
[ -n "$gpu_id" ] || gpu_id=unknown
nvcc_release=$(timeout 20 nvcc --version 2>/dev/null | sed -n 's/.*release [0-9.]*, V\([0-9.]*\).*/\1/p' | head -1)
[ -n "$nvcc_release" ] || nvcc_release=unavailable
git_rev=${MLASIM_GIT_REV:-$(timeout 5 git -C "$root" rev-parse HEAD 2>/dev/null || true)}
[ -n "$git_rev" ] || git_rev=unknown
host=$(uname -srm)
command_line=""
for v in $(compgen -e | grep -E '^(OUT|MLASIM_[A-Z0-9_]+)$'); do command_line+="$v=$(printf '%q' "${!v}") "; done
command_line+="bash scripts/gpu_measure.sh${script_args[*]+ ${script_args[*]}}"

work=$(mktemp -d "${TMPDIR:-/tmp}/mlasim-gpu-measure.XXXXXX")
run_name="$gpu_id-${started%%T*}"
run_dir="$work/$run_name"
mkdir -p "$run_dir/probes" "$run_dir/attention"
main_log="$run_dir/gpu_measure.log"
: > "$main_log"
log() { printf '%s\n' "$*" | tee -a "$main_log"; }
stamp() { printf '[%3d s] ' "$SECONDS"; }

# ------------------------------------------------------------------ manifest and packaging
declare -A status code secs
for p in build probes attention sanitizer peers; do status[$p]=pending; code[$p]=0; secs[$p]=0; done
build_method=cmake
write_run_yaml() {
  local f="$run_dir/run.yaml" p extra
  {
    echo 'schema: "mlasim-measurement-run/1"'
    echo 'synthetic: false'
    echo "device: $(yaml_str "$device_name")"
    echo "gpu_id: $(yaml_str "$gpu_id")"
    echo "driver: $(yaml_str "$driver")"
    echo "nvcc: $(yaml_str "$nvcc_release")"
    echo "git_revision: $(yaml_str "$git_rev")"
    echo "command: $(yaml_str "$command_line")"
    echo "started: $(yaml_str "$started")"
    echo "finished: $(yaml_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
    echo "host: $(yaml_str "$host")"
    echo "deadline_s: $deadline"
    echo "phases:"
    for p in build probes attention sanitizer peers; do
      extra=""
      [ "$p" = build ] && extra=", method: $(yaml_str "$build_method")"
      printf '  %-10s {status: %s, exit_code: %d, seconds: %d%s}\n' "$p:" "$(yaml_str "${status[$p]}")" \
        "${code[$p]}" "${secs[$p]}" "$extra"
    done
  } > "$f.tmp" && mv -f "$f.tmp" "$f"
}
# pack [final]: run.yaml, then the archive under a temporary name in $OUT, renamed over the old one.
pack() {
  local tar_cap=10
  write_run_yaml
  if [ "${1:-}" != final ] && (( $(left) < 1 )); then return; fi  # past W only the final pack runs
  if timeout -k 2 "$tar_cap" tar -C "$work" -czf "$OUT/gpu_results.tar.gz.tmp" "$run_name" 2>> "$main_log"; then
    # The device tool brings back files up to 16 MiB: drop sanitizer reports first if ever that large.
    if [ "$(wc -c < "$OUT/gpu_results.tar.gz.tmp")" -gt $((15 * 1024 * 1024)) ]; then
      log "archive over 15 MiB: packing again without the sanitizer reports"
      timeout -k 2 "$tar_cap" tar -C "$work" -czf "$OUT/gpu_results.tar.gz.tmp" --exclude='sanitizer_*' "$run_name"
    fi
    mv -f "$OUT/gpu_results.tar.gz.tmp" "$OUT/gpu_results.tar.gz"
  else
    rm -f "$OUT/gpu_results.tar.gz.tmp"
    log "packing failed or timed out; the previous archive stays"
  fi
  cp -f "$main_log" "$OUT/gpu_measure.log"
  cp -f "$run_dir/run.yaml" "$OUT/run.yaml"
}

# ------------------------------------------------------------------ nvidia-smi snapshots
# The header is fixed (these names, in this order). A field this driver's nvidia-smi rejects ("not a valid
# field") reads "unavailable" in every row instead of costing the whole snapshot; for the throttle reasons
# the newer name clocks_event_reasons.active (the same bit mask) is tried first.
smi_fields=(timestamp name pci.bus_id driver_version pstate clocks.sm clocks.mem clocks.max.sm clocks.max.mem
            temperature.gpu power.draw power.limit utilization.gpu memory.used clocks_throttle_reasons.active)
smi_query=("${smi_fields[@]}")  # what is asked for; "-" where a field is unavailable
smi_csv="$run_dir/nvidia_smi.csv"
echo "phase,when,$(IFS=,; echo "${smi_fields[*]}")" > "$smi_csv"
smi_ok=1
command -v nvidia-smi >/dev/null 2>&1 || smi_ok=0
# snapshot PHASE WHEN [final]: one row of clocks, temperature, power and throttle reasons (read only; a
# hanging nvidia-smi costs 5 s once, then it is not asked again).
snapshot() {
  local line="" out err bad i tries=0 q=() vals=() row
  if [ "$smi_ok" = 1 ] && { (( $(left) >= 5 )) || [ "${3:-}" = final ]; }; then
    while (( tries < 4 )); do
      tries=$((tries + 1))
      q=()
      for i in "${smi_query[@]}"; do [ "$i" = - ] || q+=("$i"); done
      out=$(timeout -k 1 5 nvidia-smi --query-gpu="$(IFS=,; echo "${q[*]}")" --format=csv,noheader,nounits -i 0 2>&1)
      err=$?
      if [ "$err" = 0 ]; then line=$(head -1 <<< "$out"); break; fi
      (( err == 124 || err == 137 )) && { smi_ok=0; break; }
      # Which field did it reject? Replace or drop it and ask again; any other error: give up.
      bad=$(sed -n 's/.*Field "\([^"]*\)" is not a valid field.*/\1/p' <<< "$out" | head -1)
      [ -n "$bad" ] || { smi_ok=0; break; }
      for i in "${!smi_query[@]}"; do
        if [ "${smi_query[$i]}" = "$bad" ]; then
          if [ "$bad" = clocks_throttle_reasons.active ]; then smi_query[i]=clocks_event_reasons.active; else smi_query[i]=-; fi
        fi
      done
    done
  fi
  row="$1,$2"
  if [ -n "$line" ]; then
    IFS=',' read -r -a vals <<< "${line//, /,}"
    local k=0
    for i in "${smi_query[@]}"; do
      if [ "$i" = - ]; then row+=",unavailable"; else row+=",${vals[$k]:-}"; k=$((k + 1)); fi
    done
  else
    row+=",$(date -u +%Y/%m/%d\ %H:%M:%S)"
    for ((i = 1; i < ${#smi_fields[@]}; i++)); do row+=",unavailable"; done
  fi
  echo "$row" >> "$smi_csv"
}

# ------------------------------------------------------------------ running a step
# run_step CAP OUTFILE CMD...: CMD under timeout (SIGTERM at CAP s, SIGKILL GRACE s later), stdout and stderr
# to OUTFILE. Sets step_rc: CMD's exit code; 124 or 137 when cut; 124 when CAP is 0 (no time left).
run_step() {
  local cap=$1 out=$2 pid start
  shift 2
  step_rc=124
  : > "$out"
  (( cap >= 1 )) || return 0
  timeout -k "$GRACE" "$cap" "$@" > "$out" 2>&1 < /dev/null &
  pid=$!
  step_pid=$pid
  start=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    if (( SECONDS - start > cap + GRACE + 5 )); then
      log "$(stamp)step still alive $((SECONDS - start)) s after its start despite SIGKILL (stuck in the driver?): abandoned"
      step_rc=137
      return 0
    fi
    sleep 0.5
  done
  wait "$pid"
  step_rc=$?
  step_pid=""
}
# show OUTFILE DEST...: appends a step's output to the main log (and console) and to each DEST log.
show() {
  local f=$1 d
  shift
  for d in "$@"; do cat "$f" >> "$d"; done
  tee -a "$main_log" < "$f"
}
cut_rc() { [ "$1" = 124 ] || [ "$1" = 137 ]; }

# Stopped from outside (SIGTERM, SIGINT): end the running step, mark what was not finished, pack, exit 124.
step_pid=""
# shellcheck disable=SC2317  # reached through the trap
on_signal() {
  trap - TERM INT
  [ -n "$step_pid" ] && kill -TERM "$step_pid" 2>/dev/null
  log "$(stamp)== interrupted by a signal: packing what there is"
  for p in build probes attention sanitizer peers; do [ "${status[$p]}" = pending ] && status[$p]=timeout; done
  pack final
  exit 124
}
trap on_signal TERM INT

log "== mlasim gpu_measure: $started, revision $git_rev, device '$device_name' (driver $driver), nvcc $nvcc_release"
log "== command: $command_line"
log "== deadline ${deadline} s (work steps end by ${work_end} s); run folder $run_name; results in $OUT"
pack

# ptxas_summary FILE: one line per kernel compiled for sm_90: name, registers, spill stores and loads.
ptxas_summary() {
  local demangle=cat
  command -v c++filt >/dev/null 2>&1 && demangle="c++filt"
  awk -v q="'" '/Compiling entry function/ {split($0, part, q); name = part[2]}
       /bytes spill stores/ {st = $5; ld = $9}
       /Used [0-9]+ registers/ {r = $0; sub(/.*Used /, "", r); sub(/ registers.*/, "", r);
                                printf "%s\t%s registers, %s B spill stores, %s B spill loads\n", name, r, st, ld}' "$1" |
    $demangle | awk -F'\t' '{n = $1; gsub(/\(anonymous namespace\)::/, "", n); sub(/^void /, "", n); sub(/\(.*/, "", n);
                                gsub(/[a-z_0-9]+::/, "", n); printf "   %-34s %s\n", n, $2}'
}

# drop_if_broken: a program that does not even start (a link cut short by a kill, a shared library the loader
# cannot find) is deleted, so that the nvcc fallback builds it again. Neither check needs a GPU: the probes'
# `plan`, and the bench's option parser refusing an out-of-range --check-case (exit 2).
drop_if_broken() {
  local rc c
  c=$(cap_for 20)
  (( c > 0 )) || return 0
  if [ -x "$probes_bin" ]; then
    timeout -k 2 "$c" "$probes_bin" plan > "$work/start.out" 2>&1
    rc=$?
    if [ "$rc" != 0 ]; then
      log "$(stamp)build: $probes_bin does not start (exit $rc): dropped"; tail -3 "$work/start.out" | tee -a "$main_log"
      rm -f "$probes_bin"
    fi
  fi
  if [ -x "$attention_bin" ]; then
    timeout -k 2 "$c" "$attention_bin" --check-case 999999 > "$work/start.out" 2>&1
    rc=$?
    if [ "$rc" != 2 ]; then
      log "$(stamp)build: $attention_bin does not start (exit $rc): dropped"; tail -3 "$work/start.out" | tee -a "$main_log"
      rm -f "$attention_bin"
    fi
  fi
}

# ------------------------------------------------------------------ phase 1: build
build=${MLASIM_BUILD_DIR:-$root/build-gpu-measure}
probes_bin=${MLASIM_PROBES_BIN:-$build/probes/mlasim_probes}
attention_bin=${MLASIM_ATTENTION_BIN:-$build/attention/mlasim_attention_bench}
build_log="$run_dir/build.log"
: > "$build_log"
t0=$SECONDS
snapshot build before
if [ "${MLASIM_SKIP_BUILD:-0}" = 1 ]; then
  build_method=none
  log "$(stamp)build: skipped (MLASIM_SKIP_BUILD=1); programs: $probes_bin, $attention_bin"
  status[build]=skipped
else
  log "$(stamp)build: kernels/ from the CUDA toolkit alone, into $build (fresh), $jobs_n jobs"
  rm -rf "$build"
  mkdir -p "$build"
  build_cap=$(cap_for "${MLASIM_BUILD_CAP_S:-240}")
  build_end=$(( SECONDS + build_cap ))
  if [ "${MLASIM_FORCE_NVCC_BUILD:-0}" = 1 ]; then
    log "$(stamp)build: MLASIM_FORCE_NVCC_BUILD=1: CMake not tried"
  elif ! command -v cmake >/dev/null 2>&1; then
    log "$(stamp)build: cmake not found"
  else
    gen=()
    command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
    keep_going=(-k)
    [ ${#gen[@]} -gt 0 ] && keep_going=(-k 0)
    cmake_cap=$(( build_cap < ${MLASIM_CMAKE_CAP_S:-150} ? build_cap : ${MLASIM_CMAKE_CAP_S:-150} ))
    # shellcheck disable=SC2016  # $1.. expand in the inner shell
    run_step "$cmake_cap" "$work/step.out" bash -c '
      cmake --version | head -1
      cmake -S "$1" -B "$2" "${@:5}" -DCMAKE_BUILD_TYPE=Release -DMLASIM_PTXAS_VERBOSE=ON || exit $?
      # Both programs in one call, keep going past a failure: one broken program must not cost the other.
      cmake --build "$2" --target mlasim_probes mlasim_attention_bench -j "$3" -- $4' \
      _ "$root/kernels" "$build" "$jobs_n" "${keep_going[*]}" "${gen[@]+"${gen[@]}"}"
    { echo "== cmake build (exit $step_rc)"; cat "$work/step.out"; } >> "$build_log"
    [ "$step_rc" = 0 ] || grep -v -E "^ptxas info|bytes stack frame" "$work/step.out" | tail -n 15 | tee -a "$main_log"
    cut_rc "$step_rc" && log "$(stamp)build: CMake cut at its cap (${cmake_cap} s)"
  fi
  drop_if_broken
  missing=()
  [ -x "$probes_bin" ] || missing+=(probes)
  [ -x "$attention_bin" ] || missing+=(attention)
  if [ ${#missing[@]} -gt 0 ]; then
    # Plain-nvcc fallback for whatever CMake did not produce.
    build_method=nvcc
    fb_cap=$(( build_end - SECONDS ))
    (( fb_cap > $(left) )) && fb_cap=$(left)
    log "$(stamp)build: plain-nvcc fallback for: ${missing[*]} (${fb_cap} s left for it)"
    run_step "$fb_cap" "$work/step.out" env MLASIM_JOBS="$jobs_n" bash "$root/scripts/gpu_build_nvcc.sh" "$build" "${missing[@]}"
    { echo "== nvcc fallback build (exit $step_rc)"; cat "$work/step.out"; } >> "$build_log"
    grep '^== nvcc build' "$work/step.out" | tee -a "$main_log"
    fb_rc=$step_rc
    drop_if_broken
  fi
  have=0
  [ -x "$probes_bin" ] && have=$((have + 1))
  [ -x "$attention_bin" ] && have=$((have + 1))
  if (( have == 2 )); then status[build]=ok; code[build]=0
  elif (( have == 1 )); then status[build]=partial; code[build]=${fb_rc:-$step_rc}
  elif cut_rc "${fb_rc:-$step_rc}"; then status[build]=timeout; code[build]=${fb_rc:-$step_rc}
  else status[build]=failed; code[build]=${fb_rc:-$step_rc}; [ "${code[build]}" = 0 ] && code[build]=1
  fi
  # The ptxas resource report (registers, spills) of every kernel compiled.
  grep -E "ptxas|bytes stack frame" "$build_log" > "$run_dir/ptxas.txt" || true
  log "$(stamp)build: ${status[build]} by $build_method in $((SECONDS - t0)) s; ptxas.txt has $(grep -c 'Used [0-9]* registers' "$run_dir/ptxas.txt") kernel reports"
  ptxas_summary "$run_dir/ptxas.txt" | tee -a "$main_log"
fi
[ -f "$run_dir/ptxas.txt" ] || : > "$run_dir/ptxas.txt"
secs[build]=$((SECONDS - t0))
snapshot build after
pack

no_gpu=0
# ------------------------------------------------------------------ phase 2: probes
probes_dir="$run_dir/probes"
run_probes() {
  local t0=$SECONDS families=(launch bandwidth gemm) done_f=() bad_f=() todo=() f cap attempt=0 rcs=() any_cut=0
  local any_check=0 any_partial=0 any_crash=0
  : > "$probes_dir/run.log"
  snapshot probes before
  todo=("${families[@]}")
  while [ ${#todo[@]} -gt 0 ] && (( attempt < 4 )); do
    attempt=$((attempt + 1))
    # The first process runs every family ("all"); after a crash, one process per family left, appending.
    local cmd_name=all append=()
    if (( attempt > 1 )); then cmd_name=${todo[0]}; append=(--append); fi
    cap=$(cap_for "${MLASIM_PROBES_CAP_S:-150}")
    if (( cap == 0 )); then log "$(stamp)probes: no time left for: ${todo[*]}"; any_partial=1; break; fi
    log "$(stamp)probes: $cmd_name (cap ${cap} s, --deadline-s $((cap - 8)))"
    run_step "$cap" "$work/step.out" "$probes_bin" "$cmd_name" --out "$probes_dir" --git-rev "$git_rev" \
      --deadline-s "$((cap - 8))" "${append[@]+"${append[@]}"}" "${quick[@]+"${quick[@]}"}"
    show "$work/step.out" "$probes_dir/run.log"
    rcs+=("$step_rc")
    if [ "$step_rc" = 3 ]; then
      no_gpu=1; status[probes]=no-gpu; code[probes]=3; secs[probes]=$((SECONDS - t0))
      snapshot probes after
      return
    fi
    for f in "${families[@]}"; do
      if grep -q "^probes: $f: done$" "$work/step.out"; then done_f+=("$f")
      elif grep -q "^probes: $f: start$" "$work/step.out"; then bad_f+=("$f")  # started, never finished
      fi
    done
    case "$step_rc" in
      0) ;;
      1) if grep -q '^done: ' "$work/step.out"; then any_check=1; else any_crash=1; fi ;;
      4) any_partial=1 ;;
      124|137) any_cut=1; log "$(stamp)probes: cut at the cap"; break ;;
      *) any_crash=1 ;;
    esac
    local before=${#todo[@]}
    todo=()
    for f in "${families[@]}"; do
      [[ " ${done_f[*]-} ${bad_f[*]-} " == *" $f "* ]] || todo+=("$f")
    done
    if [ ${#todo[@]} -eq "$before" ]; then
      log "$(stamp)probes: exit $step_rc before any family started; no restart"
      break
    elif [ ${#todo[@]} -gt 0 ] && [ "$step_rc" != 4 ]; then
      log "$(stamp)probes: exit $step_rc; crashed in: ${bad_f[*]-?}; restarting for: ${todo[*]}"
    else
      break
    fi
  done
  code[probes]=0
  for f in "${rcs[@]}"; do [ "$f" != 0 ] && code[probes]=$f; done
  if (( any_crash )); then status[probes]=failed
  elif (( any_cut )); then status[probes]=timeout
  elif (( any_check )); then status[probes]=check-failed
  elif (( any_partial )); then status[probes]=partial
  else status[probes]=ok; fi
  secs[probes]=$((SECONDS - t0))
  log "$(stamp)probes: ${status[probes]} (exit ${code[probes]}) in ${secs[probes]} s; families done: ${done_f[*]-none}"
  snapshot probes after
}

# ------------------------------------------------------------------ phase 3: attention (+ sanitizer)
att_dir="$run_dir/attention"
# PyTorch peers (kernels/attention/peers.py): inputs from the bench (seeds, checksums, block tables) go to
# $work/peer_inputs (not archived, except peer_inputs.csv).
peers_enabled=${MLASIM_PEERS:-1}
peers_python=${MLASIM_PYTHON:-python3}
peers_script=${MLASIM_PEERS_SCRIPT:-$root/kernels/attention/peers.py}
readonly PEERS_RESERVE=${MLASIM_PEERS_RESERVE_S:-60}
peer_inputs="$work/peer_inputs"
sanitizer=${MLASIM_COMPUTE_SANITIZER:-$(command -v compute-sanitizer || true)}
[ -z "$sanitizer" ] && [ -x /usr/local/cuda/bin/compute-sanitizer ] && sanitizer=/usr/local/cuda/bin/compute-sanitizer
sanitizer_case=""
sanitizer_variant=""
san_t=0
# sanitize TOOL: compute-sanitizer on the one failing check case, report in attention/sanitizer_case<N>_<TOOL>.txt
sanitize() {
  local tool=$1 cap t0=$SECONDS f
  cap=$(cap_for 60)
  f="$att_dir/sanitizer_case${sanitizer_case}_$tool.txt"
  if (( cap == 0 )); then log "$(stamp)sanitizer: no time left for $tool"; return; fi
  snapshot sanitizer "before $tool"
  mkdir -p "$work/sanitizer_out"  # the bench's own files of this run (fingerprint, check.csv) are not kept
  log "$(stamp)sanitizer: $tool on check case $sanitizer_case of $sanitizer_variant (cap ${cap} s)"
  run_step "$cap" "$f" "$sanitizer" --tool "$tool" --error-exitcode 10 "$attention_bin" --check-case "$sanitizer_case" \
    --variants "$sanitizer_variant" --out "$work/sanitizer_out" --point-timeout-s 0 --git-rev "$git_rev"
  # Keep the report small enough to travel (the device tool returns files up to 16 MiB, archive included).
  if [ "$(wc -c < "$f")" -gt 4000000 ]; then
    head -c 4000000 "$f" > "$f.cut" && mv -f "$f.cut" "$f"
    echo "[report cut at 4 MB by gpu_measure.sh]" >> "$f"
  fi
  tail -n 15 "$f" | tee -a "$main_log"
  # 0 or 1: ran to the end (1 = the check failed again, as expected); 10: the sanitizer reported errors.
  case "$step_rc" in
    0|1) [ "${status[sanitizer]}" = pending ] && status[sanitizer]=ok ;;
    124|137) status[sanitizer]=timeout ;;
    *) status[sanitizer]=failed ;;
  esac
  [ "$step_rc" = 0 ] || code[sanitizer]=$step_rc
  log "$(stamp)sanitizer: $tool exit $step_rc in $((SECONDS - t0)) s -> $(basename "$f")"
  san_t=$((san_t + SECONDS - t0))
  snapshot sanitizer "after $tool"
}

run_attention() {
  local t0=$SECONDS pending=() passed=() failed=() broken=() unavailable=() v cap pass=0 rc_last=0 rc_bad=0 any_cut=0 any_crash=0
  local any_partial=0 nonfinite=0 line n append=() extra="$work/extra.yaml"
  : > "$att_dir/run.log"
  {
    echo "nvidia_smi_driver: $(yaml_str "$driver")"
    echo "nvcc: $(yaml_str "$nvcc_release")"
    echo "host: $(yaml_str "$host")"
    echo "script_command: $(yaml_str "$command_line")"
  } > "$extra"
  snapshot attention "before checks"
  # --- checks: one process for every variant; after a crash or hang, again for the variants not yet checked.
  # The variants this build compiled (the bench's registry, bench_registry.cuh); the baselines if it cannot say.
  mapfile -t pending < <(timeout -k 2 10 "$attention_bin" --list-variants 2>/dev/null | grep -E '^[a-z0-9-]+$')
  [ ${#pending[@]} -gt 0 ] || pending=(mla-d576 gqa-d128 gqa-d64)
  log "$(stamp)attention: variants compiled in: ${pending[*]}"
  while [ ${#pending[@]} -gt 0 ] && (( pass < 3 )); do
    pass=$((pass + 1))
    cap=$(cap_for 60)
    (( cap > 90 - (SECONDS - t0) )) && cap=$((90 - (SECONDS - t0)))
    if (( cap < MIN_STEP )); then log "$(stamp)attention: no time left to check: ${pending[*]}"; any_partial=1; break; fi
    (( pass > 1 )) && append=(--append)
    log "$(stamp)attention: checks of ${pending[*]} (cap ${cap} s)"
    run_step "$cap" "$work/step.out" "$attention_bin" --check-only --variants "$(IFS=,; echo "${pending[*]}")" \
      --out "$att_dir" --git-rev "$git_rev" --command "$command_line" --extra-yaml "$extra" \
      --deadline-s "$((cap - 5))" "${append[@]+"${append[@]}"}" "${quick[@]+"${quick[@]}"}"
    show "$work/step.out" "$att_dir/run.log"
    rc_last=$step_rc
    if [ "$step_rc" = 3 ]; then
      no_gpu=1; status[attention]=no-gpu; code[attention]=3; secs[attention]=$((SECONDS - t0))
      snapshot attention "after checks"
      return
    fi
    while read -r v verdict; do
      if [ "$verdict" = pass ]; then passed+=("$v"); else failed+=("$v"); fi
    done < <(sed -n 's/^check variant \([a-z0-9-]*\): \(pass\|FAILED\)$/\1 \2/p' "$work/step.out")
    # Compiled but not runnable on this device (sm_90a code elsewhere than cc 9.0): neither checked nor timed.
    while read -r v; do unavailable+=("$v"); done < <(sed -n 's/^check variant \([a-z0-9-]*\): unavailable.*/\1/p' "$work/step.out")
    if [ -z "$sanitizer_case" ]; then
      line=$(sed -n 's/^check case \([0-9]*\) \([a-z0-9-]*\) .*FAILED$/\1 \2/p' "$work/step.out" | head -1)
      if [ -n "$line" ]; then sanitizer_case=${line%% *}; sanitizer_variant=${line#* }; fi
    fi
    # A case that started and never reported: it crashed or hung; its variant is not timed.
    line=$(awk '/^check case [0-9]+ [a-z0-9-]+: start$/ {n=$3; v=$4; sub(":", "", v); open=1; next}
                /^check case [0-9]+ / {open=0} END {if (open) print n, v}' "$work/step.out")
    if [ -n "$line" ]; then
      broken+=("${line#* }")
      if [ -z "$sanitizer_case" ]; then sanitizer_case=${line%% *}; sanitizer_variant=${line#* }; fi
      log "$(stamp)attention: check case ${line%% *} (${line#* }) never finished (exit $step_rc): crashed or hung"
      any_crash=1
      [ "$rc_bad" = 0 ] && rc_bad=$step_rc
    fi
    if cut_rc "$step_rc"; then any_cut=1; [ "$rc_bad" = 0 ] && rc_bad=$step_rc; fi
    [ "$step_rc" = 4 ] && any_partial=1
    local next=()
    for v in "${pending[@]}"; do
      [[ " ${passed[*]-} ${failed[*]-} ${broken[*]-} ${unavailable[*]-} " == *" $v "* ]] || next+=("$v")
    done
    if [ ${#next[@]} -eq ${#pending[@]} ] || [ -z "$line" ]; then pending=("${next[@]+"${next[@]}"}"); break; fi
    pending=("${next[@]+"${next[@]}"}")
  done
  [ ${#pending[@]} -gt 0 ] && log "$(stamp)attention: not checked (not timed): ${pending[*]}"
  [ ${#unavailable[@]} -gt 0 ] && log "$(stamp)attention: unavailable on this device (not timed): ${unavailable[*]}"
  [ ${#failed[@]} -gt 0 ] && log "$(stamp)attention: check FAILED: ${failed[*]} (timed anyway; rows say check = FAILED)"
  snapshot attention "after checks"

  # --- compute-sanitizer memcheck on the failing case, before the timing (racecheck after it, if time is left).
  if [ -n "$sanitizer_case" ]; then
    if [ -z "$sanitizer" ]; then
      log "$(stamp)sanitizer: compute-sanitizer not found; case $sanitizer_case not sanitized"
      status[sanitizer]=skipped
    else
      sanitize memcheck
    fi
  fi

  # --- timing: variants that passed or failed their check (not the broken or unchecked ones).
  local timed=("${passed[@]+"${passed[@]}"}" "${failed[@]+"${failed[@]}"}") first=0 restarts=0 crashed_v=() skip_first=""
  local reserve=0
  [ "$peers_enabled" = 1 ] && reserve=$PEERS_RESERVE
  mkdir -p "$peer_inputs"
  append=()
  local at0=$SECONDS
  snapshot attention "before timing"
  while [ ${#timed[@]} -gt 0 ]; do
    # The peers' reserve stays free for them (they run after the grid), unless the grid would get under 60 s.
    local want=$(( $(left) - reserve ))
    (( want < 60 )) && want=$(left)
    cap=$(cap_for "$want")
    if (( cap < 20 )); then log "$(stamp)attention: no time left for the timing grid"; any_partial=1; break; fi
    log "$(stamp)attention: timing ${timed[*]} from point $first${skip_first:+ (not again there: $skip_first)} (cap ${cap} s, --deadline-s $((cap - 10)))"
    run_step "$cap" "$work/step.out" "$attention_bin" --time-only --variants "$(IFS=,; echo "${timed[*]}")" \
      --failed-variants "$(IFS=,; echo "${failed[*]-}")" --first-point "$first" \
      ${skip_first:+--skip-at-first-point "$skip_first"} --peer-inputs "$peer_inputs" \
      --out "$att_dir" --git-rev "$git_rev" --command "$command_line" --extra-yaml "$extra" \
      --deadline-s "$((cap - 10))" "${append[@]+"${append[@]}"}" "${quick[@]+"${quick[@]}"}"
    show "$work/step.out" "$att_dir/run.log"
    rc_last=$step_rc
    [ "$step_rc" = 3 ] && { no_gpu=1; status[attention]=no-gpu; code[attention]=3; break; }
    if grep -q '^done: ' "$work/step.out"; then
      n=$(sed -n 's/^done: .* nonfinite=\([0-9]*\).*/\1/p' "$work/step.out")
      (( ${n:-0} > 0 )) && nonfinite=1
      [ "$step_rc" = 4 ] && any_partial=1
      break
    fi
    if cut_rc "$step_rc"; then any_cut=1; [ "$rc_bad" = 0 ] && rc_bad=$step_rc; break; fi
    # Crashed (CUDA error) or ended by its watchdog (exit 5): go on at the same point without the variants
    # that already started there (the crashed one among them); a variant that does this twice is dropped.
    any_crash=1
    [ "$rc_bad" = 0 ] && rc_bad=$step_rc
    line=$(awk '/^point [0-9]+ [a-z0-9-]+ .*: start$/ {k=$2; v=$3} END {if (k != "") print k, v}' "$work/step.out")
    if [ -z "$line" ] || (( restarts >= 3 )); then
      log "$(stamp)attention: timing ended with exit $step_rc${line:+ at point $line}; no restart"
      break
    fi
    restarts=$((restarts + 1))
    local started_here
    started_here=$(awk -v k="${line%% *}" '$1 == "point" && $2 == k && / start$/ {print $3}' "$work/step.out" | paste -sd, -)
    if [ "${line%% *}" = "$first" ] && [ -n "$skip_first" ]; then skip_first="$skip_first,$started_here"; else skip_first=$started_here; fi
    first=${line%% *}
    append=(--append)
    v=${line#* }
    if [[ " ${crashed_v[*]-} " == *" $v "* ]]; then
      local keep=()
      for n in "${timed[@]}"; do [ "$n" = "$v" ] || keep+=("$n"); done
      timed=("${keep[@]+"${keep[@]}"}")
      log "$(stamp)attention: $v failed twice in the grid: dropped"
    fi
    crashed_v+=("$v")
    log "$(stamp)attention: exit $step_rc at point ${line%% *} ($v): restarting behind it (restart $restarts)"
  done
  snapshot attention "after timing"
  local at=$((SECONDS - at0))
  # The grid's rows go into the archive before the peers run (a packed copy says attention: pending).
  if [ "${status[attention]}" != no-gpu ]; then pack; run_peers; fi

  if [ "${status[attention]}" != no-gpu ]; then
    # exit_code: the first crash or cut, else the last run's.
    code[attention]=$rc_last
    [ "$rc_bad" != 0 ] && code[attention]=$rc_bad
    if (( any_crash )); then status[attention]=failed
    elif (( any_cut )); then status[attention]=timeout
    elif [ ${#failed[@]} -gt 0 ] || (( nonfinite )); then status[attention]=check-failed
    elif (( any_partial )) || [ ${#pending[@]} -gt 0 ]; then status[attention]=partial
    else status[attention]=ok; fi
  fi
  # --- racecheck after the timing, with what time is left.
  if [ -n "$sanitizer_case" ] && [ -n "$sanitizer" ] && [ "$no_gpu" = 0 ]; then sanitize racecheck; fi
  secs[attention]=$((SECONDS - t0 - san_t - secs[peers]))
  log "$(stamp)attention: ${status[attention]} (exit ${code[attention]}): checks and timing $((secs[attention] - at)) + ${at} s"
  # best.csv (the fastest variant that passed, per point) and the closing summary with the peers: no GPU.
  if (( $(left) >= 3 )); then
    run_step "$(cap_for 10)" "$work/step.out" "$attention_bin" --summarize --out "$att_dir"
    show "$work/step.out" "$att_dir/run.log"
  fi
}

# ------------------------------------------------------------------ phase 4: PyTorch peers (inside attention)
# peers.py times torch's SDPA (flash) and a plain-PyTorch absorbed MLA on the bench's own inputs (same seeds,
# checksums compared), after the grid, in the PEERS_RESERVE seconds the grid leaves free. Its outcome is the
# `peers` phase of run.yaml; it never changes the script's exit code.
run_peers() {
  local t0=$SECONDS cap
  if [ "$peers_enabled" != 1 ]; then status[peers]=skipped; log "$(stamp)peers: skipped (MLASIM_PEERS=0)"; return; fi
  if ! command -v "$peers_python" >/dev/null 2>&1; then
    status[peers]=skipped; log "$(stamp)peers: skipped ($peers_python not found)"; return
  fi
  cap=$(cap_for "$PEERS_RESERVE")
  if (( cap < 20 )); then status[peers]=skipped; log "$(stamp)peers: skipped (deadline: $(left) s left)"; return; fi
  snapshot peers before
  log "$(stamp)peers: $peers_script (cap ${cap} s, --deadline-s $((cap - 8)))"
  run_step "$cap" "$work/step.out" env PYTHONUNBUFFERED=1 "$peers_python" "$peers_script" --inputs "$peer_inputs" \
    --out "$att_dir" --deadline-s "$((cap - 8))" --warmup 3 --repeats 20
  show "$work/step.out" "$att_dir/run.log"
  code[peers]=$step_rc
  case "$step_rc" in
    0) status[peers]=ok ;;
    3) status[peers]=skipped ;;
    4) status[peers]=partial ;;
    124|137) status[peers]=timeout ;;
    *) status[peers]=failed ;;
  esac
  [ -f "$peer_inputs/peer_inputs.csv" ] && cp -f "$peer_inputs/peer_inputs.csv" "$att_dir/peer_inputs.csv"
  secs[peers]=$((SECONDS - t0))
  log "$(stamp)peers: ${status[peers]} (exit $step_rc) in ${secs[peers]} s"
  snapshot peers after
}

if [ "$build_only" = 1 ]; then
  status[probes]=skipped; status[attention]=skipped; status[sanitizer]=skipped; status[peers]=skipped
  log "$(stamp)--build-only: no GPU phase"
else
  # A phase that cannot start for lack of time is "skipped" (the log says why).
  if [ "$only" = attention ]; then status[probes]=skipped; log "$(stamp)probes: skipped (--only attention)"
  elif [ ! -x "$probes_bin" ]; then status[probes]=skipped; log "$(stamp)probes: skipped (not built)"
  elif (( $(cap_for 60) == 0 )); then status[probes]=skipped; log "$(stamp)probes: skipped (deadline: $(left) s left)"
  else run_probes; fi
  pack
  if [ "$only" = probes ]; then status[attention]=skipped; status[peers]=skipped; log "$(stamp)attention: skipped (--only probes)"
  elif [ ! -x "$attention_bin" ]; then status[attention]=skipped; log "$(stamp)attention: skipped (not built)"
  elif (( $(cap_for 60) == 0 )); then status[attention]=skipped; log "$(stamp)attention: skipped (deadline: $(left) s left)"
  else run_attention; fi
  [ "${status[sanitizer]}" = pending ] && status[sanitizer]=skipped
  secs[sanitizer]=$san_t
  if [ "$no_gpu" = 1 ]; then
    [ "${status[probes]}" = pending ] && status[probes]=no-gpu
    [ "${status[attention]}" = pending ] && status[attention]=no-gpu
  fi
fi
rm -rf "$work/sanitizer_out"

# ------------------------------------------------------------------ final packaging
snapshot end final final
for p in build probes attention sanitizer peers; do [ "${status[$p]}" = pending ] && status[$p]=skipped; done
log "$(stamp)== summary: build ${status[build]} ($build_method), probes ${status[probes]}, attention ${status[attention]}, sanitizer ${status[sanitizer]}, peers ${status[peers]}"
for f in probes/bandwidth.csv probes/gemm.csv probes/launch.csv attention/check.csv attention/mla_decode.csv attention/gqa_decode.csv attention/best.csv attention/peers.csv; do
  if [ -f "$run_dir/$f" ]; then log "   $f: $(( $(wc -l < "$run_dir/$f") - 1 )) rows"; fi
done
if [ -f "$att_dir/check.csv" ]; then grep -c ',NO$' "$att_dir/check.csv" | sed 's/^/   check.csv failed cases: /' | tee -a "$main_log"; fi
log "$(stamp)== done in $SECONDS s (deadline $deadline s): $OUT/gpu_results.tar.gz ($run_name/), $OUT/run.yaml, $OUT/gpu_measure.log"
pack final
rm -rf "$work"

if [ "$no_gpu" = 1 ]; then exit 3; fi
if [ "${status[build]}" = failed ] || [ "${status[build]}" = timeout ]; then exit 1; fi
for p in build probes attention sanitizer; do  # not peers: they never fail the run
  case "${status[$p]}" in ok|skipped) ;; *) exit 4 ;; esac
done
exit 0
