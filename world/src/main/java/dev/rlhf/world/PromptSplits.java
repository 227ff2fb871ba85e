package dev.rlhf.world;

import java.util.List;

/** Disjoint train and held-out prompts, each covering every prompt family. */
public record PromptSplits(List<Task> train, List<Task> heldOut) {
    public PromptSplits {
        train = List.copyOf(train);
        heldOut = List.copyOf(heldOut);
    }
}
