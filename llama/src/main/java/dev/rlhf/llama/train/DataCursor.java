package dev.rlhf.llama.train;

import java.util.SplittableRandom;

/**
 * Position in a shuffled, repeating pass over a data set: epoch e visits the rows in a permutation derived
 * only from (seed, e), so the cursor (seed, epoch, index) is the whole data-order state a resumed run needs.
 */
public record DataCursor(long seed, int epoch, int index) {

    public static DataCursor start(long seed) {
        return new DataCursor(seed, 0, 0);
    }

    /** The next {@code batchSize} row indices (wrapping into the next epoch) and the cursor after them. */
    public Batch next(int datasetSize, int batchSize) {
        if (datasetSize <= 0) {
            throw new IllegalArgumentException("empty data set");
        }
        int[] rows = new int[batchSize];
        int e = epoch;
        int i = index;
        int[] order = permutation(seed, e, datasetSize);
        for (int k = 0; k < batchSize; k++) {
            if (i == datasetSize) {
                e++;
                i = 0;
                order = permutation(seed, e, datasetSize);
            }
            rows[k] = order[i++];
        }
        return new Batch(rows, new DataCursor(seed, e, i));
    }

    /** Indices of one batch and the cursor that follows it. */
    public record Batch(int[] rows, DataCursor after) {}

    /** Fisher-Yates shuffle of 0..n-1 seeded by (seed, epoch). */
    static int[] permutation(long seed, int epoch, int n) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + epoch);
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
        return order;
    }
}
