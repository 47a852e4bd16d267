#!/usr/bin/env bash
# A stand-in for kernels/attention/peers.py (run as `bash fake_peers.sh ...` through MLASIM_PYTHON=bash) for
# scripts/test_gpu_measure_orchestration.sh: reads the bench's peer_inputs.csv, writes peers.csv with one row
# per input point and peers_vs_ours.csv, and exits FAKE_PEERS_EXIT (default 0); FAKE_PEERS_MODE=hang sleeps
# past any cap (ignoring SIGTERM) to stage a kill.
set -u
inputs="" out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --inputs) inputs=$2; shift ;;
    --out) out=$2; shift ;;
    --deadline-s|--warmup|--repeats) shift ;;
  esac
  shift
done
if [ "${FAKE_PEERS_MODE:-}" = hang ]; then trap '' TERM; sleep 1000; fi
echo "peers: fake torch 0.0 on Fake GPU"
echo "kernel,batch,context,lengths,s_q,n_h,n_kv,d,point,peer,method,median_us,p90_us,min_us,repeats,gbps,tflops,pct_of_copy_bw,inputs_match,note" > "$out/peers.csv"
tail -n +2 "$inputs/peer_inputs.csv" | while IFS=, read -r point _ kernel batch ctx s_q n_h n_kv d _; do
  peer=sdpa-flash; [ "$kernel" = mla ] && peer=torch-absorbed-mla
  echo "$kernel,$batch,$ctx,uniform,$s_q,$n_h,$n_kv,$d,$point,$peer,fake,20,21,19,20,50,1,1.2,yes," >> "$out/peers.csv"
done
echo "kernel,batch,context,lengths,s_q,n_h,n_kv,d,peer,peer_median_us,best_variant,best_median_us,peer_over_best,baseline_variant,baseline_median_us,peer_over_baseline" > "$out/peers_vs_ours.csv"
echo "peers: done: points=$(( $(wc -l < "$out/peers.csv") - 1 )) skipped_deadline=0"
exit "${FAKE_PEERS_EXIT:-0}"
