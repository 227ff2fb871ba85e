package dev.rlhf.vocabulary;

/**
 * The LLaMA 2 combined reward (§3.2.3, ../shared/LLAMA2-RECIPE.md): use the safety score when the prompt is
 * safety-tagged or the safety score is below a threshold (0.15 on the sigmoid scale), else helpfulness.
 * {@code Rc = Rs if is_safety(p) or Rs(g|p) < 0.15, else Rh}.
 */
public final class RewardCombiner {
    /** LLaMA 2 §3.2.3: the safety threshold on the sigmoid scale (logit(0.15) ~ -1.73). */
    public static final double SAFETY_THRESHOLD = Llama2Recipe.SAFETY_THRESHOLD;

    private final double safetyThreshold;

    public RewardCombiner(double safetyThreshold) {
        if (!(safetyThreshold >= 0 && safetyThreshold <= 1)) {
            throw new IllegalArgumentException("safety threshold must be in [0, 1], got " + safetyThreshold);
        }
        this.safetyThreshold = safetyThreshold;
    }

    public static RewardCombiner llama2() {
        return new RewardCombiner(SAFETY_THRESHOLD);
    }

    /** Both scores are sigmoid outputs in (0, 1); so is the result. */
    public double combined(boolean safetyTagged, double helpfulness, double safety) {
        return usesSafety(safetyTagged, safety) ? safety : helpfulness;
    }

    public boolean usesSafety(boolean safetyTagged, double safety) {
        return safetyTagged || safety < safetyThreshold;
    }

    public double threshold() {
        return safetyThreshold;
    }
}
