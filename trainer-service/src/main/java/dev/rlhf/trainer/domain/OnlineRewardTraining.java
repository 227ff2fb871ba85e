package dev.rlhf.trainer.domain;

import dev.rlhf.vocabulary.RewardKind;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.reward.ScalarScorer;
import dev.rlhf.llama.rl.RankingLoss;
import dev.rlhf.llama.rl.RewardModelTraining;
import dev.rlhf.llama.rl.RewardModelTraining.TokenPair;
import dev.rlhf.llama.runtime.GradMode;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.llama.tokenizer.PromptFormat;
import dev.rlhf.llama.train.LearningRateSchedule;
import dev.rlhf.llama.train.ScalarLog;
import dev.rlhf.llama.train.Trainer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Online training of one reward model (LLaMA 2 §3.2.2) from a stream of preference pairs: every {@code batchSize}
 * pairs make one AdamW step on the binary ranking loss with margin (plus the optional safe/unsafe calibration term of
 * {@link RewardModelTraining}, on safety-labelled pairs only), and every {@code checkpointEvery} steps a new version
 * is written atomically with the {@link OffsetLedger} of the pairs it includes.
 * <p>Data mix (recipe: the helpfulness RM sees all helpfulness data plus an equal amount of safety data; the safety
 * RM all safety data mixed 90/10 with helpfulness data): each model trains on every pair of its own kind and on a
 * fraction {@code otherKindShare} of the other kind's, picked by a hash of the pair id so a restart picks the same.
 * With equal volumes of both kinds, 1.0 gives the helpfulness mix and 0.11 the safety one.
 * <p>Before each step the batch is scored with the current weights: the accuracy on pairs not yet trained on is an
 * honest running estimate of held-out accuracy (progressive validation; ours).
 */
public final class OnlineRewardTraining implements AutoCloseable {
    static final String VERSION = "reward_version";
    static final String SAFE_SEEN = "safe_responses_seen";
    static final String UNSAFE_SEEN = "unsafe_responses_seen";

    /**
     * @param scheduleSteps the horizon of the recipe's schedule (LLaMA 2 §3.2.2: warm-up over 3% of the steps, at
     *                      least 5, then cosine decay to 10% of {@code learningRate}, which then stays); 0 = a
     *                      constant learning rate
     */
    public record Options(int batchSize, int microBatchSize, int sequenceLength, double learningRate,
                          RankingLoss.Margin margin, double calibrationWeight, double otherKindShare,
                          int checkpointEvery, int scheduleSteps) {
        public Options {
            if (batchSize < 1 || microBatchSize < 1 || sequenceLength < 2 || !(learningRate > 0)
                    || !(calibrationWeight >= 0) || !(otherKindShare >= 0 && otherKindShare <= 1)
                    || checkpointEvery < 1 || scheduleSteps < 0) {
                throw new IllegalArgumentException("invalid reward training options: " + this);
            }
        }

        LearningRateSchedule schedule() {
            return scheduleSteps == 0 ? LearningRateSchedule.constant(learningRate)
                    : LearningRateSchedule.cosine(learningRate, LearningRateSchedule.rewardModelWarmup(scheduleSteps),
                    scheduleSteps);
        }
    }

    /**
     * One comparison. {@code chosenSafe}/{@code rejectedSafe} are only read for pairs of kind SAFETY (other sources
     * may leave them unset).
     */
    public record Pair(String id, RewardKind kind, String prompt, String chosen, String rejected, RankingLoss.Rating rating,
                       boolean chosenSafe, boolean rejectedSafe) {}

    /** A new reward-model version on disk, with the batch statistics of its last step. */
    public record RewardCheckpoint(RewardKind kind, long version, Path dir, String manifestSha256, long step, double loss,
                                   double accuracyBeforeStep, long pairsTrained) {}

    private final RewardKind kind;
    private final Path root;
    private final Options options;
    private final NDManager manager;
    private final LlamaTokenizer tokenizer;
    private final Trainer trainer;
    private final Path tokenizerDir;
    private final OffsetLedger ledger;
    /** Per-step scalars for TensorBoard and scalars.jsonl, in {@code <root>/tensorboard}. */
    private final ScalarLog scalars;
    private long version;
    private final PendingRecords<TokenPair> pending = new PendingRecords<>();
    private double lastLoss = Double.NaN;
    private double lastAccuracy = Double.NaN;
    /** Safe and unsafe labelled responses trained on over the model's lifetime, for the class-balanced weight. */
    private long safeSeen;
    private long unsafeSeen;
    private double lastUnsafeWeight = 1.0;
    private double lastLearningRate = Double.NaN;

    /**
     * Resumes from the newest complete checkpoint under {@code root}, or starts from {@code initialModel} (a reward
     * checkpoint with its scalar head, the one the reward service serves as version 0).
     */
    public OnlineRewardTraining(RewardKind kind, Path root, Path initialModel, Options options, NDManager parent) {
        this(kind, root, initialModel, options, null, parent);
    }

    /** As above; with {@code lora} a fresh start trains a LoRA adapter and the scalar head on the initial model. */
    public OnlineRewardTraining(RewardKind kind, Path root, Path initialModel, Options options,
                                dev.rlhf.llama.lora.LoraConfig lora, NDManager parent) {
        this.kind = kind;
        this.root = root;
        this.scalars = ScalarLog.openOnFirstWrite(root.resolve("tensorboard"));
        this.options = options;
        this.manager = parent.newSubManager();
        try {
            CheckpointDirs.Start start = CheckpointDirs.startOrResume(root, initialModel, ScoreHead.REQUIRED,
                    options.schedule(), VERSION, lora, manager);
            this.trainer = start.trainer();
            this.tokenizerDir = start.tokenizerDir();
            this.ledger = start.ledger();
            this.version = start.version();
            if (start.resumedFrom() != null) {
                JsonObject meta = CheckpointDirs.state(start.resumedFrom(), VERSION).metadata();
                this.safeSeen = meta.has(SAFE_SEEN) ? meta.get(SAFE_SEEN).getAsLong() : 0;
                this.unsafeSeen = meta.has(UNSAFE_SEEN) ? meta.get(UNSAFE_SEEN).getAsLong() : 0;
            }
            this.tokenizer = LlamaTokenizer.load(tokenizerDir); // last: nothing after it can fail
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    public RewardKind kind() {
        return kind;
    }

    /** A record that could not be used (dead-lettered): settled with the next step, so a restart skips it too. */
    public void skip(int partition, long offset) {
        if (offset >= ledger.nextOffset(partition)) {
            pending.skip(partition, offset);
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

    /** Pairs received for this model but not yet trained. */
    public int buffered() {
        return pending.trainable();
    }

    /** Whether this model trains on {@code pair} (its own kind, or the other kind's share). */
    public boolean takes(Pair pair) {
        return pair.kind() == kind || share(pair.id()) < options.otherKindShare();
    }

    /** A uniform value in [0, 1) from the pair id (SplitMix64 finaliser over the string hash). */
    static double share(String id) {
        long z = id.hashCode() * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z = z ^ (z >>> 31);
        return (z >>> 11) * 0x1.0p-53;
    }

    /**
     * Takes one pair; returns the new checkpoint when it completed a step that triggered one. Offsets the ledger
     * already includes (re-read after a restart) are ignored.
     */
    public Optional<RewardCheckpoint> accept(int partition, long offset, Pair pair) {
        if (offset < ledger.nextOffset(partition)) {
            return Optional.empty();
        }
        if (!takes(pair)) {
            pending.skip(partition, offset);
            return Optional.empty();
        }
        boolean labelled = pair.kind() == RewardKind.SAFETY;
        pending.add(partition, offset, new TokenPair(fit(PromptFormat.exchange(tokenizer, pair.prompt(),
                pair.chosen())), fit(PromptFormat.exchange(tokenizer, pair.prompt(), pair.rejected())),
                options.margin().of(pair.rating()), labelled ? pair.chosenSafe() : null,
                labelled ? pair.rejectedSafe() : null));
        if (pending.trainable() < options.batchSize()) {
            return Optional.empty();
        }
        step();
        if (trainer.stepCount() % options.checkpointEvery() == 0) {
            return Optional.of(checkpoint());
        }
        return Optional.empty();
    }

    /** Keeps the end of an over-long exchange, where the score is read (as the reward service does). */
    private int[] fit(int[] seq) {
        int context = Math.min(options.sequenceLength(), trainer.model().config().maxPositionEmbeddings());
        if (seq.length <= context) {
            return seq;
        }
        int[] tail = new int[context];
        System.arraycopy(seq, seq.length - context, tail, 0, context);
        return tail;
    }

    private void step() {
        List<TokenPair> batch = pending.items();
        lastAccuracy = accuracy(batch);
        List<List<TokenPair>> micro = new ArrayList<>();
        for (int i = 0; i < batch.size(); i += options.microBatchSize()) {
            micro.add(batch.subList(i, Math.min(batch.size(), i + options.microBatchSize())));
        }
        // The offline stage's class balance, n_safe / n_unsafe, over every labelled response seen so far.
        long[] counts = RewardModelTraining.labelCounts(batch);
        safeSeen += counts[0];
        unsafeSeen += counts[1];
        double unsafeWeight = RewardModelTraining.balancedUnsafeWeight(safeSeen, unsafeSeen);
        lastUnsafeWeight = unsafeWeight;
        Trainer.StepResult r = trainer.step(micro, (m, b) -> RewardModelTraining.lossSum(m, b, tokenizer.padId(),
                options.calibrationWeight(), unsafeWeight), batch.size());
        lastLoss = r.loss();
        lastLearningRate = r.learningRate();
        long tokens = 0;
        for (TokenPair p : batch) {
            tokens += p.chosen().length + p.rejected().length;
        }
        scalars.trainingStep(r, tokens, java.util.Map.of("accuracy_before_step", lastAccuracy, "unsafe_weight",
                unsafeWeight));
        pending.settle(ledger);
    }

    /** Fraction of pairs whose chosen response the current weights score above the rejected one. */
    private double accuracy(List<TokenPair> batch) {
        List<int[]> sequences = new ArrayList<>(2 * batch.size());
        batch.forEach(p -> sequences.add(p.chosen()));
        batch.forEach(p -> sequences.add(p.rejected()));
        float[] s;
        try (GradMode.Restore ignored = GradMode.disabled()) {
            s = new ScalarScorer(trainer.model(), tokenizer.padId()).scores(sequences);
        }
        int right = 0;
        for (int i = 0; i < batch.size(); i++) {
            right += s[i] > s[batch.size() + i] ? 1 : 0;
        }
        return (double) right / batch.size();
    }

    /** Writes the next version (atomically) and returns it. */
    public RewardCheckpoint checkpoint() {
        long next = version + 1;
        JsonObject meta = new JsonObject();
        meta.addProperty("stage", "reward-" + kind.key());
        meta.addProperty("loss", lastLoss);
        meta.addProperty("accuracy_before_step", lastAccuracy);
        meta.addProperty(SAFE_SEEN, safeSeen);
        meta.addProperty(UNSAFE_SEEN, unsafeSeen);
        meta.addProperty("unsafe_weight", lastUnsafeWeight);
        meta.addProperty("learning_rate", lastLearningRate);
        meta.addProperty("pairs_trained", ledger.totalTrained());
        CheckpointDirs.Written w = CheckpointDirs.write(root, kind.key(), trainer, next, VERSION, ledger, meta,
                tokenizerDir, d -> { });
        version = w.version(); // past a corrupt newer checkpoint, if one is on disk
        return new RewardCheckpoint(kind, version, w.dir(), w.manifestSha256(),
                trainer.stepCount(), lastLoss, lastAccuracy, ledger.totalTrained());
    }

    /** The checkpoint the current weights came from, or null when training started from the initial model. */
    public Path newestCheckpoint() {
        return CheckpointDirs.newest(root);
    }

    @Override
    public void close() {
        scalars.close();
        trainer.close();
        tokenizer.close();
        manager.close();
    }
}
