package dev.rlhf.llama.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class LearningRateScheduleTest {
    @Test
    void warmupThenCosineToTenPercent() {
        LearningRateSchedule s = LearningRateSchedule.cosine(1.0, 4, 14);
        assertEquals(0.25, s.at(0), 1e-12);
        assertEquals(1.0, s.at(3), 1e-12);
        assertEquals(1.0, s.at(4), 1e-12); // cosine starts at the peak
        // halfway through the decay (step 9 of 4..14): 0.1 + 0.45 * (1 + cos(pi/2)) = 0.55
        assertEquals(0.55, s.at(9), 1e-12);
        assertEquals(0.1, s.at(14), 1e-12);
        assertEquals(0.1, s.at(100), 1e-12);
    }

    @Test
    void rewardModelWarmupIsThreePercentWithAMinimumOfFive() {
        assertEquals(5, LearningRateSchedule.rewardModelWarmup(10));
        assertEquals(30, LearningRateSchedule.rewardModelWarmup(1000));
    }

    @Test
    void constantScheduleForPpo() {
        LearningRateSchedule s = LearningRateSchedule.constant(1e-6);
        assertEquals(1e-6, s.at(0));
        assertEquals(1e-6, s.at(10_000));
    }
}
