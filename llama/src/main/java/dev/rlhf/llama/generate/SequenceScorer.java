package dev.rlhf.llama.generate;

import dev.rlhf.llama.model.Tensors;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.runtime.GradMode;
import dev.rlhf.llama.train.Losses;
import java.util.ArrayList;
import java.util.List;

/**
 * Teacher-forced scoring: the log-probability of each response token given the prompt and the earlier
 * response tokens, for a batch of (prompt, response) pairs in one left-padded forward pass. PPO uses it for
 * the reference policy's log-probabilities and the policy service exposes it as {@code ScoreSequences}.
 */
public final class SequenceScorer {
    private final LlamaModel model;
    private final int padId;

    public SequenceScorer(LlamaModel model, int padId) {
        this.model = model;
        this.padId = padId;
    }

    /** One float[] per pair, of the response's length (empty responses give empty arrays). */
    public List<float[]> responseLogProbs(List<int[]> prompts, List<int[]> responses) {
        if (prompts.size() != responses.size()) {
            throw new IllegalArgumentException(prompts.size() + " prompts but " + responses.size() + " responses");
        }
        int rows = prompts.size();
        int width = 0;
        int vocab = model.config().vocabSize();
        for (int r = 0; r < rows; r++) {
            if (prompts.get(r).length == 0) {
                throw new IllegalArgumentException("empty prompt at index " + r);
            }
            int len = prompts.get(r).length + responses.get(r).length;
            if (len > model.config().maxPositionEmbeddings()) {
                throw new ContextOverflowException(prompts.get(r).length, responses.get(r).length,
                        model.config().maxPositionEmbeddings());
            }
            for (int[] seq : List.of(prompts.get(r), responses.get(r))) {
                for (int id : seq) {
                    if (id < 0 || id >= vocab) {
                        throw new IllegalArgumentException("token id " + id + " out of range [0, " + vocab + ")");
                    }
                }
            }
            width = Math.max(width, len);
        }
        long[] tokens = new long[rows * width];
        long[] positions = new long[rows * width];
        long[] targets = new long[rows * width];
        int[] mask = new int[rows * width];
        for (int r = 0; r < rows; r++) {
            int[] p = prompts.get(r);
            int[] a = responses.get(r);
            int len = p.length + a.length;
            int pad = width - len;
            for (int j = 0; j < width; j++) {
                int k = j - pad; // index within the real sequence
                boolean real = k >= 0;
                tokens[r * width + j] = real ? (k < p.length ? p[k] : a[k - p.length]) : padId;
                positions[r * width + j] = real ? k : 0;
                mask[r * width + j] = real ? 1 : 0;
                int next = k + 1; // the position j predicts token k + 1
                targets[r * width + j] = real && next < len ? (next < p.length ? p[next] : a[next - p.length]) : 0;
            }
        }
        float[] logp;
        try (GradMode.Restore noGrad = GradMode.disabled();
             NDManager manager = model.weights().manager().newSubManager(); NDScope ignored = new NDScope()) {
            Shape shape = new Shape(rows, width);
            NDArray hidden = model.hidden(Tensors.of(manager, tokens, shape), Tensors.of(manager, positions, shape),
                    Tensors.of(manager, mask, shape), null);
            logp = Losses.tokenLogProbs(model.logits(hidden), Tensors.of(manager, targets, shape)).toFloatArray();
        }
        List<float[]> out = new ArrayList<>(rows);
        for (int r = 0; r < rows; r++) {
            int[] p = prompts.get(r);
            int[] a = responses.get(r);
            int pad = width - p.length - a.length;
            float[] lp = new float[a.length];
            for (int i = 0; i < a.length; i++) {
                // response token i sits at real index p.length + i and is predicted by the position before it
                lp[i] = logp[r * width + pad + p.length + i - 1];
            }
            out.add(lp);
        }
        return out;
    }
}
