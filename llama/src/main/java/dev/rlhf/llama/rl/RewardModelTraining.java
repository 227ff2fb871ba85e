package dev.rlhf.llama.rl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.Tensors;
import dev.rlhf.llama.reward.ScalarScorer;
import java.util.ArrayList;
import java.util.List;

/**
 * Reward-model training on tokenized comparisons (LLaMA 2 §3.2.2): both responses of each pair are scored by the
 * scalar head in one batch and the binary ranking loss with margin {@code -log sigmoid(r_c - r_r - m(rating))}
 * is summed over the pairs.
 * <p>Ours, optional ({@code calibrationWeight}, 0 = off): the ranking loss fixes score differences only, so the
 * absolute level that the recipe's safety threshold (sigmoid(Rs) < 0.15, §3.2.3) reads is arbitrary. A logistic
 * term {@code -log sigmoid(+r)} on responses labelled safe and {@code -log sigmoid(-r)} on unsafe ones anchors
 * sigmoid(Rs) to the probability of being safe.
 */
public final class RewardModelTraining {
    private RewardModelTraining() {}

    /**
     * One comparison, as token ids of prompt + response (the reward model reads the whole exchange).
     * @param chosenSafe / rejectedSafe null when the pair carries no safety label (no calibration term)
     */
    public record TokenPair(int[] chosen, int[] rejected, double margin, Boolean chosenSafe, Boolean rejectedSafe) {}

    /**
     * The calibration weight of unsafe responses that balances the classes: {@code n_safe / n_unsafe} over the
     * labelled responses (1 when either class is absent), so that rare unsafe responses weigh as much in total as
     * the safe ones (ours; the offline stage and the online trainer use the same rule).
     */
    public static double balancedUnsafeWeight(long safe, long unsafe) {
        return safe == 0 || unsafe == 0 ? 1.0 : (double) safe / unsafe;
    }

    /** {@link #balancedUnsafeWeight(long, long)} over the labelled responses of {@code data}. */
    public static double balancedUnsafeWeight(List<TokenPair> data) {
        long[] counts = labelCounts(data);
        return balancedUnsafeWeight(counts[0], counts[1]);
    }

    /** {safe, unsafe} counts of the labelled responses of {@code data}. */
    public static long[] labelCounts(List<TokenPair> data) {
        long safe = 0;
        long unsafe = 0;
        for (TokenPair p : data) {
            for (Boolean label : new Boolean[] {p.chosenSafe(), p.rejectedSafe()}) {
                if (label != null) {
                    safe += label ? 1 : 0;
                    unsafe += label ? 0 : 1;
                }
            }
        }
        return new long[] {safe, unsafe};
    }

    /** Summed loss of a micro-batch of pairs: ranking with margins, plus the weighted calibration term. */
    public static NDArray lossSum(LlamaModel model, List<TokenPair> pairs, int padId, double calibrationWeight) {
        return lossSum(model, pairs, padId, calibrationWeight, 1.0);
    }

    /**
     * As {@link #lossSum(LlamaModel, List, int, double)} with the calibration term of unsafe responses weighted by
     * {@code unsafeWeight} relative to safe ones (ours: unsafe responses are rare, and with equal weights the
     * logistic fit leaves ambiguous ones above P(safe) = 0.5; a weight of n_safe / n_unsafe balances the classes).
     */
    public static NDArray lossSum(LlamaModel model, List<TokenPair> pairs, int padId, double calibrationWeight,
                                  double unsafeWeight) {
        if (!(unsafeWeight > 0)) {
            throw new IllegalArgumentException("unsafe weight must be > 0, got " + unsafeWeight);
        }
        NDManager m = model.weights().manager();
        int n = pairs.size();
        List<int[]> sequences = new ArrayList<>(2 * n);
        float[] margins = new float[n];
        for (int i = 0; i < n; i++) {
            sequences.add(pairs.get(i).chosen());
            margins[i] = (float) pairs.get(i).margin();
        }
        pairs.forEach(p -> sequences.add(p.rejected()));
        NDArray scores = ScalarScorer.lastTokenScores(model, m, sequences, padId); // (2n)
        NDArray chosen = scores.get(new NDIndex("0:" + n));
        NDArray rejected = scores.get(new NDIndex(n + ":"));
        NDArray loss = RankingLoss.lossSum(chosen, rejected, Tensors.of(m, margins, new Shape(n)));
        if (calibrationWeight > 0) {
            // -log sigmoid(sign * r) with sign +1 for safe, -1 for unsafe, 0 (no term) when unlabelled.
            float[] signs = new float[2 * n];
            for (int i = 0; i < n; i++) {
                signs[i] = sign(pairs.get(i).chosenSafe());
                signs[n + i] = sign(pairs.get(i).rejectedSafe());
            }
            NDArray s = Tensors.of(m, signs, new Shape(2L * n));
            float[] weights = new float[2 * n]; // 0 for unlabelled responses
            for (int i = 0; i < 2 * n; i++) {
                weights[i] = signs[i] > 0 ? 1f : signs[i] < 0 ? (float) unsafeWeight : 0f;
            }
            NDArray labelled = Tensors.of(m, weights, new Shape(2L * n));
            NDArray zeros = Tensors.of(m, new float[2 * n], new Shape(2L * n));
            NDArray perResponse = perResponseLogisticLoss(scores.mul(s), zeros).mul(labelled);
            loss = loss.add(perResponse.sum().mul(Tensors.scalar(m, calibrationWeight, loss.getDataType())));
        }
        return loss;
    }

    /** Elementwise -log sigmoid(x - y), the stable softplus form of {@link RankingLoss#loss}. */
    private static NDArray perResponseLogisticLoss(NDArray x, NDArray y) {
        NDManager m = x.getManager();
        NDArray zero = Tensors.scalar(m, 0, x.getDataType());
        NDArray one = Tensors.scalar(m, 1, x.getDataType());
        NDArray z = x.sub(y);
        return z.neg().maximum(zero).add(one.add(z.abs().neg().exp()).log());
    }

    private static float sign(Boolean safe) {
        return safe == null ? 0f : safe ? 1f : -1f;
    }
}
