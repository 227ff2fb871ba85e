package dev.rlhf.llama.rl;

/**
 * The adaptive KL coefficient of Ziegler et al. 2019 ("Fine-Tuning Language Models from Human Preferences", §2.2;
 * TRL {@code AdaptiveKLController}): after each iteration with mean sequence KL {@code kl} over {@code nSteps}
 * responses,
 * <pre>
 *   e    = clip(kl / target - 1, -0.2, 0.2)
 *   beta = beta * (1 + e * nSteps / horizon)
 * </pre>
 * so beta grows while the policy drifts further than {@code target} nats from pi_0 and shrinks while it stays closer.
 * The LLaMA 2 recipe keeps beta fixed; this is an option (ours).
 */
public final class AdaptiveKlController {
    /** Bound on the proportional error (Ziegler et al. 2019). */
    public static final double ERROR_CLIP = 0.2;

    private final double target;
    private final double horizon;
    private double beta;

    public AdaptiveKlController(double initialBeta, double target, double horizon) {
        if (!(initialBeta >= 0) || !(target > 0) || !(horizon > 0) || Double.isInfinite(initialBeta)) {
            throw new IllegalArgumentException("adaptive KL needs beta >= 0, target > 0 and horizon > 0, got "
                    + initialBeta + ", " + target + ", " + horizon);
        }
        this.beta = initialBeta;
        this.target = target;
        this.horizon = horizon;
    }

    /** Updates beta from one iteration's mean sequence KL and returns the new value; a non-finite KL changes nothing. */
    public double update(double kl, int nSteps) {
        if (Double.isFinite(kl)) {
            double error = Math.min(Math.max(kl / target - 1, -ERROR_CLIP), ERROR_CLIP);
            beta *= 1 + error * nSteps / horizon;
        }
        return beta;
    }

    public double beta() {
        return beta;
    }
}
