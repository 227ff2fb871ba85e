package dev.rlhf.llama.train;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Concatenates examples into fixed-length rows, as LLaMA 2 SFT does (§3.1): each example is
 * {@code <s> prompt <sep> answer </s>} (or {@code <s> text </s>} without a prompt), all examples are joined
 * into one stream and cut every T tokens; the loss mask is 1 exactly where the target is an answer token or
 * the closing {@code </s>}, so prompt tokens get zero loss. The last row is padded with mask 0. An example that is
 * not {@link TrainingExample#closed() closed} (a truncated response) gets no {@code </s>}.
 */
public final class Packing {
    private Packing() {}

    public static List<PackedSequence> pack(List<TrainingExample> examples, int seqLen, int bos, int sep, int eos,
                                            int pad) {
        if (seqLen < 2) {
            throw new IllegalArgumentException("sequence length must be >= 2, got " + seqLen);
        }
        int total = 0;
        for (TrainingExample e : examples) {
            total += 1 + e.prompt().length + (e.hasPrompt() ? 1 : 0) + e.response().length + (e.closed() ? 1 : 0);
        }
        int[] stream = new int[total];
        boolean[] trained = new boolean[total]; // is this token a loss target?
        int at = 0;
        for (TrainingExample e : examples) {
            stream[at++] = bos;
            for (int id : e.prompt()) {
                stream[at++] = id;
            }
            if (e.hasPrompt()) {
                stream[at++] = sep;
            }
            for (int id : e.response()) {
                trained[at] = true;
                stream[at++] = id;
            }
            if (e.closed()) {
                trained[at] = true;
                stream[at++] = eos;
            }
        }
        // Row r covers stream[r*T .. r*T+T] (T+1 tokens: inputs are the first T, targets the last T).
        List<PackedSequence> rows = new ArrayList<>();
        for (int start = 0; start + 1 < total; start += seqLen) {
            int[] inputs = new int[seqLen];
            int[] targets = new int[seqLen];
            float[] mask = new float[seqLen];
            Arrays.fill(inputs, pad);
            Arrays.fill(targets, pad);
            for (int j = 0; j < seqLen && start + j + 1 < total; j++) {
                inputs[j] = stream[start + j];
                targets[j] = stream[start + j + 1];
                mask[j] = trained[start + j + 1] ? 1f : 0f;
            }
            if (start + seqLen + 1 > total) {
                inputs[Math.min(seqLen, total - 1 - start)] = pad; // keep the tail clean
            }
            rows.add(new PackedSequence(inputs, targets, mask));
        }
        return rows;
    }
}
