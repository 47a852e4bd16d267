#!/usr/bin/env python3
"""PyTorch peers of mlasim's decode-attention kernels, timed on the same inputs in the same device call.

Run by scripts/gpu_measure.sh after the bench's timing (kernels/attention/README.md, "PyTorch peers"):

  python3 kernels/attention/peers.py --inputs DIR --out ATT_DIR [--deadline-s S] [--warmup N] [--repeats N]
  python3 kernels/attention/peers.py --selftest          # no torch needed: the hash replica against pinned values

DIR holds the bench's peer_inputs.csv (one row per grid point the peers time: seeds, sizes and checksums of
what the bench filled, bench_fill.hpp) and block_table_<point>.bin files. For each row, headline points first
(priority 0), this script
  1. regenerates the bench's tensors on the GPU with the same splitmix64 hash (int64 arithmetic, logical
     shifts by masking, bf16 rounding by torch), recomputes the checksums and records whether they match
     (inputs_match yes / NO: a mismatch is recorded and the point still timed, never hidden);
  2. gathers contiguous K/V [B, L, ...] from the paged cache through the block table (outside the timed region);
  3. times, with CUDA events around each repeat, the L2 flushed before each (a fill of a buffer twice the L2,
     as the bench does), the median of the repeats:
       GQA/MQA/MHA: torch.nn.functional.scaled_dot_product_attention with the flash backend forced
         (sdpa_kernel(SDPBackend.FLASH_ATTENTION)), enable_gqa=True when this torch takes it with flash, else
         K/V expanded with repeat_interleave outside the timed region (method column says which);
       MLA: absorbed MLA in plain PyTorch as a user without FlashMLA writes it: S = q·kv^T (bf16 matmul), fp32
         softmax of scale·S (a causal mask for s_q = 2), P in bf16, O = P·kv[..., :512].
Writes ATT_DIR/peers.csv (the bench CSVs' key columns, then the peer's numbers) and ATT_DIR/peers_vs_ours.csv
(ours against each peer, point by point: the fastest variant that passed its check, the baseline variant and
their ratios), and prints the comparison table. GB/s and TFLOP/s use the bench's counting (bench_grid.hpp).

Exit: 0 done; 3 skipped (no torch, no CUDA device, no inputs): one line saying why; 4 stopped at --deadline-s
with points left; 1 an unexpected error. A point that raises (a shape the flash backend refuses, out of memory)
is written with its note and the script goes on. scripts/gpu_measure.sh never fails the run for this script.
"""

import argparse
import contextlib
import csv
import math
import os
import struct
import sys
import time

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB


def to_s64(x):
    """The signed 64-bit two's-complement value of x mod 2^64 (what a torch int64 holds)."""
    x &= MASK64
    return x - (1 << 64) if x >= (1 << 63) else x


GOLDEN_S, MIX1_S, MIX2_S = to_s64(GOLDEN), to_s64(MIX1), to_s64(MIX2)


def lsr(z, k):
    """Logical right shift of a signed-int64 value by k: arithmetic shift, then the sign bits masked off.
    The same expression works on Python ints in signed form and on torch int64 tensors."""
    return (z >> k) & ((1 << (64 - k)) - 1)


def draw24(seed_s, idx, wrap):
    """bench_fill.hpp's fill_draw in signed 64-bit arithmetic: `wrap` reduces to int64 after each product
    (identity for torch int64, whose products wrap; to_s64 for Python ints). seed_s is the seed as int64."""
    z = wrap(seed_s + wrap(GOLDEN_S * (idx + 1)))
    z = wrap((z ^ lsr(z, 30)) * MIX1_S)
    z = wrap((z ^ lsr(z, 27)) * MIX2_S)
    z = z ^ lsr(z, 31)
    return lsr(z, 40)


def draw24_unsigned(seed, idx):
    """The same draw written plainly with unsigned arithmetic (the self-test's independent reference)."""
    z = (seed + GOLDEN * (idx + 1)) & MASK64
    z = ((z ^ (z >> 30)) * MIX1) & MASK64
    z = ((z ^ (z >> 27)) * MIX2) & MASK64
    z ^= z >> 31
    return z >> 40


def bf16_bits_of_draw(m):
    """bench_fill.hpp's fill_bf16_bits for a 24-bit draw: m·2^-23 - 1 (exact in fp32), to bf16 nearest-even,
    zero -> 0.5 (0x3f00)."""
    v = m * (2.0 ** -23) - 1.0
    u = struct.unpack("<I", struct.pack("<f", v))[0]
    bits = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF
    return 0x3F00 if (bits & 0x7FFF) == 0 else bits


def fill_bits_py(seed, index):
    return bf16_bits_of_draw(draw24(to_s64(seed), index, to_s64))


def checksum_py(seed, n):
    """FillChecksum (bench_fill.hpp) of elements [0, n): sum of bits, sum of bits·((i mod 1024) + 1)."""
    s0 = s1 = 0
    for i in range(n):
        b = fill_bits_py(seed, i)
        s0 += b
        s1 += b * ((i & 1023) + 1)
    return s0, s1


# Pinned values, shared with tests/test_attention_bench_csv.cpp ("the fill hash and its checksum are pinned").
PINNED_BITS = [  # (seed, index, bf16 bits)
    (0, 0, 0x3F44),
    (0, 1, 0xBE0C),
    (0, 2, 0xBF72),
    (0, 3, 0x3F71),
    (0xFFFFFFFFFFFFFFFF, 1000000, 0x3EDC),
    (0x0123456789ABCDEF, 2**33 + 5, 0xBF52),
]
PINNED_CHECKSUM = (42, 5000, 162887479, 81963100061)  # (seed, n, sum0, sum1)
# splitmix64's first outputs from state 0 (the published sequence): element i of a fill with seed 0 draws the
# top 24 bits of output i.
SPLITMIX64_STATE0 = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F, 0xF88BB8A8724C81EC]


def selftest():
    """Checks the pure-Python replica: the signed-int64 draw (the torch code path, run on Python ints) against
    the plain unsigned one, the first splitmix64 output for state 0, and the pinned values."""
    failures = 0
    seeds = [0, 1, 42, 12345, GOLDEN, MASK64, 0x0123456789ABCDEF, 0x8000000000000000]
    for seed in seeds:
        for idx in [0, 1, 2, 3, 1023, 1024, 65535, 2**31 - 1, 2**32 + 17, 2**40 + 3]:
            a = draw24(to_s64(seed), idx, to_s64)
            b = draw24_unsigned(seed, idx)
            if a != b:
                print(f"selftest: draw(seed={seed}, i={idx}) signed {a} != unsigned {b}")
                failures += 1
    for i, out in enumerate(SPLITMIX64_STATE0):
        if draw24_unsigned(0, i) != out >> 40 or draw24(0, i, to_s64) != out >> 40:
            print(f"selftest: draw(0, {i}) is not the top of splitmix64 output {i} ({out:#x})")
            failures += 1
    for seed, idx, want in PINNED_BITS:
        got = fill_bits_py(seed, idx)
        if got != want:
            print(f"selftest: bits(seed={seed:#x}, i={idx}) = {got:#06x}, pinned {want:#06x}")
            failures += 1
    seed, n, s0, s1 = PINNED_CHECKSUM
    got = checksum_py(seed, n)
    if got != (s0, s1):
        print(f"selftest: checksum(seed={seed}, n={n}) = {got}, pinned {(s0, s1)}")
        failures += 1
    failures += selftest_comparison()
    if percentile_sorted([1.0, 2.0, 3.0, 10.0], 0.5) != 2.5 or percentile_sorted([4.0], 0.9) != 4.0:
        print("selftest: percentile_sorted differs from kernels/common/stats.hpp's")
        failures += 1
    print(f"peers.py selftest: {'ok' if failures == 0 else str(failures) + ' failure(s)'}")
    return 0 if failures == 0 else 1


def selftest_comparison():
    """peers_vs_ours on hand-written files: the fastest variant that passed, the baseline, their ratios; a
    torn last line of ours is dropped."""
    import tempfile
    failures = 0
    head = ("kernel,variant,batch,context,lengths,s_q,n_h,n_kv,d,sum_context,flops,bytes,median_us,p90_us,min_us,"
            "repeats,gbps,tflops,pct_of_copy_bw,pct_of_dense_peak,num_parts,num_segments,max_splits,"
            "attention_ctas,combine_ctas,check\n")

    def row(variant, median, check):
        return f"mla,{variant},128,4096,uniform,1,16,1,576,1,1,1,{median},{median},{median},20,1,1,1,,1,1,1,1,0,{check}\n"

    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "mla_decode.csv"), "w") as f:
            f.write(head + row("mla-d576", 400, "pass") + row("mla-d576-sm90a", 200, "pass")
                    + row("mla-d576-fast", 100, "FAILED") + "mla,mla-d576,128,40")
        peer = {"kernel": "mla", "batch": "128", "context": "4096", "lengths": "uniform", "s_q": "1", "n_h": "16",
                "n_kv": "1", "d": "576", "peer": "torch-absorbed-mla", "median_us": "800"}
        got = comparison(d, [peer, dict(peer, n_h="32")])
        want = [("mla-d576-sm90a", "200", "4.000", "mla-d576", "400", "2.000"), ("", "", "", "", "", "")]
        seen = [(r["best_variant"], r["best_median_us"], r["peer_over_best"], r["baseline_variant"],
                 r["baseline_median_us"], r["peer_over_baseline"]) for r in got]
        if seen != want:
            print(f"selftest: comparison gave {seen}, want {want}")
            failures += 1
    return failures


# ---------------------------------------------------------------- work counting (bench_grid.hpp / reference.cpp)


def work_of(kernel, batch, s_q, n_h, n_kv, d, sum_ctx):
    """FLOPs and bytes of one decode call, counted as the bench counts them."""
    if kernel == "mla":
        return 2.0 * s_q * n_h * 1088 * sum_ctx, 2.0 * (576.0 * sum_ctx + batch * s_q * n_h * 1088)
    flops = 4.0 * n_h * d * s_q * sum_ctx
    bytes_ = 2.0 * (2.0 * n_kv * d * sum_ctx) + 2.0 * 2.0 * batch * s_q * n_h * d
    return flops, bytes_


PEER_COLUMNS = ["kernel", "batch", "context", "lengths", "s_q", "n_h", "n_kv", "d", "point", "peer", "method",
                "median_us", "p90_us", "min_us", "repeats", "gbps", "tflops", "pct_of_copy_bw", "inputs_match",
                "note"]
VS_COLUMNS = ["kernel", "batch", "context", "lengths", "s_q", "n_h", "n_kv", "d", "peer", "peer_median_us",
              "best_variant", "best_median_us", "peer_over_best", "baseline_variant", "baseline_median_us",
              "peer_over_baseline"]


def percentile_sorted(v, q):
    """kernels/common/stats.hpp's percentile: linear interpolation between order statistics."""
    if not v:
        return 0.0
    pos = q * (len(v) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def read_csv(path):
    """Rows of a CSV as dicts; a missing file is empty; a torn last line (no newline) is dropped."""
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        text = f.read()
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    rows = list(csv.DictReader(text.splitlines()))
    return [r for r in rows if None not in r and None not in r.values()]


def key_of(r):
    return tuple(str(r[c]) for c in ("kernel", "batch", "context", "lengths", "s_q", "n_h", "n_kv", "d"))


def comparison(att_dir, peer_rows):
    """peers_vs_ours rows: per peer row, the fastest passing variant of ours at that point and the baseline."""
    ours = read_csv(os.path.join(att_dir, "mla_decode.csv")) + read_csv(os.path.join(att_dir, "gqa_decode.csv"))
    by_key = {}
    for r in ours:
        by_key.setdefault(key_of(r), []).append(r)
    out = []
    for p in peer_rows:
        if not p.get("median_us"):
            continue
        rows = by_key.get(key_of(p), [])
        passing = [r for r in rows if r.get("check") == "pass"]
        best = min(passing, key=lambda r: float(r["median_us"])) if passing else None
        base_id = "mla-d576" if p["kernel"] == "mla" else f"gqa-d{p['d']}"
        base = next((r for r in rows if r.get("variant") == base_id), None)
        pm = float(p["median_us"])
        row = {c: p[c] for c in VS_COLUMNS[:8]}
        row.update({"peer": p["peer"], "peer_median_us": f"{pm:.4g}",
                    "best_variant": best["variant"] if best else "",
                    "best_median_us": best["median_us"] if best else "",
                    "peer_over_best": f"{pm / float(best['median_us']):.3f}" if best else "",
                    "baseline_variant": base_id if base else "",
                    "baseline_median_us": base["median_us"] if base else "",
                    "peer_over_baseline": f"{pm / float(base['median_us']):.3f}" if base else ""})
        out.append(row)
    return out


def write_csv(path, columns, rows):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in columns})
    os.replace(tmp, path)


def print_comparison(rows):
    print("\npeers against ours (time ratio > 1: ours faster)")
    print(f"  {'point':44} {'peer':24} {'peer us':>9} {'best of ours':>26} {'ratio':>6} {'baseline us':>11} {'ratio':>6}")
    for r in rows:
        pt = f"{r['kernel']} b{r['batch']} ctx{r['context']} s_q{r['s_q']} ({r['n_h']},{r['n_kv']},{r['d']})"
        best = f"{r['best_variant']} {r['best_median_us']}" if r["best_variant"] else "-"
        print(f"  {pt:44} {r['peer']:24} {r['peer_median_us']:>9} {best:>26} {r['peer_over_best'] or '-':>6} "
              f"{r['baseline_median_us'] or '-':>11} {r['peer_over_baseline'] or '-':>6}")


# ---------------------------------------------------------------- torch side (runs only on the GPU machine)


def run_peers(args):
    t_start = time.monotonic()
    try:
        import torch
        import torch.nn.functional as F
    except Exception as e:  # noqa: BLE001 - any import failure means: no peers here
        print(f"peers: skipped: torch cannot be imported ({e.__class__.__name__}: {e})")
        return 3
    cpu = args.device == "cpu"  # a host check of this script's torch code (fill, checksums, gather, MLA)
    if not cpu and not torch.cuda.is_available():
        print("peers: skipped: torch sees no CUDA device")
        return 3
    inputs = read_csv(os.path.join(args.inputs, "peer_inputs.csv"))
    if not inputs:
        print(f"peers: skipped: no peer_inputs.csv rows in {args.inputs} (the bench timed none of the peers' points)")
        return 3
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except Exception as e:  # noqa: BLE001
        SDPBackend = sdpa_kernel = None
        print(f"peers: torch.nn.attention.sdpa_kernel unavailable ({e}); the flash backend cannot be forced")
    dev = torch.device(args.device)
    props = None if cpu else torch.cuda.get_device_properties(0)
    l2 = int(getattr(props, "L2_cache_size", 0) or (64 << 20))
    flush_buf = torch.empty(2 * l2, dtype=torch.uint8, device=dev)
    print(f"peers: torch {torch.__version__} on {'the CPU' if cpu else props.name}; {len(inputs)} points offered; "
          f"L2 {l2 >> 20} MiB")
    copy_rows = read_csv(os.path.join(args.out, "copy.csv"))
    copy_gbps = float(copy_rows[-1]["gbps"]) if copy_rows else 0.0
    # A point offered twice (the bench restarted at it after a crash, with new seeds): the last offer counts.
    inputs = list({r["point"]: r for r in inputs}.values())
    inputs.sort(key=lambda r: (int(r["priority"]), int(r["point"])))

    def fill(n, seed, chunk=1 << 26):
        """The bench's fill (bench_fill.hpp) of n elements with `seed`, and its checksum, chunk by chunk."""
        out = torch.empty(n, dtype=torch.bfloat16, device=dev)
        half = torch.tensor(0.5, dtype=torch.bfloat16, device=dev)
        seed_s = to_s64(seed)
        s0 = s1 = 0
        for start in range(0, n, chunk):
            idx = torch.arange(start, min(n, start + chunk), dtype=torch.int64, device=dev)
            m = draw24(seed_s, idx, lambda x: x)
            v = (m.to(torch.float32) * (2.0 ** -23) - 1.0).to(torch.bfloat16)
            v = torch.where(v == 0, half, v)
            out[start:start + idx.numel()] = v
            bits = v.view(torch.int16).to(torch.int64) & 0xFFFF
            s0 += int(bits.sum().item())
            s1 += int((bits * ((idx & 1023) + 1)).sum().item())
            del idx, m, v, bits
        return out, s0, s1

    def time_it(fn):
        for _ in range(args.warmup):
            fn()
        samples = []
        if cpu:
            for i in range(args.repeats):
                t = time.perf_counter()
                fn()
                samples.append((time.perf_counter() - t) * 1e6)
        else:
            torch.cuda.synchronize()
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            for i in range(args.repeats):
                flush_buf.fill_((i + 1) & 0xFF)
                start.record()
                fn()
                stop.record()
                stop.synchronize()
                samples.append(start.elapsed_time(stop) * 1e3)  # us
        samples.sort()
        return percentile_sorted(samples, 0.5), percentile_sorted(samples, 0.9), samples[0], len(samples)

    def flash_only():
        """The flash backend forced for SDPA (sdpa_kernel), or nothing when this torch cannot force it."""
        return sdpa_kernel(SDPBackend.FLASH_ATTENTION) if sdpa_kernel is not None else contextlib.nullcontext()

    def measure(r, row):
        """Fills, gathers and times one point into `row` (its tensors die with this call)."""
        nonlocal gqa_method
        kernel = r["kernel"]
        B, ctx, s_q = int(r["batch"]), int(r["context"]), int(r["s_q"])
        n_h, n_kv, d = int(r["n_h"]), int(r["n_kv"]), int(r["d"])
        peer = row["peer"]
        scale = float(r["softmax_scale"])
        q, qs0, qs1 = fill(int(r["q_elems"]), int(r["q_seed"]))
        k, ks0, ks1 = fill(int(r["kv_elems"]), int(r["k_seed"]))
        match = (qs0, qs1, ks0, ks1) == (int(r["q_sum0"]), int(r["q_sum1"]), int(r["k_sum0"]), int(r["k_sum1"]))
        v = None
        if kernel != "mla":
            v, vs0, vs1 = fill(int(r["kv_elems"]), int(r["v_seed"]))
            match = match and (vs0, vs1) == (int(r["v_sum0"]), int(r["v_sum1"]))
        row["inputs_match"] = "yes" if match else "NO"
        if not match:
            print(f"peers: point {r['point']}: the regenerated inputs' checksums differ from the bench's "
                  f"(recorded as inputs_match = NO; timed anyway)")
        with open(os.path.join(args.inputs, r["block_table_file"]), "rb") as f:
            bt_bytes = f.read()
        max_pages = int(r["max_pages"])
        bt = torch.frombuffer(bytearray(bt_bytes), dtype=torch.int32).view(B, max_pages).to(dev).long()
        pages = (ctx + 63) // 64
        row_elems = n_kv * d
        num_pages = int(r["num_pages"])

        def gather(cache):
            c = cache[: num_pages * 64 * row_elems].view(num_pages, 64, row_elems)
            return c[bt[:, :pages]].reshape(B, pages * 64, row_elems)[:, :ctx]

        flops, bytes_ = work_of(kernel, B, s_q, n_h, n_kv, d, float(B) * ctx)
        if kernel == "mla":
            kv = gather(k).contiguous()  # [B, L, 576]
            del k
            qh = q.view(B, s_q * n_h, 576)
            mask = None
            if s_q > 1:
                # Row s·h_q + h (token s) sees tokens [0, L - s_q + s].
                tok = torch.arange(ctx, device=dev).view(1, ctx)
                srow = (torch.arange(s_q * n_h, device=dev) // n_h).view(-1, 1)
                mask = torch.where(tok > ctx - s_q + srow, float("-inf"), 0.0).to(torch.float32)
            vv = kv[..., :512]

            def fn():
                s = torch.matmul(qh, kv.transpose(1, 2)).float() * scale
                if mask is not None:
                    s = s + mask
                p = torch.softmax(s, dim=-1).to(torch.bfloat16)
                return torch.matmul(p, vv)

            row["method"] = "matmul-softmax(fp32)-matmul"
        else:
            if s_q != 1:
                raise ValueError("SDPA's causal mask is top-left aligned; decode with s_q > 1 is not a peer point")
            kc = gather(k).reshape(B, ctx, n_kv, d).transpose(1, 2).contiguous()
            vc = gather(v).reshape(B, ctx, n_kv, d).transpose(1, 2).contiguous()
            del k, v
            qh = q.view(B, s_q, n_h, d).transpose(1, 2).contiguous()

            def sdpa(kk, vv_, gqa):
                # Called inside flash_only() (below): the backend is forced once, outside the timed calls.
                if gqa:
                    return F.scaled_dot_product_attention(qh, kk, vv_, scale=scale, enable_gqa=True)
                return F.scaled_dot_product_attention(qh, kk, vv_, scale=scale)

            if n_kv == n_h:
                fn = lambda: sdpa(kc, vc, False)  # noqa: E731
                row["method"] = "flash MHA"
            else:
                # enable_gqa with the flash backend where this torch takes it (tried per point: a shape it
                # refuses falls back alone), else K/V expanded outside the timed region.
                try:
                    with flash_only():
                        sdpa(kc, vc, True)
                    if not cpu:
                        torch.cuda.synchronize()
                    gqa_method = "enable_gqa"
                except Exception as e:  # noqa: BLE001
                    gqa_method = "repeat_interleave"
                    print(f"peers: point {r['point']}: flash with enable_gqa refused ({e.__class__.__name__}: "
                          f"{str(e).splitlines()[0] if str(e) else ''}); K/V expanded with repeat_interleave")
                if gqa_method == "enable_gqa":
                    fn = lambda: sdpa(kc, vc, True)  # noqa: E731
                    row["method"] = "flash enable_gqa"
                else:
                    kr = kc.repeat_interleave(n_h // n_kv, dim=1)
                    vr = vc.repeat_interleave(n_h // n_kv, dim=1)
                    del kc, vc
                    fn = lambda: sdpa(kr, vr, False)  # noqa: E731
                    row["method"] = "flash on K/V expanded by repeat_interleave (reads n_h/n_kv x the bytes)"
            if sdpa_kernel is None:
                row["method"] += " (backend not forced)"
        with flash_only() if kernel != "mla" else contextlib.nullcontext():
            med, p90, mn, reps = time_it(fn)
        row.update({"median_us": f"{med:.6g}", "p90_us": f"{p90:.6g}", "min_us": f"{mn:.6g}",
                    "repeats": reps, "gbps": f"{bytes_ / (med * 1e-6) / 1e9:.6g}",
                    "tflops": f"{flops / (med * 1e-6) / 1e12:.6g}",
                    "pct_of_copy_bw": f"{100.0 * bytes_ / (med * 1e-6) / 1e9 / copy_gbps:.4g}" if copy_gbps else "",
                    "note": ""})
        print(f"peers: point {r['point']} {peer} B={B} ctx={ctx} s_q={s_q} ({n_h},{n_kv},{d}): {med:.1f} us, "
              f"{bytes_ / (med * 1e-6) / 1e9:.0f} GB/s, inputs {row['inputs_match']}")

    gqa_method = None  # the last GQA point's method: "enable_gqa" or "repeat_interleave"
    rows = []
    longest = 0.0
    skipped = 0
    for r in inputs:
        elapsed = time.monotonic() - t_start
        if args.deadline_s > 0 and elapsed + 1.5 * max(longest, 0.5) + 2.0 > args.deadline_s:
            skipped += 1
            continue
        t0 = time.monotonic()
        kernel = r["kernel"]
        B, ctx, s_q = int(r["batch"]), int(r["context"]), int(r["s_q"])
        n_h, n_kv, d = int(r["n_h"]), int(r["n_kv"]), int(r["d"])
        base = {"kernel": kernel, "batch": B, "context": ctx, "lengths": "uniform", "s_q": s_q, "n_h": n_h,
                "n_kv": n_kv, "d": d, "point": r["point"]}
        peer = "torch-absorbed-mla" if kernel == "mla" else "sdpa-flash"
        row = dict(base, peer=peer)
        try:
            measure(r, row)
        except Exception as e:  # noqa: BLE001 - record and go on
            msg = f"{e.__class__.__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            row["note"] = msg.replace(",", ";")[:200]
            print(f"peers: point {r['point']} {peer}: {msg}")
        rows.append(row)
        if not cpu:
            torch.cuda.empty_cache()
        longest = max(longest, time.monotonic() - t0)
        write_csv(os.path.join(args.out, "peers.csv"), PEER_COLUMNS, rows)  # after every point: a kill keeps them
    vs = comparison(args.out, rows)
    write_csv(os.path.join(args.out, "peers_vs_ours.csv"), VS_COLUMNS, vs)
    print_comparison(vs)
    print(f"peers: done: points={len(rows)} skipped_deadline={skipped} in {time.monotonic() - t_start:.0f} s")
    return 4 if skipped else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--inputs", default="")
    ap.add_argument("--out", default="")
    ap.add_argument("--deadline-s", type=float, default=0.0)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--device", default="cuda", help="cuda (the measurement); cpu checks this script's torch code")
    ap.add_argument("--compare-only", action="store_true",
                    help="rewrite peers_vs_ours.csv from --out's peers.csv and timing CSVs (no torch)")
    args = ap.parse_args()
    if args.selftest:
        return selftest()
    if not args.inputs and not args.compare_only or not args.out:
        ap.error("--inputs and --out are required (or --selftest)")
    if args.compare_only:
        vs = comparison(args.out, read_csv(os.path.join(args.out, "peers.csv")))
        write_csv(os.path.join(args.out, "peers_vs_ours.csv"), VS_COLUMNS, vs)
        print_comparison(vs)
        return 0
    return run_peers(args)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - one line, exit 1
        print(f"peers: internal error: {e.__class__.__name__}: {e}")
        sys.exit(1)
