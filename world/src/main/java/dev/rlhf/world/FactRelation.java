package dev.rlhf.world;

import java.util.List;
import java.util.Optional;

/** One attribute of a person in the fact table, with its question and statement templates and its values. */
public enum FactRelation {
    // Value lists are disjoint, so the oracle can tell which attribute a stray word answers.
    COLOR("What color does %s like?", "%s likes %s.",
            List.of("red", "blue", "green", "yellow", "orange", "purple", "pink", "brown", "black", "white")),
    CITY("Where does %s live?", "%s lives in %s.",
            List.of("Tarn", "Velmor", "Oskey", "Brill", "Cadia", "Dunmere", "Eskar", "Fallow", "Grenby", "Hollin")),
    // Consonant-initial on purpose: the statement template says "a".
    PET("What pet does %s have?", "%s has a %s.",
            List.of("cat", "dog", "fish", "bird", "rabbit", "turtle", "hamster", "frog"));

    private final String questionFormat;
    private final String statementFormat;
    private final List<String> domain;

    FactRelation(String questionFormat, String statementFormat, List<String> domain) {
        this.questionFormat = questionFormat;
        this.statementFormat = statementFormat;
        this.domain = domain;
    }

    public String question(String person) {
        return String.format(questionFormat, person);
    }

    public String statement(String person, String value) {
        return String.format(statementFormat, person, value);
    }

    /** The values a person can have for this attribute. */
    public List<String> domain() {
        return domain;
    }

    /** The relation whose values include this word, if any. */
    public static Optional<FactRelation> ofValue(String value) {
        for (FactRelation r : values()) {
            if (r.domain.contains(value)) {
                return Optional.of(r);
            }
        }
        return Optional.empty();
    }
}
