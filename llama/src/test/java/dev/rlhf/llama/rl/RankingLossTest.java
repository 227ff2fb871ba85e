package dev.rlhf.llama.rl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.rlhf.llama.model.Tensors;
import dev.rlhf.llama.rl.RankingLoss.Margin;
import dev.rlhf.llama.rl.RankingLoss.Rating;
import org.junit.jupiter.api.Test;

class RankingLossTest {
    // rc = 2, rr = 0.5, so rc - rr = 1.5 throughout; -log(sigmoid(z)) = log(1 + e^-z).
    private static final double RC = 2.0;
    private static final double RR = 0.5;

    @Test
    void marginsAreTable27() {
        assertEquals(1.0, Margin.SMALL.of(Rating.SIGNIFICANTLY_BETTER), 0);
        assertEquals(2.0 / 3.0, Margin.SMALL.of(Rating.BETTER), 0);
        assertEquals(1.0 / 3.0, Margin.SMALL.of(Rating.SLIGHTLY_BETTER), 0);
        assertEquals(0.0, Margin.SMALL.of(Rating.NEGLIGIBLY_BETTER_OR_UNSURE), 0);
        assertEquals(3.0, Margin.LARGE.of(Rating.SIGNIFICANTLY_BETTER), 0);
        assertEquals(2.0, Margin.LARGE.of(Rating.BETTER), 0);
        assertEquals(1.0, Margin.LARGE.of(Rating.SLIGHTLY_BETTER), 0);
        assertEquals(0.0, Margin.LARGE.of(Rating.NEGLIGIBLY_BETTER_OR_UNSURE), 0);
        for (Rating r : Rating.values()) {
            assertEquals(0.0, Margin.NONE.of(r), 0);
        }
    }

    @Test
    void noMarginIsMinusLogSigmoidOfTheDifference() {
        // z = 1.5: log(1 + e^-1.5) = log(1 + 0.22313016014842982) = 0.20141327798275246
        for (Rating r : Rating.values()) {
            assertEquals(0.20141327798275246, RankingLoss.loss(RC, RR, Margin.NONE.of(r)), 1e-12);
        }
    }

    @Test
    void smallMarginPerRating() {
        // significantly better: z = 1.5 - 1 = 0.5: log(1 + e^-0.5) = log(1.6065306597126334) = 0.4740769841801067
        assertEquals(0.4740769841801067, loss(Margin.SMALL, Rating.SIGNIFICANTLY_BETTER), 1e-12);
        // better: z = 1.5 - 2/3 = 0.8333: log(1 + 0.4345982085070782) = 0.36088481593420335
        assertEquals(0.36088481593420335, loss(Margin.SMALL, Rating.BETTER), 1e-12);
        // slightly better: z = 1.5 - 1/3 = 1.1667: log(1 + 0.3114032239145977) = 0.2710977272205975
        assertEquals(0.2710977272205975, loss(Margin.SMALL, Rating.SLIGHTLY_BETTER), 1e-12);
        // unsure: z = 1.5, the no-margin loss
        assertEquals(0.20141327798275246, loss(Margin.SMALL, Rating.NEGLIGIBLY_BETTER_OR_UNSURE), 1e-12);
    }

    @Test
    void largeMarginPerRating() {
        // significantly better: z = 1.5 - 3 = -1.5: log(1 + e^1.5) = 1.5 + log(1 + e^-1.5) = 1.7014132779827524
        assertEquals(1.7014132779827524, loss(Margin.LARGE, Rating.SIGNIFICANTLY_BETTER), 1e-12);
        // better: z = 1.5 - 2 = -0.5: 0.5 + log(1 + e^-0.5) = 0.5 + 0.4740769841801067 = 0.9740769841801067
        assertEquals(0.9740769841801067, loss(Margin.LARGE, Rating.BETTER), 1e-12);
        // slightly better: z = 1.5 - 1 = 0.5: 0.4740769841801067
        assertEquals(0.4740769841801067, loss(Margin.LARGE, Rating.SLIGHTLY_BETTER), 1e-12);
        // unsure: z = 1.5
        assertEquals(0.20141327798275246, loss(Margin.LARGE, Rating.NEGLIGIBLY_BETTER_OR_UNSURE), 1e-12);
    }

    @Test
    void largeDifferencesStayFinite() {
        // z = 1000: log(1 + e^-1000) = 0 (e^-1000 underflows harmlessly).
        // z = -1000: the naive log(1 + e^1000) overflows to infinity; softplus gives 1000 + log(1 + e^-1000) = 1000.
        assertEquals(0.0, RankingLoss.loss(1000, 0, 0), 0);
        assertEquals(1000.0, RankingLoss.loss(-1000, 0, 0), 0);
        assertEquals(1000.0, RankingLoss.loss(0, 1000, 0), 0);
    }

    @Test
    void tensorLossSumEqualsScalarLossesAndItsGradientIsMinusOneMinusSigmoid() {
        double[] chosen = {2, 2, 2, 0.5, 1000, -1000};
        double[] rejected = {0.5, 0.5, 0.5, 0.5, 0, 0};
        double[] margins = {0, 1, 3, 0, 0, 0}; // z = 1.5, 0.5, -1.5, 0, 1000, -1000
        double[] z = {1.5, 0.5, -1.5, 0, 1000, -1000};
        double expectedSum = 0;
        double[] expectedGrad = new double[z.length];
        for (int i = 0; i < z.length; i++) {
            expectedSum += RankingLoss.loss(chosen[i], rejected[i], margins[i]);
            expectedGrad[i] = -(1 - 1 / (1 + Math.exp(-z[i]))); // d/dz log(1 + e^-z) = -(1 - sigmoid(z))
        }
        // gradients: -(1 - 0.8175744761936437), -(1 - 0.6224593312018546), -(1 - 0.18242552380635635), -0.5, 0, -1
        assertArrayEquals(new double[] {-0.1824255238063563, -0.3775406687981454, -0.8175744761936437, -0.5, 0, -1},
                expectedGrad, 1e-12);
        try (NDManager m = NDManager.newBaseManager()) {
            Shape b = new Shape(z.length);
            NDArray c = Tensors.of(m, chosen, b).toType(DataType.FLOAT32, false);
            NDArray r = Tensors.of(m, rejected, b).toType(DataType.FLOAT32, false);
            NDArray mg = Tensors.of(m, margins, b).toType(DataType.FLOAT32, false);
            c.setRequiresGradient(true);
            float sum;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray loss = RankingLoss.lossSum(c, r, mg);
                sum = loss.getFloat();
                gc.backward(loss);
            }
            assertEquals(expectedSum, sum, 1e-3); // float32 sum dominated by the 1000 term
            float[] grad = c.getGradient().toFloatArray();
            for (int i = 0; i < z.length; i++) {
                assertEquals(expectedGrad[i], grad[i], 1e-6, "d loss / d chosen[" + i + "]");
            }
        }
    }

    @Test
    void tensorLossEqualsScalarLossPerRow() {
        try (NDManager m = NDManager.newBaseManager()) {
            for (Rating rating : Rating.values()) {
                double margin = Margin.SMALL.of(rating);
                NDArray loss = RankingLoss.lossSum(Tensors.of(m, new double[] {RC}, new Shape(1)),
                        Tensors.of(m, new double[] {RR}, new Shape(1)),
                        Tensors.of(m, new double[] {margin}, new Shape(1)));
                assertEquals(RankingLoss.loss(RC, RR, margin), loss.getDouble(), 1e-12, rating.name());
            }
        }
    }

    private static double loss(Margin kind, Rating rating) {
        return RankingLoss.loss(RC, RR, kind.of(rating));
    }
}
