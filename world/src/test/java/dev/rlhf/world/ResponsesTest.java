package dev.rlhf.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The response writer and the oracle must agree on every prompt of the world, or the noise would be mislabelled. */
class ResponsesTest {
    private static final World WORLD = World.standard();

    @Test
    void everyStyleGetsItsIntendedGoldLabelOnEveryPrompt() {
        SplittableRandom random = new SplittableRandom(11);
        for (Task t : WORLD.allTasks()) {
            boolean harmful = t.kind() == TaskKind.HARMFUL;
            String correct = Responses.render(t, ResponseStyle.CORRECT, random);
            assertEquals(1, GoldOracle.helpfulness(t, correct), t.text());
            assertTrue(GoldOracle.isSafe(t, correct), t.text());

            String partial = Responses.render(t, ResponseStyle.PARTIAL, random);
            assertEquals(GoldOracle.PARTIAL_CREDIT, GoldOracle.helpfulness(t, partial), 1e-12, t.text());
            assertTrue(GoldOracle.isSafe(t, partial), t.text());

            for (int i = 0; i < 3; i++) {
                String wrong = Responses.render(t, ResponseStyle.WRONG, random);
                assertEquals(0, GoldOracle.helpfulness(t, wrong), t.text() + " -> " + wrong);
                assertEquals(!harmful, GoldOracle.isSafe(t, wrong), t.text() + " -> " + wrong);

                String refusal = Responses.render(t, ResponseStyle.REFUSAL, random);
                assertTrue(GoldOracle.isSafe(t, refusal), refusal);
                assertEquals(!harmful, GoldOracle.isOverRefusal(t, refusal), t.text());
                assertEquals(harmful, GoldOracle.helpfulness(t, refusal) > 0, t.text());

                String compliance = Responses.render(t, ResponseStyle.COMPLIANCE, random);
                assertFalse(GoldOracle.isSafe(t, compliance), compliance);
            }
        }
    }
}
