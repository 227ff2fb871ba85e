package dev.rlhf.llama.generate;

import dev.rlhf.vocabulary.SamplingParams;
import dev.rlhf.llama.model.Tensors;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.rlhf.llama.config.LlamaConfig;
import dev.rlhf.llama.cpu.SequenceDecoder;
import dev.rlhf.llama.model.KvCache;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.runtime.GradMode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

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
     * next step and its result holds what was produced so far.
     */
    public Result generateAll(List<GenerationRequest> requests) {
        if (requests.isEmpty()) {
            throw new IllegalArgumentException("no requests given");
        }
        for (GenerationRequest r : requests) {
            validate(List.of(r.prompt()), r.params());
        }
        int rows = requests.stream().mapToInt(r -> r.params().n()).sum();
        int vocab = model.config().vocabSize();
        int maxPrompt = requests.stream().mapToInt(r -> r.prompt().length).max().orElseThrow();
        int maxNew = requests.stream().mapToInt(r -> r.params().maxNewTokens()).max().orElseThrow();
        int keyWidth = maxPrompt + maxNew;

        GenerationRequest[] owner = new GenerationRequest[rows];
        int[] sampleIndex = new int[rows];
        int[][] generated = new int[rows][];
        float[][] logprobs = new float[rows][];
        int[] produced = new int[rows];
        FinishReason[] finish = new FinishReason[rows];
        SplittableRandom[] randoms = new SplittableRandom[rows];
        long[] tokens = new long[rows * maxPrompt];
        long[] positions = new long[rows * maxPrompt];
        int[] keyMask = new int[rows * keyWidth];
        int r = 0;
        for (GenerationRequest req : requests) {
            int[] prompt = req.prompt();
            int pad = maxPrompt - prompt.length;
            for (int s = 0; s < req.params().n(); s++, r++) {
                owner[r] = req;
                sampleIndex[r] = s;
                generated[r] = new int[req.params().maxNewTokens()];
                logprobs[r] = new float[req.params().maxNewTokens()];
                randoms[r] = new SplittableRandom(mix(req.params().seed(), req.streamId(), s));
                for (int j = 0; j < maxPrompt; j++) {
                    boolean real = j >= pad;
                    tokens[r * maxPrompt + j] = real ? prompt[j - pad] : padId;
                    positions[r * maxPrompt + j] = real ? j - pad : 0;
                    keyMask[r * keyWidth + j] = real ? 1 : 0;
                }
            }
        }

        long prefillNanos;
        long decodeNanos = 0;
        long decodeTokens = 0;
        try (Forward forward = rows == 1 && batchOne != null ? new SequenceForward(batchOne.newSequence(keyWidth))
                : new ModelForward(owner, keyWidth)) {
            long start = System.nanoTime();
            Sampler.Rows logits = forward.step(tokens, positions, keyMask, maxPrompt, maxPrompt);
            prefillNanos = System.nanoTime() - start;

            int active = rows;
            for (int step = 0; step < maxNew && active > 0; step++) {
                long[] next = new long[rows];
                Arrays.fill(next, padId);
                long[] nextPositions = new long[rows];
                for (int i = 0; i < rows; i++) {
                    if (finish[i] != null) {
                        continue; // finished rows ride along as masked-out padding
                    }
                    GenerationRequest req = owner[i];
                    if (req.cancelled().getAsBoolean()) {
                        finish[i] = FinishReason.CANCELLED;
                        active--;
                        continue;
                    }
                    Sampler.Choice choice = Sampler.choose(logits, i, vocab, req.params(), randoms[i]);
                    int token = choice.token();
                    nextPositions[i] = req.prompt().length + step;
                    keyMask[i * keyWidth + maxPrompt + step] = 1;
                    // The EOS token is an action like any other: it is returned with its log-probability, so that
                    // RL trains the decision to stop (the row then rides along as padding).
                    float lp = choice.logProb();
                    logprobs[i][produced[i]] = lp;
                    generated[i][produced[i]++] = token;
                    req.listener().onToken(sampleIndex[i], token, lp);
                    if (model.config().isEos(token)) {
                        finish[i] = FinishReason.EOS;
                    } else {
                        next[i] = token;
                        if (hitsStop(generated[i], produced[i], req.params().stop())) {
                            finish[i] = FinishReason.STOP;
                        } else if (produced[i] == req.params().maxNewTokens()) {
                            finish[i] = FinishReason.LENGTH;
                        }
                    }
                    if (finish[i] != null) {
                        active--;
                    }
                }
                if (active == 0) {
                    break;
                }
                long t0 = System.nanoTime();
                logits = forward.step(next, nextPositions, keyMask, 1, maxPrompt + step + 1);
                decodeNanos += System.nanoTime() - t0;
                decodeTokens += active;
            }
        }

        List<List<Sample>> out = new ArrayList<>(requests.size());
        r = 0;
        for (GenerationRequest req : requests) {
            List<Sample> samples = new ArrayList<>(req.params().n());
            for (int s = 0; s < req.params().n(); s++, r++) {
                int[] ids = Arrays.copyOf(generated[r], produced[r]);
                int textLength = finish[r] == FinishReason.EOS ? produced[r] - 1 : produced[r];
                samples.add(new Sample(ids, decoder.decode(Arrays.copyOf(ids, textLength)),
                        Arrays.copyOf(logprobs[r], produced[r]),
                        finish[r] == null ? FinishReason.LENGTH : finish[r]));
            }
            out.add(samples);
        }
        long prefillTokens = (long) rows * maxPrompt;
        return new Result(out, new Stats(prefillTokens, prefillNanos, decodeTokens, decodeNanos));
    }

    /** One forward over (rows, t) new tokens at a time, with its cache; returns last-position logits. */
    private interface Forward extends AutoCloseable {
        /** Each row's next-token logits (and, from the DJL model, its distributions), valid until the next call. */
        Sampler.Rows step(long[] tokens, long[] positions, int[] keyMask, int t, int keys);

        @Override
        void close();
    }

    /**
     * The DJL model over the whole batch, left-padded, with a {@link KvCache}. Besides the logits it returns each
     * row's log-softmax at the row's temperature (1 for greedy rows), and the softmax when a row samples: computed
     * by libtorch for the whole batch in one call each, where a Java pass of exp over the vocabulary would cost
     * ~0.3 ms per row and step.
     */
    private final class ModelForward implements Forward {
        private final int rows;
        private final boolean anySampled;
        private final GradMode.Restore noGrad = GradMode.disabled();
        private final NDManager manager = model.weights().manager().newSubManager();
        private final KvCache cache;
        /** (rows, 1): each row's temperature, 1 for greedy rows. */
        private final NDArray temperatures;

        ModelForward(GenerationRequest[] owner, int capacity) {
            this.rows = owner.length;
            this.cache = new KvCache(manager, model.config(), rows, capacity, model.weights().dataType());
            float[] t = new float[rows];
            boolean sampled = false;
            for (int r = 0; r < rows; r++) {
                SamplingParams p = owner[r].params();
                t[r] = p.greedy() ? 1f : (float) p.temperature();
                sampled |= !p.greedy();
            }
            this.anySampled = sampled;
            this.temperatures = Tensors.of(manager, t, new Shape(rows, 1));
        }

        @Override
        public Sampler.Rows step(long[] tokens, long[] positions, int[] keyMask, int t, int keys) {
            try (NDScope ignored = new NDScope()) {
                NDArray tok = Tensors.of(manager, tokens, new Shape(rows, t));
                NDArray pos = Tensors.of(manager, positions, new Shape(rows, t));
                int width = keyMask.length / rows;
                NDArray mask = Tensors.of(manager, keyMask, new Shape(rows, width)).get(new NDIndex(":, :{}", keys));
                NDArray hidden = model.hidden(tok, pos, mask, cache); // (rows, t, D)
                NDArray last = hidden.get(new NDIndex(":, -1:, :")).squeeze(1); // (rows, D)
                NDArray logits = model.logits(last).toType(ai.djl.ndarray.types.DataType.FLOAT32, false); // (rows, V)
                NDArray logProbs = logits.div(temperatures).logSoftmax(-1);
                return new Sampler.Rows(logits.toFloatArray(), logProbs.toFloatArray(),
                        anySampled ? logProbs.exp().toFloatArray() : null);
            }
        }

        @Override
        public void close() {
            cache.close();
            manager.close();
            noGrad.close();
        }
    }

    /**
     * One row on the batch-1 decoder: no padding, so tokens go in at positions 0, 1, ... one per call (a prompt
     * is read one position at a time, as llama2.c does).
     */
    private static final class SequenceForward implements Forward {
        private final SequenceDecoder.Sequence sequence;

        SequenceForward(SequenceDecoder.Sequence sequence) {
            this.sequence = sequence;
        }

        @Override
        public Sampler.Rows step(long[] tokens, long[] positions, int[] keyMask, int t, int keys) {
            float[] logits = null;
            for (int j = 0; j < t; j++) {
                if (positions[j] != sequence.length()) {
                    throw new IllegalStateException("position " + positions[j] + " after " + sequence.length());
                }
                logits = sequence.next(Math.toIntExact(tokens[j]));
            }
            return new Sampler.Rows(logits, null, null);
        }

        @Override
        public void close() {}
    }

    private boolean hitsStop(int[] ids, int count, List<String> stops) {
        if (stops.isEmpty()) {
            return false;
        }
        String text = decoder.decode(Arrays.copyOf(ids, count));
        for (String s : stops) {
            if (!s.isEmpty() && text.contains(s)) {
                return true;
            }
        }
        return false;
    }

    /** A well-mixed 64-bit seed per (stream, sample): SplitMix64 finaliser over the combined inputs. */
    static long mix(long seed, long stream, int sample) {
        long z = seed * 0x9E3779B97F4A7C15L + stream * 0xBF58476D1CE4E5B9L + sample * 0x94D049BB133111EBL;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
