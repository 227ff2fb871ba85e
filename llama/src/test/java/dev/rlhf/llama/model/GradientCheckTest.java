package dev.rlhf.llama.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.rlhf.llama.config.LlamaConfig;
import dev.rlhf.llama.train.Losses;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** Autograd gradients against central finite differences, in float64, for each block and the whole model. */
class GradientCheckTest {
    private static final double H = 1e-6;

    /** Compares d loss / d p[i] from autograd with (L(p + h) - L(p - h)) / 2h at a few random entries of p. */
    private static void check(String what, NDArray p, Supplier<NDArray> loss, SplittableRandom random) {
        p.setRequiresGradient(true);
        p.getGradient().muli(0); // a tensor checked before may still hold its previous gradient
        double[] analytic;
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            gc.backward(loss.get());
        }
        analytic = p.getGradient().toDoubleArray();
        p.setRequiresGradient(false);
        int size = Math.toIntExact(p.getShape().size());
        for (int k = 0; k < 3; k++) {
            int i = random.nextInt(size);
            double[] values = p.toDoubleArray();
            double orig = values[i];
            values[i] = orig + H;
            p.set(values);
            double plus = loss.get().getDouble();
            values[i] = orig - H;
            p.set(values);
            double minus = loss.get().getDouble();
            values[i] = orig;
            p.set(values);
            double numeric = (plus - minus) / (2 * H);
            double err = Math.abs(numeric - analytic[i]) / Math.max(1e-3, Math.abs(numeric) + Math.abs(analytic[i]));
            assertTrue(err < 1e-5, what + "[" + i + "]: autograd " + analytic[i] + " vs finite difference " + numeric);
        }
    }

    @Test
    void rmsNormRopeAndFeedForwardGradientsMatchFiniteDifferences() {
        SplittableRandom random = new SplittableRandom(1);
        try (NDManager m = NDManager.newBaseManager()) {
            Engine.getInstance().setRandomSeed(1);
            NDArray x = m.randomNormal(new Shape(2, 3, 8)).toType(DataType.FLOAT64, false);
            NDArray w = m.randomNormal(new Shape(8)).toType(DataType.FLOAT64, false);
            NDArray probe = m.randomNormal(new Shape(2, 3, 8)).toType(DataType.FLOAT64, false);
            Supplier<NDArray> norm = () -> RmsNorm.forward(x, w, 1e-5).mul(probe).sum();
            check("rmsnorm.x", x, norm, random);
            check("rmsnorm.w", w, norm, random);

            NDArray gate = m.randomNormal(new Shape(12, 8)).toType(DataType.FLOAT64, false);
            NDArray up = m.randomNormal(new Shape(12, 8)).toType(DataType.FLOAT64, false);
            NDArray down = m.randomNormal(new Shape(8, 12)).toType(DataType.FLOAT64, false);
            Supplier<NDArray> ffn = () -> FeedForward.forward(x, gate, up, down).mul(probe).sum();
            check("ffn.x", x, ffn, random);
            check("ffn.gate", gate, ffn, random);
            check("ffn.up", up, ffn, random);
            check("ffn.down", down, ffn, random);

            try (RotaryEmbedding rope = new RotaryEmbedding(m, 16, 8, 10000, DataType.FLOAT64)) {
                NDArray q = m.randomNormal(new Shape(1, 2, 3, 8)).toType(DataType.FLOAT64, false);
                NDArray[] cs = rope.cosSin(m.create(new long[] {0, 5, 9}, new Shape(1, 3)));
                NDArray probeQ = m.randomNormal(new Shape(1, 2, 3, 8)).toType(DataType.FLOAT64, false);
                check("rope.q", q, () -> RotaryEmbedding.apply(q, cs[0], cs[1]).mul(probeQ).sum(), random);
            }
        }
    }

    @Test
    void everyModelTensorGradientMatchesFiniteDifferences() {
        LlamaConfig config = new LlamaConfig(16, 24, 4, 2, 2, 16, 1e-5, 10000, 23, false, 1, 2);
        SplittableRandom random = new SplittableRandom(2);
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaWeights w32 = LlamaWeights.randomInit(config, m.newSubManager(), 4, true);
            w32.tensors().forEach((k, v) -> {
                if (!LlamaWeights.isNorm(k)) {
                    v.muli(10); // bigger weights: non-trivial attention patterns and gradients
                }
            });
            LlamaWeights w = w32.copy(m.newSubManager(), DataType.FLOAT64);
            LlamaModel model = new LlamaModel(w);
            long[] tokens = {1, 5, 9, 3, 22, 7, 1, 14};
            long[] targets = {5, 9, 3, 22, 7, 1, 14, 2};
            float[] mask = {0, 0, 1, 1, 1, 1, 1, 1};
            Shape shape = new Shape(1, 8);
            NDArray tok = m.create(tokens, shape);
            NDArray pos = m.arange(0, 8, 1, DataType.INT64).reshape(1, 8);
            NDArray keyMask = m.create(new int[] {0, 1, 1, 1, 1, 1, 1, 1}, shape); // one padding key
            NDArray tgt = m.create(targets, shape);
            NDArray msk = m.create(mask, shape);
            Supplier<NDArray> lmLoss = () -> Losses.maskedNextTokenLossSum(
                    model.logits(model.hidden(tok, pos, keyMask, null)), tgt, msk);
            Supplier<NDArray> scoreLoss = () -> model.scalarScores(model.hidden(tok, pos, keyMask, null))
                    .get("0, -1").square();
            for (Map.Entry<String, NDArray> e : w.tensors().entrySet()) {
                Supplier<NDArray> loss = e.getKey().equals(LlamaWeights.SCORE_HEAD) ? scoreLoss : lmLoss;
                check(e.getKey(), e.getValue(), loss, random);
            }
        }
    }
}
