package dev.rlhf.llama.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.SaveOptions;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.model.TestModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Train k steps, checkpoint, resume, train m more == train k + m steps straight. */
class ResumeTest {
    private static final int K = 4;
    private static final int M = 4;
    private static final int BATCH = 3;
    private static final LearningRateSchedule SCHEDULE = LearningRateSchedule.cosine(5e-3, 2, K + M);

    @TempDir
    Path tmp;

    private static List<PackedSequence> data() {
        SplittableRandom r = new SplittableRandom(17);
        List<TrainingExample> examples = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            int[] prompt = r.ints(3, 4, 97).toArray();
            int[] answer = r.ints(5, 4, 97).toArray();
            examples.add(new TrainingExample(prompt, answer));
        }
        return Packing.pack(examples, 8, 1, 3, 2, 0);
    }

    private static DataCursor trainSteps(Trainer trainer, DataCursor cursor, List<PackedSequence> rows, int steps,
                                         List<Double> losses) {
        for (int s = 0; s < steps; s++) {
            DataCursor.Batch batch = cursor.next(rows.size(), BATCH);
            List<PackedSequence> selected = new ArrayList<>();
            for (int i : batch.rows()) {
                selected.add(rows.get(i));
            }
            losses.add(trainer.languageModelStep(List.of(selected)).loss());
            cursor = batch.after();
        }
        return cursor;
    }

    @Test
    void resumedRunContinuesExactlyLikeTheUninterruptedOne() {
        List<PackedSequence> rows = data();
        try (NDManager m = NDManager.newBaseManager()) {
            List<Double> straight = new ArrayList<>();
            LlamaModel a = TestModels.randomModel(m, TestModels.tinyGqa(), 12);
            try (Trainer t = new Trainer(a, SCHEDULE)) {
                trainSteps(t, DataCursor.start(99), rows, K + M, straight);
            }

            List<Double> resumed = new ArrayList<>();
            LlamaModel b = TestModels.randomModel(m, TestModels.tinyGqa(), 12);
            Path ckpt;
            try (Trainer t = new Trainer(b, SCHEDULE)) {
                DataCursor cursor = trainSteps(t, DataCursor.start(99), rows, K, resumed);
                ckpt = TrainingCheckpoint.save(t, cursor, tmp.resolve("step-" + K), SaveOptions.defaults(K));
            }
            b.weights().close(); // nothing of the first half survives but the files

            TrainingCheckpoint.Resumed r = TrainingCheckpoint.load(ckpt, m, ScoreHead.OPTIONAL);
            assertEquals(K, r.step());
            try (Trainer t = r.trainer(SCHEDULE)) {
                trainSteps(t, r.cursor(), rows, M, resumed);
            }
            double[] expected = straight.stream().mapToDouble(Double::doubleValue).toArray();
            double[] actual = resumed.stream().mapToDouble(Double::doubleValue).toArray();
            assertArrayEquals(expected, actual, 1e-6);
            float[] wa = a.weights().get(LlamaWeights.EMBED).toFloatArray();
            float[] wb = r.model().weights().get(LlamaWeights.EMBED).toFloatArray();
            assertArrayEquals(wa, wb, 1e-6f);
        }
    }
}
