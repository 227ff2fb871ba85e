package dev.rlhf.llama.train;

import ai.djl.ndarray.NDArray;

/** Loss functions on NDArrays. Each returns a SUM so that gradient accumulation can normalise once per step. */
public final class Losses {
    private Losses() {}

    /**
     * Sum over masked positions of {@code -log p(target)}: the SFT loss with zero weight on prompt tokens
     * (LLaMA 2 §3.1). logits: (B, T, V); targets: (B, T) int64; mask: (B, T) 0/1 -> scalar.
     */
    public static NDArray maskedNextTokenLossSum(NDArray logits, NDArray targets, NDArray mask) {
        NDArray logp = tokenLogProbs(logits, targets); // (B, T)
        return logp.mul(mask.toType(logp.getDataType(), false)).sum().neg();
    }

    /** log softmax(logits)[target] per position. logits: (B, T, V); targets: (B, T) int64 -> (B, T). */
    public static NDArray tokenLogProbs(NDArray logits, NDArray targets) {
        return logits.logSoftmax(-1).gather(targets.expandDims(-1), -1).squeeze(-1);
    }
}
