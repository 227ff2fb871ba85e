package dev.rlhf.llama.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.TestModels;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * Regression: tensors built from Java arrays must not depend on Java buffers that the garbage collector may
 * free mid-step (see {@code Tensors}). Training with a thread forcing collections must give exactly the losses
 * of a quiet run.
 */
class GarbageCollectionSafetyTest {
    private static double[] train(boolean gcPressure) {
        SplittableRandom r = new SplittableRandom(3);
        List<TrainingExample> examples = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            examples.add(new TrainingExample(r.ints(4, 4, 97).toArray(), r.ints(8, 4, 97).toArray()));
        }
        List<PackedSequence> rows = Packing.pack(examples, 16, 1, 3, 2, 0);
        AtomicBoolean done = new AtomicBoolean();
        Thread collector = new Thread(() -> {
            while (!done.get()) {
                byte[][] garbage = new byte[64][];
                for (int i = 0; i < garbage.length; i++) {
                    garbage[i] = new byte[64 * 1024];
                }
                System.gc();
            }
        });
        double[] losses = new double[20];
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = TestModels.randomModel(m, TestModels.tinyGqa(), 2);
            if (gcPressure) {
                collector.start();
            }
            try (Trainer trainer = new Trainer(model, LearningRateSchedule.cosine(3e-3, 4, losses.length))) {
                DataCursor cursor = DataCursor.start(1);
                for (int s = 0; s < losses.length; s++) {
                    DataCursor.Batch b = cursor.next(rows.size(), 8);
                    List<PackedSequence> batch = new ArrayList<>();
                    for (int i : b.rows()) {
                        batch.add(rows.get(i));
                    }
                    losses[s] = trainer.languageModelStep(List.of(batch)).loss();
                    cursor = b.after();
                }
            } finally {
                done.set(true);
            }
        }
        return losses;
    }

    @Test
    void lossesUnderGarbageCollectionPressureEqualAQuietRun() throws Exception {
        double[] quiet = train(false);
        double[] pressured = train(true);
        assertArrayEquals(quiet, pressured, 0.0);
    }
}
