#!/usr/bin/env python3
"""Writes a random-weight checkpoint in llama2.c's legacy (version 0) format, for run.c benchmarks.

Layout (run.c read_checkpoint / memory_map_weights): a header of 7 int32
(dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len), then float32 tensors in this order:
token_embedding (V, D), rms_att (L, D), wq (L, D, D), wk (L, KV, D), wv (L, KV, D), wo (L, D, D),
rms_ffn (L, D), w1 (L, H, D), w2 (L, D, H), w3 (L, H, D), rms_final (D),
freq_cis_real and freq_cis_imag (seq_len * head_size / 2 each, unused by run.c), and the classifier (V, D).
A negative vocab_size in the header tells run.c the classifier is not shared with the embedding, which matches
our untied presets. Weights ~ N(0, 0.02), norms = 1, as LlamaWeights.randomInit.

Usage: make_llama2c_checkpoint.py --shape stories15m|gqa --out model.bin [--seed 1234]
"""
import argparse
import struct

import numpy as np

SHAPES = {
    # dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len (as LlamaConfig.preset)
    "stories15m": (288, 768, 6, 6, 6, 32000, 256),
    "gqa": (512, 1376, 8, 8, 2, 32000, 256),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=sorted(SHAPES), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args()
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = SHAPES[a.shape]
    head = dim // heads
    kv = kv_heads * head
    rng = np.random.default_rng(a.seed)

    def normal(*shape):
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)

    def ones(*shape):
        return np.ones(shape, dtype=np.float32)

    tensors = [
        normal(vocab, dim),  # token_embedding_table
        ones(layers, dim),  # rms_att_weight
        normal(layers, dim, dim),  # wq
        normal(layers, kv, dim),  # wk
        normal(layers, kv, dim),  # wv
        normal(layers, dim, dim),  # wo
        ones(layers, dim),  # rms_ffn_weight
        normal(layers, hidden, dim),  # w1 (gate)
        normal(layers, dim, hidden),  # w2 (down)
        normal(layers, hidden, dim),  # w3 (up)
        ones(dim),  # rms_final_weight
        np.zeros(seq_len * head // 2, dtype=np.float32),  # freq_cis_real (skipped by run.c)
        np.zeros(seq_len * head // 2, dtype=np.float32),  # freq_cis_imag (skipped by run.c)
        normal(vocab, dim),  # wcls (unshared)
    ]
    with open(a.out, "wb") as f:
        f.write(struct.pack("7i", dim, hidden, layers, heads, kv_heads, -vocab, seq_len))
        for t in tensors:
            f.write(np.ascontiguousarray(t, dtype="<f4").tobytes())
    n = sum(t.size for t in tensors)
    print(f"{a.out}: {a.shape} {n} floats ({n * 4 / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
