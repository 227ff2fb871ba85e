#!/usr/bin/python3
"""PyTorch-eager reference for EngineBench: the same LLaMA-2 forward (RMSNorm, rotate-half RoPE, GQA, SwiGLU,
untied LM head), random weights, KV-cache greedy decode, prefill, and a training step (forward + backward +
global-norm clipping + AdamW), with the same shapes and counts as dev.rlhf.bench.EngineBench.

Written for Debian's python3-torch (1.13, CPU, BLAS through the libblas.so.3 alternative, e.g. OpenBLAS).
OpenBLAS picks its kernels at load time; OPENBLAS_CORETYPE overrides that, so `--case coretypes` runs the
matmul case in a child process per core type to find the best setting.

Usage:
  torch_reference.py --case decode  --shape stories15m --batch 8 [--prompt 16 --new-tokens 240]
  torch_reference.py --case prefill --shape gqa --batch 1 [--seq 128]
  torch_reference.py --case train   --shape gqa --batch 8 [--seq 256]
  torch_reference.py --case matmul  [--sizes 1024,2048]
  torch_reference.py --case coretypes
All take --threads (default 2), --warmup, --repeats, --out result.json.
"""
import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

SHAPES = {
    # dim, hidden, layers, heads, kv_heads, vocab, context (as LlamaConfig.preset)
    "stories15m": (288, 768, 6, 6, 6, 32000, 256),
    "gqa": (512, 1376, 8, 8, 2, 32000, 256),
}
EPS = 1e-5
THETA = 10000.0


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def vm_hwm_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


class Cpu:
    """All CPUs' busy/total jiffies and this process's own, to tell how much CPU other processes took."""

    def __init__(self):
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        self.total = sum(v)
        self.busy = self.total - v[3] - v[4]
        t = os.times()
        self.self = (t.user + t.system) * os.sysconf("SC_CLK_TCK")

    def foreign_since(self, start):
        total = self.total - start.total
        return max(0.0, 100.0 * ((self.busy - start.busy) - (self.self - start.self)) / total) if total > 0 else float("nan")


def timed(fn, foreign):
    """Runs fn, appending the foreign CPU % during it to `foreign`; returns fn's result."""
    c = Cpu()
    r = fn()
    foreign.append(Cpu().foreign_since(c))
    return r


class Llama:
    def __init__(self, shape, seed=1234, context=None, requires_grad=False):
        d, hidden, layers, heads, kv_heads, vocab, ctx = SHAPES[shape]
        self.d, self.hidden, self.layers, self.heads, self.kv_heads, self.vocab = d, hidden, layers, heads, kv_heads, vocab
        self.ctx = context or ctx
        self.hd = d // heads
        kv = kv_heads * self.hd
        g = torch.Generator().manual_seed(seed)

        def normal(*s):
            return (torch.randn(*s, generator=g) * 0.02).requires_grad_(requires_grad)

        def ones(*s):
            return torch.ones(*s).requires_grad_(requires_grad)

        self.embed = normal(vocab, d)
        self.blocks = []
        for _ in range(layers):
            self.blocks.append(dict(
                attn_norm=ones(d), wq=normal(d, d), wk=normal(kv, d), wv=normal(kv, d), wo=normal(d, d),
                ffn_norm=ones(d), w1=normal(hidden, d), w3=normal(hidden, d), w2=normal(d, hidden)))
        self.norm = ones(d)
        self.head = normal(vocab, d)
        inv = THETA ** (-torch.arange(0, self.hd, 2, dtype=torch.float64) / self.hd)
        ang = torch.arange(self.ctx, dtype=torch.float64)[:, None] * inv[None, :]
        self.cos = torch.cat([ang.cos(), ang.cos()], -1).float()  # (ctx, hd)
        self.sin = torch.cat([ang.sin(), ang.sin()], -1).float()

    def parameters(self):
        ps = [self.embed]
        for b in self.blocks:
            ps += list(b.values())
        return ps + [self.norm, self.head]

    def matmul_params(self):
        kv = self.kv_heads * self.hd
        return self.layers * (2 * self.d * self.d + 2 * self.d * kv + 3 * self.d * self.hidden) + self.vocab * self.d

    @staticmethod
    def rmsnorm(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w

    @staticmethod
    def rope(x, cos, sin):
        half = x.shape[-1] // 2
        rot = torch.cat([-x[..., half:], x[..., :half]], -1)
        return x * cos + rot * sin

    def forward(self, tokens, start, cache=None):
        """tokens (B, T) at positions [start, start + T); cache: list of (k, v) (B, nKv, ctx, hd) buffers."""
        b, t = tokens.shape
        x = self.embed[tokens]
        cos = self.cos[start:start + t]
        sin = self.sin[start:start + t]
        end = start + t
        mask = None
        if t > 1:
            mask = torch.full((t, end), float("-inf")).triu(start + 1)
        groups = self.heads // self.kv_heads
        for i, w in enumerate(self.blocks):
            h = self.rmsnorm(x, w["attn_norm"])
            q = F.linear(h, w["wq"]).view(b, t, self.heads, self.hd).transpose(1, 2)
            k = F.linear(h, w["wk"]).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
            v = F.linear(h, w["wv"]).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
            q = self.rope(q, cos, sin)
            k = self.rope(k, cos, sin)
            if cache is not None:
                kc, vc = cache[i]
                kc[:, :, start:end] = k
                vc[:, :, start:end] = v
                k, v = kc[:, :, :end], vc[:, :, :end]
            qg = q.reshape(b, self.kv_heads, groups * t, self.hd)  # query heads grouped per KV head
            s = qg @ k.transpose(-1, -2) / math.sqrt(self.hd)
            if mask is not None:
                s = s.view(b, self.kv_heads, groups, t, end) + mask
            p = s.softmax(-1).view(b, self.kv_heads, groups * t, end)
            o = (p @ v).view(b, self.heads, t, self.hd).transpose(1, 2).reshape(b, t, self.d)
            x = x + F.linear(o, w["wo"])
            h = self.rmsnorm(x, w["ffn_norm"])
            x = x + F.linear(F.silu(F.linear(h, w["w1"])) * F.linear(h, w["w3"]), w["w2"])
        return self.rmsnorm(x, self.norm)

    def new_cache(self, batch):
        return [(torch.zeros(batch, self.kv_heads, self.ctx, self.hd), torch.zeros(batch, self.kv_heads, self.ctx, self.hd))
                for _ in range(self.layers)]


def random_tokens(batch, length, vocab, seed=1234):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(3, vocab, (batch, length), generator=g)


def case_decode(a, rec):
    m = Llama(a.shape)
    prompts = random_tokens(a.batch, a.prompt, m.vocab)
    with torch.inference_mode():
        def run():
            cache = m.new_cache(a.batch)
            t0 = time.perf_counter()
            h = m.forward(prompts, 0, cache)
            tok = pick(F.linear(h[:, -1], m.head))
            t1 = time.perf_counter()
            pos = a.prompt
            for _ in range(a.new_tokens - 1):
                h = m.forward(tok[:, None], pos, cache)
                tok = pick(F.linear(h[:, -1], m.head))
                pos += 1
            t2 = time.perf_counter()
            return t1 - t0, t2 - t1

        # --logprobs: also the log-probability of each chosen token, as our generate() returns them;
        # --temperature T > 0: multinomial sampling from softmax(logits / T) instead of argmax.
        logprobs = []

        def pick(logits):
            if a.temperature > 0:
                lp = F.log_softmax(logits / a.temperature, -1)
                tok = torch.multinomial(lp.exp(), 1)[:, 0]
            else:
                tok = logits.argmax(-1)
                lp = F.log_softmax(logits, -1) if a.logprobs else None
            if a.logprobs:
                logprobs.append(lp.gather(-1, tok[:, None]))
            return tok

        for _ in range(a.warmup):
            run()
        rates, wall, foreign = [], [], []
        for _ in range(a.repeats):
            pre, dec = timed(run, foreign)
            rates.append(a.batch * (a.new_tokens - 1) / dec)
            wall.append(a.batch * a.new_tokens / (pre + dec))
    rec.update(foreignBusyPctRuns=foreign, maxForeignBusyPct=max(foreign))
    sampling = "temperature %g, multinomial" % a.temperature if a.temperature > 0 else "greedy (argmax)"
    rec.update(promptTokens=a.prompt, newTokens=a.new_tokens, sampling=sampling, logprobs=a.logprobs,
               decodeTokPerSecRuns=rates, decodeTokPerSec=statistics.median(rates),
               generateWallTokPerSec=statistics.median(wall), headline=statistics.median(rates), unit="tok/s")


def case_prefill(a, rec):
    m = Llama(a.shape)
    prompts = random_tokens(a.batch, a.seq, m.vocab)
    with torch.inference_mode():
        def run():
            cache = m.new_cache(a.batch)
            t0 = time.perf_counter()
            h = m.forward(prompts, 0, cache)
            F.linear(h[:, -1], m.head).argmax(-1)
            return time.perf_counter() - t0

        for _ in range(a.warmup):
            run()
        foreign = []
        rates = [a.batch * a.seq / timed(run, foreign) for _ in range(a.repeats)]
    rec.update(foreignBusyPctRuns=foreign, maxForeignBusyPct=max(foreign))
    rec.update(promptTokens=a.seq, prefillTokPerSecRuns=rates, prefillTokPerSec=statistics.median(rates),
               headline=statistics.median(rates), unit="tok/s")


def case_train(a, rec):
    m = Llama(a.shape, context=max(a.seq, SHAPES[a.shape][6]), requires_grad=True)
    inputs = random_tokens(a.batch, a.seq, m.vocab, 1)
    targets = random_tokens(a.batch, a.seq, m.vocab, 2)
    norms = {id(b[k]) for b in m.blocks for k in ("attn_norm", "ffn_norm")} | {id(m.norm)}
    params = m.parameters()
    opt = torch.optim.AdamW([
        {"params": [p for p in params if id(p) not in norms], "weight_decay": 0.1},
        {"params": [p for p in params if id(p) in norms], "weight_decay": 0.0}],
        lr=1e-4, betas=(0.9, 0.95), eps=1e-5)

    def step():
        t0 = time.perf_counter()
        logits = F.linear(m.forward(inputs, 0), m.head)
        loss = F.cross_entropy(logits.view(-1, m.vocab), targets.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return time.perf_counter() - t0, loss.item()

    for _ in range(a.warmup):
        step()
    secs, loss, foreign = [], None, []
    for _ in range(a.repeats):
        s, loss = timed(step, foreign)
        secs.append(s)
    rec.update(foreignBusyPctRuns=foreign, maxForeignBusyPct=max(foreign))
    med = statistics.median(secs)
    rec.update(seq=a.seq, lastLoss=loss, secondsPerStepRuns=secs, secondsPerStep=med,
               trainTokPerSec=a.batch * a.seq / med, modelGflopPerSec=6 * m.matmul_params() * a.batch * a.seq / med / 1e9,
               headline=a.batch * a.seq / med, unit="tok/s")


def case_matmul(a, rec):
    out = []
    for n in [int(s) for s in a.sizes.split(",")]:
        x, y = torch.randn(n, n), torch.randn(n, n)
        for _ in range(3):
            x @ y
        best, best_foreign = 0.0, 0.0
        for _ in range(5):
            c = Cpu()
            t0, it = time.perf_counter(), 0
            while time.perf_counter() - t0 < a.seconds / 5:
                x @ y
                it += 1
            g = 2 * n ** 3 * it / (time.perf_counter() - t0) / 1e9
            if g > best:
                best, best_foreign = g, Cpu().foreign_since(c)
        out.append({"n": n, "gflopsBest": best, "foreignBusyPctOfBest": best_foreign})
    rec.update(results=out, headline=out[-1]["gflopsBest"], unit="GFLOP/s",
               maxForeignBusyPct=max(r["foreignBusyPctOfBest"] for r in out))


def case_coretypes(a, rec):
    res, foreign = {}, [0.0]
    for ct in ["", "Haswell", "Zen", "SkylakeX", "Sandybridge", "Prescott"]:
        env = dict(os.environ)
        env.pop("OPENBLAS_CORETYPE", None)
        if ct:
            env["OPENBLAS_CORETYPE"] = ct
        p = subprocess.run([sys.executable, __file__, "--case", "matmul", "--sizes", "1024", "--seconds", "2",
                            "--threads", str(a.threads), "--json-stdout"], env=env, capture_output=True, text=True)
        if p.returncode != 0:
            res[ct or "(auto)"] = "failed rc=%d %s" % (p.returncode, p.stderr.strip().splitlines()[-1:] or "")
        else:
            child = json.loads(p.stdout.strip().splitlines()[-1])
            res[ct or "(auto)"] = child["headline"]
            foreign.append(child["maxForeignBusyPct"])
        print("OPENBLAS_CORETYPE=%-12s %s GFLOP/s (load %s)" % (ct or "(auto)", res[ct or "(auto)"], loadavg()),
              flush=True)
    rec.update(coretypes=res, headline=max(v for v in res.values() if isinstance(v, float)), unit="GFLOP/s",
               maxForeignBusyPct=max(foreign))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", required=True, choices=["decode", "prefill", "train", "matmul", "coretypes"])
    ap.add_argument("--shape", default="stories15m", choices=sorted(SHAPES))
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--prompt", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=240)
    ap.add_argument("--seq", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--sizes", default="1024,2048")
    ap.add_argument("--temperature", type=float, default=0)
    ap.add_argument("--logprobs", action="store_true")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--out")
    ap.add_argument("--json-stdout", action="store_true")
    a = ap.parse_args()
    a.seq = a.seq or (256 if a.case == "train" else 128)
    a.warmup = a.warmup if a.warmup is not None else (1 if a.case == "decode" else 2)
    a.repeats = a.repeats or (3 if a.case == "decode" else 5)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    rec = dict(harness="torch_reference.py", torch=torch.__version__, threads=torch.get_num_threads(),
               openblasCoretype=os.environ.get("OPENBLAS_CORETYPE", "(auto)"),
               ompWaitPolicy=os.environ.get("OMP_WAIT_POLICY", "(default)"), case=a.case, shape=a.shape,
               batch=a.batch, warmup=a.warmup, repeats=a.repeats, time=time.strftime("%Y-%m-%dT%H:%M:%S"),
               loadBefore=loadavg())
    {"decode": case_decode, "prefill": case_prefill, "train": case_train, "matmul": case_matmul,
     "coretypes": case_coretypes}[a.case](a, rec)
    rec.update(vmHwmKiB=vm_hwm_kib(), maxRssKiB=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               loadAfter=loadavg())
    if a.json_stdout:
        print(json.dumps(rec))
        return
    print("%-10s %-8s B=%-3s threads=%d coretype=%s %10.2f %s VmHWM=%.0f MiB load=%s -> %s foreignCpu<=%.0f%%" % (
        a.shape, a.case, a.batch, rec["threads"], rec["openblasCoretype"], rec["headline"], rec["unit"],
        rec["vmHwmKiB"] / 1024, rec["loadBefore"], rec["loadAfter"], rec.get("maxForeignBusyPct", -1)), flush=True)
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, "w") as f:
            json.dump(rec, f, indent=2)


if __name__ == "__main__":
    main()
