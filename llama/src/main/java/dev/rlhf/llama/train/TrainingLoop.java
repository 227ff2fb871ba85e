package dev.rlhf.llama.train;

import java.util.ArrayList;
import java.util.List;

/**
 * Runs language-model training steps over packed rows: each step takes the next {@code batchSize} rows from
 * the {@link DataCursor}, splits them into micro-batches of {@code microBatchSize} (gradient accumulation)
 * and calls back after every step so the caller can show progress and write checkpoints.
 */
public final class TrainingLoop {
    private TrainingLoop() {}

    public record Options(int batchSize, int microBatchSize, long totalSteps) {
        public Options {
            if (batchSize < 1 || microBatchSize < 1 || totalSteps < 0) {
                throw new IllegalArgumentException("batch size, micro-batch size must be >= 1 and steps >= 0, got "
                        + batchSize + ", " + microBatchSize + ", " + totalSteps);
            }
        }
    }

    /** Called after each step with the cursor positioned after that step's data. */
    @FunctionalInterface
    public interface StepListener {
        void afterStep(Trainer.StepResult result, DataCursor cursor);
    }

    /** Trains until the trainer's step count reaches {@code totalSteps}; returns the final cursor. */
    public static DataCursor run(Trainer trainer, List<PackedSequence> rows, DataCursor cursor, Options options,
                                 StepListener listener) {
        if (rows.isEmpty()) {
            throw new IllegalArgumentException("no training rows");
        }
        while (trainer.stepCount() < options.totalSteps()) {
            DataCursor.Batch batch = cursor.next(rows.size(), options.batchSize());
            List<List<PackedSequence>> micro = new ArrayList<>();
            List<PackedSequence> current = new ArrayList<>();
            for (int index : batch.rows()) {
                current.add(rows.get(index));
                if (current.size() == options.microBatchSize()) {
                    micro.add(current);
                    current = new ArrayList<>();
                }
            }
            if (!current.isEmpty()) {
                micro.add(current);
            }
            Trainer.StepResult result = trainer.languageModelStep(micro);
            cursor = batch.after();
            listener.afterStep(result, cursor);
        }
        return cursor;
    }

    /** Optimizer steps for {@code epochs} passes over {@code rows} rows at {@code batchSize} rows per step. */
    public static long stepsForEpochs(int rows, int batchSize, double epochs) {
        return Math.max(1, (long) Math.ceil(rows * epochs / batchSize));
    }
}
