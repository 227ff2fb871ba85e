package dev.rlhf.world;

import java.util.Objects;

/** A supervised fine-tuning demonstration: {@code {"prompt", "response"}}. */
public record SftExample(String prompt, String response) {
    public SftExample {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(response, "response");
    }
}
