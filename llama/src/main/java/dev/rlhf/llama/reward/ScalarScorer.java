package dev.rlhf.llama.reward;

import dev.rlhf.llama.model.Tensors;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.runtime.GradMode;
import java.util.List;

/**
 * Scalar-head scores of whole sequences (reward models, LLaMA 2 §3.2.2): the score is read at the last
 * non-padding token, as HF {@code LlamaForSequenceClassification}. Sequences are left-padded, so that token
 * is always the last position of the batch.
 */
public final class ScalarScorer {
    private final LlamaModel model;
    private final int padId;

    public ScalarScorer(LlamaModel model, int padId) {
        if (!model.weights().has(LlamaWeights.SCORE_HEAD)) {
            throw new IllegalArgumentException("model has no scalar head (" + LlamaWeights.SCORE_HEAD
                    + "): not a reward or value model");
        }
        this.model = model;
        this.padId = padId;
    }

    /** Raw (logit) scores, one per sequence. */
    public float[] scores(List<int[]> sequences) {
        try (GradMode.Restore noGrad = GradMode.disabled();
             NDManager manager = model.weights().manager().newSubManager(); NDScope ignored = new NDScope()) {
            return lastTokenScores(model, manager, sequences, padId).toFloatArray();
        }
    }

    /**
     * Differentiable variant for training: (B) scores of the given sequences, built in {@code manager}.
     */
    public static NDArray lastTokenScores(LlamaModel model, NDManager manager, List<int[]> sequences, int padId) {
        int rows = sequences.size();
        int width = 0;
        int context = model.config().maxPositionEmbeddings();
        for (int[] s : sequences) {
            if (s.length == 0 || s.length > context) {
                throw new IllegalArgumentException("sequence length " + s.length + " outside [1, " + context + "]");
            }
            width = Math.max(width, s.length);
        }
        long[] tokens = new long[rows * width];
        long[] positions = new long[rows * width];
        int[] mask = new int[rows * width];
        for (int r = 0; r < rows; r++) {
            int[] s = sequences.get(r);
            int pad = width - s.length;
            for (int j = 0; j < width; j++) {
                boolean real = j >= pad;
                tokens[r * width + j] = real ? s[j - pad] : padId;
                positions[r * width + j] = real ? j - pad : 0;
                mask[r * width + j] = real ? 1 : 0;
            }
        }
        Shape shape = new Shape(rows, width);
        NDArray hidden = model.hidden(Tensors.of(manager, tokens, shape), Tensors.of(manager, positions, shape),
                Tensors.of(manager, mask, shape), null); // (B, T, D)
        return model.scalarScores(hidden.get(new NDIndex(":, -1:, :"))).squeeze(1); // (B)
    }
}
