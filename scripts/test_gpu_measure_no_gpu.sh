#!/usr/bin/env bash
# Runs the whole scripts/gpu_measure.sh on a machine WITHOUT a GPU and checks what a GPU lease would bring
# back when the programs find no device: it builds kernels/ from scratch, exits 3, and $OUT holds the archive
# (one run folder: build.log with the ptxas report, ptxas.txt, nvidia_smi.csv, run.yaml with probes and
# attention "no-gpu", both programs' one-line no-GPU message) plus run.yaml and gpu_measure.log beside it.
#
#   scripts/test_gpu_measure_no_gpu.sh [--nvcc] [--hide-libs] [WORK_DIR]
#     --nvcc       force the plain-nvcc fallback build (MLASIM_FORCE_NVCC_BUILD=1) and expect method "nvcc"
#     --hide-libs  run inside a private mount namespace (root; `unshare -m`) where yaml-cpp, Boost, fmt,
#                  Catch2 and nlohmann-json (headers, libraries, CMake packages) are hidden behind empty
#                  mounts: proves the GPU side builds from the CUDA toolkit alone, as on the GPU machines
#
# About 2 minutes on 2 cores (the build). Skipped (exit 77) where nvidia-smi lists a GPU: there the script
# would really measure. ctest runs it without options (tests/CMakeLists.txt, "GPU run hardening" block).
set -u -o pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
nvcc_mode=0
hide=0
work=""
for a in "$@"; do
  case "$a" in
    --nvcc) nvcc_mode=1 ;;
    --hide-libs) hide=1 ;;
    -*) echo "usage: $0 [--nvcc] [--hide-libs] [WORK_DIR]" >&2; exit 2 ;;
    *) work=$a ;;
  esac
done
if timeout 10 nvidia-smi -L 2>/dev/null | grep -q '^GPU [0-9]'; then
  echo "a GPU is visible: this no-GPU test does not apply (it would run the real measurement); skipped"
  exit 77
fi
[ -n "$work" ] || work=$(mktemp -d "${TMPDIR:-/tmp}/mlasim-no-gpu.XXXXXX")
mkdir -p "$work"
work=$(cd "$work" && pwd)
out="$work/out"
rm -rf "$out" "$work/unpacked"

# --hide-libs: run this same script again inside a private mount namespace, where it hides the libraries first.
if [ "$hide" = 1 ] && [ -z "${MLASIM_NO_GPU_TEST_HIDDEN:-}" ]; then
  exec unshare -m env MLASIM_NO_GPU_TEST_HIDDEN=1 bash "${BASH_SOURCE[0]}" "$@"
fi
if [ -n "${MLASIM_NO_GPU_TEST_HIDDEN:-}" ]; then
  # Everything the simulator side needs and the GPU machines lack, hidden for this process tree only.
  mount --make-rprivate / || exit 1
  empty=$(mktemp -d)
  n=0
  for p in /usr/include/yaml-cpp /usr/include/boost /usr/include/fmt /usr/include/catch2 /usr/include/nlohmann \
           /usr/lib/x86_64-linux-gnu/cmake/yaml-cpp /usr/lib/x86_64-linux-gnu/cmake/fmt \
           /usr/lib/x86_64-linux-gnu/cmake/Catch2 /usr/share/cmake/nlohmann_json /usr/lib/cmake/Catch2 \
           /usr/lib/x86_64-linux-gnu/cmake/Boost-* /usr/lib/x86_64-linux-gnu/cmake/boost_* \
           /usr/lib/x86_64-linux-gnu/libyaml-cpp* /usr/lib/x86_64-linux-gnu/libfmt* \
           /usr/lib/x86_64-linux-gnu/libboost_*; do
    [ -e "$p" ] || continue
    if [ -d "$p" ] && [ ! -L "$p" ]; then mount --bind "$empty" "$p" || exit 1
    else mount --bind /dev/null "$p" || exit 1; fi
    n=$((n + 1))
  done
  for h in /usr/include/yaml-cpp/yaml.h /usr/include/fmt/core.h /usr/include/boost/version.hpp; do
    if [ -s "$h" ]; then echo "FAIL: still visible: $h"; exit 1; fi
  done
  echo "hidden $n paths: yaml-cpp, Boost, fmt, Catch2, nlohmann-json headers, libraries and CMake packages"
fi

env_args=(OUT="$out" MLASIM_BUILD_DIR="$work/build" MLASIM_JOBS="${MLASIM_JOBS:-$(nproc)}")
[ "$nvcc_mode" = 1 ] && env_args+=(MLASIM_FORCE_NVCC_BUILD=1)
t0=$SECONDS
env "${env_args[@]}" bash "$root/scripts/gpu_measure.sh" > "$work/console.log" 2>&1
rc=$?
took=$((SECONDS - t0))
echo "gpu_measure.sh: exit $rc after $took s (console: $work/console.log)"

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
[ "$rc" = 3 ] || fail "exit $rc, want 3 (no GPU)"
for f in gpu_results.tar.gz run.yaml gpu_measure.log; do [ -s "$out/$f" ] || fail "\$OUT/$f missing"; done
[ "$(find "$out" -type f | wc -l)" -le 6 ] || fail "more than 6 files in \$OUT"
mkdir -p "$work/unpacked"
tar -C "$work/unpacked" -xzf "$out/gpu_results.tar.gz" || fail "the archive does not unpack"
dir=$(find "$work/unpacked" -mindepth 1 -maxdepth 1 -type d)
[ "$(echo "$dir" | wc -l)" = 1 ] || fail "the archive must hold exactly one folder"
for f in run.yaml gpu_measure.log build.log ptxas.txt nvidia_smi.csv probes/run.log attention/run.log; do
  [ -f "$dir/$f" ] || fail "$f missing in the archive"
done
y="$dir/run.yaml"
want_method=cmake
[ "$nvcc_mode" = 1 ] && want_method=nvcc
grep -q "^  build: *{status: \"ok\", exit_code: 0, .*method: \"$want_method\"}" "$y" || fail "build not ok by $want_method: $(grep build: "$y")"
grep -q '^  probes: *{status: "no-gpu", exit_code: 3' "$y" || fail "probes not no-gpu: $(grep probes: "$y")"
grep -q '^  attention: *{status: "no-gpu", exit_code: 3' "$y" || fail "attention not no-gpu: $(grep attention: "$y")"
grep -q '^  sanitizer: *{status: "skipped"' "$y" || fail "sanitizer not skipped"
for k in schema synthetic device gpu_id driver nvcc git_revision command started finished host deadline_s; do
  grep -q "^$k: " "$y" || fail "run.yaml lacks $k"
done
cmp -s "$y" "$out/run.yaml" || fail "\$OUT/run.yaml differs from the archive's"
grep -q "mla_decode_kernel.*Used 255 registers\|Used [0-9]* registers" "$dir/ptxas.txt" || fail "ptxas.txt has no register report"
[ "$(grep -c 'Used [0-9]* registers' "$dir/ptxas.txt")" -ge 13 ] || fail "ptxas.txt: want a report for all 13 kernels"
grep -q "spill" "$dir/build.log" || fail "build.log lacks the ptxas -v report"
# The programs, however built, keep their no-GPU contract: one line and exit 3.
for p in probes attention; do
  [ "$(grep -c 'no CUDA GPU found' "$dir/$p/run.log")" = 1 ] || fail "$p/run.log: want the one no-GPU line"
done
head -1 "$dir/nvidia_smi.csv" | grep -q 'clocks.sm,clocks.mem,.*clocks_throttle_reasons.active' || fail "nvidia_smi.csv header"

echo "--- run.yaml"
cat "$y"
if [ "$failures" = 0 ]; then
  echo "gpu_measure no-GPU run ($want_method build$([ "$hide" = 1 ] && echo ", libraries hidden")): 1 passed, 0 failed"
  exit 0
fi
echo "gpu_measure no-GPU run: $failures check(s) failed; see $work"
exit 1
