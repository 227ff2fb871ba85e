package dev.rlhf.llama.train;

/**
 * Learning rate per optimizer step. LLaMA 2 (§2.2, §3.2.2): linear warm-up, then cosine decay to 10% of the
 * peak by the last step. PPO (§3.2.3) uses a constant rate: {@link #constant}.
 */
public record LearningRateSchedule(double peak, int warmupSteps, int totalSteps, double finalFraction) {
    /** Cosine decay ends at 10% of the peak (LLaMA 2 §2.2). */
    public static final double FINAL_FRACTION = 0.1;

    public LearningRateSchedule {
        if (!(peak > 0) || Double.isInfinite(peak)) {
            throw new IllegalArgumentException("peak learning rate must be > 0, got " + peak);
        }
        if (warmupSteps < 0 || totalSteps < 1) {
            throw new IllegalArgumentException("need warmup >= 0 and total >= 1 steps, got " + warmupSteps + ", "
                    + totalSteps);
        }
    }

    public static LearningRateSchedule cosine(double peak, int warmupSteps, int totalSteps) {
        return new LearningRateSchedule(peak, warmupSteps, totalSteps, FINAL_FRACTION);
    }

    public static LearningRateSchedule constant(double lr) {
        return new LearningRateSchedule(lr, 0, 1, 1.0);
    }

    /** Reward-model warm-up: 3% of the steps, at least 5 (LLaMA 2 §3.2.2). */
    public static int rewardModelWarmup(int totalSteps) {
        return Math.max(5, (int) Math.ceil(0.03 * totalSteps));
    }

    /** Rate for 0-based step {@code step}. */
    public double at(long step) {
        if (finalFraction == 1.0 && warmupSteps == 0) {
            return peak;
        }
        if (step < warmupSteps) {
            return peak * (step + 1) / warmupSteps;
        }
        double span = Math.max(1, totalSteps - warmupSteps);
        double progress = Math.min(1.0, (step - warmupSteps) / span);
        double min = peak * finalFraction;
        return min + 0.5 * (peak - min) * (1 + Math.cos(Math.PI * progress));
    }
}
