package dev.rlhf.llama.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.TestModels;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Per-parameter learning-rate multipliers: 0 freezes a parameter, 2 doubles its first AdamW update. */
class LearningRateScaleTest {
    private static final String EMBED = "model.embed_tokens.weight";
    private static final String NORM = "model.norm.weight";

    private static List<List<PackedSequence>> batch() {
        return List.of(Packing.pack(List.of(new TrainingExample(new int[] {5, 6}, new int[] {7, 8, 9})), 8, 1, 3, 2,
                0));
    }

    /** One step from the same weights and data; returns (after - before) of {@code name}. */
    private static float[] delta(String name, String scaled, double factor) {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = TestModels.randomModel(m, TestModels.tinyGqa(), 3);
            float[] before = model.weights().get(name).toFloatArray();
            try (Trainer t = new Trainer(model, LearningRateSchedule.constant(1e-3))) {
                if (scaled != null) {
                    t.setLearningRateScale(scaled, factor);
                }
                t.languageModelStep(batch());
            }
            float[] after = model.weights().get(name).toFloatArray();
            float[] d = new float[before.length];
            for (int i = 0; i < d.length; i++) {
                d[i] = after[i] - before[i];
            }
            return d;
        }
    }

    @Test
    void aZeroScaleFreezesAParameterAndTwoDoublesItsUpdate() {
        float[] frozen = delta(NORM, NORM, 0);
        assertArrayEquals(new float[frozen.length], frozen, 0f, "scale 0: not a single weight moves");
        float[] plain = delta(EMBED, null, 1);
        float[] doubled = delta(EMBED, EMBED, 2);
        double moved = 0;
        for (int i = 0; i < plain.length; i++) {
            // The first AdamW update (decoupled decay included) is linear in the rate.
            assertEquals(2 * plain[i], doubled[i], 1e-6 + 1e-3 * Math.abs(plain[i]), "weight " + i);
            moved += Math.abs(plain[i]);
        }
        assertTrue(moved > 0, "the embedding moved");
        float[] others = delta(EMBED, NORM, 0);
        assertArrayEquals(plain, others, 1e-7f, "freezing one parameter leaves the others' updates as they were");
        try (NDManager m = NDManager.newBaseManager();
             Trainer t = new Trainer(TestModels.randomModel(m, TestModels.tinyGqa(), 3),
                     LearningRateSchedule.constant(1e-3))) {
            assertThrows(IllegalArgumentException.class, () -> t.setLearningRateScale("no.such.weight", 1));
            assertThrows(IllegalArgumentException.class, () -> t.setLearningRateScale(NORM, -1));
        }
    }
}
