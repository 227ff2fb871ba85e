package dev.rlhf.llama.generate;

import dev.rlhf.vocabulary.SamplingParams;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SamplerTest {
    // Probabilities 0.4, 0.3, 0.2, 0.1 (as logits = log p) on tokens 2, 0, 3, 1.
    private static final float[] LOGITS = {
        (float) Math.log(0.3), (float) Math.log(0.1), (float) Math.log(0.4), (float) Math.log(0.2)};

    private static boolean[] kept(double[] probs) {
        boolean[] k = new boolean[probs.length];
        for (int i = 0; i < probs.length; i++) {
            k[i] = probs[i] > 0;
        }
        return k;
    }

    @Test
    void topKKeepsExactlyTheKMostLikelyTokens() {
        double[] p = Sampler.filteredProbabilities(LOGITS, 0, 4, 1.0, 2, 1.0);
        assertArrayEquals(new boolean[] {true, false, true, false}, kept(p));
        assertEquals(0.3 / 0.7, p[0], 1e-6);
        assertEquals(0.4 / 0.7, p[2], 1e-6);
    }

    @Test
    void topPKeepsTheSmallestSetReachingTheMass() {
        // 0.4 < 0.65, 0.4 + 0.3 = 0.7 >= 0.65: tokens 2 and 0.
        assertArrayEquals(new boolean[] {true, false, true, false},
                kept(Sampler.filteredProbabilities(LOGITS, 0, 4, 1.0, 0, 0.65)));
        // 0.9 needs 0.4 + 0.3 + 0.2.
        assertArrayEquals(new boolean[] {true, false, true, true},
                kept(Sampler.filteredProbabilities(LOGITS, 0, 4, 1.0, 0, 0.9)));
        // A tiny top_p keeps only the argmax.
        assertArrayEquals(new boolean[] {false, false, true, false},
                kept(Sampler.filteredProbabilities(LOGITS, 0, 4, 1.0, 0, 0.01)));
    }

    @Test
    void topKThenTopPCombine() {
        double[] p = Sampler.filteredProbabilities(LOGITS, 0, 4, 1.0, 3, 0.95);
        assertArrayEquals(new boolean[] {true, false, true, true}, kept(p));
        assertEquals(1.0, p[0] + p[2] + p[3], 1e-9);
    }

    @Test
    void temperatureSharpensTheDistribution() {
        double[] t1 = Sampler.filteredProbabilities(LOGITS, 0, 4, 1.0, 0, 1.0);
        double[] tHalf = Sampler.filteredProbabilities(LOGITS, 0, 4, 0.5, 0, 1.0);
        assertEquals(0.4, t1[2], 1e-6);
        // p^(1/T) renormalised: 0.16 / (0.09 + 0.01 + 0.16 + 0.04)
        assertEquals(0.16 / 0.30, tHalf[2], 1e-6);
    }

    @Test
    void temperatureZeroIsArgmax() {
        SamplingParams greedy = new SamplingParams(1, 5, 0, 1, 0, 123, List.of());
        for (int seed = 0; seed < 20; seed++) {
            assertEquals(2, Sampler.sample(LOGITS, 0, 4, greedy, new SplittableRandom(seed)));
        }
    }

    @Test
    void sampledFrequenciesFollowTheFilteredDistribution() {
        SamplingParams p = new SamplingParams(1, 5, 1.0, 1.0, 0, 0, List.of());
        SplittableRandom r = new SplittableRandom(42);
        int[] counts = new int[4];
        int draws = 40_000;
        for (int i = 0; i < draws; i++) {
            counts[Sampler.sample(LOGITS, 0, 4, p, r)]++;
        }
        assertEquals(0.3, counts[0] / (double) draws, 0.015);
        assertEquals(0.1, counts[1] / (double) draws, 0.015);
        assertEquals(0.4, counts[2] / (double) draws, 0.015);
        assertEquals(0.2, counts[3] / (double) draws, 0.015);
    }

    @Test
    void logProbIsLogSoftmaxAtTemperatureOne() {
        assertEquals(Math.log(0.4), Sampler.logProb(LOGITS, 0, 4, 2), 1e-6);
        assertEquals(Math.log(0.1), Sampler.logProb(LOGITS, 0, 4, 1), 1e-6);
    }

    @Test
    void badParametersAreRejectedWithTheValue() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new SamplingParams(1, 5, Double.NaN, 1, 0, 0, List.of()));
        assertTrue(e.getMessage().contains("temperature"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1, 5, 1, 1.5, 0, 0, List.of()));
        assertTrue(e.getMessage().contains("1.5"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SamplingParams(0, 5, 1, 1, 0, 0, List.of()));
        assertTrue(e.getMessage().contains("got 0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1, 0, 1, 1, 0, 0, List.of()));
        assertTrue(e.getMessage().contains("max_new_tokens"), e.getMessage());
    }

    /** log softmax(z / T): logits ln(1,1,4,2)-shaped by hand at T = 0.5 squares the probabilities before normalising. */
    @Test
    void logProbAtATemperatureIsLogSoftmaxOfTheScaledLogits() {
        float[] z = {0f, 0f, (float) Math.log(4), (float) Math.log(2)};
        // exp(2 z) = 1, 1, 16, 4 -> sum 22
        assertEquals(Math.log(16.0 / 22), Sampler.logProb(z, 0, 4, 2, 0.5), 1e-6);
        assertEquals(Math.log(1.0 / 22), Sampler.logProb(z, 0, 4, 0, 0.5), 1e-6);
        assertEquals(Sampler.logProb(z, 0, 4, 3), Sampler.logProb(z, 0, 4, 3, 0), 0, "greedy reports T = 1");
    }

    /**
     * choose() in one pass gives the token an inverse-CDF walk over filteredProbabilities picks with the same
     * uniform draw, and exactly the float logProb() gives.
     */
    @org.junit.jupiter.api.Test
    void chooseEqualsSampleAndLogProbExactly() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(3);
        float[] logits = new float[500];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) (4 * r.nextGaussian());
        }
        for (dev.rlhf.vocabulary.SamplingParams p : java.util.List.of(
                new dev.rlhf.vocabulary.SamplingParams(1, 1, 0, 1, 0, 1, java.util.List.of()),
                new dev.rlhf.vocabulary.SamplingParams(1, 1, 1, 1, 0, 1, java.util.List.of()),
                new dev.rlhf.vocabulary.SamplingParams(1, 1, 0.7, 0.9, 0, 1, java.util.List.of()),
                new dev.rlhf.vocabulary.SamplingParams(1, 1, 1.3, 1, 40, 1, java.util.List.of()))) {
            for (long seed = 0; seed < 50; seed++) {
                int expected;
                if (p.greedy()) {
                    expected = Sampler.argmax(logits, 0, logits.length);
                } else {
                    double[] probs = Sampler.filteredProbabilities(logits, 0, logits.length, p.temperature(),
                            p.topK(), p.topP());
                    double u = new java.util.SplittableRandom(seed).nextDouble();
                    double cumulative = 0;
                    expected = -1;
                    for (int i = 0; i < probs.length && (expected < 0 || probs[expected] == 0 || u >= cumulative);
                         i++) {
                        if (probs[i] > 0) {
                            cumulative += probs[i];
                            expected = i;
                        }
                    }
                }
                Sampler.Choice c = Sampler.choose(logits, 0, logits.length, p, new java.util.SplittableRandom(seed));
                org.junit.jupiter.api.Assertions.assertEquals(expected, c.token());
                org.junit.jupiter.api.Assertions.assertEquals(
                        Sampler.logProb(logits, 0, logits.length, expected, p.temperature()), c.logProb(), 0f);
            }
        }
    }

    /**
     * With the engine's distributions (here log softmax and softmax computed independently, in double, then rounded
     * to float as libtorch hands them over) a row gives the Java path's token and log-probability.
     */
    @org.junit.jupiter.api.Test
    void aRowWithTheEnginesDistributionsChoosesAsTheJavaPath() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(4);
        int vocab = 300;
        int rowCount = 3;
        float[] logits = new float[rowCount * vocab];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) (3 * r.nextGaussian());
        }
        for (dev.rlhf.vocabulary.SamplingParams p : java.util.List.of(
                new dev.rlhf.vocabulary.SamplingParams(1, 1, 0, 1, 0, 1, java.util.List.of()),
                new dev.rlhf.vocabulary.SamplingParams(1, 1, 0.8, 1, 0, 1, java.util.List.of()),
                new dev.rlhf.vocabulary.SamplingParams(1, 1, 1.2, 0.9, 50, 1, java.util.List.of()))) {
            double t = p.greedy() ? 1 : p.temperature();
            float[] logProbs = new float[logits.length];
            float[] probs = new float[logits.length];
            for (int row = 0; row < rowCount; row++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int i = 0; i < vocab; i++) {
                    max = Math.max(max, logits[row * vocab + i] / t);
                }
                double sum = 0;
                for (int i = 0; i < vocab; i++) {
                    sum += Math.exp(logits[row * vocab + i] / t - max);
                }
                for (int i = 0; i < vocab; i++) {
                    double lp = logits[row * vocab + i] / t - max - Math.log(sum);
                    logProbs[row * vocab + i] = (float) lp;
                    probs[row * vocab + i] = (float) Math.exp(lp);
                }
            }
            int[] best = new int[rowCount];
            float[] bestLogProb = new float[rowCount];
            for (int row = 0; row < rowCount; row++) {
                best[row] = Sampler.argmax(logits, row * vocab, vocab);
                bestLogProb[row] = (float) Sampler.logProb(logits, row * vocab, vocab, best[row]);
            }
            Sampler.Rows rows = new Sampler.Rows(null, logProbs, probs, best, bestLogProb);
            for (int row = 0; row < rowCount; row++) {
                for (long seed = 0; seed < 30; seed++) {
                    Sampler.Choice java = Sampler.choose(logits, row * vocab, vocab, p,
                            new java.util.SplittableRandom(seed));
                    Sampler.Choice engine = Sampler.choose(rows, row, vocab, p, new java.util.SplittableRandom(seed));
                    org.junit.jupiter.api.Assertions.assertEquals(java.token(), engine.token());
                    org.junit.jupiter.api.Assertions.assertEquals(java.logProb(), engine.logProb(), 1e-5f);
                }
            }
        }
    }
}
