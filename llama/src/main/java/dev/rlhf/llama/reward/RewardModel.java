package dev.rlhf.llama.reward;

import dev.rlhf.vocabulary.RewardKind;
import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.io.Manifest;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.reward.ScalarScorer;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.llama.tokenizer.PromptFormat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A loaded reward model: LLaMA trunk + scalar head scoring {@code <s> prompt <sep> response </s>}; returns the
 * raw logit and its sigmoid. Non-finite scores are never returned as numbers.
 */
public final class RewardModel implements AutoCloseable {
    private final RewardKind kind;
    private final long version;
    private final NDManager manager;
    private final LlamaModel model;
    private final LlamaTokenizer tokenizer;
    private final ScalarScorer scorer;

    private RewardModel(RewardKind kind, long version, NDManager manager, LlamaModel model, LlamaTokenizer tokenizer) {
        this.kind = kind;
        this.version = version;
        this.manager = manager;
        this.model = model;
        this.tokenizer = tokenizer;
        this.scorer = new ScalarScorer(model, tokenizer.padId());
    }

    /** Loads and verifies a reward checkpoint (it must have {@code score.weight} and a tokenizer). */
    public static RewardModel load(RewardKind kind, long version, Path dir, NDManager parent) {
        return load(kind, version, dir, parent, null);
    }

    /** As above; an adapter version stands on a base shared through {@code bases} (null: loaded on its own). */
    public static RewardModel load(RewardKind kind, long version, Path dir, NDManager parent,
                                   dev.rlhf.llama.checkpoint.SharedBases bases) {
        if (!Files.exists(dir.resolve("tokenizer.json"))) {
            throw new IllegalArgumentException("reward checkpoint " + dir + " has no tokenizer.json");
        }
        NDManager manager = parent.newSubManager();
        try {
            LlamaModel model = new LlamaModel(bases == null ? LlamaCheckpoint.load(dir, manager, ScoreHead.REQUIRED)
                    : bases.load(dir, manager, ScoreHead.REQUIRED));
            return new RewardModel(kind, version, manager, model, LlamaTokenizer.load(dir));
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /** Version recorded in the checkpoint's manifest step, for checkpoints loaded without an update record. */
    public static long manifestStep(Path dir) {
        return Files.exists(dir.resolve(Manifest.FILE_NAME)) ? Manifest.read(dir).step() : 0;
    }

    /** One reward score: the raw scalar-head output and sigmoid(raw). */
    public record Score(double raw, double probability) {
        public static Score of(double raw) {
            return new Score(raw, 1 / (1 + Math.exp(-raw)));
        }
    }

    /** Thrown when the model produces NaN or infinity for a response. */
    public static final class NonFiniteScoreException extends RuntimeException {
        public NonFiniteScoreException(int index, double value) {
            super("reward model produced a non-finite score (" + value + ") for response " + index);
        }
    }

    public List<Score> score(String prompt, List<String> responses) {
        if (prompt.isEmpty()) {
            throw new IllegalArgumentException("prompt is empty");
        }
        if (responses.isEmpty()) {
            throw new IllegalArgumentException("no responses to score");
        }
        return score(java.util.Collections.nCopies(responses.size(), prompt), responses);
    }

    /**
     * Scores (prompt, response) pairs in one batch, prompts[i] with responses[i]: what the service does for one
     * prompt, for batches that mix prompts (evaluation, PPO).
     */
    public List<Score> score(List<String> prompts, List<String> responses) {
        return score(prompts, responses, new boolean[responses.size()]);
    }

    /**
     * As {@link #score(List, List)}; {@code truncated[i]} marks a response cut at the length limit, which is scored
     * as it stands: appending {@code </s>} would tell the model the answer was complete.
     */
    public List<Score> score(List<String> prompts, List<String> responses, boolean[] truncated) {
        if (prompts.size() != responses.size() || truncated.length != responses.size()) {
            throw new IllegalArgumentException(prompts.size() + " prompts, " + responses.size() + " responses and "
                    + truncated.length + " truncation flags");
        }
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("no responses to score");
        }
        List<int[]> sequences = new ArrayList<>(responses.size());
        int context = model.config().maxPositionEmbeddings();
        String lastPrompt = null;
        int[] promptIds = null;
        for (int i = 0; i < responses.size(); i++) {
            if (!prompts.get(i).equals(lastPrompt)) { // runs of one prompt are tokenized once
                lastPrompt = prompts.get(i);
                promptIds = PromptFormat.chatPrompt(tokenizer, lastPrompt);
            }
            int[] response = tokenizer.encode(responses.get(i));
            int[] seq = truncated[i] ? concat(promptIds, response)
                    : PromptFormat.exchange(promptIds, response, tokenizer.eosId());
            if (seq.length > context) {
                // Keep the end (the response and its </s>), where the score is read: the prompt's head is dropped.
                int[] tail = new int[context];
                System.arraycopy(seq, seq.length - context, tail, 0, context);
                seq = tail;
            }
            sequences.add(seq);
        }
        float[] raw = scorer.scores(sequences);
        List<Score> out = new ArrayList<>(raw.length);
        for (int i = 0; i < raw.length; i++) {
            if (!Float.isFinite(raw[i])) {
                throw new NonFiniteScoreException(i, raw[i]);
            }
            out.add(Score.of(raw[i]));
        }
        return out;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    public RewardKind kind() {
        return kind;
    }

    public long version() {
        return version;
    }

    public LlamaModel model() {
        return model;
    }

    @Override
    public void close() {
        tokenizer.close();
        model.close();
        model.weights().close(); // releases a shared base
        manager.close();
    }
}
