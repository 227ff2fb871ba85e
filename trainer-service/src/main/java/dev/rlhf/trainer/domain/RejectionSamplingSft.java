package dev.rlhf.trainer.domain;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.llama.train.PackedSequence;
import dev.rlhf.llama.train.Packing;
import dev.rlhf.llama.train.Trainer;
import dev.rlhf.llama.train.TrainingExample;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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

    /** The best sample seen so far for one prompt, over all iterations. */
    record PoolEntry(String response, double score) {}

    /** File in each checkpoint holding the pool, so a restart keeps the top samples of earlier iterations. */
    static final String POOL_FILE = "rs-pool.json";

    private final Path root;
    private final Options options;
    private final NDManager manager;
    private final LlamaTokenizer tokenizer;
    private final Trainer trainer;
    private final Path tokenizerDir;
    private OffsetLedger ledger;
    private long version;
    private final List<Pending> buffer = new ArrayList<>();
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
        this.root = root;
        this.options = options;
        this.manager = parent.newSubManager();
        try {
            CheckpointDirs.Start start = CheckpointDirs.startOrResume(root, initialPolicy, ScoreHead.ABSENT,
                    options.learningRate(), VERSION, manager);
            this.trainer = start.trainer();
            // At most the model's context, as the reward trainer does: longer packed rows would index positions
            // the model does not have and fail at the first step, deep in the engine.
            this.rowLength = Math.min(options.sequenceLength(), trainer.model().config().maxPositionEmbeddings());
            this.tokenizerDir = start.tokenizerDir();
            this.ledger = start.ledger();
            this.version = start.version();
            if (start.resumedFrom() != null) {
                readPool(start.resumedFrom().resolve(POOL_FILE));
            }
            this.tokenizer = LlamaTokenizer.load(tokenizerDir);
        } catch (RuntimeException | java.io.IOException e) {
            manager.close();
            throw e instanceof RuntimeException re ? re : new IllegalStateException(e);
        }
    }

    /** Where to start consuming each partition. */
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
        String trained = response;
        if (!Double.isNaN(score)) {
            PoolEntry previous = pool.get(prompt);
            if (previous != null && previous.score() > score) {
                trained = previous.response();
                replacedByPool++;
            } else {
                pool.put(prompt, new PoolEntry(response, score));
            }
        }
        buffer.add(new Pending(partition, offset, id,
                new TrainingExample(tokenizer.encode(prompt), tokenizer.encode(trained))));
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
        lastLoss = trainer.languageModelStep(micro).loss();
        for (Pending p : batch) {
            ledger.recordTrained(p.partition(), p.offset());
        }
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
        version = next;
        sinceCheckpoint.clear();
        return new PolicyCheckpoint(next, w.dir(), w.manifestSha256(),
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
            pool.put(prompt, new PoolEntry(v.get("response").getAsString(), v.get("score").getAsDouble()));
        }
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
        trainer.close();
        tokenizer.close();
        manager.close();
    }
}
