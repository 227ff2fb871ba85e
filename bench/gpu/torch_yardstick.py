#!/usr/bin/env python3
"""The PyTorch yardstick of issue 14: the same shapes as bench GpuChecks in plain PyTorch (Hugging Face
LlamaForCausalLM, eager) on the same card: greedy generation tokens/s at B=1 and B=64, and the training step's
tokens/s (fp32, and bf16 autocast). Random weights; fixed seeds. Writes one JSON.

usage: torch_yardstick.py --out torch.json [--device cuda|cpu] [--dry]
"""
import argparse
import json
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def shape(dim, hidden, heads, layers, vocab=32000):
    return LlamaConfig(hidden_size=dim, intermediate_size=hidden, num_attention_heads=heads,
                       num_key_value_heads=heads, num_hidden_layers=layers, vocab_size=vocab,
                       max_position_embeddings=1024, rms_norm_eps=1e-5, rope_theta=10000.0,
                       tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def generation(cfg, device, dtype, batch, new_tokens):
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg).to(device=device, dtype=dtype).eval()
    prompts = torch.randint(3, cfg.vocab_size, (batch, 16), device=device)
    kwargs = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, use_cache=True,
                  pad_token_id=0, eos_token_id=None)
    with torch.no_grad():
        model.generate(prompts, **kwargs)  # warm-up
        rates = []
        for _ in range(3):
            sync(device)
            start = time.perf_counter()
            out = model.generate(prompts, **kwargs)
            sync(device)
            rates.append((out.shape[1] - prompts.shape[1]) * batch / (time.perf_counter() - start))
    rates.sort()
    return {"batch": batch, "newTokens": new_tokens, "wallTokPerSec": rates[1]}


def train_step(cfg, device, autocast_bf16, batch, seq):
    torch.manual_seed(0)
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    model = LlamaForCausalLM(cfg).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-5, weight_decay=0.1)
    ids = torch.randint(3, cfg.vocab_size, (batch, seq), device=device)

    def step():
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=autocast_bf16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    step()  # warm-up
    times = []
    for _ in range(3):
        sync(device)
        start = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - start)
    times.sort()
    out = {"batch": batch, "seq": seq, "secondsPerStep": times[1], "tokPerSec": batch * seq / times[1]}
    if device == "cuda":
        out["peakMemoryMiB"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--dry", action="store_true")
    a = p.parse_args()
    gen_cfg = shape(288, 768, 6, 6) if a.dry else shape(768, 2048, 12, 12)
    train_cfg = shape(288, 768, 6, 6) if a.dry else shape(1024, 2816, 16, 24)
    batches = [1, 4] if a.dry else [1, 64]
    results = {"torch": torch.__version__, "device": a.device, "dry": a.dry,
               "card": torch.cuda.get_device_name() if a.device == "cuda" else "cpu", "generation": {},
               "trainStep": {}}
    for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
        for b in batches:
            try:
                results["generation"][f"{name}_b{b}"] = generation(gen_cfg, a.device, dtype, b, 16 if a.dry else 128)
            except Exception as e:  # keep going: one run shows every problem
                results["generation"][f"{name}_b{b}"] = {"error": repr(e)}
    for name, autocast in (("bfloat16_autocast", True), ("float32", False)):
        try:
            results["trainStep"][name] = train_step(train_cfg, a.device, autocast, 2 if a.dry else 8,
                                                    64 if a.dry else 512)
        except Exception as e:
            results["trainStep"][name] = {"error": repr(e)}
    with open(a.out, "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
