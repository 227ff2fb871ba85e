package dev.rlhf.sampler.domain;

import java.nio.charset.StandardCharsets;

/**
 * Best-of-N sampling settings. Defaults: N = 4 and T = 1.0 **(ours: the paper gives no K; its best
 * temperature for 10-100 samples is 1.2-1.3, LLaMA 2 §3.2.3, configurable)**.
 *
 * @param seed the base seed; {@link #forPrompt} mixes it with a prompt id into the seed of one policy call
 */
public record SamplingSettings(int n, double temperature, double topP, int maxNewTokens, long seed) {
    private static final long FNV_OFFSET_BASIS = 0xcbf29ce484222325L;
    private static final long FNV_PRIME = 0x100000001b3L;

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

    /**
     * These settings with a seed derived from the prompt id, so a prompt processed again (after an aborted
     * transaction or a crash) gets the same candidates from the same policy version.
     */
    public SamplingSettings forPrompt(String promptId) {
        return new SamplingSettings(n, temperature, topP, maxNewTokens, mix(seed ^ stableHash(promptId)));
    }

    /**
     * 64-bit FNV-1a of the UTF-8 bytes: fixed by its definition, unlike {@link String#hashCode()}'s 32 bits or
     * anything that depends on the JVM.
     */
    static long stableHash(String text) {
        long hash = FNV_OFFSET_BASIS;
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            hash ^= b & 0xff;
            hash *= FNV_PRIME;
        }
        return hash;
    }

    /** The SplitMix64 finalizer: ids that differ in one character get unrelated seeds. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
