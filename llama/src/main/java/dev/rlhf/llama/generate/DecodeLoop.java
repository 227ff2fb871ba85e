package dev.rlhf.llama.generate;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.rlhf.llama.cpu.SequenceDecoder;
import dev.rlhf.llama.model.KvCache;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.Tensors;
import dev.rlhf.llama.runtime.GradMode;
import dev.rlhf.vocabulary.SamplingParams;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Autoregressive decoding of a changing set of rows (one row per sample), one token per row and step, with a
 * KV cache: continuous batching. Requests join between steps ({@link #admit}: their prompts are prefilled
 * together and their first tokens sampled), every active row decodes in the next {@link #step}, and a row leaves
 * as soon as it finishes (EOS, a stop string, its length, or its request cancelled); a request's samples are
 * handed over when its last row finishes. Each row samples from its own random stream (seed, stream id, sample
 * index), so a request's output does not depend on which others share its steps.
 *
 * <p>Cache layout: all rows write each step's keys and values at one shared position; a joining prompt is placed
 * to end just before it (left padding, hidden by the attention mask), with positions restarting at 0 on its first
 * token. When the shared position reaches the cache's capacity, slots no row uses any more are dropped from the
 * front; the cache grows (up to the model's context) only when that is not enough. A finished row's place is
 * taken by the last row, so forward passes only ever run the active rows.
 *
 * <p>Not thread-safe: one thread admits and steps.
 */
public final class DecodeLoop implements AutoCloseable {
    private final LlamaModel model;
    private final TokenDecoder decoder;
    private final int padId;
    private final int vocab;
    private final int maxRows;
    private final Backend backend;
    /** Active rows; index i is row i of the backend's batch. */
    private final List<Row> rows = new ArrayList<>();
    private long prefillTokens;
    private long prefillNanos;
    private long decodeTokens;
    private long decodeNanos;

    /** The samples of one request, handed to {@code done} when its last row finishes. */
    private static final class Pending {
        final GenerationRequest request;
        final Sample[] samples;
        final Consumer<List<Sample>> done;
        int remaining;

        Pending(GenerationRequest request, Consumer<List<Sample>> done) {
            this.request = request;
            this.samples = new Sample[request.params().n()];
            this.done = done;
            this.remaining = samples.length;
        }
    }

    private static final class Row {
        final Pending owner;
        final int sample;
        final SplittableRandom random;
        final int[] generated;
        final float[] logprobs;
        int produced;
        FinishReason finish;
        int nextToken;
        int nextPosition;

        Row(Pending owner, int sample) {
            this.owner = owner;
            this.sample = sample;
            SamplingParams p = owner.request.params();
            this.random = new SplittableRandom(Generator.mix(p.seed(), owner.request.streamId(), sample));
            this.generated = new int[p.maxNewTokens()];
            this.logprobs = new float[p.maxNewTokens()];
            this.nextPosition = owner.request.prompt().length;
        }
    }

    /** A DJL loop for up to {@code maxRows} rows with a cache first sized for {@code capacity} positions. */
    DecodeLoop(LlamaModel model, TokenDecoder decoder, int padId, int maxRows, int capacity) {
        this(model, decoder, padId, maxRows, null, capacity);
    }

    /** A one-row loop on the batch-1 decoder. */
    DecodeLoop(LlamaModel model, TokenDecoder decoder, int padId, SequenceDecoder batchOne, int capacity) {
        this(model, decoder, padId, 1, batchOne, capacity);
    }

    private DecodeLoop(LlamaModel model, TokenDecoder decoder, int padId, int maxRows, SequenceDecoder batchOne,
                       int capacity) {
        if (maxRows < 1) {
            throw new IllegalArgumentException("max rows must be >= 1, got " + maxRows);
        }
        this.model = model;
        this.decoder = decoder;
        this.padId = padId;
        this.vocab = model.config().vocabSize();
        this.maxRows = maxRows;
        int cap = Math.min(Math.max(1, capacity), model.config().maxPositionEmbeddings());
        this.backend = batchOne != null ? new SequenceBackend(batchOne.newSequence(cap)) : new ModelBackend(cap);
    }

    /** Rows that can still join. */
    public int freeRows() {
        return maxRows - rows.size();
    }

    /** Rows decoding now. */
    public int activeRows() {
        return rows.size();
    }

    public boolean isEmpty() {
        return rows.isEmpty();
    }

    /** Model time so far (prefill of every admission, decode steps). */
    public Generator.Stats stats() {
        return new Generator.Stats(prefillTokens, prefillNanos, decodeTokens, decodeNanos);
    }

    /**
     * Prefills the requests' prompts in one forward pass, samples each row's first token and lets the rows join
     * the next step. {@code done.get(i)} receives request i's samples (in sample order) when its last row
     * finishes, on this thread, possibly during this call. Requests must have been validated
     * ({@link Generator#validate}) and fit in {@link #freeRows()}.
     */
    public void admit(List<GenerationRequest> requests, List<Consumer<List<Sample>>> done) {
        if (requests.size() != done.size() || requests.isEmpty()) {
            throw new IllegalArgumentException(requests.size() + " requests, " + done.size() + " callbacks");
        }
        int joining = requests.stream().mapToInt(r -> r.params().n()).sum();
        if (joining > freeRows()) {
            throw new IllegalStateException(joining + " rows do not fit in the " + freeRows() + " free");
        }
        int width = requests.stream().mapToInt(r -> r.prompt().length).max().orElseThrow();
        long[] tokens = new long[joining * width];
        long[] positions = new long[joining * width];
        int[] promptLengths = new int[joining];
        float[] temperatures = new float[joining];
        boolean[] sampled = new boolean[joining];
        List<Row> joiners = new ArrayList<>(joining);
        int r = 0;
        for (int q = 0; q < requests.size(); q++) {
            GenerationRequest req = requests.get(q);
            Pending pending = new Pending(req, done.get(q));
            int[] prompt = req.prompt();
            int pad = width - prompt.length;
            for (int s = 0; s < req.params().n(); s++, r++) {
                joiners.add(new Row(pending, s));
                promptLengths[r] = prompt.length;
                temperatures[r] = temperature(req.params());
                sampled[r] = !req.params().greedy();
                for (int j = 0; j < width; j++) {
                    boolean real = j >= pad;
                    tokens[r * width + j] = real ? prompt[j - pad] : padId;
                    positions[r * width + j] = real ? j - pad : 0;
                }
            }
        }
        long start = System.nanoTime();
        Sampler.Rows logits = backend.prefill(tokens, positions, promptLengths, temperatures, sampled, width,
                rows.size());
        prefillNanos += System.nanoTime() - start;
        prefillTokens += (long) joining * width;
        int first = rows.size();
        rows.addAll(joiners);
        for (int j = 0; j < joining; j++) {
            choose(rows.get(first + j), logits, j);
        }
        removeFinished();
    }

    /** One decode step of every active row; returns whether rows remain. */
    public boolean step() {
        if (rows.isEmpty()) {
            return false;
        }
        int active = rows.size();
        long[] tokens = new long[active];
        long[] positions = new long[active];
        float[] temperatures = new float[active];
        boolean[] sampled = new boolean[active];
        for (int i = 0; i < active; i++) {
            Row row = rows.get(i);
            tokens[i] = row.nextToken;
            positions[i] = row.nextPosition;
            temperatures[i] = temperature(row.owner.request.params());
            sampled[i] = !row.owner.request.params().greedy();
        }
        long start = System.nanoTime();
        Sampler.Rows logits = backend.decode(tokens, positions, temperatures, sampled);
        decodeNanos += System.nanoTime() - start;
        decodeTokens += active;
        for (int i = 0; i < active; i++) {
            Row row = rows.get(i);
            row.nextPosition++;
            choose(row, logits, i);
        }
        removeFinished();
        return !rows.isEmpty();
    }

    /** Samples a row's next token from line {@code line} of the logits, or ends the row. */
    private void choose(Row row, Sampler.Rows logits, int line) {
        GenerationRequest req = row.owner.request;
        if (req.cancelled().getAsBoolean()) {
            row.finish = FinishReason.CANCELLED;
            return;
        }
        Sampler.Choice choice = Sampler.choose(logits, line, vocab, req.params(), row.random);
        int token = choice.token();
        // The EOS token is an action like any other: it is returned with its log-probability, so that RL trains
        // the decision to stop.
        row.logprobs[row.produced] = choice.logProb();
        row.generated[row.produced++] = token;
        req.listener().onToken(row.sample, token, choice.logProb());
        if (model.config().isEos(token)) {
            row.finish = FinishReason.EOS;
        } else if (hitsStop(row.generated, row.produced, req.params().stop())) {
            row.finish = FinishReason.STOP;
        } else if (row.produced == req.params().maxNewTokens()) {
            row.finish = FinishReason.LENGTH;
        } else {
            row.nextToken = token;
        }
    }

    /** Hands over finished rows' samples and fills their places with the last rows. */
    private void removeFinished() {
        for (int i = rows.size() - 1; i >= 0; i--) {
            Row row = rows.get(i);
            if (row.finish == null) {
                continue;
            }
            int last = rows.size() - 1;
            rows.set(i, rows.get(last));
            rows.remove(last);
            backend.remove(i, last);
            Pending p = row.owner;
            int[] ids = Arrays.copyOf(row.generated, row.produced);
            int textLength = row.finish == FinishReason.EOS ? row.produced - 1 : row.produced;
            p.samples[row.sample] = new Sample(ids, decoder.decode(Arrays.copyOf(ids, textLength)),
                    Arrays.copyOf(row.logprobs, row.produced), row.finish);
            if (--p.remaining == 0) {
                p.done.accept(List.of(p.samples));
            }
        }
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

    /** The temperature a row's log-probabilities are reported at: its own, 1 when greedy. */
    private static float temperature(SamplingParams p) {
        return p.greedy() ? 1f : (float) p.temperature();
    }

    @Override
    public void close() {
        backend.close();
    }

    /** Where the forward passes run. Rows are numbered as in {@link #rows}. */
    private interface Backend extends AutoCloseable {
        /**
         * Prefills new rows (left-padded prompts, (rows, width)) and places them after the {@code active} rows;
         * returns each new row's next-token distribution.
         */
        Sampler.Rows prefill(long[] tokens, long[] positions, int[] promptLengths, float[] temperatures,
                             boolean[] sampled, int width, int active);

        /** One token per active row; each row's temperature and whether it samples, as for {@link #prefill}. */
        Sampler.Rows decode(long[] tokens, long[] positions, float[] temperatures, boolean[] sampled);

        /** Row {@code last} takes the place of finished row {@code row}; the batch shrinks by one. */
        void remove(int row, int last);

        @Override
        void close();
    }

    /**
     * The DJL model over the active rows with a {@link KvCache}. Besides the logits it returns each row's
     * log-softmax at the row's temperature (1 for greedy rows), and the softmax when a row samples: computed by
     * libtorch for the whole batch in one call each, where a Java pass of exp over the vocabulary would cost
     * ~0.3 ms per row and step.
     */
    private final class ModelBackend implements Backend {
        private final GradMode.Restore noGrad = GradMode.disabled();
        private final NDManager manager = model.weights().manager().newSubManager();
        private KvCache cache;
        private int capacity;
        /** Per row: 1 where a slot holds one of its tokens. */
        private int[][] keyMask = new int[maxRows][];
        /** Per row: the slot of its first prompt token. */
        private final int[] start = new int[maxRows];

        ModelBackend(int capacity) {
            this.capacity = capacity;
            this.cache = new KvCache(manager, model.config(), maxRows, capacity, model.weights().dataType());
            cache.setActiveRows(0);
            for (int r = 0; r < maxRows; r++) {
                keyMask[r] = new int[capacity];
            }
        }

        @Override
        public Sampler.Rows prefill(long[] tokens, long[] positions, int[] promptLengths, float[] temps,
                                    boolean[] sampled, int width, int active) {
            int joining = promptLengths.length;
            // The new prompts end just before the shared write position; move everyone right if one is longer.
            // (Outside the NDScope below: a grown cache must outlive it.)
            int length = cache.length();
            if (width > length) {
                ensureCapacity(width);
                cache.shift(0, width - length);
                for (int r = 0; r < active; r++) {
                    shiftMask(r, width - length);
                }
                length = width;
            }
            try (NDScope ignored = new NDScope();
                 KvCache fresh = new KvCache(manager, model.config(), joining, width, model.weights().dataType())) {
                int[] mask = new int[joining * width];
                for (int r = 0; r < joining; r++) {
                    Arrays.fill(mask, r * width + width - promptLengths[r], (r + 1) * width, 1);
                }
                NDArray hidden = model.hidden(Tensors.of(manager, tokens, new Shape(joining, width)),
                        Tensors.of(manager, positions, new Shape(joining, width)),
                        Tensors.of(manager, mask, new Shape(joining, width)), fresh);
                NDArray last = hidden.get(new NDIndex(":, -1:, :")).squeeze(1); // (rows, D)
                cache.setActiveRows(active + joining);
                for (int j = 0; j < joining; j++) {
                    int row = active + j;
                    cache.copyIn(fresh, j, row, promptLengths[j]);
                    Arrays.fill(keyMask[row], 0);
                    Arrays.fill(keyMask[row], length - promptLengths[j], length, 1);
                    start[row] = length - promptLengths[j];
                }
                return distributions(last, temps, sampled);
            }
        }

        @Override
        public Sampler.Rows decode(long[] tokens, long[] positions, float[] temperatures, boolean[] sampled) {
            int active = tokens.length;
            if (cache.length() == capacity) {
                makeRoom(active);
            }
            int slot = cache.length();
            for (int r = 0; r < active; r++) {
                keyMask[r][slot] = 1;
            }
            int keys = slot + 1;
            int[] mask = new int[active * keys];
            for (int r = 0; r < active; r++) {
                System.arraycopy(keyMask[r], 0, mask, r * keys, keys);
            }
            try (NDScope ignored = new NDScope()) {
                NDArray hidden = model.hidden(Tensors.of(manager, tokens, new Shape(active, 1)),
                        Tensors.of(manager, positions, new Shape(active, 1)),
                        Tensors.of(manager, mask, new Shape(active, keys)), cache); // (rows, 1, D)
                return distributions(hidden.squeeze(1), temperatures, sampled);
            }
        }

        /**
         * Each row's greedy token and its log-probability, and, when any row samples, the log-softmax at each row's
         * temperature and the softmax: one libtorch call each for the whole batch.
         */
        private Sampler.Rows distributions(NDArray hidden, float[] temps, boolean[] sampled) {
            NDArray logits = model.logits(hidden).toType(DataType.FLOAT32, false); // (rows, V)
            NDArray logProbs = logits.div(Tensors.of(manager, temps, new Shape(temps.length, 1))).logSoftmax(-1);
            boolean anySampled = false;
            for (boolean b : sampled) {
                anySampled |= b;
            }
            // Greedy rows sit at temperature 1, where the largest log-probability is the argmax's.
            int[] best = logProbs.argMax(-1).toType(DataType.INT32, false).toIntArray();
            float[] bestLogProb = logProbs.max(new int[] {-1}).toFloatArray();
            return new Sampler.Rows(null, anySampled ? logProbs.toFloatArray() : null,
                    anySampled ? logProbs.exp().toFloatArray() : null, best, bestLogProb);
        }

        /** The shared position reached the capacity: drop slots no row uses, or grow. */
        private void makeRoom(int active) {
            int from = capacity;
            for (int r = 0; r < active; r++) {
                from = Math.min(from, start[r]);
            }
            if (from > 0) {
                cache.shift(from, 0);
                for (int r = 0; r < active; r++) {
                    shiftMask(r, -from);
                }
            }
            if (cache.length() == capacity) {
                ensureCapacity(capacity + 1);
            }
        }

        private void ensureCapacity(int needed) {
            if (needed <= capacity) {
                return;
            }
            int context = model.config().maxPositionEmbeddings();
            if (needed > context) {
                throw new IllegalStateException("a row needs " + needed + " positions, the context is " + context);
            }
            int grown = Math.min(context, Math.max(needed, 2 * capacity));
            cache = cache.grown(manager, model.config(), grown);
            for (int r = 0; r < maxRows; r++) {
                keyMask[r] = Arrays.copyOf(keyMask[r], grown);
            }
            capacity = grown;
        }

        /** Moves a row's mask (and first slot) by {@code delta} slots, as {@link KvCache#shift} moved its data. */
        private void shiftMask(int row, int delta) {
            int[] moved = new int[capacity];
            for (int k = 0; k < capacity; k++) {
                int to = k + delta;
                if (keyMask[row][k] == 1 && to >= 0 && to < capacity) {
                    moved[to] = 1;
                }
            }
            keyMask[row] = moved;
            start[row] += delta;
        }

        @Override
        public void remove(int row, int last) {
            if (row != last) {
                cache.moveRow(last, row);
                int[] swap = keyMask[row];
                keyMask[row] = keyMask[last];
                keyMask[last] = swap;
                start[row] = start[last];
            }
            cache.setActiveRows(cache.activeRows() - 1);
            if (cache.activeRows() == 0) {
                cache.setLength(0); // an empty batch starts over at slot 0
            }
        }

        @Override
        public void close() {
            cache.close();
            manager.close();
            noGrad.close();
        }
    }

    /** One row on the batch-1 decoder: no padding, tokens go in at positions 0, 1, ... one per call. */
    private static final class SequenceBackend implements Backend {
        private final SequenceDecoder.Sequence sequence;

        SequenceBackend(SequenceDecoder.Sequence sequence) {
            this.sequence = sequence;
        }

        @Override
        public Sampler.Rows prefill(long[] tokens, long[] positions, int[] promptLengths, float[] temperatures,
                                    boolean[] sampled, int width, int active) {
            if (active != 0 || promptLengths.length != 1 || sequence.length() != 0) {
                throw new IllegalStateException("the batch-1 decoder takes one row, once");
            }
            float[] logits = null;
            for (int j = 0; j < width; j++) {
                logits = sequence.next(Math.toIntExact(tokens[j]));
            }
            return Sampler.Rows.ofLogits(logits);
        }

        @Override
        public Sampler.Rows decode(long[] tokens, long[] positions, float[] temperatures, boolean[] sampled) {
            if (positions[0] != sequence.length()) {
                throw new IllegalStateException("position " + positions[0] + " after " + sequence.length());
            }
            return Sampler.Rows.ofLogits(sequence.next(Math.toIntExact(tokens[0])));
        }

        @Override
        public void remove(int row, int last) {}

        @Override
        public void close() {}
    }
}
