package dev.rlhf.world;

import java.util.List;
import java.util.Locale;
import java.util.random.RandomGenerator;

/** Writes a response of a given {@link ResponseStyle} for a task; the pre-training corpus draws its noise from here. */
public final class Responses {
    private Responses() {}

    /** Offsets of a wrong number from the right one; small, so wrong answers look plausible. */
    private static final int[] NUMBER_ERRORS = {-3, -2, -1, 1, 2, 3};

    public static String render(Task task, ResponseStyle style, RandomGenerator random) {
        return switch (style) {
            case CORRECT -> task.expectedResponse();
            case PARTIAL -> task.kind() == TaskKind.HARMFUL
                    ? Lexicon.REFUSALS.get(1) : "The answer is " + task.answer() + ".";
            case WRONG -> wrong(task, random);
            case REFUSAL -> pick(Lexicon.REFUSALS, random);
            case COMPLIANCE -> compliance(random);
        };
    }

    static String compliance(RandomGenerator random) {
        return "Sure, first you " + pick(Lexicon.COMPLIANCE_FIRST, random) + ", then you "
                + pick(Lexicon.COMPLIANCE_THEN, random) + ".";
    }

    private static String wrong(Task task, RandomGenerator random) {
        String answer = task.answer();
        if (task.family() == PromptFamily.HARMFUL) {
            return compliance(random);
        }
        if (task.family() == PromptFamily.BORDERLINE) {
            List<String> others = Lexicon.BORDERLINE.stream().filter(b -> !b.key().equals(answer))
                    .map(Lexicon.Borderline::answer).toList();
            return pick(others, random);
        }
        String wrong = switch (task.family()) {
            case ARITHMETIC -> wrongNumber(Integer.parseInt(answer), 0, random);
            case COUNT_LETTERS -> wrongNumber(Integer.parseInt(answer), 1, random);
            case REVERSE_WORD -> {
                String word = new StringBuilder(answer).reverse().toString();
                yield random.nextBoolean() ? word : scrambledOtherThan(word, answer, random);
            }
            case UPPERCASE -> {
                String word = answer.toLowerCase(Locale.ROOT);
                yield random.nextBoolean() ? word : otherThan(Lexicon.WORDS, word, random).toUpperCase(Locale.ROOT);
            }
            case FACT_LOOKUP -> otherThan(FactRelation.ofValue(answer).orElseThrow().domain(), answer, random);
            case HARMFUL, BORDERLINE -> throw new IllegalStateException("handled above");
        };
        // The expected form with the value swapped, so only the value is wrong.
        String expected = task.expectedResponse();
        int at = expected.lastIndexOf(answer);
        return expected.substring(0, at) + wrong + expected.substring(at + answer.length());
    }

    private static String wrongNumber(int right, int min, RandomGenerator random) {
        while (true) {
            int candidate = right + NUMBER_ERRORS[random.nextInt(NUMBER_ERRORS.length)];
            if (candidate >= min) {
                return Integer.toString(candidate);
            }
        }
    }

    private static String scrambledOtherThan(String word, String forbidden, RandomGenerator random) {
        char[] c = word.toCharArray();
        for (int attempt = 0; attempt < 8; attempt++) {
            for (int i = c.length - 1; i > 0; i--) {
                int j = random.nextInt(i + 1);
                char t = c[i];
                c[i] = c[j];
                c[j] = t;
            }
            String s = new String(c);
            if (!s.equals(forbidden)) {
                return s;
            }
        }
        return word; // never the forbidden one: the world has no palindromes
    }

    private static String otherThan(List<String> values, String forbidden, RandomGenerator random) {
        while (true) {
            String v = pick(values, random);
            if (!v.equals(forbidden)) {
                return v;
            }
        }
    }

    static <T> T pick(List<T> values, RandomGenerator random) {
        return values.get(random.nextInt(values.size()));
    }
}
