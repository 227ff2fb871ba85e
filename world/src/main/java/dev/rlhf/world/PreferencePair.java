package dev.rlhf.world;

import dev.rlhf.vocabulary.RewardKind;
import java.util.Objects;

/**
 * One labelled comparison, as on the {@code rlhf.preferences} topic:
 * {@code {"prompt", "chosen", "rejected", "rating", "chosen_safe", "rejected_safe", "kind"}}.
 */
public record PreferencePair(String prompt, String chosen, String rejected, Rating rating, boolean chosenSafe,
                             boolean rejectedSafe, RewardKind kind) {
    public PreferencePair {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(chosen, "chosen");
        Objects.requireNonNull(rejected, "rejected");
        Objects.requireNonNull(rating, "rating");
        Objects.requireNonNull(kind, "kind");
    }
}
