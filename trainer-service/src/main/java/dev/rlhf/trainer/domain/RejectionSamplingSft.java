package dev.rlhf.trainer.domain;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.llama.train.PackedSequence;
import dev.rlhf.llama.train.Packing;
import dev.rlhf.llama.train.ScalarLog;
import dev.rlhf.llama.train.Trainer;
import dev.rlhf.llama.train.TrainingExample;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Online rejection-sampling fine-tuning (LLaMA 2 §3.2.3): best-of-N samples arrive one by one; every
 * {@code batchSize} of them make one SFT step (loss on the response only), and every
 * {@code checkpointEverySteps} steps a new policy version is written atomically with an {@link OffsetLedger}
 * of exactly the samples its weights include. Restarting from the newest complete checkpoint and seeking to its
 * ledger's offsets loses nothing and trains nothing twice.
 */
public final class RejectionSamplingSft implements AutoCloseable {
    /** Manifest metadata keys. */
    static final String VERSION = "policy_version";
    static final String TRAINED_IDS = "trained_ids";

    /**
     * @param replay demonstrations replayed next to the best samples (ours, see TrainerConfig.REPLAY_DATA)
     * @param replayPerStep how many of them join each step; step s takes replay[(s * k + i) mod size], so a
     *                      restarted trainer replays exactly what an uninterrupted one would
     */
    public record Options(int batchSize, int microBatchSize, int sequenceLength, double learningRate,
                          int checkpointEverySteps, List<dev.rlhf.llama.data.JsonlExamples.TextExample> replay,
                          int replayPerStep) {
        public Options {
            if (batchSize < 1 || microBatchSize < 1 || sequenceLength < 2 || !(learningRate > 0)
                    || checkpointEverySteps < 1 || replayPerStep < 0) {
                throw new IllegalArgumentException("invalid trainer options: " + batchSize + ", " + microBatchSize
                        + ", " + sequenceLength + ", " + learningRate + ", " + checkpointEverySteps + ", "
                        + replayPerStep);
            }
            replay = replay == null ? List.of() : List.copyOf(replay);
            if (replayPerStep > 0 && replay.isEmpty()) {
                throw new IllegalArgumentException("replay-per-step " + replayPerStep + " but no replay data");
            }
        }

        public Options(int batchSize, int microBatchSize, int sequenceLength, double learningRate,
                       int checkpointEverySteps) {
            this(batchSize, microBatchSize, sequenceLength, learningRate, checkpointEverySteps, List.of(), 0);
        }
    }

    /** A new policy version on disk: what the trainer publishes as a ModelUpdate. */
    public record PolicyCheckpoint(long version, Path dir, String manifestSha256, long step, double loss) {}

    private record Pending(int partition, long offset, String id, TrainingExample example) {}

    /**
     * One best-of-N winner as the sampler published it: the ids the policy produced (prompt as {@code <s> prompt
     * <sep>}, response ending with {@code </s>} when it ended there; empty when the producer did not report them:
     * the text is then tokenized here), whether it was cut at max_new_tokens, and its combined reward on the
     * sigmoid scale (NaN: none).
     */
    public record BestSample(String id, String prompt, int[] promptIds, String response, int[] responseIds,
                             boolean truncated, double score) {
        public BestSample {
            if (!Double.isNaN(score) && !(score >= 0 && score <= 1)) {
                // An infinite or out-of-range score would hold the pool's place for its prompt forever.
                throw new IllegalArgumentException("sample " + id + ": combined reward " + score
                        + " is not a probability in [0, 1]");
            }
        }

        /** A sample known by its text only. */
        public BestSample(String id, String prompt, String response, double score) {
            this(id, prompt, new int[0], response, new int[0], false, score);
        }
    }

    /** The best sample seen so far for one prompt, over all iterations, as the ids it is trained on. */
    record PoolEntry(String response, double score, TrainingExample example) {}

    /** File in each checkpoint holding the pool, so a restart keeps the top samples of earlier iterations. */
    static final String POOL_FILE = "rs-pool.json";

    private final Path root;
    private final Options options;
    private final NDManager manager;
    private final LlamaTokenizer tokenizer;
    private final Trainer trainer;
    private final Path tokenizerDir;
    private OffsetLedger ledger;
    /** Per-step scalars for TensorBoard and scalars.jsonl, in {@code <root>/tensorboard}. */
    private final ScalarLog scalars;
    private long version;
    private final List<Pending> buffer = new ArrayList<>();
    /** Unusable records (partition, offset) since the last step, settled in the ledger with it. */
    private final List<long[]> skipped = new ArrayList<>();
    private final List<Pending> sinceCheckpoint = new ArrayList<>();
    private double lastLoss = Double.NaN;
    /**
     * LLaMA 2 §3.2.3: from the third iteration on, the training pool keeps the top samples of all previous iterations.
     * Ours: per prompt text, the highest combined reward seen so far; a new best sample that scores lower than the
     * pool's entry for its prompt is replaced by that entry in the step (the same reward models score both).
     */
    private final java.util.Map<String, PoolEntry> pool = new java.util.HashMap<>();
    private long replacedByPool;
    private final int rowLength;

    /**
     * Resumes from the newest complete checkpoint under {@code root}, or starts from {@code initialPolicy}
     * (version 0) when there is none.
     */
    public RejectionSamplingSft(Path root, Path initialPolicy, Options options, NDManager parent) {
        this(root, initialPolicy, options, null, parent);
    }

    /** As above; with {@code lora} a fresh start trains a LoRA adapter on the initial policy. */
    public RejectionSamplingSft(Path root, Path initialPolicy, Options options,
                                dev.rlhf.llama.lora.LoraConfig lora, NDManager parent) {
        this.root = root;
        this.scalars = ScalarLog.openOnFirstWrite(root.resolve("tensorboard"));
        this.options = options;
        this.manager = parent.newSubManager();
        try {
            CheckpointDirs.Start start = CheckpointDirs.startOrResume(root, initialPolicy, ScoreHead.ABSENT,
                    options.learningRate(), VERSION, lora, manager);
            this.trainer = start.trainer();
            // At most the model's context, as the reward trainer does: longer packed rows would index positions
            // the model does not have and fail at the first step, deep in the engine.
            this.rowLength = Math.min(options.sequenceLength(), trainer.model().config().maxPositionEmbeddings());
            this.tokenizerDir = start.tokenizerDir();
            this.ledger = start.ledger();
            this.version = start.version();
            this.tokenizer = LlamaTokenizer.load(tokenizerDir);
            if (start.resumedFrom() != null) {
                readPool(start.resumedFrom().resolve(POOL_FILE));
            }
        } catch (RuntimeException | java.io.IOException e) {
            manager.close();
            throw e instanceof RuntimeException re ? re : new IllegalStateException(e);
        }
    }

    /** Where to start consuming each partition. */
    /** A record that could not be used (dead-lettered): settled with the next step, so a restart skips it too. */
    public void skip(int partition, long offset) {
        if (offset >= ledger.nextOffset(partition)) {
            skipped.add(new long[] {partition, offset});
        }
    }

    /** Binds the ledger to the broker's log; the previous cluster id when it was another's ({@link OffsetLedger#adoptCluster}). */
    public String adoptCluster(String clusterId) {
        return ledger.adoptCluster(clusterId);
    }

    public OffsetLedger ledger() {
        return ledger.copy();
    }

    public long version() {
        return version;
    }

    public long steps() {
        return trainer.stepCount();
    }

    /**
     * Takes one best-of-N sample. Returns the new policy checkpoint when this sample completed a step that
     * triggered a checkpoint.
     */
    public Optional<PolicyCheckpoint> accept(int partition, long offset, String id, String prompt, String response) {
        return accept(partition, offset, id, prompt, response, Double.NaN);
    }

    /**
     * As {@link #accept(int, long, String, String, String)} with the sample's combined reward: the step trains on
     * whichever is higher, this sample or the pool's best for the same prompt from earlier iterations (NaN: no
     * score, the sample is used as is and not pooled).
     */
    public Optional<PolicyCheckpoint> accept(int partition, long offset, String id, String prompt, String response,
                                             double score) {
        return accept(partition, offset, new BestSample(id, prompt, response, score));
    }

    /**
     * Takes one best-of-N winner and trains on the ids the policy produced: {@code </s>} is trained when the
     * response ended on it (or on a stop string), never after a truncated one. Returns the new policy checkpoint
     * when this sample completed a step that triggered one.
     */
    public Optional<PolicyCheckpoint> accept(int partition, long offset, BestSample sample) {
        TrainingExample example = example(sample);
        TrainingExample trained = example;
        if (!Double.isNaN(sample.score())) {
            PoolEntry previous = pool.get(sample.prompt());
            if (previous != null && previous.score() > sample.score()) {
                trained = previous.example();
                replacedByPool++;
            } else {
                pool.put(sample.prompt(), new PoolEntry(sample.response(), sample.score(), example));
            }
        }
        buffer.add(new Pending(partition, offset, sample.id(), trained));
        if (buffer.size() < options.batchSize()) {
            return Optional.empty();
        }
        List<Pending> batch = new ArrayList<>(buffer);
        buffer.clear();
        trainStep(batch);
        if (trainer.stepCount() % options.checkpointEverySteps() == 0) {
            return Optional.of(checkpoint());
        }
        return Optional.empty();
    }

    /** The example SFT packs as {@code <s> prompt <sep> response [</s>]}. */
    TrainingExample example(BestSample b) {
        int vocab = trainer.model().config().vocabSize();
        int[] p = b.promptIds();
        int[] prompt = p.length >= 2 && p[0] == tokenizer.bosId() && p[p.length - 1] == tokenizer.sepId()
                ? Arrays.copyOfRange(p, 1, p.length - 1) : tokenizer.encode(b.prompt());
        int[] r = b.responseIds();
        boolean endsOnEos = r.length > 0 && trainer.model().config().isEos(r[r.length - 1]); // any of Llama 3's
        int[] response = r.length == 0 ? tokenizer.encode(b.response())
                : endsOnEos ? Arrays.copyOf(r, r.length - 1) : r;
        for (int[] ids : List.of(prompt, response)) {
            for (int t : ids) {
                if (t < 0 || t >= vocab) {
                    throw new IllegalArgumentException("sample " + b.id() + ": token id " + t
                            + " outside the policy's vocabulary [0, " + vocab + ")");
                }
            }
        }
        return new TrainingExample(prompt, response, endsOnEos || !b.truncated());
    }

    private void trainStep(List<Pending> batch) {
        List<TrainingExample> examples = new ArrayList<>(batch.stream().map(Pending::example).toList());
        int k = options.replayPerStep();
        for (int i = 0; i < k; i++) {
            var demo = options.replay().get((int) ((trainer.stepCount() * k + i) % options.replay().size()));
            examples.add(new TrainingExample(tokenizer.encode(demo.prompt()), tokenizer.encode(demo.response())));
        }
        List<PackedSequence> rows = Packing.pack(examples, rowLength, tokenizer.bosId(),
                tokenizer.sepId(), tokenizer.eosId(), tokenizer.padId());
        List<List<PackedSequence>> micro = new ArrayList<>();
        for (int i = 0; i < rows.size(); i += options.microBatchSize()) {
            micro.add(rows.subList(i, Math.min(rows.size(), i + options.microBatchSize())));
        }
        Trainer.StepResult result = trainer.languageModelStep(micro);
        lastLoss = result.loss();
        scalars.trainingStep(result, (long) rows.size() * rowLength, java.util.Map.of("replaced_by_pool",
                (double) replacedByPool));
        // In offset order per partition, trained and skipped records alike (the ledger only moves forward).
        List<long[]> settled = new ArrayList<>(skipped);
        batch.forEach(p -> settled.add(new long[] {p.partition(), p.offset(), 1}));
        settled.sort(java.util.Comparator.<long[]>comparingLong(e -> e[0]).thenComparingLong(e -> e[1]));
        for (long[] e : settled) {
            if (e.length == 3) {
                ledger.recordTrained((int) e[0], e[1]);
            } else {
                ledger.recordSkipped((int) e[0], e[1]);
            }
        }
        skipped.clear();
        sinceCheckpoint.addAll(batch);
    }

    /** Writes the next policy version (atomically) and returns it. */
    public PolicyCheckpoint checkpoint() {
        long next = version + 1;
        JsonObject meta = new JsonObject();
        meta.addProperty("stage", "rejection-sampling");
        meta.addProperty("loss", lastLoss);
        JsonArray ids = new JsonArray();
        sinceCheckpoint.forEach(p -> ids.add(p.id()));
        meta.add(TRAINED_IDS, ids); // audit trail: the samples added since the previous version
        CheckpointDirs.Written w = CheckpointDirs.write(root, "policy", trainer, next, VERSION, ledger, meta,
                tokenizerDir, d -> writePool(d.resolve(POOL_FILE)));
        version = w.version(); // past a corrupt newer checkpoint, if one is on disk
        sinceCheckpoint.clear();
        return new PolicyCheckpoint(version, w.dir(), w.manifestSha256(),
                trainer.stepCount(), lastLoss);
    }

    /** Best samples that were swapped for a better one of an earlier iteration (for metrics and tests). */
    public long replacedByPool() {
        return replacedByPool;
    }

    public int poolSize() {
        return pool.size();
    }

    // Note: the pool written with a checkpoint may include samples still in the buffer (not yet trained); they are
    // re-read after a restart and their pool entry is then simply confirmed.
    private void writePool(Path file) throws java.io.IOException {
        JsonObject o = new JsonObject();
        pool.forEach((prompt, e) -> {
            JsonObject v = new JsonObject();
            v.addProperty("response", e.response());
            v.addProperty("score", e.score());
            v.add("prompt_ids", ids(e.example().prompt()));
            v.add("response_ids", ids(e.example().response()));
            v.addProperty("closed", e.example().closed());
            o.add(prompt, v);
        });
        Files.writeString(file, o.toString(), java.nio.charset.StandardCharsets.UTF_8);
    }

    private void readPool(Path file) throws java.io.IOException {
        if (!Files.exists(file)) {
            return; // a checkpoint from before the pool existed
        }
        JsonObject o = com.google.gson.JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        for (String prompt : o.keySet()) {
            JsonObject v = o.getAsJsonObject(prompt);
            String response = v.get("response").getAsString();
            // Pools written before ids travelled hold text only.
            TrainingExample e = v.has("response_ids")
                    ? new TrainingExample(ints(v.getAsJsonArray("prompt_ids")), ints(v.getAsJsonArray("response_ids")),
                    v.get("closed").getAsBoolean())
                    : new TrainingExample(tokenizer.encode(prompt), tokenizer.encode(response));
            pool.put(prompt, new PoolEntry(response, v.get("score").getAsDouble(), e));
        }
    }

    private static JsonArray ids(int[] ids) {
        JsonArray a = new JsonArray();
        for (int id : ids) {
            a.add(id);
        }
        return a;
    }

    private static int[] ints(JsonArray a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsInt();
        }
        return out;
    }

    /** The checkpoint the current weights came from, or null when training started from the initial policy. */
    public Path newestCheckpoint() {
        return CheckpointDirs.newest(root);
    }

    /** Samples received but not yet trained (they are re-read after a restart). */
    public int buffered() {
        return buffer.size();
    }

    @Override
    public void close() {
        scalars.close();
        trainer.close();
        tokenizer.close();
        manager.close();
    }
}
