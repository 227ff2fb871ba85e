package dev.rlhf.llama.train;

/** One fixed-length training row: input ids, next-token targets and a 0/1 loss mask, all of length T. */
public record PackedSequence(int[] inputs, int[] targets, float[] lossMask) {
    public int length() {
        return inputs.length;
    }

    public double lossTokens() {
        double n = 0;
        for (float m : lossMask) {
            n += m;
        }
        return n;
    }
}
