#!/usr/bin/env bash
# Builds the two GPU programs with nvcc alone: the fallback of scripts/gpu_measure.sh when CMake is missing,
# too old, or fails to configure or build (a GPU lease is too rare to lose to a build-system problem).
#
#   scripts/gpu_build_nvcc.sh BUILD_DIR [attention] [probes]      (default: both)
#
# Writes BUILD_DIR/attention/mlasim_attention_bench and BUILD_DIR/probes/mlasim_probes, the paths the CMake
# build (cmake -S kernels -B BUILD_DIR) uses, and prints every compiler message, including the ptxas -v
# resource report of the attention kernels, on stdout. Exit 0 when every requested program was built, 1 when
# one failed (the other is still built), 2 on bad usage.
#
# Same flags as kernels/CMakeLists.txt, kernels/attention/CMakeLists.txt and kernels/probes/CMakeLists.txt:
# -O3 -DNDEBUG; sm_90 SASS + compute_90 PTX (mla_decode_sm90a.cu: sm_90a SASS alone); -lineinfo; C++17 for
# the .cu files and for the plain .cpp files of kernels/attention (they need no more: paging.cpp, schedule.cpp,
# reference.cpp), compiled through nvcc so the
# host compiler is the one nvcc uses; attention kernels with ptxas spill/local-memory warnings as errors;
# -Xptxas -v everywhere (as the CMake build with MLASIM_PTXAS_VERBOSE=ON); probes linked with -lcublasLt -ldl,
# the attention bench with -lpthread (its watchdog thread). cudart is linked statically (nvcc's default), so the
# programs need no library path at run time; the probes open NVML with dlopen, as in the CMake build.
# Environment: CUDACXX (nvcc to use), MLASIM_JOBS (parallel compiles, default nproc).
set -u -o pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [attention] [probes]" >&2
  exit 2
fi
build=$1
shift
want_attention=0
want_probes=0
for t in "${@:-attention probes}"; do
  for w in $t; do
    case "$w" in
      attention) want_attention=1 ;;
      probes) want_probes=1 ;;
      *) echo "gpu_build_nvcc.sh: unknown target '$w' (known: attention, probes)" >&2; exit 2 ;;
    esac
  done
done

# nvcc lives outside PATH on stock CUDA installs.
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH=/usr/local/cuda/bin:$PATH; fi
nvcc_bin=${CUDACXX:-$(command -v nvcc || true)}
if [ -z "$nvcc_bin" ] || [ ! -x "$nvcc_bin" ]; then
  echo "gpu_build_nvcc.sh: nvcc not found (not on PATH, not in /usr/local/cuda/bin, CUDACXX unset)"
  exit 1
fi
jobs=${MLASIM_JOBS:-$(nproc 2>/dev/null || echo 4)}
echo "== nvcc build: $("$nvcc_bin" --version | tail -1), $jobs parallel compiles, into $build"

sm90=("--generate-code=arch=compute_90,code=[compute_90,sm_90]")
common=(-std=c++17 -O3 -DNDEBUG "-I$root")
# mla_decode_sm90a.cu (wgmma, setmaxnreg) is built for sm_90a alone when nvcc knows it (CUDA >= 12.0), as in
# kernels/attention/CMakeLists.txt; otherwise for sm_90, where its kernel is empty and reported unavailable.
nvcc_major=$("$nvcc_bin" --version | sed -n 's/.*release \([0-9][0-9]*\)\..*/\1/p' | head -1)
if [ "${nvcc_major:-0}" -ge 12 ]; then
  sm90a=(-gencode=arch=compute_90a,code=sm_90a -DMLASIM_HAVE_SM90A)
  bench_defs=(-DMLASIM_ATTENTION_HAVE_SM90A=1)  # the bench registers mla-d576-sm90a as compiled in
else
  sm90a=("${sm90[@]}")
  bench_defs=()
fi
# shellcheck disable=SC2054  # the commas belong to the flags (-Xptxas=a,b), they do not separate elements
attention_cu=(-lineinfo --expt-relaxed-constexpr
              -Xptxas=--warn-on-spills,--warn-on-local-memory-usage,--warning-as-error -Xptxas=-v)
# shellcheck disable=SC2054
probes_cu=(-lineinfo -Xcompiler=-Wall,-Wextra -Xptxas=-v)

# compile OBJ LOG ARGS...: one nvcc in the background, at most $jobs at a time; its messages go to LOG.
pids=()
compile() {
  local obj=$1 log=$2
  shift 2
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n 2>/dev/null || true; done
  ( "$nvcc_bin" "$@" -c -o "$obj" > "$log" 2>&1 || { echo "FAILED: nvcc $* (exit $?)" >> "$log"; rm -f "$obj"; } ) &
  pids+=($!)
}

declare -A sources
sources[attention]="kernels/attention/paging.cpp kernels/attention/schedule.cpp kernels/attention/reference.cpp
  kernels/attention/bench_main.cu kernels/attention/mla_decode.cu kernels/attention/gqa_decode.cu
  kernels/attention/gqa_decode_deep.cu kernels/attention/gqa_decode_wide.cu kernels/attention/combine.cu
  kernels/attention/mla_decode_sm90a.cu"
sources[probes]="kernels/probes/probes_main.cu kernels/probes/bandwidth_probe.cu kernels/probes/gemm_probe.cu
  kernels/probes/launch_probe.cu kernels/probes/random_fill.cu"
# The bench's host parts (CMake's mlasim_attention_ref has them too).
sources[attention]+=" kernels/attention/bench_summary.cpp kernels/attention/bench_check.cpp"

targets=()
[ "$want_attention" = 1 ] && targets+=(attention)
[ "$want_probes" = 1 ] && targets+=(probes)

for t in "${targets[@]}"; do
  mkdir -p "$build/$t/nvcc-objects"
  rm -f "$build/$t/nvcc-objects/"*.o
  for src in ${sources[$t]}; do
    base=$(basename "$src")
    obj="$build/$t/nvcc-objects/$base.o"
    case "$base" in
      *.cpp) compile "$obj" "$obj.log" "${common[@]}" "${sm90[@]}" -Xcompiler=-Wall,-Wextra "$root/$src" ;;
      *.cu) if [ "$t" = attention ]; then extra=("${attention_cu[@]}"); else extra=("${probes_cu[@]}"); fi
            arch=("${sm90[@]}")
            [ "$base" = mla_decode_sm90a.cu ] && arch=("${sm90a[@]}")
            [ "$base" = bench_main.cu ] && arch+=("${bench_defs[@]}")
            compile "$obj" "$obj.log" "${common[@]}" "${arch[@]}" "${extra[@]}" -x cu "$root/$src" ;;
    esac
  done
done
for p in "${pids[@]}"; do wait "$p"; done

rc=0
for t in "${targets[@]}"; do
  objs=()
  missing=0
  for src in ${sources[$t]}; do
    obj="$build/$t/nvcc-objects/$(basename "$src").o"
    echo "-- $src"
    cat "$obj.log"
    if [ -f "$obj" ]; then objs+=("$obj"); else missing=1; fi
  done
  if [ "$t" = attention ]; then bin="$build/attention/mlasim_attention_bench"; libs=(-lpthread -ldl)
  else bin="$build/probes/mlasim_probes"; libs=(-lcublasLt -ldl); fi
  rm -f "$bin"
  if [ "$missing" = 1 ]; then
    echo "== nvcc build: $t FAILED (a compile failed; see above)"
    rc=1
    continue
  fi
  if "$nvcc_bin" "--generate-code=arch=compute_90,code=[compute_90,sm_90]" -o "$bin" "${objs[@]}" "${libs[@]}"; then
    echo "== nvcc build: built $bin"
  else
    echo "== nvcc build: $t FAILED at the link"
    rc=1
  fi
done
exit "$rc"
