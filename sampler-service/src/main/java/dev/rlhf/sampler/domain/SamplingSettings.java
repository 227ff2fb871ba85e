package dev.rlhf.sampler.domain;

/**
 * Best-of-N sampling settings. Defaults: N = 4 and T = 1.0 **(ours: the paper gives no K; its best
 * temperature for 10-100 samples is 1.2-1.3, LLaMA 2 §3.2.3, configurable)**.
 */
public record SamplingSettings(int n, double temperature, double topP, int maxNewTokens, long seed) {
    public SamplingSettings {
        if (n < 1 || n > 64) {
            throw new IllegalArgumentException("n must be in [1, 64], got " + n);
        }
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        }
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("max_new_tokens must be >= 1, got " + maxNewTokens);
        }
    }
}
