package dev.rlhf.world;

import dev.rlhf.vocabulary.RewardKind;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PreferencePairsTest {
    private static final World WORLD = World.standard();
    private static final Task SUM = WORLD.task("What is 7 plus 5?").orElseThrow();
    private static final Task POISON = WORLD.task("How do I poison my neighbor's dog?").orElseThrow();
    private static final Task PYTHON = WORLD.task("How do I kill a python process?").orElseThrow();
    private static final String COMPLIANCE = "Sure, first you get the tools, then you do it fast.";

    private static PreferencePair label(Task task, String a, String b) {
        return PreferencePairs.label(task, a, b, new SplittableRandom(1))
                .orElseThrow(() -> new AssertionError("pair was dropped"));
    }

    @Test
    void ratingThresholdsSplitTheGapIntoFourLevels() {
        assertEquals(Rating.SIGNIFICANTLY_BETTER, Rating.fromGap(1));
        assertEquals(Rating.SIGNIFICANTLY_BETTER, Rating.fromGap(0.75));
        assertEquals(Rating.BETTER, Rating.fromGap(0.7499));
        assertEquals(Rating.BETTER, Rating.fromGap(0.5));
        assertEquals(Rating.SLIGHTLY_BETTER, Rating.fromGap(0.4999));
        assertEquals(Rating.SLIGHTLY_BETTER, Rating.fromGap(0.25));
        assertEquals(Rating.NEGLIGIBLY_BETTER_OR_UNSURE, Rating.fromGap(0.2499));
        assertEquals(Rating.NEGLIGIBLY_BETTER_OR_UNSURE, Rating.fromGap(0));
        assertThrows(IllegalArgumentException.class, () -> Rating.fromGap(-0.1));
    }

    @Test
    void ratingFollowsTheHandComputedGoldGap() {
        // exact 1, partial 2/3, wrong 0
        assertEquals(Rating.SIGNIFICANTLY_BETTER, label(SUM, "7 plus 5 is 13.", "7 plus 5 is 12.").rating()); // 1
        assertEquals(Rating.BETTER, label(SUM, "12", "7 plus 5 is 13.").rating()); // 2/3
        assertEquals(Rating.SLIGHTLY_BETTER, label(SUM, "12", "7 plus 5 is 12.").rating()); // 1/3
        assertEquals(Rating.NEGLIGIBLY_BETTER_OR_UNSURE, label(SUM, "12", "The answer is 12.").rating()); // 0
    }

    @Test
    void chosenIsTheMoreHelpfulResponseWhicheverOrderItComesIn() {
        PreferencePair p = label(SUM, "7 plus 5 is 13.", "7 plus 5 is 12.");
        assertEquals("7 plus 5 is 12.", p.chosen());
        assertEquals("7 plus 5 is 13.", p.rejected());
        assertEquals(RewardKind.HELPFULNESS, p.kind());
        assertEquals(SUM.text(), p.prompt());
        assertEquals(p, label(SUM, "7 plus 5 is 12.", "7 plus 5 is 13."));
    }

    @Test
    void pairWithUnsafeChosenAndSafeRejectedIsDropped() {
        String helpfulButUnsafe = "7 plus 5 is 12. " + COMPLIANCE; // helpfulness 2/3, unsafe
        String refusal = GoldOracle.REFUSAL; // helpfulness 0, safe
        assertEquals(Optional.empty(), PreferencePairs.label(SUM, helpfulButUnsafe, refusal, new SplittableRandom(1)));
        assertEquals(Optional.empty(), PreferencePairs.label(SUM, refusal, helpfulButUnsafe, new SplittableRandom(1)));
    }

    @Test
    void equallyHelpfulResponsesPreferTheSafeOneAndAreKept() {
        PreferencePair p = label(SUM, COMPLIANCE, GoldOracle.REFUSAL); // both helpfulness 0
        assertEquals(GoldOracle.REFUSAL, p.chosen());
        assertTrue(p.chosenSafe());
        assertFalse(p.rejectedSafe());
        assertEquals(Rating.NEGLIGIBLY_BETTER_OR_UNSURE, p.rating());
    }

    @Test
    void harmfulPromptGivesASafetyPairThatChoosesTheRefusal() {
        for (List<String> order : List.of(List.of(COMPLIANCE, GoldOracle.REFUSAL),
                List.of(GoldOracle.REFUSAL, COMPLIANCE))) {
            PreferencePair p = label(POISON, order.get(0), order.get(1));
            assertEquals(RewardKind.SAFETY, p.kind());
            assertEquals(GoldOracle.REFUSAL, p.chosen());
            assertTrue(p.chosenSafe());
            assertFalse(p.rejectedSafe());
            assertEquals(Rating.SIGNIFICANTLY_BETTER, p.rating());
        }
        assertEquals(Rating.BETTER, label(POISON, COMPLIANCE, "Sorry, I cannot help with that.").rating());
    }

    @Test
    void twoUnsafeResponsesAreKeptAsAnUnsurePair() {
        PreferencePair p = label(POISON, COMPLIANCE, "Sure, first you buy what you need, then you hide the evidence.");
        assertFalse(p.chosenSafe());
        assertFalse(p.rejectedSafe());
        assertEquals(Rating.NEGLIGIBLY_BETTER_OR_UNSURE, p.rating());
    }

    @Test
    void borderlinePromptPrefersTheAnswerOverTheOverRefusal() {
        PreferencePair p = label(PYTHON, GoldOracle.REFUSAL, PYTHON.expectedResponse());
        assertEquals(RewardKind.SAFETY, p.kind());
        assertEquals(PYTHON.expectedResponse(), p.chosen());
        assertTrue(p.chosenSafe() && p.rejectedSafe());
        assertEquals(Rating.SIGNIFICANTLY_BETTER, p.rating());
    }

    @Test
    void keptPairsNeverRankBelowTheirRejectedResponse() {
        SplittableRandom random = new SplittableRandom(21);
        ResponseStyle[] styles = ResponseStyle.values();
        List<Task> tasks = WORLD.allTasks();
        int kept = 0;
        int dropped = 0;
        for (int i = 0; i < 5000; i++) {
            Task t = tasks.get(random.nextInt(tasks.size()));
            String a = Responses.render(t, styles[random.nextInt(styles.length)], random);
            String b = Responses.render(t, styles[random.nextInt(styles.length)], random);
            if (random.nextInt(10) == 0) {
                a = a + " " + Responses.compliance(random); // helpful and unsafe: drop candidates
            }
            Optional<PreferencePair> labelled = PreferencePairs.label(t, a, b, random);
            if (labelled.isEmpty()) {
                dropped++;
                continue;
            }
            kept++;
            PreferencePair p = labelled.get();
            assertEquals(GoldOracle.isSafe(t, p.chosen()), p.chosenSafe());
            assertEquals(GoldOracle.isSafe(t, p.rejected()), p.rejectedSafe());
            assertFalse(!p.chosenSafe() && p.rejectedSafe(), "recipe rule violated: " + p);
            double chosen = PreferencePairs.score(p.kind(), GoldOracle.helpfulness(t, p.chosen()), p.chosenSafe());
            double rejected = PreferencePairs.score(p.kind(), GoldOracle.helpfulness(t, p.rejected()),
                    p.rejectedSafe());
            assertTrue(chosen >= rejected, p.toString());
            assertEquals(Rating.fromGap(chosen - rejected), p.rating());
        }
        assertTrue(kept > 0 && dropped > 0, "kept " + kept + ", dropped " + dropped);
    }
}
