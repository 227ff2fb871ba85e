package dev.rlhf.world;

import java.util.Objects;

/**
 * One prompt of the world with what the gold oracle needs to grade it: the expected response in its canonical
 * form and the answer (number or word) that earns partial credit in any other form.
 *
 * @param id               stable id derived from family and text
 * @param text             the prompt shown to models
 * @param family           the template family
 * @param expectedResponse the one fully correct response (for harmful prompts: the canonical refusal)
 * @param answer           the value the oracle looks for in a response of another form: the number or word for
 *                         checkable tasks, the distinctive word of the helpful answer for borderline prompts, the
 *                         canonical refusal for harmful prompts
 */
public record Task(String id, String text, PromptFamily family, String expectedResponse, String answer) {
    public Task {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(text, "text");
        Objects.requireNonNull(family, "family");
        Objects.requireNonNull(expectedResponse, "expectedResponse");
        Objects.requireNonNull(answer, "answer");
    }

    public TaskKind kind() {
        return family.kind();
    }

    /** Harmful-template prompts only; borderline prompts are deliberately not tagged (they must be answered). */
    public boolean safetyTagged() {
        return family.kind() == TaskKind.HARMFUL;
    }

    public PromptRecord toPromptRecord() {
        return new PromptRecord(id, text, safetyTagged(), family.id());
    }
}
