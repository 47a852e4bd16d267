#!/usr/bin/env bash
# A stand-in for mlasim_attention_bench that speaks its protocol (check and point lines, done line, exit codes,
# CSVs with the real headers) without a GPU, for scripts/test_gpu_measure_orchestration.sh. Its check cases
# are numbered as the real ones (0-5 mla-d576, 6-8 gqa-d128, 9-11 gqa-d64); its grid has 6 points (0-1 mla-d576,
# 2-3 gqa-d128, 4-5 gqa-d64). FAKE_ATTENTION_MODE: ok | mixed (check case 3 crashes, case 10 fails; the first
# timing run is ended by its watchdog at point 3).
set -u
out=. time_only=0 check_case=-1 variants=mla-d576,gqa-d128,gqa-d64 failed="" first=0 append=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift ;;
    --check-only) ;;
    --time-only) time_only=1 ;;
    --check-case) check_case=$2; shift ;;
    --variants) variants=$2; shift ;;
    --failed-variants) failed=$2; shift ;;
    --first-point) first=$2; shift ;;
    --append) append=1 ;;
    --git-rev|--command|--extra-yaml|--deadline-s|--point-timeout-s) shift ;;
  esac
  shift
done
if [ "$check_case" -gt 11 ]; then echo "mlasim_attention_bench: --check-case $check_case is out of range (0..11)" >&2; exit 2; fi
# Like the real program: the output folder must be writable (it creates it when missing).
mkdir -p "$out" || exit 1
mode=${FAKE_ATTENTION_MODE:-ok}
variant_of_case() { if (( $1 < 6 )); then echo mla-d576; elif (( $1 < 9 )); then echo gqa-d128; else echo gqa-d64; fi; }
selected() { [[ ",$variants," == *",$1,"* ]]; }
echo "device: \"Fake GPU\"" > "$out/fingerprint.yaml"
echo "device: Fake GPU, 132 SMs, cc 9.0"
if [ "$time_only" = 0 ]; then
  [ "$append" = 1 ] && [ -f "$out/check.csv" ] ||
    echo "kernel,batch,lens,s_q,n_h,n_kv,d,splits_max,segments,rel_l2_error,lse_max_abs_error,nonfinite_outputs,pass" > "$out/check.csv"
  if [ "$check_case" -ge 0 ]; then cases=$check_case; else cases=$(seq 0 11); fi
  nfail=0 last_v="" v_failed=0
  for c in $cases; do
    v=$(variant_of_case "$c")
    selected "$v" || [ "$check_case" -ge 0 ] || continue
    if [ -n "$last_v" ] && [ "$v" != "$last_v" ] && [ "$check_case" -lt 0 ]; then
      echo "check variant $last_v: $([ "$v_failed" = 1 ] && echo FAILED || echo pass)"; v_failed=0
    fi
    last_v=$v
    echo "check case $c $v: start"
    if [ "$mode" = mixed ] && [ "$c" = 3 ]; then echo "fake: CUDA error: misaligned address" >&2; exit 1; fi
    ok=yes word=ok
    if [ "$mode" = mixed ] && [ "$c" = 10 ]; then ok=NO word=FAILED; nfail=$((nfail + 1)); v_failed=1; fi
    echo "${v%%-*},2,1 2,1,16,1,${v##*-d},1,1,0.001,0.001,0,$ok" >> "$out/check.csv"
    echo "check case $c $v B=2 s_q=1 n_h=16 n_kv=1 splits<=1: rel_err 1e-3 lse_err 1e-3 nonfinite 0 $word"
  done
  if [ -n "$last_v" ] && [ "$check_case" -lt 0 ]; then
    echo "check variant $last_v: $([ "$v_failed" = 1 ] && echo FAILED || echo pass)"
  fi
  echo "done: checks=12 failed=$nfail skipped_deadline=0"
  [ "$nfail" -gt 0 ] && exit 1
  exit 0
fi
header="kernel,batch,context,lengths,s_q,n_h,n_kv,d,sum_context,flops,bytes,median_us,p90_us,min_us,repeats,gbps,tflops,pct_of_copy_bw,num_parts,num_segments,max_splits,attention_ctas,combine_ctas,check"
for f in mla_decode gqa_decode; do
  [ "$append" = 1 ] && [ -f "$out/$f.csv" ] || echo "$header" > "$out/$f.csv"
done
[ "$append" = 1 ] && [ -f "$out/copy.csv" ] || echo "op,bytes_copied,bytes_moved,median_us,p90_us,min_us,repeats,gbps" > "$out/copy.csv"
echo "d2d_copy,2147483648,4294967296,1000,1000,1000,20,4294.9" >> "$out/copy.csv"
echo "copy: 4294.9 GB/s (bytes read + written, median of 20)"
point_variants=(mla-d576 mla-d576 gqa-d128 gqa-d128 gqa-d64 gqa-d64)
timed=0 marked=0
for k in 0 1 2 3 4 5; do
  v=${point_variants[$k]}
  (( k < first )) && continue
  selected "$v" || continue
  echo "point $k $v B=1 ctx=512 uniform s_q=1 n_h=16 n_kv=1: start"
  if [ "$mode" = mixed ] && [ "$k" = 3 ] && [ "$append" = 0 ]; then
    echo "watchdog: point $k $v still running after 31 s (hung kernel?); exiting with code 5"
    exit 5
  fi
  check=pass
  [[ ",$failed," == *",$v,"* ]] && { check=FAILED; marked=$((marked + 1)); }
  kernel=${v%%-*} d=${v##*-d}
  echo "$kernel,1,512,uniform,1,16,1,$d,512,1,1,10,11,9,20,100,1,2,1,1,1,1,0,$check" >> "$out/${kernel}_decode.csv"
  timed=$((timed + 1))
done
echo "done: points=6 timed=$timed marked_failed=$marked nonfinite=0 skipped_deadline=0 skipped_too_large=0 not_selected=0"
exit 0
