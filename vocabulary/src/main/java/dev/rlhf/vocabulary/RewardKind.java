package dev.rlhf.vocabulary;

import java.util.Locale;
import java.util.Optional;

/**
 * The two LLaMA 2 reward models (§3.2.2), one word for every place that names them: which model a reward service
 * serves, which one a preference pair trains, the model name on {@code rlhf.reward-updates}.
 */
public enum RewardKind {
    HELPFULNESS,
    SAFETY;

    /** {@code "helpfulness"} or {@code "safety"}: the JSON value, the update's model name, the service's kind. */
    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The kind named {@code s}, case-insensitively and ignoring surrounding blanks; empty for anything else. */
    public static Optional<RewardKind> find(String s) {
        for (RewardKind k : values()) {
            if (k.name().equalsIgnoreCase(s.strip())) {
                return Optional.of(k);
            }
        }
        return Optional.empty();
    }

    /** As {@link #find}, failing with the accepted names. */
    public static RewardKind parse(String s) {
        return find(s).orElseThrow(() -> new IllegalArgumentException(
                "reward kind must be helpfulness or safety, got '" + s + "'"));
    }
}
