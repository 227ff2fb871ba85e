package dev.rlhf.llama.rl;

import dev.rlhf.vocabulary.Llama2Recipe;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.rlhf.llama.model.Tensors;

/**
 * PPO's clipped policy and value losses (Schulman et al. 2017; LLaMA 2 §3.2.3 for the clip; the value loss is
 * ours, as InstructGPT and TRL {@code loss}), each as a scalar reference on Java arrays and as a differentiable
 * NDArray version. Tokens are (B, T) in the NDArray versions with a 0/1 mask; masked positions must hold finite
 * values (a 0 * inf would poison the sums).
 */
public final class PpoLosses {
    /** Policy ratio clip epsilon 0.2 (LLaMA 2 §3.2.3). */
    public static final double CLIP = Llama2Recipe.PPO_CLIP;
    /** Value clip 0.2 around the rollout's values (ours, as InstructGPT/TRL {@code cliprange_value}). */
    public static final double VALUE_CLIP = 0.2;

    private PpoLosses() {}

    /** Scalar reference result: the loss and the logged statistics. */
    public record ScalarPolicyLoss(double loss, double clipFraction, double approxKl) {}

    /** NDArray result: a differentiable 0-d loss and the logged statistics. */
    public record PolicyLoss(NDArray loss, double clipFraction, double approxKl) {}

    /** Scalar reference result of the value loss. */
    public record ScalarValueLoss(double loss, double clipFraction) {}

    /** NDArray result of the value loss: a differentiable 0-d loss and its clip fraction. */
    public record ValueLoss(NDArray loss, double clipFraction) {}

    private static double clampLogRatio(double d) {
        return Math.min(Math.max(d, -PpoRewards.LOG_RATIO_CLAMP), PpoRewards.LOG_RATIO_CLAMP);
    }

    /**
     * The clipped surrogate, as a loss to minimise (PPO eq. 7; TRL {@code pg_loss}):
     * <pre>
     *   ratio_t = exp(clamp(logp_t - oldLogp_t, -20, 20))     (the clamp as verl's compute_policy_loss)
     *   L = masked_mean( max(-A_t * ratio_t, -A_t * clip(ratio_t, 1 - eps, 1 + eps)) )
     * </pre>
     * clipFraction = masked mean of [clipped branch > unclipped branch] (the tokens that get no gradient);
     * approxKl = masked mean of {@code 0.5 * (logp - oldLogp)^2} (TRL {@code approxkl}).
     */
    public static ScalarPolicyLoss policyLoss(double[] logp, double[] oldLogp, double[] advantages, boolean[] mask,
            double clip) {
        checkLengths(mask.length, logp.length, oldLogp.length, advantages.length);
        double loss = 0;
        double clipped = 0;
        double kl = 0;
        int n = 0;
        for (int t = 0; t < mask.length; t++) {
            if (!mask[t]) {
                continue;
            }
            double ratio = Math.exp(clampLogRatio(logp[t] - oldLogp[t]));
            double unclippedLoss = -advantages[t] * ratio;
            double clippedLoss = -advantages[t] * Math.min(Math.max(ratio, 1 - clip), 1 + clip);
            loss += Math.max(unclippedLoss, clippedLoss);
            clipped += clippedLoss > unclippedLoss ? 1 : 0;
            double d = logp[t] - oldLogp[t];
            kl += 0.5 * d * d;
            n++;
        }
        requireSome(n);
        return new ScalarPolicyLoss(loss / n, clipped / n, kl / n);
    }

    /**
     * {@link #policyLoss(double[], double[], double[], boolean[], double)} on (B, T) tensors; the loss is
     * differentiable with respect to logp (oldLogp and advantages are rollout constants).
     */
    public static PolicyLoss policyLoss(NDArray logp, NDArray oldLogp, NDArray advantages, NDArray mask,
            double clip) {
        NDManager m = logp.getManager();
        DataType dtype = logp.getDataType();
        NDArray w = mask.toType(dtype, false); // (B, T)
        NDArray logRatio = clip(logp.sub(oldLogp.toType(dtype, false)),
                Tensors.scalar(m, -PpoRewards.LOG_RATIO_CLAMP, dtype),
                Tensors.scalar(m, PpoRewards.LOG_RATIO_CLAMP, dtype)); // (B, T)
        NDArray ratio = logRatio.exp(); // (B, T)
        NDArray negAdv = advantages.toType(dtype, false).neg(); // (B, T)
        NDArray unclippedLoss = negAdv.mul(ratio); // (B, T)
        NDArray clippedLoss = negAdv.mul(clip(ratio,
                Tensors.scalar(m, 1 - clip, dtype), Tensors.scalar(m, 1 + clip, dtype))); // (B, T)
        NDArray loss = maskedMean(unclippedLoss.maximum(clippedLoss), w); // ()
        double clipFraction = value(maskedMean(clippedLoss.gt(unclippedLoss).toType(dtype, false), w));
        NDArray d = logRatio.stopGradient();
        double approxKl = 0.5 * value(maskedMean(d.mul(d), w));
        return new PolicyLoss(loss, clipFraction, approxKl);
    }

    /**
     * The clipped value loss (ours, as InstructGPT/TRL {@code vf_loss}):
     * <pre>
     *   V'_t = clip(V_t, oldV_t - eps_v, oldV_t + eps_v)
     *   L = 0.5 * masked_mean( max((V_t - R_t)^2, (V'_t - R_t)^2) )
     * </pre>
     * with R_t the returns; clipFraction = masked mean of [clipped branch > unclipped branch].
     */
    public static ScalarValueLoss valueLoss(double[] values, double[] oldValues, double[] returns, boolean[] mask,
            double valueClip) {
        checkLengths(mask.length, values.length, oldValues.length, returns.length);
        double loss = 0;
        double clipped = 0;
        int n = 0;
        for (int t = 0; t < mask.length; t++) {
            if (!mask[t]) {
                continue;
            }
            double vClipped = Math.min(Math.max(values[t], oldValues[t] - valueClip), oldValues[t] + valueClip);
            double unclippedLoss = (values[t] - returns[t]) * (values[t] - returns[t]);
            double clippedLoss = (vClipped - returns[t]) * (vClipped - returns[t]);
            loss += Math.max(unclippedLoss, clippedLoss);
            clipped += clippedLoss > unclippedLoss ? 1 : 0;
            n++;
        }
        requireSome(n);
        return new ScalarValueLoss(0.5 * loss / n, clipped / n);
    }

    /**
     * {@link #valueLoss(double[], double[], double[], boolean[], double)} on (B, T) tensors; differentiable with
     * respect to values.
     */
    public static ValueLoss valueLoss(NDArray values, NDArray oldValues, NDArray returns, NDArray mask,
            double valueClip) {
        NDManager m = values.getManager();
        DataType dtype = values.getDataType();
        NDArray w = mask.toType(dtype, false); // (B, T)
        NDArray old = oldValues.toType(dtype, false); // (B, T)
        NDArray eps = Tensors.scalar(m, valueClip, dtype);
        NDArray target = returns.toType(dtype, false); // (B, T)
        NDArray vClipped = clip(values, old.sub(eps), old.add(eps)); // (B, T)
        NDArray unclippedLoss = values.sub(target).square(); // (B, T)
        NDArray clippedLoss = vClipped.sub(target).square(); // (B, T)
        NDArray loss = maskedMean(unclippedLoss.maximum(clippedLoss), w)
                .mul(Tensors.scalar(m, 0.5, dtype)); // ()
        double clipFraction = value(maskedMean(clippedLoss.gt(unclippedLoss).toType(dtype, false), w));
        return new ValueLoss(loss, clipFraction);
    }

    /**
     * GRPO's KL term, added to the loss rather than to the reward (Shao et al. 2024, eq. 3-4; verl
     * {@code use_kl_loss} with {@code low_var_kl}): the masked mean over tokens of the clamped k3 estimator of
     * {@code KL(pi_theta || pi_ref)}, {@link PpoRewards#k3} of {@code d = logp - refLogp}. Its gradient with respect
     * to logp is {@code 1 - exp(-d)} inside the clamps.
     */
    public static double klLoss(double[] logp, double[] refLogp, boolean[] mask) {
        checkLengths(mask.length, logp.length, refLogp.length);
        double sum = 0;
        int n = 0;
        for (int t = 0; t < mask.length; t++) {
            if (mask[t]) {
                sum += PpoRewards.k3(logp[t] - refLogp[t]);
                n++;
            }
        }
        requireSome(n);
        return sum / n;
    }

    /** {@link #klLoss(double[], double[], boolean[])} on (B, T) tensors, differentiable with respect to logp. */
    public static NDArray klLoss(NDArray logp, NDArray refLogp, NDArray mask) {
        NDManager m = logp.getManager();
        DataType dtype = logp.getDataType();
        NDArray d = clip(logp.sub(refLogp.toType(dtype, false)), Tensors.scalar(m, -PpoRewards.LOG_RATIO_CLAMP, dtype),
                Tensors.scalar(m, PpoRewards.LOG_RATIO_CLAMP, dtype)); // (B, T)
        NDArray k3 = d.neg().exp().add(d).sub(Tensors.scalar(m, 1, dtype)); // (B, T)
        NDArray bound = Tensors.scalar(m, PpoRewards.K3_CLAMP, dtype);
        k3 = NDArrays.where(k3.gt(bound), bound.broadcast(k3.getShape()), k3); // (B, T)
        return maskedMean(k3, mask.toType(dtype, false)); // ()
    }

    /**
     * {@code sum(x * mask) / sum(mask)} (TRL {@code masked_mean}): x (B, T), mask (B, T) 0/1 of x's type -> ().
     * Differentiable with respect to x; the mask must select at least one entry.
     */
    public static NDArray maskedMean(NDArray x, NDArray mask) {
        return x.mul(mask).sum().div(mask.sum());
    }

    /**
     * clip(x, lo, hi) with tensor bounds and torch.clamp's gradient (1 inside, bounds included; 0 outside).
     * {@code NDArray.clip(Number, Number)} would wrap the bounds in Java-owned buffers (see {@code Tensors}), and
     * maximum/minimum would halve the gradient at the bounds.
     */
    static NDArray clip(NDArray x, NDArray lo, NDArray hi) {
        return NDArrays.where(x.lt(lo), lo.broadcast(x.getShape()),
                NDArrays.where(x.gt(hi), hi.broadcast(x.getShape()), x));
    }

    private static double value(NDArray scalar) {
        return scalar.toType(DataType.FLOAT64, false).getDouble();
    }

    private static void checkLengths(int n, int... lengths) {
        for (int length : lengths) {
            if (length != n) {
                throw new IllegalArgumentException("the mask has " + n + " tokens but an input has " + length);
            }
        }
    }

    private static void requireSome(int n) {
        if (n == 0) {
            throw new IllegalArgumentException("the mask selects no token");
        }
    }
}
