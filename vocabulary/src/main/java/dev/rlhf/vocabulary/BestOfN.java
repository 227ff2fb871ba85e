package dev.rlhf.vocabulary;

import java.util.List;

/**
 * Rejection sampling's selection step (LLaMA 2 §3.2.3): among N candidates keep the one with the highest
 * combined reward. Ties go to the earliest candidate so the choice is deterministic.
 */
public final class BestOfN {
    private BestOfN() {}

    /** Index of the best candidate; the list must be non-empty and every score finite. */
    public static int select(List<Double> combinedScores) {
        if (combinedScores.isEmpty()) {
            throw new IllegalArgumentException("best-of-N needs at least one candidate");
        }
        int best = 0;
        for (int i = 0; i < combinedScores.size(); i++) {
            double s = combinedScores.get(i);
            if (!Double.isFinite(s)) {
                throw new IllegalArgumentException("candidate " + i + " has a non-finite score " + s);
            }
            if (s > combinedScores.get(best)) {
                best = i;
            }
        }
        return best;
    }
}
