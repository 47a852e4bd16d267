#!/usr/bin/env bash
# A stand-in for mlasim_attention_bench that speaks its protocol (check and point lines, done line, exit codes,
# CSVs with the real headers) without a GPU, for scripts/test_gpu_measure_orchestration.sh. Its check cases
# are numbered as the real ones (0-5 mla, 6-8 gqa-d128, 9-11 gqa-d64; each runs for every variant of its
# family); its grid has 6 points (0-1 mla: mla-d576 and, when listed, mla-d576-sm90a; 2-3 gqa-d128, 4-5 gqa-d64).
# FAKE_ATTENTION_MODE: ok | mixed (check case 3 crashes, case 10 fails; the first timing run is ended by its
# watchdog at point 3) | variants (the build lists mla-d576-sm90a too; its first timing run hangs at point 0 on
# mla-d576-sm90a, after mla-d576 was timed there). FAKE_ATTENTION_UNAVAILABLE: a variant to report unavailable.
set -u
mode=${FAKE_ATTENTION_MODE:-ok}
compiled="mla-d576 gqa-d128 gqa-d64"
[ "$mode" = variants ] && compiled="mla-d576 gqa-d128 gqa-d64 mla-d576-sm90a"
out=. time_only=0 check_case=-1 variants=${compiled// /,} failed="" first=0 append=0 skip_first="" peer_inputs=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift ;;
    --check-only) ;;
    --time-only) time_only=1 ;;
    --check-case) check_case=$2; shift ;;
    --variants) variants=$2; shift ;;
    --failed-variants) failed=$2; shift ;;
    --first-point) first=$2; shift ;;
    --skip-at-first-point) skip_first=$2; shift ;;
    --peer-inputs) peer_inputs=$2; shift ;;
    --list-variants) for v in $compiled; do echo "$v"; done; exit 0 ;;
    --summarize) summarize=1 ;;
    --append) append=1 ;;
    --git-rev|--command|--extra-yaml|--deadline-s|--point-timeout-s) shift ;;
  esac
  shift
done
if [ "$check_case" -gt 11 ]; then echo "mlasim_attention_bench: --check-case $check_case is out of range (0..11)" >&2; exit 2; fi
# Like the real program: the output folder must be writable (it creates it when missing).
mkdir -p "$out" || exit 1
header="kernel,variant,batch,context,lengths,s_q,n_h,n_kv,d,sum_context,flops,bytes,median_us,p90_us,min_us,repeats,gbps,tflops,pct_of_copy_bw,pct_of_dense_peak,num_parts,num_segments,max_splits,attention_ctas,combine_ctas,check"
if [ "${summarize:-0}" = 1 ]; then
  { echo "$header"; for f in mla_decode gqa_decode; do [ -f "$out/$f.csv" ] && grep ',pass$' "$out/$f.csv" | head -1; done; } > "$out/best.csv"
  echo "summary (Fake GPU; copy 4295 GB/s; dense bf16 peak unknown for this device)"
  [ -f "$out/peers.csv" ] && echo "  peers.csv: $(( $(wc -l < "$out/peers.csv") - 1 )) rows"
  exit 0
fi
family_of_case() { if (( $1 < 6 )); then echo mla; elif (( $1 < 9 )); then echo gqa-d128; else echo gqa-d64; fi; }
selected() { [[ ",$variants," == *",$1,"* ]]; }
# The variants (in registry order) of a family: mla -> mla-d576 [mla-d576-sm90a]; gqa-dN -> itself.
variants_of() {
  local v
  for v in $compiled; do
    case "$1" in mla) [[ "$v" == mla-* ]] && echo "$v" ;; *) [ "$v" = "$1" ] && echo "$v" ;; esac
  done
}
echo "device: \"Fake GPU\"" > "$out/fingerprint.yaml"
echo "device: Fake GPU, 132 SMs, cc 9.0"
if [ "$time_only" = 0 ]; then
  [ "$append" = 1 ] && [ -f "$out/check.csv" ] ||
    echo "kernel,variant,batch,lens,s_q,n_h,n_kv,d,splits_max,segments,rows_checked,rel_l2_error,lse_max_abs_error,nonfinite_outputs,pass" > "$out/check.csv"
  if [ "$check_case" -ge 0 ]; then cases=$check_case; else cases=$(seq 0 11); fi
  nfail=0
  for v in $compiled; do
    selected "$v" || continue
    if [ "$v" = "${FAKE_ATTENTION_UNAVAILABLE:-}" ]; then echo "check variant $v: unavailable (needs sm_90a, the device is cc 8.0)"; continue; fi
    v_failed=0 any=0
    for c in $cases; do
      fam=$(family_of_case "$c")
      [[ " $(variants_of "$fam" | tr '\n' ' ') " == *" $v "* ]] || continue
      any=1
      echo "check case $c $v: start"
      if [ "$mode" = mixed ] && [ "$c" = 3 ]; then echo "fake: CUDA error: misaligned address" >&2; exit 1; fi
      ok=yes word=ok
      if [ "$mode" = mixed ] && [ "$c" = 10 ]; then ok=NO word=FAILED; nfail=$((nfail + 1)); v_failed=1; fi
      echo "${v%%-*},$v,2,1 2,1,16,1,${fam##*-d},1,1,32,0.001,0.001,0,$ok" >> "$out/check.csv"
      echo "check case $c $v B=2 s_q=1 n_h=16 n_kv=1 splits<=1 rows=32: rel_err 1e-3 lse_err 1e-3 nonfinite 0 $word"
    done
    [ "$any" = 1 ] && [ "$check_case" -lt 0 ] && echo "check variant $v: $([ "$v_failed" = 1 ] && echo FAILED || echo pass)"
  done
  echo "done: checks=12 failed=$nfail skipped_deadline=0"
  [ "$nfail" -gt 0 ] && exit 1
  exit 0
fi
for f in mla_decode gqa_decode; do
  [ "$append" = 1 ] && [ -f "$out/$f.csv" ] || echo "$header" > "$out/$f.csv"
done
[ "$append" = 1 ] && [ -f "$out/copy.csv" ] || echo "op,bytes_copied,bytes_moved,median_us,p90_us,min_us,repeats,gbps" > "$out/copy.csv"
echo "d2d_copy,2147483648,4294967296,1000,1000,1000,20,4294.9" >> "$out/copy.csv"
echo "copy: 4294.9 GB/s (bytes read + written, median of 20)"
if [ -n "$peer_inputs" ]; then
  mkdir -p "$peer_inputs"
  [ "$append" = 1 ] && [ -f "$peer_inputs/peer_inputs.csv" ] ||
    echo "point,priority,kernel,batch,context,s_q,n_h,n_kv,d,num_pages,max_pages,softmax_scale,q_seed,k_seed,v_seed,q_elems,kv_elems,q_sum0,q_sum1,k_sum0,k_sum1,v_sum0,v_sum1,block_table_file" > "$peer_inputs/peer_inputs.csv"
fi
point_families=(mla mla gqa-d128 gqa-d128 gqa-d64 gqa-d64)
timed=0 marked=0
for k in 0 1 2 3 4 5; do
  (( k < first )) && continue
  wrote_input=0
  for v in $(variants_of "${point_families[$k]}"); do
    selected "$v" || continue
    (( k == first )) && [[ ",$skip_first," == *",$v,"* ]] && continue
    echo "point $k $v B=1 ctx=512 uniform s_q=1 n_h=16 n_kv=1: start"
    if { [ "$mode" = mixed ] && [ "$k" = 3 ]; } || { [ "$mode" = variants ] && [ "$k" = 0 ] && [ "$v" = mla-d576-sm90a ]; }; then
      if [ "$append" = 0 ]; then
        echo "watchdog: point $k $v still running after 31 s (hung kernel?); exiting with code 5"
        exit 5
      fi
    fi
    if [ -n "$peer_inputs" ] && [ "$wrote_input" = 0 ]; then
      echo "$k,1,${v%%-*},1,512,1,16,1,64,8,8,0.125,1,2,3,1024,32768,1,1,1,1,1,1,block_table_$k.bin" >> "$peer_inputs/peer_inputs.csv"
      wrote_input=1
    fi
    check=pass
    [[ ",$failed," == *",$v,"* ]] && { check=FAILED; marked=$((marked + 1)); }
    kernel=${v%%-*} d=${v#*-d}; d=${d%%-*}
    echo "$kernel,$v,1,512,uniform,1,16,1,$d,512,1,1,10,11,9,20,100,1,2,,1,1,1,1,0,$check" >> "$out/${kernel}_decode.csv"
    timed=$((timed + 1))
  done
done
echo "done: points=6 timed=$timed marked_failed=$marked nonfinite=0 skipped_deadline=0 skipped_too_large=0 not_selected=0"
exit 0
