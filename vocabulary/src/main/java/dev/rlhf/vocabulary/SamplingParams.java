package dev.rlhf.vocabulary;

import java.util.List;

/**
 * How to sample: {@code n} samples per prompt, at most {@code maxNewTokens} new tokens each, softmax
 * temperature (0 = greedy), nucleus mass {@code topP} in (0, 1], {@code topK} (0 = off), a seed, and stop
 * strings. The EOS token always stops a sample.
 */
public record SamplingParams(int n, int maxNewTokens, double temperature, double topP, int topK, long seed,
                             List<String> stop) {
    /** Upper bound on samples per prompt (best-of-64 is the largest N in the recipe's sweeps). */
    public static final int MAX_N = 64;

    public SamplingParams {
        stop = stop == null ? List.of() : List.copyOf(stop);
        String error = validationError(n, maxNewTokens, temperature, topP, topK);
        if (error != null) {
            throw new IllegalArgumentException(error);
        }
    }

    public static SamplingParams greedy(int maxNewTokens) {
        return new SamplingParams(1, maxNewTokens, 0, 1, 0, 0, List.of());
    }

    public SamplingParams withN(int newN) {
        return new SamplingParams(newN, maxNewTokens, temperature, topP, topK, seed, stop);
    }

    /**
     * These parameters with a seed derived from the prompt id, so that a prompt processed again (after an aborted
     * transaction or a crash) gets the same candidates from the same policy version: the SplitMix64 finaliser of
     * {@code seed ^ FNV-1a-64(UTF-8 bytes of the id)}, fixed by its definition, unlike {@link String#hashCode()}.
     */
    public SamplingParams forPrompt(String promptId) {
        return withSeed(mix(seed ^ stableHash(promptId)));
    }

    /** 64-bit FNV-1a of the UTF-8 bytes. */
    static long stableHash(String text) {
        long hash = 0xcbf29ce484222325L; // FNV offset basis
        for (byte b : text.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
            hash ^= b & 0xff;
            hash *= 0x100000001b3L; // FNV prime
        }
        return hash;
    }

    /** The SplitMix64 finaliser: ids that differ in one character get unrelated seeds. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    public SamplingParams withSeed(long newSeed) {
        return new SamplingParams(n, maxNewTokens, temperature, topP, topK, newSeed, stop);
    }

    /** The first problem with these values, or null; messages quote the bad number. */
    public static String validationError(int n, int maxNewTokens, double temperature, double topP, int topK) {
        if (n < 1 || n > MAX_N) {
            return "n must be in [1, " + MAX_N + "], got " + n;
        }
        if (maxNewTokens <= 0) {
            return "max_new_tokens must be > 0, got " + maxNewTokens;
        }
        if (Double.isNaN(temperature) || temperature < 0 || Double.isInfinite(temperature)) {
            return "temperature must be a finite number >= 0, got " + temperature;
        }
        if (Double.isNaN(topP) || topP <= 0 || topP > 1) {
            return "top_p must be in (0, 1], got " + topP;
        }
        if (topK < 0) {
            return "top_k must be >= 0 (0 disables it), got " + topK;
        }
        return null;
    }

    public boolean greedy() {
        return temperature == 0;
    }
}
