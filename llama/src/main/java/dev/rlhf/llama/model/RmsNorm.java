package dev.rlhf.llama.model;

import ai.djl.ndarray.NDArray;

/** Root-mean-square layer norm (Zhang and Sennrich, 2019), LLaMA 2 §2.2 pre-normalisation. */
public final class RmsNorm {
    private RmsNorm() {}

    /** y = w * x / sqrt(mean(x^2) + eps) over the last axis. x: (..., D), w: (D) -> (..., D). */
    public static NDArray forward(NDArray x, NDArray weight, double eps) {
        NDArray meanSquare = x.square().mean(new int[] {-1}, true); // (..., 1)
        return x.div(meanSquare.add(eps).sqrt()).mul(weight);
    }
}
