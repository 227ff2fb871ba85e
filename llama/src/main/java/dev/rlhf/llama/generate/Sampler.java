package dev.rlhf.llama.generate;

import dev.rlhf.vocabulary.SamplingParams;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from one row of logits: greedy at temperature 0, otherwise softmax(logits / T)
 * restricted to the top-k tokens and then to the smallest set whose probability mass reaches top-p
 * (Holtzman et al., 2020). Pure Java so each sample has its own seeded random stream, independent of
 * batching.
 */
public final class Sampler {
    private Sampler() {}

    /** Index of the largest logit in logits[offset, offset + vocab); ties go to the lowest id. */
    public static int argmax(float[] logits, int offset, int vocab) {
        int best = 0;
        float bestValue = logits[offset];
        for (int i = 1; i < vocab; i++) {
            if (logits[offset + i] > bestValue) {
                bestValue = logits[offset + i];
                best = i;
            }
        }
        return best;
    }

    /** log softmax(logits)[token] at temperature 1, computed in double. */
    public static float logProb(float[] logits, int offset, int vocab, int token) {
        return logProb(logits, offset, vocab, token, 1);
    }

    /**
     * log softmax(logits / T)[token], computed in double: the log-probability under the distribution the token was
     * sampled from before any top-k/top-p filtering (T = 0, greedy, reports temperature 1). This is what an RL
     * trainer needs as pi_old when it evaluates its own policy at the same temperature.
     */
    public static float logProb(float[] logits, int offset, int vocab, int token, double temperature) {
        double t = temperature > 0 ? temperature : 1;
        double max = max(logits, offset, vocab);
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            sum += Math.exp((logits[offset + i] - max) / t);
        }
        return (float) ((logits[offset + token] - max) / t - Math.log(sum));
    }

    public static int sample(float[] logits, int offset, int vocab, SamplingParams p, SplittableRandom random) {
        return choose(logits, offset, vocab, p, random).token();
    }

    /** A sampled token and its log-probability as {@link #logProb(float[], int, int, int, double)} gives it. */
    public record Choice(int token, float logProb) {}

    /**
     * What a batch's forward pass hands the sampler, row after row. From the Java decoder: {@code logits} only; the
     * sampler computes the rest in double. From the engine (libtorch): no logits, but each row's greedy token
     * ({@code best}: argmax, lowest id on ties) and its log-probability at temperature 1 ({@code bestLogProb}), and,
     * when some row samples, {@code logProbs} = log softmax(logits / T) per row (T = 1 for greedy rows) and
     * {@code probs} = its exp. A greedy batch so copies two numbers per row instead of the vocabulary.
     */
    public record Rows(float[] logits, float[] logProbs, float[] probs, int[] best, float[] bestLogProb) {
        public static Rows ofLogits(float[] logits) {
            return new Rows(logits, null, null, null, null);
        }
    }

    /**
     * Row {@code row} of a batch: with the engine's distributions, the same choice as
     * {@link #choose(float[], int, int, SamplingParams, SplittableRandom)} up to float rounding (the greedy token is
     * the same; its log-probability and the sampling weights come from the engine instead of a Java pass of exp).
     */
    public static Choice choose(Rows rows, int row, int vocab, SamplingParams p, SplittableRandom random) {
        int offset = row * vocab;
        if (rows.logits() != null) {
            return choose(rows.logits(), offset, vocab, p, random);
        }
        if (p.greedy()) {
            return new Choice(rows.best()[row], rows.bestLogProb()[row]);
        }
        double[] probs = new double[vocab];
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            probs[i] = rows.probs()[offset + i];
            sum += probs[i];
        }
        filter(probs, sum, p.topK(), p.topP());
        int token = inverseCdf(probs, random.nextDouble());
        return new Choice(token, rows.logProbs()[offset + token]);
    }

    /**
     * {@link #sample} and {@link #logProb} in one: the softmax weights are computed once and serve both, so a
     * sampled token costs one pass of exp over the vocabulary, not two (at batch 1 that pass is a fifth of a decode
     * step). The values equal the separate calls exactly: the same operations in the same order.
     */
    public static Choice choose(float[] logits, int offset, int vocab, SamplingParams p, SplittableRandom random) {
        if (p.greedy()) {
            int token = argmax(logits, offset, vocab);
            return new Choice(token, logProb(logits, offset, vocab, token, 1));
        }
        double max = max(logits, offset, vocab);
        double[] probs = new double[vocab];
        double sum = expWeights(logits, offset, vocab, p.temperature(), max, probs);
        filter(probs, sum, p.topK(), p.topP());
        int token = inverseCdf(probs, random.nextDouble());
        return new Choice(token, (float) ((logits[offset + token] - max) / p.temperature() - Math.log(sum)));
    }

    /** The first token whose cumulative mass passes u, or the last kept one when rounding left u above the sum. */
    private static int inverseCdf(double[] probs, double u) {
        double cumulative = 0;
        int token = -1;
        for (int i = 0; i < probs.length; i++) {
            if (probs[i] > 0) {
                cumulative += probs[i];
                token = i;
                if (u < cumulative) {
                    break;
                }
            }
        }
        return token;
    }

    /**
     * The sampling distribution after temperature, top-k and top-p: renormalised probabilities, zero for every
     * filtered token. Ties at the top-k or top-p boundary keep the lower token id (deterministic).
     */
    public static double[] filteredProbabilities(float[] logits, int offset, int vocab, double temperature, int topK,
                                                 double topP) {
        double[] probs = new double[vocab];
        double sum = expWeights(logits, offset, vocab, temperature, max(logits, offset, vocab), probs);
        filter(probs, sum, topK, topP);
        return probs;
    }

    private static double max(float[] logits, int offset, int vocab) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            max = Math.max(max, logits[offset + i]);
        }
        return max;
    }

    /** out[i] = exp((logits[i] - max) / T); returns their sum. */
    private static double expWeights(float[] logits, int offset, int vocab, double temperature, double max,
                                     double[] out) {
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            out[i] = Math.exp((logits[offset + i] - max) / temperature);
            sum += out[i];
        }
        return sum;
    }

    /** Normalises softmax weights (summing to {@code sum}) in place, then applies top-k and top-p. */
    private static void filter(double[] probs, double sum, int topK, double topP) {
        int vocab = probs.length;
        for (int i = 0; i < vocab; i++) {
            probs[i] /= sum;
        }
        boolean useTopK = topK > 0 && topK < vocab;
        if (!useTopK && topP >= 1) {
            return;
        }
        // Walk tokens in decreasing probability; a max-heap gives the head of that order in O(V + k log V),
        // so a small nucleus never pays for a full sort of a 32k vocabulary.
        int limit = useTopK ? topK : vocab;
        IndexHeap heap = new IndexHeap(probs);
        boolean[] keep = new boolean[vocab];
        double mass = 0;
        double keptMass = 0;
        for (int kept = 0; kept < limit && !heap.isEmpty(); kept++) {
            int token = heap.pop();
            keep[token] = true;
            keptMass += probs[token];
            mass += probs[token];
            if (mass >= topP) {
                break;
            }
        }
        for (int i = 0; i < vocab; i++) {
            probs[i] = keep[i] ? probs[i] / keptMass : 0;
        }
    }

    /** Binary max-heap of token ids ordered by probability, then by lower id. */
    private static final class IndexHeap {
        private final double[] key;
        private final int[] heap;
        private int size;

        IndexHeap(double[] key) {
            this.key = key;
            this.size = key.length;
            this.heap = new int[size];
            Arrays.setAll(heap, i -> i);
            for (int i = size / 2 - 1; i >= 0; i--) {
                siftDown(i);
            }
        }

        boolean isEmpty() {
            return size == 0;
        }

        int pop() {
            int top = heap[0];
            heap[0] = heap[--size];
            siftDown(0);
            return top;
        }

        private boolean before(int a, int b) {
            return key[a] > key[b] || (key[a] == key[b] && a < b);
        }

        private void siftDown(int i) {
            while (true) {
                int l = 2 * i + 1;
                int r = l + 1;
                int best = i;
                if (l < size && before(heap[l], heap[best])) {
                    best = l;
                }
                if (r < size && before(heap[r], heap[best])) {
                    best = r;
                }
                if (best == i) {
                    return;
                }
                int tmp = heap[i];
                heap[i] = heap[best];
                heap[best] = tmp;
                i = best;
            }
        }
    }
}
