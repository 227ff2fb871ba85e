package dev.rlhf.llama.rl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.rlhf.llama.rl.PpoRewards.KlEstimator;
import org.junit.jupiter.api.Test;

class PpoRewardsTest {
    // logp - logp_ref = (-1.0 + 1.5, -2.0 + 1.0, -0.5 + 0.5) = (0.5, -1.0, 0); beta = 0.1; scalar reward 2.0
    private static final float[] LOGP = {-1.0f, -2.0f, -0.5f};
    private static final float[] REF = {-1.5f, -1.0f, -0.5f};

    @Test
    void k1PenaltyIsTheLogRatio() {
        // k1 = (0.5, -1.0, 0) -> -0.1 * k1 = (-0.05, 0.1, 0), + 2.0 on the last token
        assertArrayEquals(new double[] {-0.05, 0.1, 2.0},
                PpoRewards.tokenRewards(2.0, LOGP, REF, 0.1, KlEstimator.K1), 1e-12);
        assertArrayEquals(new double[] {-0.05, 0.1, 2.0}, PpoRewards.tokenRewards(2.0, LOGP, REF, 0.1), 1e-12);
    }

    @Test
    void k2PenaltyIsHalfTheSquaredLogRatio() {
        // k2 = 0.5 * (0.25, 1.0, 0) = (0.125, 0.5, 0) -> (-0.0125, -0.05, 0 + 2.0)
        assertArrayEquals(new double[] {-0.0125, -0.05, 2.0},
                PpoRewards.tokenRewards(2.0, LOGP, REF, 0.1, KlEstimator.K2), 1e-12);
    }

    @Test
    void k3PenaltyIsRatioMinusOneMinusLogRatio() {
        // r = exp(ref - logp) = (e^-0.5, e^1, e^0); k3 = (r - 1) - log r:
        //   t0: 0.6065306597126334 - 1 + 0.5 = 0.10653065971263342
        //   t1: 2.718281828459045 - 1 - 1   = 0.7182818284590451
        //   t2: 1 - 1 - 0                   = 0
        // -> (-0.010653065971263342, -0.07182818284590451, 0 + 2.0)
        assertArrayEquals(new double[] {-0.010653065971263342, -0.07182818284590451, 2.0},
                PpoRewards.tokenRewards(2.0, LOGP, REF, 0.1, KlEstimator.K3), 1e-12);
    }

    @Test
    void theScalarRewardLandsOnTheLastTokenOnly() {
        float[] same = {-0.3f, -1.2f, -0.7f, -2.0f}; // logp == ref: every KL estimate is 0
        for (KlEstimator est : KlEstimator.values()) {
            assertArrayEquals(new double[] {0, 0, 0, 1.25}, PpoRewards.tokenRewards(1.25, same, same, 0.01, est), 0);
        }
    }

    @Test
    void logitUndoesTheSigmoidAndClampsTheEnds() {
        assertEquals(0.0, PpoRewards.logit(0.5), 1e-15);
        // log(0.15 / 0.85) = -1.7346010553881064, the recipe's safety threshold on the logit scale
        assertEquals(-1.7346010553881064, PpoRewards.logit(0.15), 1e-12);
        // clamped: log(1e-6 / (1 - 1e-6)) = -13.815509557963773, and the mirror image at 1
        assertEquals(-13.815509557963773, PpoRewards.logit(0.0), 1e-9);
        assertEquals(13.815509557963773, PpoRewards.logit(1.0), 1e-9);
        assertEquals(2.0, PpoRewards.logit(1 / (1 + Math.exp(-2.0))), 1e-12);
    }

    @Test
    void whitenOfABatchOfScalarRewards() {
        // (1, 2, 3): mean 2, unbiased var (1 + 0 + 1) / 2 = 1 -> (-1, 0, 1) up to 1 / sqrt(1 + 1e-8)
        assertArrayEquals(new double[] {-1, 0, 1}, PpoRewards.whiten(new double[] {1, 2, 3}), 1e-8);
    }

    /**
     * Hand-computed: groups (1, 3) and (10, 14) centre to (-1, 1) and (-2, 2); squares sum to 10 over 4 - 2 = 2
     * degrees of freedom, so the scale is 1 / sqrt(5).
     */
    @Test
    void groupWhiteningSubtractsEachPromptsMeanAndScalesByThePooledDeviation() {
        double[] w = PpoRewards.whitenWithinGroups(new double[] {1, 3, 10, 14}, 2);
        double s = Math.sqrt(5 + Advantages.WHITEN_EPS);
        org.junit.jupiter.api.Assertions.assertArrayEquals(new double[] {-1 / s, 1 / s, -2 / s, 2 / s}, w, 1e-12);
        org.junit.jupiter.api.Assertions.assertArrayEquals(PpoRewards.whiten(new double[] {1, 3, 10, 14}),
                PpoRewards.whitenWithinGroups(new double[] {1, 3, 10, 14}, 1), 0, "group size 1 = batch whitening");
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> PpoRewards.whitenWithinGroups(new double[] {1, 2, 3}, 2));
    }
}
