package dev.rlhf.llama.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.training.GradientCollector;
import dev.rlhf.llama.config.LlamaConfig;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.model.TestModels;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TrainingTest {

    @Test
    void adamWFirstStepMatchesHandComputation() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray p = m.create(new float[] {1.0f, -2.0f});
            p.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(p.mul(m.create(new float[] {0.5f, -0.25f})).sum()); // gradient = (0.5, -0.25)
            }
            try (AdamW opt = AdamW.llama2(m, Set.of())) {
                opt.step(Map.of("w", p), 0.1);
            }
            // Step 1: m_hat = g, v_hat = g^2, so the Adam update is lr * g / (|g| + eps) ~ lr * sign(g);
            // decay first: p * (1 - lr * wd) = p * 0.99.
            double expected0 = 1.0 * 0.99 - 0.1 * 0.5 / (0.5 + 1e-5);
            double expected1 = -2.0 * 0.99 - 0.1 * -0.25 / (0.25 + 1e-5);
            float[] got = p.toFloatArray();
            assertEquals(expected0, got[0], 1e-6);
            assertEquals(expected1, got[1], 1e-6);
        }
    }

    /** Four steps with changing gradients against AdamW written out in double (bias corrections matter here). */
    @Test
    void adamWStepsMatchAnIndependentDoubleComputation() {
        double b1 = 0.9;
        double b2 = 0.95;
        double eps = 1e-5;
        double wd = 0.1;
        double lr = 0.05;
        double[][] grads = {{0.5, -0.25, 2}, {0.1, -0.3, -1}, {-0.4, 0.2, 0.5}, {0.05, 0.05, 3}};
        double[] want = {1.0, -2.0, 0.5};
        double[] mom = new double[3];
        double[] vel = new double[3];
        try (NDManager m = NDManager.newBaseManager(); AdamW opt = new AdamW(m, b1, b2, eps, wd, Set.of())) {
            NDArray p = m.create(new float[] {1.0f, -2.0f, 0.5f});
            p.setRequiresGradient(true);
            for (int t = 1; t <= grads.length; t++) {
                float[] g = new float[3];
                for (int i = 0; i < 3; i++) {
                    g[i] = (float) grads[t - 1][i];
                }
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    gc.backward(p.mul(m.create(g)).sum()); // gradient = g
                }
                opt.step(Map.of("w", p), lr);
                try (NDArray grad = p.getGradient()) {
                    grad.subi(grad); // gradients accumulate across backward passes until zeroed, as Trainer does
                }
                for (int i = 0; i < 3; i++) {
                    double gi = g[i];
                    mom[i] = b1 * mom[i] + (1 - b1) * gi;
                    vel[i] = b2 * vel[i] + (1 - b2) * gi * gi;
                    double mHat = mom[i] / (1 - Math.pow(b1, t));
                    double vHat = vel[i] / (1 - Math.pow(b2, t));
                    want[i] = want[i] * (1 - lr * wd) - lr * mHat / (Math.sqrt(vHat) + eps);
                }
                float[] got = p.toFloatArray();
                for (int i = 0; i < 3; i++) {
                    assertEquals(want[i], got[i], 1e-5, "step " + t + ", element " + i);
                }
            }
        }
    }

    /** A non-finite step touches no weight, and the next finite step trains as if it had not happened. */
    @Test
    void aNonFiniteStepLeavesNoNanBehind() {
        try (NDManager manager = NDManager.newBaseManager()) {
            dev.rlhf.llama.model.LlamaModel model = dev.rlhf.llama.model.TestModels.randomModel(manager,
                    dev.rlhf.llama.model.TestModels.tinyGqa(), 21);
            PackedSequence row = Packing.pack(List.of(new TrainingExample(new int[] {10, 11, 12, 13},
                    new int[] {20, 21, 22})), 12, 1, 3, 2, 0).get(0);
            float[] before = model.weights().get(dev.rlhf.llama.model.LlamaWeights.EMBED).toFloatArray();
            try (Trainer trainer = new Trainer(model, LearningRateSchedule.constant(1e-3))) {
                assertThrows(Trainer.NonFiniteLossException.class, () -> trainer.step(List.of(List.of(row)),
                        (m, rows) -> Trainer.lmLossSum(m, rows).mul(dev.rlhf.llama.model.Tensors.scalar(
                                m.weights().manager(), Double.POSITIVE_INFINITY,
                                ai.djl.ndarray.types.DataType.FLOAT32)),
                        1));
                org.junit.jupiter.api.Assertions.assertArrayEquals(before,
                        model.weights().get(dev.rlhf.llama.model.LlamaWeights.EMBED).toFloatArray(), 0f,
                        "no weight moved");
                Trainer.StepResult ok = trainer.languageModelStep(List.of(List.of(row)));
                assertTrue(Double.isFinite(ok.gradNorm()) && ok.gradNorm() > 0, "grad norm " + ok.gradNorm());
            }
        }
    }

    @Test
    void normsGetNoWeightDecay() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray norm = m.create(new float[] {2.0f});
            norm.setRequiresGradient(true); // zero gradient: only decay could move it
            try (AdamW opt = AdamW.llama2(m, Set.of("model.norm.weight"))) {
                opt.step(Map.of("model.norm.weight", norm), 0.5);
            }
            assertEquals(2.0f, norm.toFloatArray()[0], 0f);
        }
    }

    @Test
    void promptTargetsDoNotChangeTheSftLoss() {
        try (NDManager manager = NDManager.newBaseManager(); NDScope ignored = new NDScope()) {
            LlamaModel model = TestModels.randomModel(manager, TestModels.tinyGqa(), 21);
            PackedSequence row = Packing.pack(List.of(new TrainingExample(new int[] {10, 11, 12, 13},
                    new int[] {20, 21, 22})), 12, 1, 3, 2, 0).get(0);
            double base = Trainer.lmLossSum(model, List.of(row)).getFloat();
            int[] promptTargetsChanged = row.targets().clone();
            int[] answerTargetChanged = row.targets().clone();
            for (int j = 0; j < row.length(); j++) {
                if (row.lossMask()[j] == 0) {
                    promptTargetsChanged[j] = 50 + j;
                }
            }
            int firstAnswer = 5; // inputs: <s> 10 11 12 13 <sep>; the target at <sep> is the first answer token
            answerTargetChanged[firstAnswer] = 77;
            double samePrompt = Trainer.lmLossSum(model,
                    List.of(new PackedSequence(row.inputs(), promptTargetsChanged, row.lossMask()))).getFloat();
            double otherAnswer = Trainer.lmLossSum(model,
                    List.of(new PackedSequence(row.inputs(), answerTargetChanged, row.lossMask()))).getFloat();
            assertEquals(base, samePrompt, 1e-5);
            assertNotEquals(base, otherAnswer, 1e-4);
        }
    }

    @Test
    void aTinyModelOverfitsAHandfulOfSequences() {
        LlamaConfig config = TestModels.tinyGqa();
        try (NDManager manager = NDManager.newBaseManager()) {
            LlamaModel model = TestModels.randomModel(manager, config, 5);
            List<TrainingExample> examples = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                examples.add(new TrainingExample(new int[] {10 + i, 20 + i}, new int[] {30 + i, 40 + i, 50 + i, 60}));
            }
            List<PackedSequence> rows = Packing.pack(examples, 12, 1, 3, 2, 0);
            double loss = Double.NaN;
            try (Trainer trainer = new Trainer(model, LearningRateSchedule.cosine(1e-2, 5, 150))) {
                for (int step = 0; step < 150; step++) {
                    loss = trainer.languageModelStep(List.of(rows)).loss();
                    if (loss < 0.05) {
                        break;
                    }
                }
            }
            assertTrue(loss < 0.05, "loss after training: " + loss);
        }
    }

    @Test
    void gradientAccumulationEqualsOneBigBatch() {
        LlamaConfig config = TestModels.tinyGqa();
        List<PackedSequence> rows = Packing.pack(List.of(
                new TrainingExample(new int[] {5, 6}, new int[] {7, 8, 9, 10, 11}),
                new TrainingExample(new int[] {12}, new int[] {13, 14}),
                TrainingExample.text(new int[] {40, 41, 42, 43, 44, 45, 46})), 8, 1, 3, 2, 0);
        try (NDManager manager = NDManager.newBaseManager()) {
            LlamaModel a = TestModels.randomModel(manager, config, 8);
            LlamaModel b = TestModels.randomModel(manager, config, 8);
            LearningRateSchedule lr = LearningRateSchedule.cosine(1e-2, 0, 3);
            try (Trainer ta = new Trainer(a, lr); Trainer tb = new Trainer(b, lr)) {
                for (int s = 0; s < 3; s++) {
                    double la = ta.languageModelStep(List.of(rows)).loss();
                    List<List<PackedSequence>> micro = new ArrayList<>();
                    for (PackedSequence r : rows) {
                        micro.add(List.of(r));
                    }
                    double lb = tb.languageModelStep(micro).loss();
                    assertEquals(la, lb, 1e-5, "step " + s);
                }
            }
            float[] wa = a.weights().get(LlamaWeights.layer(0, "self_attn.q_proj.weight")).toFloatArray();
            float[] wb = b.weights().get(LlamaWeights.layer(0, "self_attn.q_proj.weight")).toFloatArray();
            double maxDiff = 0;
            for (int i = 0; i < wa.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(wa[i] - wb[i]));
            }
            assertTrue(maxDiff < 1e-5, "weights differ by " + maxDiff);
        }
    }
}
