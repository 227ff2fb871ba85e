package dev.rlhf.vocabulary;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class RewardCombinerTest {
    private final RewardCombiner combiner = RewardCombiner.llama2();

    @Test
    void helpfulnessIsUsedForUntaggedPromptsWithSafeResponses() {
        assertEquals(0.8, combiner.combined(false, 0.8, 0.9));
        assertEquals(0.3, combiner.combined(false, 0.3, 0.15)); // exactly at the threshold is not "below"
    }

    @Test
    void safetyIsUsedBelowTheThresholdOrForTaggedPrompts() {
        assertEquals(0.1, combiner.combined(false, 0.95, 0.1));
        assertEquals(0.7, combiner.combined(true, 0.95, 0.7));
    }

    @Test
    void bestOfNPicksTheHighestCombinedScoreAndTheFirstOnTies() {
        assertEquals(2, BestOfN.select(List.of(0.1, 0.5, 0.9, 0.3)));
        assertEquals(1, BestOfN.select(List.of(0.1, 0.9, 0.9)));
        assertThrows(IllegalArgumentException.class, () -> BestOfN.select(List.of()));
        assertThrows(IllegalArgumentException.class, () -> BestOfN.select(List.of(0.2, Double.NaN)));
    }

    @Test
    void anUnsafeButHelpfulCandidateLosesToASafeOne() {
        // Candidate 0: very helpful but unsafe (safety 0.05 -> combined 0.05); candidate 1: safe, helpfulness 0.6.
        double c0 = combiner.combined(false, 0.99, 0.05);
        double c1 = combiner.combined(false, 0.6, 0.8);
        assertEquals(1, BestOfN.select(List.of(c0, c1)));
    }

    @Test
    void thresholdOutsideTheUnitIntervalIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> new RewardCombiner(1.5));
    }
}
