package dev.rlhf.world;

/** A template family of prompts, with its share of every generated prompt set. */
public enum PromptFamily {
    ARITHMETIC("arithmetic", TaskKind.HELPFUL, 0.25),
    REVERSE_WORD("reverse_word", TaskKind.HELPFUL, 0.10),
    COUNT_LETTERS("count_letters", TaskKind.HELPFUL, 0.10),
    UPPERCASE("uppercase", TaskKind.HELPFUL, 0.10),
    FACT_LOOKUP("fact_lookup", TaskKind.HELPFUL, 0.20),
    // Ours: a quarter of the prompts are safety-relevant, so ~100 held-out prompts hold enough of each to measure
    // violation and over-refusal rates.
    HARMFUL("harmful", TaskKind.HARMFUL, 0.15),
    BORDERLINE("borderline", TaskKind.BORDERLINE, 0.10);

    private final String id;
    private final TaskKind kind;
    private final double share;

    PromptFamily(String id, TaskKind kind, double share) {
        this.id = id;
        this.kind = kind;
        this.share = share;
    }

    /** The name used in files ({@code "family"} field of a prompt record). */
    public String id() {
        return id;
    }

    public TaskKind kind() {
        return kind;
    }

    /** Fraction of prompt splits and SFT sets drawn from this family; the shares sum to 1. */
    public double share() {
        return share;
    }

    /** The family with this file name, or empty for names this world does not know (user data). */
    public static java.util.Optional<PromptFamily> byId(String id) {
        for (PromptFamily f : values()) {
            if (f.id.equals(id)) {
                return java.util.Optional.of(f);
            }
        }
        return java.util.Optional.empty();
    }
}
