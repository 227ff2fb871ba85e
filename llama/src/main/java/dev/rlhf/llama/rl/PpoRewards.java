package dev.rlhf.llama.rl;

/**
 * Per-token PPO rewards {@code R(g|p) = R~c(g|p) - beta * KL(pi_theta || pi_0)} and the scalar transforms
 * {@code R~c = WHITEN(LOGIT(Rc))} (LLaMA 2 §3.2.3; see {@code LLAMA2-RECIPE.md}). Choosing Rc between the
 * safety and helpfulness scores happens elsewhere.
 */
public final class PpoRewards {
    /** Probabilities are clamped to [P_EPS, 1 - P_EPS] before the logit so that 0 and 1 stay finite (ours). */
    public static final double P_EPS = 1e-6;

    private PpoRewards() {}

    /**
     * Per-token estimators of {@code KL(pi || pi_ref)} from the sampled token's log-probabilities (Schulman,
     * "Approximating KL divergence", 2020). All three are unbiased or low-bias estimates of the sequence KL when
     * summed over tokens sampled from pi; k1 is the recipe's default (ours, as InstructGPT/TRL).
     */
    public enum KlEstimator {
        /** {@code k1 = logp - logp_ref}; unbiased, can be negative per token. */
        K1,
        /** {@code k2 = 0.5 * (logp - logp_ref)^2}; biased, never negative, low variance. */
        K2,
        /**
         * {@code k3 = (r - 1) - log r} with {@code r = exp(logp_ref - logp)}; unbiased and never negative. Clamped
         * as verl's {@code low_var_kl} does: the log-ratio to [-{@value #LOG_RATIO_CLAMP},
         * {@value #LOG_RATIO_CLAMP}] and the estimate to at most {@value #K3_CLAMP}, so that one token the reference
         * finds near-impossible cannot dominate a batch with exp(50).
         */
        K3;

        /** The estimate for one token. */
        public double estimate(double logp, double refLogp) {
            double d = logp - refLogp;
            return switch (this) {
                case K1 -> d;
                case K2 -> 0.5 * d * d;
                case K3 -> k3(d);
            };
        }
    }

    /** Bound on |log pi - log pi_ref| inside k3 and on |log pi - log pi_old| inside the PPO ratio (verl: 20). */
    public static final double LOG_RATIO_CLAMP = 20;
    /** Bound on one token's k3 estimate (verl {@code low_var_kl}: 10). */
    public static final double K3_CLAMP = 10;

    /** Clamped k3 of {@code d = logp - logp_ref}: {@code min(expm1(-d) + d, K3_CLAMP)} with d clamped first. */
    public static double k3(double d) {
        double c = Math.min(Math.max(d, -LOG_RATIO_CLAMP), LOG_RATIO_CLAMP);
        return Math.min(Math.expm1(-c) + c, K3_CLAMP); // (r - 1) - log r, r = exp(-c); expm1 keeps small c accurate
    }

    /**
     * Rewards for the T tokens of one response (TRL {@code compute_rewards}; ours, standard):
     * <pre>
     *   r_t = -beta * KL_t                 for t < T-1
     *   r_t = -beta * KL_t + scalarReward  for t = T-1
     * </pre>
     * scalarReward is R~c, already logit-transformed and whitened; logprobs and refLogprobs are the sampled
     * tokens' log-probabilities under the policy that generated them and under the initial policy pi_0.
     */
    public static double[] tokenRewards(double scalarReward, float[] logprobs, float[] refLogprobs, double beta,
            KlEstimator est) {
        double[] kl = kl(logprobs, refLogprobs, est);
        if (kl.length == 0) {
            throw new IllegalArgumentException("a response needs at least one token");
        }
        double[] rewards = new double[kl.length];
        for (int t = 0; t < kl.length; t++) {
            rewards[t] = -beta * kl[t];
        }
        rewards[rewards.length - 1] += scalarReward;
        return rewards;
    }

    /** {@link #tokenRewards} with the default estimator k1. */
    public static double[] tokenRewards(double scalarReward, float[] logprobs, float[] refLogprobs, double beta) {
        return tokenRewards(scalarReward, logprobs, refLogprobs, beta, KlEstimator.K1);
    }

    /** The per-token KL estimates (for rewards and for logging their sum per response). */
    public static double[] kl(float[] logprobs, float[] refLogprobs, KlEstimator est) {
        if (logprobs.length != refLogprobs.length) {
            throw new IllegalArgumentException(logprobs.length + " logprobs but " + refLogprobs.length + " ref");
        }
        double[] kl = new double[logprobs.length];
        for (int t = 0; t < kl.length; t++) {
            kl[t] = est.estimate(logprobs[t], refLogprobs[t]);
        }
        return kl;
    }

    /**
     * {@code logit(p) = log(p / (1 - p))}, undoing the reward model's sigmoid (LLaMA 2 §3.2.3), with p clamped
     * to {@code [1e-6, 1 - 1e-6]} (ours) so that saturated scores give +-13.8 instead of infinities.
     */
    public static double logit(double p) {
        double c = Math.min(Math.max(p, P_EPS), 1 - P_EPS);
        return Math.log(c) - Math.log1p(-c);
    }

    /**
     * WHITEN over one batch of scalar rewards: {@code (x - mean) / sqrt(var + 1e-8)} with the unbiased batch
     * variance (LLaMA 2 §3.2.3; per-batch statistics are ours, see {@link Advantages#whiten}). Needs two rewards.
     */
    public static double[] whiten(double[] rewards) {
        return Advantages.whiten(rewards, Advantages.all(rewards.length), true);
    }

    /**
     * Ours, not the recipe's: WHITEN with a per-prompt baseline. The rewards come in consecutive groups of
     * {@code groupSize} responses to the same prompt; each group's mean is subtracted (so a response is rewarded for
     * beating its siblings, not for drawing an easy prompt), then everything is divided by the standard deviation of
     * the centred values over the whole batch, {@code sqrt(var + 1e-8)} (unbiased, over n - groups degrees of
     * freedom). With groupSize 1 there is no per-prompt information and this falls back to {@link #whiten}.
     */
    public static double[] whitenWithinGroups(double[] rewards, int groupSize) {
        if (groupSize < 1 || rewards.length % groupSize != 0) {
            throw new IllegalArgumentException(rewards.length + " rewards do not split into groups of " + groupSize);
        }
        if (groupSize == 1) {
            return whiten(rewards);
        }
        double[] centred = new double[rewards.length];
        double squares = 0;
        for (int g = 0; g < rewards.length; g += groupSize) {
            double mean = 0;
            for (int i = g; i < g + groupSize; i++) {
                mean += rewards[i];
            }
            mean /= groupSize;
            for (int i = g; i < g + groupSize; i++) {
                centred[i] = rewards[i] - mean;
                squares += centred[i] * centred[i];
            }
        }
        int groups = rewards.length / groupSize;
        double scale = 1 / Math.sqrt(squares / (rewards.length - groups) + Advantages.WHITEN_EPS);
        for (int i = 0; i < centred.length; i++) {
            centred[i] *= scale;
        }
        return centred;
    }
}
