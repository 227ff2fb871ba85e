package dev.rlhf.llama.rl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.rlhf.llama.model.Tensors;

/**
 * The reward-model ranking loss with a rating-dependent margin (LLaMA 2 §3.2.2, Table 27; see
 * {@code LLAMA2-RECIPE.md}): {@code L = -log(sigmoid(r_chosen - r_rejected - m(rating)))}.
 */
public final class RankingLoss {
    private RankingLoss() {}

    /** The annotators' 4-level preference rating (LLaMA 2 §3.2.2). */
    public enum Rating {
        SIGNIFICANTLY_BETTER,
        BETTER,
        SLIGHTLY_BETTER,
        NEGLIGIBLY_BETTER_OR_UNSURE
    }

    /** Which margin table to use; NONE is the plain Bradley-Terry loss of InstructGPT. */
    public enum Margin {
        NONE(0, 0, 0, 0),
        /** Table 27, "margin small": 1, 2/3, 1/3, 0. */
        SMALL(1.0, 2.0 / 3.0, 1.0 / 3.0, 0),
        /** Table 27, "margin large": 3, 2, 1, 0. */
        LARGE(3, 2, 1, 0);

        private final double[] byRating;

        Margin(double significantlyBetter, double better, double slightlyBetter, double negligibleOrUnsure) {
            this.byRating = new double[] {significantlyBetter, better, slightlyBetter, negligibleOrUnsure};
        }

        /** m(rating) for this table. */
        public double of(Rating rating) {
            return byRating[rating.ordinal()];
        }
    }

    /**
     * {@code -log(sigmoid(z))} with {@code z = rChosen - rRejected - margin}, computed as
     * {@code softplus(-z) = max(-z, 0) + log1p(exp(-|z|))} so that neither large positive nor large negative z
     * overflows (LLaMA 2 §3.2.2).
     */
    public static double loss(double rChosen, double rRejected, double margin) {
        double z = rChosen - rRejected - margin;
        return Math.max(-z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
    }

    /**
     * Differentiable sum over the batch of {@link #loss}: chosen (B), rejected (B), margins (B) -> scalar. A sum,
     * like {@code Losses}, so that gradient accumulation normalises once per step. The same stable softplus
     * as {@link #loss}, written with {@code log(1 + e)} (DJL has no log1p; {@code e <= 1} so the error is one
     * ulp of 1). The constants are {@link Tensors#scalar} tensors, not Java numbers (see {@code Tensors}). At
     * z = 0 autograd splits the max's gradient in half and |z|'s is 0, which gives the exact -1/2.
     */
    public static NDArray lossSum(NDArray chosen, NDArray rejected, NDArray margins) {
        NDManager m = chosen.getManager();
        DataType dtype = chosen.getDataType();
        NDArray zero = Tensors.scalar(m, 0, dtype);
        NDArray one = Tensors.scalar(m, 1, dtype);
        NDArray z = chosen.sub(rejected.toType(dtype, false)).sub(margins.toType(dtype, false)); // (B)
        NDArray tail = one.add(z.abs().neg().exp()).log(); // (B) log1p(exp(-|z|))
        return z.neg().maximum(zero).add(tail).sum();
    }
}
