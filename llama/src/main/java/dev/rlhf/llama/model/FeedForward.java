package dev.rlhf.llama.model;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import java.util.function.UnaryOperator;

/** SwiGLU feed-forward (Shazeer, 2020; LLaMA 2 §2.2): {@code down(silu(gate(x)) * up(x))}. */
public final class FeedForward {
    private FeedForward() {}

    /** x: (B, T, D); gate, up: (I, D); down: (D, I) -> (B, T, D). */
    public static NDArray forward(NDArray x, NDArray gate, NDArray up, NDArray down) {
        return forward(x, in -> Linear.linear(in, gate).singletonOrThrow(),
                in -> Linear.linear(in, up).singletonOrThrow(), in -> Linear.linear(in, down).singletonOrThrow());
    }

    /** The same with the projections given as functions (a projection may carry a LoRA adapter). */
    public static NDArray forward(NDArray x, UnaryOperator<NDArray> gate, UnaryOperator<NDArray> up,
                                  UnaryOperator<NDArray> down) {
        NDArray g = gate.apply(x); // (B, T, I)
        NDArray u = up.apply(x); // (B, T, I)
        NDArray h = g.mul(Activation.sigmoid(g)).mul(u); // silu(g) * u
        return down.apply(h); // (B, T, D)
    }
}
