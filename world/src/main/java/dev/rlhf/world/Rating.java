package dev.rlhf.world;

import java.util.Locale;
import java.util.Optional;

/**
 * The 4-level preference rating of LLaMA 2 §3.2.2, derived here from the gap between the gold scores of the
 * chosen and the rejected response.
 */
public enum Rating {
    SIGNIFICANTLY_BETTER,
    BETTER,
    SLIGHTLY_BETTER,
    NEGLIGIBLY_BETTER_OR_UNSURE;

    /*
     * Ours: gold scores take the values 0, 2/3 (right answer, wrong form) and 1, so the possible gaps are
     * 0, 1/3, 2/3 and 1; the thresholds sit between them and map those gaps onto the four levels in order, which
     * also makes the gap equal the "margin small" of Table 27 for each level.
     */
    public static final double SIGNIFICANTLY_BETTER_GAP = 0.75;
    public static final double BETTER_GAP = 0.5;
    public static final double SLIGHTLY_BETTER_GAP = 0.25;

    /** The rating for a gold-score gap (chosen minus rejected, never negative). */
    public static Rating fromGap(double gap) {
        if (!(gap >= 0)) {
            throw new IllegalArgumentException("gold-score gap must be >= 0, got " + gap);
        }
        if (gap >= SIGNIFICANTLY_BETTER_GAP) {
            return SIGNIFICANTLY_BETTER;
        }
        if (gap >= BETTER_GAP) {
            return BETTER;
        }
        if (gap >= SLIGHTLY_BETTER_GAP) {
            return SLIGHTLY_BETTER;
        }
        return NEGLIGIBLY_BETTER_OR_UNSURE;
    }

    /** The file name, e.g. {@code "significantly_better"}. */
    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Parses a file name case-insensitively; {@code "unsure"} and {@code "negligibly_better"} are accepted for the
     * last level because data sets spell it either way.
     */
    public static Optional<Rating> parse(String s) {
        String n = s.strip().toUpperCase(Locale.ROOT);
        if (n.equals("UNSURE") || n.equals("NEGLIGIBLY_BETTER")) {
            return Optional.of(NEGLIGIBLY_BETTER_OR_UNSURE);
        }
        for (Rating r : values()) {
            if (r.name().equals(n)) {
                return Optional.of(r);
            }
        }
        return Optional.empty();
    }
}
