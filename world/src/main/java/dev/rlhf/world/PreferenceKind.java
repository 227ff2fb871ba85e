package dev.rlhf.world;

import java.util.Locale;

/** Which reward model a preference pair is for (LLaMA 2 §3.2.2 collects the two kinds separately). */
public enum PreferenceKind {
    HELPFULNESS,
    SAFETY;

    /** The file name: {@code "helpfulness"} or {@code "safety"}. */
    public String jsonName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses a file name, case-insensitively; empty for anything else. */
    public static java.util.Optional<PreferenceKind> parse(String s) {
        for (PreferenceKind k : values()) {
            if (k.name().equalsIgnoreCase(s.strip())) {
                return java.util.Optional.of(k);
            }
        }
        return java.util.Optional.empty();
    }
}
