#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine:
#   scripts/dev.sh demo   install what is missing, build, run the built-in example sweep and capacity plan
#   scripts/dev.sh test   install what is missing, build, run the test suite (ctest)
#   scripts/dev.sh tools  install the checking tools CI also uses: clang-format, and clang with libFuzzer (fuzz/)
# Environment: BUILD_DIR (default build), MLASIM_CMAKE_ARGS (extra cmake arguments), SUDO (auto).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-demo}
build_dir=${BUILD_DIR:-build}

packages=(build-essential cmake ninja-build pkg-config libboost-program-options-dev libyaml-cpp-dev libfmt-dev
          catch2 nlohmann-json3-dev gnuplot-nox chromium)

# For `test`: tests/json_schema_test.py validates every JSON output against docs/schema/ with Debian's
# python3-jsonschema (a maintained JSON Schema 2020-12 validator; writing one ourselves would be worse).
# GNU parallel: tests/CMakeLists.txt runs scripts/shards/test_shards.sh, a sharded sweep through it.
test_packages=(python3 python3-jsonschema parallel)

# For `tools`: formatting check (scripts/check_format.sh) and the libFuzzer programs (fuzz/run.sh).
tool_packages=(clang clang-format libclang-rt-14-dev)

install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=${SUDO:-sudo}
    echo "dev.sh: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

build() {
  # nvcc lives outside PATH on stock CUDA installs; let CMake find it when it is there.
  if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH=/usr/local/cuda/bin:$PATH; fi
  # shellcheck disable=SC2086
  cmake -S . -B "$build_dir" -G Ninja ${MLASIM_CMAKE_ARGS:-} >/dev/null
  cmake --build "$build_dir" -j "$(nproc)"
}

case "$mode" in
  demo)
    install_missing "${packages[@]}"
    build
    "$build_dir"/cli/mlasim sweep configs/deepseek_v3_attention.yaml --out out/demo
    # The capacity question for the same model (~15 s): the cheapest H200 deployment for 20 req/s within
    # TTFT p99 < 2 s and TPOT p99 < 50 ms, MLA against GQA-8.
    "$build_dir"/cli/mlasim plan configs/plan_deepseek_v3_h200.yaml --out out/demo-plan
    ;;
  test)
    install_missing "${packages[@]}" "${test_packages[@]}"
    build
    ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)"
    ;;
  tools)
    install_missing "${tool_packages[@]}"
    ;;
  *)
    echo "usage: scripts/dev.sh demo|test|tools" >&2
    exit 2
    ;;
esac
