package dev.rlhf.llama.rl;

import dev.rlhf.vocabulary.Llama2Recipe;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.rlhf.llama.model.Tensors;
import dev.rlhf.llama.rl.PpoLosses.PolicyLoss;
import dev.rlhf.llama.rl.PpoLosses.ScalarPolicyLoss;
import dev.rlhf.llama.rl.PpoLosses.ScalarValueLoss;
import dev.rlhf.llama.rl.PpoLosses.ValueLoss;
import org.junit.jupiter.api.Test;

class PpoLossesTest {
    private static final double EPS = PpoLosses.CLIP; // 0.2: ratios are clipped to [0.8, 1.2]

    /** One token with oldLogp = 0 and logp = log(ratio). */
    private static ScalarPolicyLoss oneToken(double ratio, double advantage) {
        return PpoLosses.policyLoss(new double[] {Math.log(ratio)}, new double[] {0}, new double[] {advantage},
                new boolean[] {true}, EPS);
    }

    @Test
    void insideTheClipRangeTheLossIsMinusAdvantageTimesRatio() {
        // ratio 1.1 in [0.8, 1.2]: -2 * 1.1 = -2.2 ; -(-1) * 0.9 = 0.9
        assertEquals(-2.2, oneToken(1.1, 2).loss(), 1e-12);
        assertEquals(0.9, oneToken(0.9, -1).loss(), 1e-12);
        assertEquals(0.0, oneToken(1.1, 2).clipFraction(), 0);
    }

    @Test
    void positiveAdvantageIsClippedAboveOnly() {
        // ratio 1.5, A = 2: max(-2 * 1.5, -2 * 1.2) = max(-3.0, -2.4) = -2.4, the clipped branch
        assertEquals(-2.4, oneToken(1.5, 2).loss(), 1e-12);
        assertEquals(1.0, oneToken(1.5, 2).clipFraction(), 0);
        // ratio 0.5, A = 2: max(-2 * 0.5, -2 * 0.8) = max(-1.0, -1.6) = -1.0, the unclipped branch
        assertEquals(-1.0, oneToken(0.5, 2).loss(), 1e-12);
        assertEquals(0.0, oneToken(0.5, 2).clipFraction(), 0);
    }

    @Test
    void negativeAdvantageIsClippedBelowOnly() {
        // ratio 0.5, A = -1: max(0.5, 0.8) = 0.8, the clipped branch
        assertEquals(0.8, oneToken(0.5, -1).loss(), 1e-12);
        assertEquals(1.0, oneToken(0.5, -1).clipFraction(), 0);
        // ratio 1.5, A = -1: max(1.5, 1.2) = 1.5, the unclipped branch
        assertEquals(1.5, oneToken(1.5, -1).loss(), 1e-12);
        assertEquals(0.0, oneToken(1.5, -1).clipFraction(), 0);
    }

    // Five tokens from the cases above and one masked token with junk values.
    private static final double[] RATIOS = {1.1, 1.5, 0.5, 0.5, 1.5, 3.0};
    private static final double[] ADV = {2, 2, 2, -1, -1, 5};
    private static final boolean[] MASK = {true, true, true, true, true, false};
    // loss = (-2.2 - 2.4 - 1.0 + 0.8 + 1.5) / 5 = -3.3 / 5 = -0.66; clipped: tokens 1 and 3 -> 2 / 5 = 0.4
    // approxKl = 0.5 * (ln1.1^2 + ln1.5^2 + ln0.5^2 + ln0.5^2 + ln1.5^2) / 5
    //          = 0.5 * (0.0090840 + 0.1644020 + 0.4804530 + 0.4804530 + 0.1644020) / 5 = 0.12987939659970665
    private static final double LOSS = -0.66;
    private static final double CLIP_FRACTION = 0.4;
    private static final double APPROX_KL = 0.12987939659970665;

    private static double[] logRatios() {
        double[] logp = new double[RATIOS.length];
        for (int i = 0; i < logp.length; i++) {
            logp[i] = Math.log(RATIOS[i]);
        }
        return logp;
    }

    @Test
    void maskedMeanOverTokensWithStatistics() {
        ScalarPolicyLoss l = PpoLosses.policyLoss(logRatios(), new double[6], ADV, MASK, EPS);
        assertEquals(LOSS, l.loss(), 1e-12);
        assertEquals(CLIP_FRACTION, l.clipFraction(), 1e-12);
        assertEquals(APPROX_KL, l.approxKl(), 1e-12);
    }

    @Test
    void tensorPolicyLossEqualsScalarAndClippedTokensGetNoGradient() {
        try (NDManager m = NDManager.newBaseManager()) {
            Shape bt = new Shape(2, 3);
            double[] old = {0.3, -0.2, -1.0, 0.0, -2.0, 0.1}; // logp = old + log(ratio): same ratios
            double[] logp = logRatios();
            for (int i = 0; i < logp.length; i++) {
                logp[i] += old[i];
            }
            NDArray lp = f32(m, logp, bt);
            lp.setRequiresGradient(true);
            PolicyLoss l;
            float loss;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                l = PpoLosses.policyLoss(lp, f32(m, old, bt), f32(m, ADV, bt), f32(m, new double[] {1, 1, 1, 1, 1, 0},
                        bt), EPS);
                loss = l.loss().getFloat();
                gc.backward(l.loss());
            }
            assertEquals(LOSS, loss, 1e-6);
            assertEquals(CLIP_FRACTION, l.clipFraction(), 1e-6);
            assertEquals(APPROX_KL, l.approxKl(), 1e-6);
            // d/dlogp (-A * ratio) / n = -A * ratio / 5 where the unclipped branch wins, 0 where clipped or masked:
            //   (-2 * 1.1 / 5, 0, -2 * 0.5 / 5, 0, 1 * 1.5 / 5, 0) = (-0.44, 0, -0.2, 0, 0.3, 0)
            assertArrayEquals(new float[] {-0.44f, 0, -0.2f, 0, 0.3f, 0}, lp.getGradient().toFloatArray(), 1e-6f);
        }
    }

    // Value loss with eps_v = 0.2:
    //   t0: V 1.1, oldV 1.0, R 2.0: V' = 1.1 (inside); max(0.9^2, 0.9^2) = 0.81, not clipped
    //   t1: V 1.5, oldV 1.0, R 2.0: V' = 1.2; max(0.5^2, 0.8^2) = max(0.25, 0.64) = 0.64, clipped wins
    //   t2: V 1.5, oldV 1.0, R 0.0: V' = 1.2; max(1.5^2, 1.2^2) = max(2.25, 1.44) = 2.25, unclipped wins
    //   t3: masked
    // loss = 0.5 * (0.81 + 0.64 + 2.25) / 3 = 0.5 * 3.7 / 3 = 0.6166666666666667; clip fraction 1/3
    private static final double[] V = {1.1, 1.5, 1.5, 9.0};
    private static final double[] OLD_V = {1.0, 1.0, 1.0, 0.0};
    private static final double[] RETURNS = {2.0, 2.0, 0.0, -4.0};

    @Test
    void clippedValueLossTakesTheLargerBranch() {
        ScalarValueLoss l = PpoLosses.valueLoss(V, OLD_V, RETURNS, new boolean[] {true, true, true, false},
                PpoLosses.VALUE_CLIP);
        assertEquals(0.6166666666666667, l.loss(), 1e-12);
        assertEquals(1.0 / 3.0, l.clipFraction(), 1e-12);
        // a single token per branch: 0.5 * 0.64 = 0.32 (clipped), 0.5 * 2.25 = 1.125 (unclipped)
        assertEquals(0.32, PpoLosses.valueLoss(new double[] {1.5}, new double[] {1.0}, new double[] {2.0},
                new boolean[] {true}, PpoLosses.VALUE_CLIP).loss(), 1e-12);
        assertEquals(1.125, PpoLosses.valueLoss(new double[] {1.5}, new double[] {1.0}, new double[] {0.0},
                new boolean[] {true}, PpoLosses.VALUE_CLIP).loss(), 1e-12);
    }

    @Test
    void tensorValueLossEqualsScalarAndTheClippedTokenGetsNoGradient() {
        try (NDManager m = NDManager.newBaseManager()) {
            Shape bt = new Shape(1, 4);
            NDArray v = f32(m, V, bt);
            v.setRequiresGradient(true);
            ValueLoss l;
            float loss;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                l = PpoLosses.valueLoss(v, f32(m, OLD_V, bt), f32(m, RETURNS, bt),
                        f32(m, new double[] {1, 1, 1, 0}, bt), PpoLosses.VALUE_CLIP);
                loss = l.loss().getFloat();
                gc.backward(l.loss());
            }
            assertEquals(0.6166666666666667, loss, 1e-6);
            assertEquals(1.0 / 3.0, l.clipFraction(), 1e-6);
            // d/dV 0.5 * (V - R)^2 / 3 = (V - R) / 3 where unclipped: t0 (1.1 - 2) / 3 = -0.3, t2 1.5 / 3 = 0.5;
            // t1 is clipped (V' constant in V), t3 masked
            assertArrayEquals(new float[] {-0.3f, 0, 0.5f, 0}, v.getGradient().toFloatArray(), 1e-6f);
        }
    }

    @Test
    void defaultsAreTheRecipeAndOurChoices() {
        assertEquals(0.2, PpoLosses.CLIP, 0);
        assertEquals(0.2, PpoLosses.VALUE_CLIP, 0);
        assertEquals(1.0, Advantages.GAMMA, 0);
        assertEquals(0.95, Advantages.LAMBDA, 0);
        assertEquals(0.01, Llama2Recipe.PPO_BETA, 0);
        assertEquals(0.005, Llama2Recipe.PPO_BETA_LARGE, 0);
    }

    /** A log-ratio of 100 (a token pi_old found impossible) gives ratio e^20, not e^100: the loss stays finite. */
    @Test
    void theLogRatioIsClampedAtTwenty() {
        ScalarPolicyLoss l = PpoLosses.policyLoss(new double[] {0}, new double[] {-100}, new double[] {-1},
                new boolean[] {true}, EPS);
        assertEquals(Math.exp(20), l.loss(), 1e-6 * Math.exp(20));
    }

    /**
     * The GRPO KL term: k3 of d = logp - ref per token, by hand, e.g. d = 0.5: e^-0.5 + 0.5 - 1 = 0.10653; clamped
     * at 10 for d = -50 (e^50 otherwise). Its gradient equals central finite differences of the scalar version.
     */
    @Test
    void klLossIsTheClampedK3AndItsGradientMatchesFiniteDifferences() {
        double[] ref = {-1.0, -2.0, -0.5, -3.0};
        double[] logp = {-0.5, -2.3, -50.5, -1.0}; // d = 0.5, -0.3, -50, 2.0
        boolean[] mask = {true, true, true, false};
        double k05 = Math.exp(-0.5) + 0.5 - 1;
        double km03 = Math.exp(0.3) - 0.3 - 1;
        assertEquals((k05 + km03 + 10) / 3, PpoLosses.klLoss(logp, ref, mask), 1e-12);
        assertEquals(10, PpoRewards.k3(-50), 0);
        try (NDManager m = NDManager.newBaseManager()) {
            Shape bt = new Shape(1, 4);
            NDArray lp = Tensors.of(m, logp, bt);
            lp.setRequiresGradient(true);
            NDArray loss;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                loss = PpoLosses.klLoss(lp, Tensors.of(m, ref, bt), Tensors.of(m, new double[] {1, 1, 1, 0}, bt));
                gc.backward(loss);
            }
            assertEquals(PpoLosses.klLoss(logp, ref, mask), loss.getDouble(), 1e-9);
            double[] grad = lp.getGradient().toDoubleArray();
            double h = 1e-6;
            for (int t = 0; t < 4; t++) {
                double[] up = logp.clone();
                double[] down = logp.clone();
                up[t] += h;
                down[t] -= h;
                double fd = (PpoLosses.klLoss(up, ref, mask) - PpoLosses.klLoss(down, ref, mask)) / (2 * h);
                assertEquals(fd, grad[t], 1e-6, "token " + t);
            }
        }
    }

    private static NDArray f32(NDManager m, double[] x, Shape shape) {
        return Tensors.of(m, x, shape).toType(DataType.FLOAT32, false);
    }
}
