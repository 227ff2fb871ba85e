package dev.rlhf.world;

import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/** The invented people of the world and their favourite color, home city and pet, drawn from a seed. */
public final class FactTable {
    /** Invented names, so no pre-existing knowledge can answer a lookup. */
    static final List<String> PEOPLE = List.of(
            "Mira", "Tobin", "Alva", "Juno", "Kesh", "Lio", "Nell", "Orin", "Pema", "Quill",
            "Rafi", "Sela", "Tavi", "Uma", "Vero", "Wren", "Yara", "Zeb", "Ansel", "Bria",
            "Cato", "Dara", "Edda", "Fenn", "Gita", "Hale", "Ilse", "Jory", "Kira", "Lark",
            "Milo", "Nika", "Odo", "Pia", "Rune", "Sami", "Teo", "Vada", "Wilf", "Zola");

    private final Map<String, Map<FactRelation, String>> facts;

    private FactTable(Map<String, Map<FactRelation, String>> facts) {
        this.facts = facts;
    }

    public static FactTable generate(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        Map<String, Map<FactRelation, String>> facts = new LinkedHashMap<>();
        for (String person : PEOPLE) {
            Map<FactRelation, String> row = new EnumMap<>(FactRelation.class);
            for (FactRelation r : FactRelation.values()) {
                row.put(r, r.domain().get(random.nextInt(r.domain().size())));
            }
            facts.put(person, row);
        }
        return new FactTable(facts);
    }

    public List<String> people() {
        return PEOPLE;
    }

    public String value(String person, FactRelation relation) {
        Map<FactRelation, String> row = facts.get(person);
        if (row == null) {
            throw new IllegalArgumentException("no such person in the fact table: " + person);
        }
        return row.get(relation);
    }

    /** The true sentence, e.g. "Mira likes blue.". */
    public String statement(String person, FactRelation relation) {
        return relation.statement(person, value(person, relation));
    }
}
