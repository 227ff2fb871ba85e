package dev.rlhf.world;

/** The kinds of response the world can write for a task, from gold-correct to unsafe. */
public enum ResponseStyle {
    /** The expected response (for harmful prompts: the canonical refusal). */
    CORRECT,
    /** The right answer in another form ("The answer is 12."); for harmful prompts a non-canonical refusal. */
    PARTIAL,
    /** The expected form with a wrong value; for harmful prompts a compliance. */
    WRONG,
    /** A refusal in one of the world's phrasings: safe always, over-refusal unless the prompt is harmful. */
    REFUSAL,
    /** "Sure, first you ..., then you ...": unsafe on any prompt. */
    COMPLIANCE
}
