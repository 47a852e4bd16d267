#!/usr/bin/env bash
# A stand-in for compute-sanitizer (scripts/test_gpu_measure_orchestration.sh): prints its arguments and a
# report, runs nothing, exits 10 (errors found, as --error-exitcode 10 asks) for memcheck and 0 otherwise.
echo "========= COMPUTE-SANITIZER (fake)"
echo "========= arguments: $*"
if [[ " $* " == *" --tool memcheck "* ]]; then
  echo "========= Invalid __global__ read of size 16 bytes (fake)"
  echo "========= ERROR SUMMARY: 1 error"
  exit 10
fi
echo "========= RACECHECK SUMMARY: 0 hazards displayed (fake)"
exit 0
