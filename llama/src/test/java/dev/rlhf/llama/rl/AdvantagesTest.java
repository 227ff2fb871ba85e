package dev.rlhf.llama.rl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class AdvantagesTest {
    private static final double[] REWARDS = {0.1, -0.2, 0.0, 1.0};
    private static final double[] VALUES = {0.5, 0.4, 0.6, 0.8};

    @Test
    void gaeWithGammaOneLambdaPointNineFiveMatchesTheHandRecursion() {
        // deltas, V_4 = 0 (end of response):
        //   d3 = 1.0  + 1 * 0   - 0.8 =  0.2
        //   d2 = 0.0  + 1 * 0.8 - 0.6 =  0.2
        //   d1 = -0.2 + 1 * 0.6 - 0.4 =  0.0
        //   d0 = 0.1  + 1 * 0.4 - 0.5 =  0.0
        // backward, gamma * lambda = 0.95:
        //   A3 = 0.2
        //   A2 = 0.2 + 0.95 * 0.2    = 0.39
        //   A1 = 0.0 + 0.95 * 0.39   = 0.3705
        //   A0 = 0.0 + 0.95 * 0.3705 = 0.351975
        double[] a = Advantages.gae(REWARDS, VALUES, Advantages.GAMMA, Advantages.LAMBDA);
        assertArrayEquals(new double[] {0.351975, 0.3705, 0.39, 0.2}, a, 1e-12);
        // returns = A + V = (0.351975 + 0.5, 0.3705 + 0.4, 0.39 + 0.6, 0.2 + 0.8)
        assertArrayEquals(new double[] {0.851975, 0.7705, 0.99, 1.0}, Advantages.returns(a, VALUES), 1e-12);
    }

    @Test
    void gaeWithLambdaOneIsDiscountedReturnMinusValue() {
        // gamma = 0.9, discounted returns G_t = r_t + 0.9 G_{t+1}:
        //   G3 = 1.0, G2 = 0 + 0.9 * 1.0 = 0.9, G1 = -0.2 + 0.9 * 0.9 = 0.61, G0 = 0.1 + 0.9 * 0.61 = 0.649
        // A = G - V = (0.649 - 0.5, 0.61 - 0.4, 0.9 - 0.6, 1.0 - 0.8)
        double[] a = Advantages.gae(REWARDS, VALUES, 0.9, 1.0);
        assertArrayEquals(new double[] {0.149, 0.21, 0.3, 0.2}, a, 1e-12);
    }

    @Test
    void gaeRejectsMismatchedLengths() {
        assertThrows(IllegalArgumentException.class, () -> Advantages.gae(REWARDS, new double[3], 1, 0.95));
    }

    // x = (1, 2, 3, 4 | 100 masked out): mean 2.5; squared deviations 2.25, 0.25, 0.25, 2.25 sum to 5,
    // so the biased var is 5/4 = 1.25 and the unbiased var 5/3.
    private static final double[] X = {1, 2, 3, 4, 100};
    private static final boolean[] MASK = {true, true, true, true, false};

    @Test
    void maskedStatisticsIgnoreMaskedEntries() {
        assertEquals(2.5, Advantages.maskedMean(X, MASK), 1e-12);
        assertEquals(1.25, Advantages.maskedVar(X, MASK, false), 1e-12);
        assertEquals(5.0 / 3.0, Advantages.maskedVar(X, MASK, true), 1e-12);
    }

    @Test
    void whitenGivesZeroMeanUnitVarianceOnTheMaskedEntries() {
        // (x - 2.5) / sqrt(5/3) = (-1.5, -0.5, 0.5, 1.5) * sqrt(3/5), sqrt(3/5) = 0.7745966692414834
        double[] w = Advantages.whiten(X, MASK, true);
        assertArrayEquals(new double[] {-1.161895003862225, -0.3872983346207417, 0.3872983346207417,
            1.161895003862225}, Arrays.copyOf(w, 4), 1e-7);
        assertEquals(0.0, Advantages.maskedMean(w, MASK), 1e-12);
        assertEquals(1.0, Advantages.maskedVar(w, MASK, true), 1e-7); // 1 / (1 + 1e-8 * 3/5)
    }

    @Test
    void whitenIgnoresTheValuesOfMaskedEntries() {
        double[] other = X.clone();
        other[4] = -7;
        assertArrayEquals(Arrays.copyOf(Advantages.whiten(X, MASK, true), 4),
                Arrays.copyOf(Advantages.whiten(other, MASK, true), 4), 0);
    }

    @Test
    void whitenWithoutShiftKeepsTheMean() {
        // the whitened values + 2.5
        double[] w = Advantages.whiten(X, MASK, false);
        assertArrayEquals(new double[] {1.338104996137775, 2.1127016653792583, 2.8872983346207417,
            3.661895003862225}, Arrays.copyOf(w, 4), 1e-7);
        assertEquals(2.5, Advantages.maskedMean(w, MASK), 1e-12);
        assertEquals(1.0, Advantages.maskedVar(w, MASK, true), 1e-7);
    }

    @Test
    void batchWhiteningUsesOneMeanAndVarianceAcrossRaggedRows() {
        // rows (1, 2) and (3, 4 | 100): the same entries as X, so the same statistics and results
        List<double[]> rows = List.of(new double[] {1, 2}, new double[] {3, 4, 100});
        List<boolean[]> masks = List.of(new boolean[] {true, true}, new boolean[] {true, true, false});
        assertEquals(2.5, Advantages.maskedMean(rows, masks), 1e-12);
        assertEquals(5.0 / 3.0, Advantages.maskedVar(rows, masks, true), 1e-12);
        List<double[]> w = Advantages.whiten(rows, masks, true);
        double[] single = Advantages.whiten(X, MASK, true);
        assertArrayEquals(new double[] {single[0], single[1]}, w.get(0), 1e-15);
        assertArrayEquals(new double[] {single[2], single[3], single[4]}, w.get(1), 1e-15);
    }

    @Test
    void whiteningNeedsTwoUnmaskedEntries() {
        assertThrows(IllegalArgumentException.class,
                () -> Advantages.whiten(new double[] {1, 2}, new boolean[] {true, false}, true));
        assertThrows(IllegalArgumentException.class,
                () -> Advantages.maskedMean(new double[] {1}, new boolean[] {false}));
    }

    /**
     * A group of 4 with rewards 1, 2, 3, 6: mean 3, deviations -2, -1, 0, 3, unbiased variance 14/3.
     * GRPO: deviation / (sqrt(14/3) + 1e-4); RLOO: r_i minus the mean of the other three, -8/3, -4/3, 0, 4.
     * A second group of one gets 0 from both.
     */
    @Test
    void groupAdvantagesOfAGroupOfFourByHand() {
        double[] r = {1, 2, 3, 6, 5};
        int[] groups = {4, 1};
        double std = Math.sqrt(14.0 / 3.0) + 1e-4;
        assertArrayEquals(new double[] {-2 / std, -1 / std, 0, 3 / std, 0}, Advantages.groupNormalized(r, groups),
                1e-12);
        assertArrayEquals(new double[] {-8.0 / 3, -4.0 / 3, 0, 4, 0}, Advantages.leaveOneOut(r, groups), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> Advantages.leaveOneOut(r, new int[] {4}));
        assertThrows(IllegalArgumentException.class,
                () -> Advantages.groupNormalized(new double[] {1, Double.NaN}, new int[] {2}));
    }
}
