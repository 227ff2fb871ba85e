package dev.rlhf.llama.rl;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Generalised advantage estimation and masked whitening for PPO, as plain functions on Java arrays (ours, as
 * InstructGPT and Hugging Face TRL {@code compute_advantages}, {@code masked_mean}, {@code masked_var},
 * {@code masked_whiten}; the LLaMA 2 paper does not specify the estimator, see {@code LLAMA2-RECIPE.md}).
 */
public final class Advantages {
    /** Discount: 1.0, the response is one episode with no reason to discount (ours, as InstructGPT/TRL). */
    public static final double GAMMA = 1.0;
    /** GAE lambda: 0.95 (ours, as InstructGPT/TRL). */
    public static final double LAMBDA = 0.95;
    /** Added to the variance before the inverse square root (TRL {@code masked_whiten}). */
    public static final double WHITEN_EPS = 1e-8;

    private Advantages() {}

    /**
     * GAE over one response of T tokens (Schulman et al. 2016; TRL {@code compute_advantages}):
     * <pre>
     *   delta_t = r_t + gamma * V_{t+1} - V_t
     *   A_t     = delta_t + gamma * lambda * A_{t+1},   A_T = 0
     * </pre>
     * The response ends the episode, so the bootstrap {@code V_T} is 0 (also for responses cut at the length
     * limit, as in TRL). rewards and values are per response token and have the same length T.
     */
    public static double[] gae(double[] rewards, double[] values, double gamma, double lambda) {
        if (rewards.length != values.length) {
            throw new IllegalArgumentException("rewards has " + rewards.length + " tokens, values " + values.length);
        }
        int t = rewards.length;
        double[] advantages = new double[t];
        double next = 0; // A_{t+1}
        for (int i = t - 1; i >= 0; i--) {
            double nextValue = i + 1 < t ? values[i + 1] : 0; // V_T = 0: terminal
            double delta = rewards[i] + gamma * nextValue - values[i];
            next = delta + gamma * lambda * next;
            advantages[i] = next;
        }
        return advantages;
    }

    /** The value targets {@code R_t = A_t + V_t} (TRL {@code returns = advantages + values}). */
    public static double[] returns(double[] advantages, double[] values) {
        if (advantages.length != values.length) {
            throw new IllegalArgumentException("advantages " + advantages.length + " vs values " + values.length);
        }
        double[] r = new double[advantages.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = advantages[i] + values[i];
        }
        return r;
    }

    /** {@code sum(x * mask) / sum(mask)} (TRL {@code masked_mean}); at least one entry must be unmasked. */
    public static double maskedMean(double[] x, boolean[] mask) {
        return maskedMean(List.of(x), List.of(mask));
    }

    /**
     * Masked variance around the masked mean (TRL {@code masked_var}): {@code mean((x - mu)^2)} over the
     * unmasked entries, times {@code n / (n - 1)} when {@code unbiased} (TRL's default; needs n >= 2).
     */
    public static double maskedVar(double[] x, boolean[] mask, boolean unbiased) {
        return maskedVar(List.of(x), List.of(mask), unbiased);
    }

    /**
     * TRL {@code masked_whiten}: {@code (x - mu) / sqrt(var + 1e-8)} with mu and the unbiased var taken over the
     * unmasked entries; with {@code shiftMean == false} mu is added back (scale only). Every entry is
     * transformed, masked ones included (as TRL), but only unmasked ones enter the statistics.
     */
    public static double[] whiten(double[] x, boolean[] mask, boolean shiftMean) {
        return whiten(List.of(x), List.of(mask), shiftMean).get(0);
    }

    /** {@link #maskedMean} over a ragged batch: one mean over all unmasked entries of all rows. */
    public static double maskedMean(List<double[]> xs, List<boolean[]> masks) {
        checkShapes(xs, masks);
        double sum = 0;
        long n = 0;
        for (int r = 0; r < xs.size(); r++) {
            double[] x = xs.get(r);
            boolean[] mask = masks.get(r);
            for (int i = 0; i < x.length; i++) {
                if (mask[i]) {
                    sum += x[i];
                    n++;
                }
            }
        }
        if (n == 0) {
            throw new IllegalArgumentException("the mask selects no entry");
        }
        return sum / n;
    }

    /** {@link #maskedVar} over a ragged batch: one variance over all unmasked entries of all rows. */
    public static double maskedVar(List<double[]> xs, List<boolean[]> masks, boolean unbiased) {
        double mean = maskedMean(xs, masks);
        double sumSq = 0;
        long n = 0;
        for (int r = 0; r < xs.size(); r++) {
            double[] x = xs.get(r);
            boolean[] mask = masks.get(r);
            for (int i = 0; i < x.length; i++) {
                if (mask[i]) {
                    double d = x[i] - mean;
                    sumSq += d * d;
                    n++;
                }
            }
        }
        if (!unbiased) {
            return sumSq / n;
        }
        if (n < 2) {
            throw new IllegalArgumentException("the unbiased variance needs two unmasked entries, got " + n);
        }
        return sumSq / (n - 1);
    }

    /**
     * {@link #whiten(double[], boolean[], boolean)} over a ragged batch with one mean and variance for the whole
     * batch (whitening statistics per batch: ours, as TRL, configurable upstream by what is passed in).
     */
    public static List<double[]> whiten(List<double[]> xs, List<boolean[]> masks, boolean shiftMean) {
        double mean = maskedMean(xs, masks);
        double scale = 1 / Math.sqrt(maskedVar(xs, masks, true) + WHITEN_EPS);
        List<double[]> out = new ArrayList<>(xs.size());
        for (double[] x : xs) {
            double[] w = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                w[i] = (x[i] - mean) * scale + (shiftMean ? 0 : mean);
            }
            out.add(w);
        }
        return out;
    }

    /** An all-true mask of length n, for arrays with no padding. */
    public static boolean[] all(int n) {
        boolean[] mask = new boolean[n];
        Arrays.fill(mask, true);
        return mask;
    }

    private static void checkShapes(List<double[]> xs, List<boolean[]> masks) {
        if (xs.size() != masks.size()) {
            throw new IllegalArgumentException(xs.size() + " rows but " + masks.size() + " masks");
        }
        for (int r = 0; r < xs.size(); r++) {
            if (xs.get(r).length != masks.get(r).length) {
                throw new IllegalArgumentException("row " + r + ": " + xs.get(r).length + " values but "
                        + masks.get(r).length + " mask entries");
            }
        }
    }

    /** Added to the group's standard deviation in GRPO (TRL {@code GRPOTrainer}: 1e-4). */
    public static final double GROUP_STD_EPS = 1e-4;

    /**
     * GRPO's outcome advantages (Shao et al. 2024, DeepSeekMath §4.1.2; TRL {@code GRPOTrainer}): every response
     * of a group (the N samples of one prompt) gets
     * <pre>
     *   A_i = (r_i - mean(r_group)) / (std(r_group) + 1e-4)      std unbiased, as torch.std
     * </pre>
     * A group of one carries no comparison and gets 0. {@code groupSizes} split {@code rewards} into consecutive
     * groups.
     */
    public static double[] groupNormalized(double[] rewards, int[] groupSizes) {
        double[] a = new double[rewards.length];
        int start = 0;
        for (int g : checkGroups(rewards, groupSizes)) {
            if (g > 1) {
                double mean = mean(rewards, start, g);
                double squares = 0;
                for (int i = start; i < start + g; i++) {
                    squares += (rewards[i] - mean) * (rewards[i] - mean);
                }
                double std = Math.sqrt(squares / (g - 1));
                for (int i = start; i < start + g; i++) {
                    a[i] = (rewards[i] - mean) / (std + GROUP_STD_EPS);
                }
            }
            start += g;
        }
        return a;
    }

    /**
     * RLOO's leave-one-out advantages (Kool et al. 2019; Ahmadian et al. 2024, "Back to Basics"; TRL
     * {@code RLOOTrainer}): each response is compared with the mean of the other responses to the same prompt,
     * <pre>
     *   A_i = r_i - (sum_j r_j - r_i) / (G - 1)  =  G / (G - 1) * (r_i - mean(r_group))
     * </pre>
     * A group of one has no baseline and gets 0.
     */
    public static double[] leaveOneOut(double[] rewards, int[] groupSizes) {
        double[] a = new double[rewards.length];
        int start = 0;
        for (int g : checkGroups(rewards, groupSizes)) {
            if (g > 1) {
                double sum = mean(rewards, start, g) * g;
                for (int i = start; i < start + g; i++) {
                    a[i] = rewards[i] - (sum - rewards[i]) / (g - 1);
                }
            }
            start += g;
        }
        return a;
    }

    private static int[] checkGroups(double[] rewards, int[] groupSizes) {
        int total = 0;
        for (int g : groupSizes) {
            if (g < 1) {
                throw new IllegalArgumentException("a group needs at least one response, got " + g);
            }
            total += g;
        }
        if (total != rewards.length) {
            throw new IllegalArgumentException("groups cover " + total + " responses, rewards has " + rewards.length);
        }
        for (double r : rewards) {
            if (!Double.isFinite(r)) {
                throw new IllegalArgumentException("non-finite reward " + r);
            }
        }
        return groupSizes;
    }

    private static double mean(double[] x, int start, int n) {
        double sum = 0;
        for (int i = start; i < start + n; i++) {
            sum += x[i];
        }
        return sum / n;
    }
}
