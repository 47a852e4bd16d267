#!/usr/bin/env bash
# A stand-in for mlasim_probes that speaks its protocol (progress lines, done line, exit codes, files) without a
# GPU, so that scripts/test_gpu_measure_orchestration.sh can drive scripts/gpu_measure.sh through crashes,
# deadlines and hangs. FAKE_PROBES_MODE: ok | crash-bandwidth (the "all" run dies inside bandwidth) | deadline
# (sleeps until --deadline-s, then stops with exit 4) | hang (ignores SIGTERM and never ends).
set -u
cmd=${1:-}
shift
out=. deadline=0 append=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift ;;
    --deadline-s) deadline=$2; shift ;;
    --append) append=1 ;;
    --git-rev|--command) shift ;;
  esac
  shift
done
[ "$cmd" = plan ] && { echo "fake plan"; exit 0; }
mode=${FAKE_PROBES_MODE:-ok}
header="probe,kernel,shape,level,dtype,working_set_bytes,m,n,k,batch,bytes,flops,grid,block,median_s,p90_s,gbps,tflops,repeats"
echo "device: \"Fake GPU\"" > "$out/fingerprint.yaml"
[ "$append" = 1 ] && [ -f "$out/device_state.csv" ] || echo "when,utc,sm_clock_mhz,mem_clock_mhz,temperature_c,power_w,clock_reasons" > "$out/device_state.csv"
echo "mlasim_probes: Fake GPU, 132 SMs"
if [ "$mode" = hang ]; then trap '' TERM; echo "probes: launch: start"; sleep 100000 & wait; fi
family() {
  echo "probes: $1: start"
  echo "$header" > "$out/$1.csv"
  echo "$1,x,shape,-,-,0,0,0,0,0,1,0,1,1,1e-6,1e-6,1,0,5" >> "$out/$1.csv"
  if [ "$1" = bandwidth ] && [ "$mode" = crash-bandwidth ] && [ "$cmd" = all ]; then
    echo "fake: CUDA error: an illegal memory access was encountered" >&2
    exit 1
  fi
  if [ "$1" = gemm ] && [ "$mode" = deadline ]; then
    sleep "${deadline%.*}"
    echo "probes: gemm: done"
    echo "done: points=3 failed_checks=0 skipped_deadline=100"
    exit 4
  fi
  echo "probes: $1: done"
}
for f in launch bandwidth gemm; do
  if [ "$cmd" = all ] || [ "$cmd" = "$f" ]; then family "$f"; fi
done
echo "done: points=3 failed_checks=0 skipped_deadline=0"
exit 0
