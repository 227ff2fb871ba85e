package dev.rlhf.llama.generate;

import dev.rlhf.vocabulary.SamplingParams;
import dev.rlhf.llama.config.LlamaConfig;
import dev.rlhf.llama.cpu.SequenceDecoder;
import dev.rlhf.llama.model.LlamaModel;
import java.util.ArrayList;
import java.util.Collections;
import java.util.function.Consumer;
import java.util.List;

/**
 * Batched autoregressive generation with a KV cache: every prompt is repeated {@code n} times, the batch is
 * left-padded (attention mask + per-row position ids), prefilled once and then decoded one token per step.
 * Each (prompt, sample) pair has its own random stream derived from the seed, so results do not depend on
 * what else is in the batch.
 */
public final class Generator {
    private final LlamaModel model;
    private final TokenDecoder decoder;
    private final int padId;
    /** Decodes batches of one row when set (the CPU fast path); null: every batch goes through the DJL model. */
    private final SequenceDecoder batchOne;

    public Generator(LlamaModel model, TokenDecoder decoder, int padId) {
        this(model, decoder, padId, null);
    }

    /**
     * As above; a batch of one row (one request, n = 1) runs on {@code batchOne} instead of the DJL model, which
     * must then hold the same weights ({@link dev.rlhf.llama.cpu.CpuDecoding#open}). The caller owns it.
     */
    public Generator(LlamaModel model, TokenDecoder decoder, int padId, SequenceDecoder batchOne) {
        this.model = model;
        this.decoder = decoder;
        this.padId = padId;
        this.batchOne = batchOne;
    }

    /** Timing of the model work only (no tokenization or loading), for throughput reports. */
    public record Stats(long prefillTokens, long prefillNanos, long decodeTokens, long decodeNanos) {
        public double prefillTokensPerSecond() {
            return prefillNanos == 0 ? 0 : prefillTokens * 1e9 / prefillNanos;
        }

        public double decodeTokensPerSecond() {
            return decodeNanos == 0 ? 0 : decodeTokens * 1e9 / decodeNanos;
        }
    }

    /** Samples for each prompt (outer list in prompt order, inner list of n samples) and timing. */
    public record Result(List<List<Sample>> samples, Stats stats) {}

    /** Checks that prompts are non-empty, ids in range and prompt + maxNewTokens fits the context. */
    public void validate(List<int[]> prompts, SamplingParams params) {
        LlamaConfig c = model.config();
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("no prompts given");
        }
        for (int[] prompt : prompts) {
            if (prompt.length == 0) {
                throw new IllegalArgumentException("empty prompt");
            }
            for (int id : prompt) {
                if (id < 0 || id >= c.vocabSize()) {
                    throw new IllegalArgumentException("token id " + id + " out of range [0, " + c.vocabSize() + ")");
                }
            }
            // In long: a max_new_tokens near Integer.MAX_VALUE must not wrap around and pass.
            if ((long) prompt.length + params.maxNewTokens() > c.maxPositionEmbeddings()) {
                throw new ContextOverflowException(prompt.length, params.maxNewTokens(), c.maxPositionEmbeddings());
            }
        }
    }

    /** Convenience form: every prompt with the same parameters; prompt i uses random stream i. */
    public Result generate(List<int[]> prompts, SamplingParams params) {
        validate(prompts, params);
        List<GenerationRequest> requests = new ArrayList<>(prompts.size());
        for (int p = 0; p < prompts.size(); p++) {
            requests.add(new GenerationRequest(prompts.get(p), params, p, null, null));
        }
        return generateAll(requests);
    }

    /**
     * Generates for requests with individual parameters in one batch. A cancelled request's rows stop at the
     * next step and its result holds what was produced so far. A batch of one row runs on the batch-1 decoder
     * when this generator has one.
     */
    public Result generateAll(List<GenerationRequest> requests) {
        if (requests.isEmpty()) {
            throw new IllegalArgumentException("no requests given");
        }
        for (GenerationRequest r : requests) {
            validate(List.of(r.prompt()), r.params());
        }
        int rows = requests.stream().mapToInt(r -> r.params().n()).sum();
        int maxPrompt = requests.stream().mapToInt(r -> r.prompt().length).max().orElseThrow();
        int maxNew = requests.stream().mapToInt(r -> r.params().maxNewTokens()).max().orElseThrow();
        int capacity = maxPrompt + maxNew;
        List<List<Sample>> out = new ArrayList<>(Collections.nCopies(requests.size(), null));
        List<Consumer<List<Sample>>> done = new ArrayList<>();
        for (int i = 0; i < requests.size(); i++) {
            int index = i;
            done.add(samples -> out.set(index, samples));
        }
        try (DecodeLoop loop = rows == 1 && batchOne != null
                ? new DecodeLoop(model, decoder, padId, batchOne, capacity)
                : new DecodeLoop(model, decoder, padId, rows, capacity)) {
            loop.admit(requests, done);
            while (loop.step()) {
                // each step samples one token per active row; finished rows leave
            }
            return new Result(out, loop.stats());
        }
    }

    /**
     * A decode loop on this generator's model for up to {@code maxRows} rows that requests can join between steps
     * (continuous batching); the caller closes it.
     */
    public DecodeLoop newLoop(int maxRows) {
        // A first cache size that fits short requests; the loop grows it up to the context when needed.
        return new DecodeLoop(model, decoder, padId, maxRows, 128);
    }

    /** A well-mixed 64-bit seed per (stream, sample): SplitMix64 finaliser over the combined inputs. */
    static long mix(long seed, long stream, int sample) {
        long z = seed * 0x9E3779B97F4A7C15L + stream * 0xBF58476D1CE4E5B9L + sample * 0x94D049BB133111EBL;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
