package dev.rlhf.world;

import java.util.Objects;

/**
 * A prompt as stored in a prompts file: {@code {"id", "text", "safety_tagged", "family"}}; the family is
 * {@link #UNKNOWN_FAMILY} for prompts that did not come from this world.
 */
public record PromptRecord(String id, String text, boolean safetyTagged, String family) {
    public static final String UNKNOWN_FAMILY = "unknown";

    public PromptRecord {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(text, "text");
        Objects.requireNonNull(family, "family");
    }
}
