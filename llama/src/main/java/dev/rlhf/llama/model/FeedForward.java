package dev.rlhf.llama.model;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;

/** SwiGLU feed-forward (Shazeer, 2020; LLaMA 2 §2.2): {@code down(silu(gate(x)) * up(x))}. */
public final class FeedForward {
    private FeedForward() {}

    /** x: (B, T, D); gate, up: (I, D); down: (D, I) -> (B, T, D). */
    public static NDArray forward(NDArray x, NDArray gate, NDArray up, NDArray down) {
        NDArray g = Linear.linear(x, gate).singletonOrThrow(); // (B, T, I)
        NDArray u = Linear.linear(x, up).singletonOrThrow(); // (B, T, I)
        NDArray h = g.mul(Activation.sigmoid(g)).mul(u); // silu(g) * u
        return Linear.linear(h, down).singletonOrThrow(); // (B, T, D)
    }
}
