package dev.rlhf.trainer.domain;

import com.google.gson.JsonObject;
import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.lora.LoraConfig;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.SaveOptions;
import dev.rlhf.llama.io.AtomicDirectory;
import dev.rlhf.llama.io.IoConsumer;
import dev.rlhf.llama.io.Manifest;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.train.DataCursor;
import dev.rlhf.llama.train.LearningRateSchedule;
import dev.rlhf.llama.train.Trainer;
import dev.rlhf.llama.train.TrainingCheckpoint;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The directory of one model's versioned checkpoints ({@code <name>-vNNNNNN}), as every online trainer here uses
 * it: each checkpoint holds the weights, the AdamW state, the tokenizer, and in its manifest metadata the model's
 * version and the {@link OffsetLedger} of the records its weights include.
 */
final class CheckpointDirs {
    static final String LEDGER = "ledger";

    private CheckpointDirs() {}

    /** What a resumed trainer reads back from a checkpoint's manifest. */
    record State(OffsetLedger ledger, long version, JsonObject metadata) {}

    /** A checkpoint on disk, its version and its manifest's sha256 (what a ModelUpdate announces). */
    record Written(Path dir, long version, String manifestSha256) {}

    /**
     * Creates {@code root} if needed, deletes the temporary directories of a crash mid-write (never loaded) and
     * returns the newest complete checkpoint, or null when there is none (start from the initial model).
     */
    static Path prepare(Path root) {
        try {
            Files.createDirectories(root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create checkpoint directory " + root, e);
        }
        AtomicDirectory.deleteLeftovers(root);
        return newest(root);
    }

    /** The newest complete checkpoint under {@code root}, or null. */
    static Path newest(Path root) {
        List<Path> complete = AtomicDirectory.listCompleteCheckpoints(root);
        return complete.isEmpty() ? null : complete.get(complete.size() - 1);
    }

    /** The ledger and version recorded in {@code checkpoint}'s manifest under {@code versionKey}. */
    static State state(Path checkpoint, String versionKey) {
        JsonObject meta = Manifest.read(checkpoint).metadata();
        return new State(OffsetLedger.fromJson(meta.getAsJsonObject(LEDGER)), meta.get(versionKey).getAsLong(), meta);
    }

    /**
     * A trainer as it starts: resumed from the newest complete checkpoint ({@code resumedFrom}, which also holds its
     * tokenizer) or, when there is none, fresh from the initial model at version 0 with an empty ledger.
     */
    record Start(Trainer trainer, Path tokenizerDir, OffsetLedger ledger, long version, Path resumedFrom) {}

    /** {@link #prepare}s {@code root} and starts a trainer with a constant learning rate, see {@link Start}. */
    static Start startOrResume(Path root, Path initialModel, ScoreHead head, double learningRate, String versionKey,
                               LoraConfig lora, NDManager manager) {
        return startOrResume(root, initialModel, head, LearningRateSchedule.constant(learningRate), versionKey, lora,
                manager);
    }

    /**
     * As above with a schedule over the trainer's lifetime steps (a resumed trainer continues it). With
     * {@code lora}, a fresh start trains a new adapter on {@code initialModel} (see {@link LlamaCheckpoint#loadToTrain}).
     */
    static Start startOrResume(Path root, Path initialModel, ScoreHead head, LearningRateSchedule schedule,
                               String versionKey, LoraConfig lora, NDManager manager) {
        Path newest = prepare(root);
        if (newest == null) {
            return new Start(new Trainer(new LlamaModel(LlamaCheckpoint.loadToTrain(initialModel, manager, head, lora, 0)), schedule),
                    initialModel, new OffsetLedger(), 0, null);
        }
        Trainer trainer = TrainingCheckpoint.load(newest, manager, head).trainer(schedule);
        State state = state(newest, versionKey);
        return new Start(trainer, newest, state.ledger(), state.version(), newest);
    }

    /**
     * Writes {@code root/<name>-v<version>} atomically: the trainer's weights and AdamW state, {@code metadata} plus
     * the ledger and version, the tokenizer files of {@code tokenizerDir} and any {@code extraFiles}.
     */
    static Written write(Path root, String name, Trainer trainer, long version, String versionKey,
                         OffsetLedger ledger, JsonObject metadata, Path tokenizerDir, IoConsumer<Path> extraFiles) {
        // A newer directory that did not verify (corrupt, truncated) was skipped at start-up and this trainer resumed
        // from an older one; it may have been announced and served, so versions continue past it, never reusing it.
        long free = Math.max(version, highestVersion(root) + 1);
        JsonObject meta = metadata.deepCopy();
        meta.add(LEDGER, ledger.toJson());
        meta.addProperty(versionKey, free);
        Path target = root.resolve(String.format(Locale.ROOT, "%s-v%06d", name, free));
        Path dir = TrainingCheckpoint.save(trainer, DataCursor.start(0), target,
                SaveOptions.defaults(trainer.stepCount()).withMetadata(meta).withExtraFiles(d -> {
                    LlamaCheckpoint.copyTokenizerFiles(tokenizerDir, d);
                    extraFiles.accept(d);
                }));
        return new Written(dir, free, Manifest.sha256(dir.resolve(Manifest.FILE_NAME)));
    }

    /** The highest NNNNNN among the {@code <name>-vNNNNNN} directories under {@code root}, verified or not; 0 if none. */
    static long highestVersion(Path root) {
        try (var children = Files.list(root)) {
            return children.map(p -> p.getFileName().toString()).filter(n -> n.matches(".+-v\\d{6,}"))
                    .mapToLong(n -> Long.parseLong(n.substring(n.lastIndexOf("-v") + 2))).max().orElse(0);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + root, e);
        }
    }
}
