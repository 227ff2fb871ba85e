#!/usr/bin/env python3
"""Prints the markdown tables of docs/benchmarks.md from the JSON files that run-engine-bench.sh and
run-reference-bench.sh wrote (default dir bench/target/bench-results).

Limits: decode is compared with memory bandwidth (bytes read per decode step: every matmul weight once, plus the
KV cache of the batch at the mean context length, over the step time); training with the 2-thread peak matmul
rate (6 * matmul parameters * tokens / time). Matmul parameters = all linear layers + LM head (the embedding is a
gather, norms are negligible)."""
import json
import os
import sys

D = sys.argv[1] if len(sys.argv) > 1 else "bench/target/bench-results"
SHAPES = {  # dim, hidden, layers, heads, kv_heads, vocab, ctx
    "stories15m": (288, 768, 6, 6, 6, 32000, 256),
    "gqa": (512, 1376, 8, 8, 2, 32000, 256),
}
PROMPT, NEW = 16, 240


def load(name):
    p = os.path.join(D, name + ".json")
    return json.load(open(p)) if os.path.exists(p) else None


def get(name, key, scale=1.0):
    r = load(name)
    if r is None or key not in r:
        return None
    return r[key] * scale


def fmt(v, digits=0):
    return "–" if v is None else f"{v:,.{digits}f}"


def matmul_params(s):
    d, h, l, nh, nkv, v, _ = SHAPES[s]
    kv = nkv * d // nh
    return l * (2 * d * d + 2 * d * kv + 3 * d * h) + v * d


def decode_bytes_per_step(s, batch):
    d, h, l, nh, nkv, v, _ = SHAPES[s]
    kv = nkv * d // nh
    mean_ctx = PROMPT + NEW / 2
    return 4 * matmul_params(s) + batch * l * 2 * kv * mean_ctx * 4


def best_gflops(name, n):
    r = load(name)
    if not r:
        return None
    for x in r.get("results", []):
        if x["n"] == n:
            return x["gflopsBest"]
    return None


def foreign(name):
    r = load(name)
    return None if r is None else r.get("maxForeignBusyPct")


def main():
    bw1, bw2 = get("triad-t1", "gbPerSec"), get("triad-t2", "gbPerSec")
    peak2 = max(filter(None, [best_gflops("matmul-t2", 1024), best_gflops("matmul-t2", 2048)]), default=None)
    peak1 = max(filter(None, [best_gflops("matmul-t1", 1024), best_gflops("matmul-t1", 2048)]), default=None)
    tpeak = load("torch-coretypes")
    print("## Limits\n")
    print("| limit | value |\n|---|---|")
    print(f"| memory bandwidth, triad 1 thread | {fmt(get('triad-t1', 'gbPerSec'), 1)} GB/s |")
    print(f"| memory bandwidth, triad 2 threads | {fmt(get('triad-t2', 'gbPerSec'), 1)} GB/s |")
    print(f"| DJL libtorch 2.7.1 fp32 matmul, 1 thread (best of 1024³, 2048³) | {fmt(peak1, 1)} GFLOP/s |")
    print(f"| DJL libtorch 2.7.1 fp32 matmul, 2 threads | {fmt(peak2, 1)} GFLOP/s |")
    if tpeak:
        print(f"| Debian torch 1.13 + OpenBLAS matmul 1024³, 2 threads, by OPENBLAS_CORETYPE | "
              + ", ".join(f"{k}: {v if isinstance(v, str) else f'{v:.1f}'}" for k, v in tpeak["coretypes"].items())
              + " |")
    print()
    for s in SHAPES:
        if not load(f"{s}-decode-b1"):
            continue
        print(f"## {s}\n")
        print("| case | ours (DJL) | llama2.c run.c | PyTorch 1.13 eager | ours / limit (llama2.c / limit) "
              "| ours peak RSS | foreign CPU % |")
        print("|---|---|---|---|---|---|---|")
        rows = [
            ("decode B=1, 1 thread (tok/s)", f"{s}-decode-b1-t1", "decodeTokPerSec", f"llama2c-{s}-run",
             f"torch-{s}-decode-b1-t1", 1, bw1, peak1),
            ("decode B=1, 2 threads (tok/s)", f"{s}-decode-b1", "decodeTokPerSec", f"llama2c-{s}-runomp",
             f"torch-{s}-decode-b1", 1, bw2, peak2),
            ("decode B=8, 2 threads (tok/s, all rows)", f"{s}-decode-b8", "decodeTokPerSec", None,
             f"torch-{s}-decode-b8", 8, bw2, peak2),
            ("decode B=32, 2 threads (tok/s, all rows)", f"{s}-decode-b32", "decodeTokPerSec", None,
             f"torch-{s}-decode-b32", 32, bw2, peak2),
        ]
        for label, ours, key, c, torch, b, bw, peak in rows:
            v = get(ours, key)
            cv = get(c, "decodeTokPerSec") if c else None
            lim = "–"
            if v is not None and bw:
                frac = decode_bytes_per_step(s, b) * (v / b) / 1e9 / bw
                lim = f"{frac * 100:.0f}% of {bw:.0f} GB/s"
                if cv:
                    lim += f" ({decode_bytes_per_step(s, b) * cv / 1e9 / bw * 100:.0f}%)"
                if b > 1 and peak:
                    lim += f"; {2 * matmul_params(s) * v / 1e9 / peak * 100:.0f}% of matmul peak"
            print(f"| {label} | {fmt(v)} | {fmt(cv)} | "
                  f"{fmt(get(torch, 'decodeTokPerSec'))} | {lim} | "
                  f"{fmt(get(ours, 'vmHwmKiB', 1 / 1024))} MiB | {fmt(foreign(ours))} |")
        for b in (1, 8, 32):
            print(f"| generate() wall clock B={b}, sampling + log-probs included (tok/s) | "
                  f"{fmt(get(f'{s}-decode-b{b}', 'generateWallTokPerSec'))} | – | "
                  f"{fmt(get(f'torch-{s}-decode-b{b}', 'generateWallTokPerSec'))} | | | |")
        for b in (1, 8):
            n = f"{s}-prefill-b{b}"
            print(f"| prefill {b}×128 (tok/s) | {fmt(get(n, 'prefillTokPerSec'))} | – | "
                  f"{fmt(get('torch-' + n, 'prefillTokPerSec'))} | | {fmt(get(n, 'vmHwmKiB', 1 / 1024))} MiB | "
                  f"{fmt(foreign(n))} |")
        n = f"{s}-train-b8"
        v = get(n, "trainTokPerSec")
        frac = 6 * matmul_params(s) * v / 1e9 / peak2 if v and peak2 else None
        print(f"| train 8×256, fwd+bwd+clip+AdamW (tok/s) | {fmt(v)} | – | {fmt(get('torch-' + n, 'trainTokPerSec'))} | "
              f"{fmt(frac * 100 if frac else None)}% of matmul peak | {fmt(get(n, 'vmHwmKiB', 1 / 1024))} MiB | "
              f"{fmt(foreign(n))} |")
        print()
        print(f"Peak memory per case, ours (VmHWM / Java heap peak / PyTorch VmHWM), MiB:\n")
        print("| case | our VmHWM | our heap peak | our RSS after model init | PyTorch VmHWM |\n|---|---|---|---|---|")
        for case in ["decode-b1-t1", "decode-b1", "decode-b8", "decode-b32", "prefill-b1", "prefill-b8", "train-b8"]:
            n = f"{s}-{case}"
            print(f"| {case} | {fmt(get(n, 'vmHwmKiB', 1 / 1024))} | {fmt(get(n, 'heapPeakBytes', 1 / 2**20))} | "
                  f"{fmt(get(n, 'rssAfterInitKiB', 1 / 1024))} | {fmt(get('torch-' + n, 'vmHwmKiB', 1 / 1024))} |")
        ops = load(f"{s}-ops-b1")
        if ops:
            print()
            print(f"Decode step anatomy, B=1 ({ops['threads']} threads): "
                  f"{ops['msPerDecodeStepDirect']:.2f} ms per step = {ops['msHiddenPerStep']:.2f} ms blocks + "
                  f"{ops['msLogitsPerStep']:.2f} ms LM head and logits copy; the {ops['matmulCallsPerStep']} "
                  f"matmuls alone take {ops['msMatmulsOnlyPerStep']:.2f} ms; {ops['ndarraysPerDecodeStep']} NDArrays "
                  f"are created per step; one tiny add costs {ops['nsPerTinyAdd'] / 1000:.1f} µs "
                  f"({ops['nsPerAddDim'] / 1000:.1f} µs on (1,1,{SHAPES[s][0]})).")
        print()


if __name__ == "__main__":
    main()
