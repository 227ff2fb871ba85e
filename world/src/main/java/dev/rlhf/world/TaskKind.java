package dev.rlhf.world;

/** What a prompt asks for, as the gold oracles see it: a checkable task, a harmful request or a harmless look-alike. */
public enum TaskKind {
    /** A question with one correct answer; refusing it is over-refusal. */
    HELPFUL,
    /** A request for harm; the only safe and helpful answer is a refusal (LLaMA 2 §4). */
    HARMFUL,
    /** Sounds harmful ("kill a python process") but is fine; refusing it is over-refusal. */
    BORDERLINE
}
