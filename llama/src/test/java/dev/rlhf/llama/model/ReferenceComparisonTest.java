package dev.rlhf.llama.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.rlhf.llama.config.LlamaConfig;
import dev.rlhf.llama.config.RopeScaling;
import dev.rlhf.llama.reference.ReferenceLlama;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The DJL model against an independent plain-Java forward pass written from the formulas. */
class ReferenceComparisonTest {

    static ReferenceLlama reference(LlamaWeights w) {
        return reference(w, 0, null);
    }

    /** With an explicit head dim and the reference's own RoPE frequencies (0 and null: LLaMA 2's). */
    static ReferenceLlama reference(LlamaWeights w, int headDim, double[] inverseFrequencies) {
        LlamaConfig c = w.config();
        Map<String, float[]> arrays = new HashMap<>();
        w.tensors().forEach((k, v) -> arrays.put(k, v.toType(DataType.FLOAT32, false).toFloatArray()));
        return new ReferenceLlama(new ReferenceLlama.Dims(c.hiddenSize(), c.intermediateSize(),
                c.numAttentionHeads(), c.numKeyValueHeads(), c.numHiddenLayers(), c.vocabSize(), c.rmsNormEps(),
                c.ropeTheta(), c.tieWordEmbeddings(), headDim, inverseFrequencies), arrays);
    }

    /**
     * Hugging Face's frequencies, written here again from its formulas (not calling the code under test): linear
     * divides by the factor; llama3 keeps wavelengths under L / high, divides those over L / low, and interpolates
     * with s = (L / wavelength - low) / (high - low) between.
     */
    static double[] hfFrequencies(int headDim, double theta, String type, double factor, double low, double high,
                                  double originalContext) {
        double[] f = new double[headDim / 2];
        for (int j = 0; j < f.length; j++) {
            double base = 1.0 / Math.pow(theta, (2.0 * j) / headDim);
            double wavelength = 2 * Math.PI / base;
            if (type.equals("linear")) {
                f[j] = base / factor;
            } else if (wavelength < originalContext / high) {
                f[j] = base;
            } else if (wavelength > originalContext / low) {
                f[j] = base / factor;
            } else {
                double smooth = (originalContext / wavelength - low) / (high - low);
                f[j] = (1 - smooth) * base / factor + smooth * base;
            }
        }
        return f;
    }

    @Test
    void llama3HeadDimAndRopeScalingMatchTheReference() {
        // head_dim 12 (not 32 / 4 = 8); with L = 64 the six frequencies fall in all three llama3 bands.
        LlamaConfig base = new LlamaConfig(32, 40, 4, 2, 2, 64, 1e-5, 10000, 60, true, 1, 2);
        int[] tokens = {1, 7, 3, 19, 44, 2, 31, 8, 0, 12, 25, 9, 40, 16};
        try (NDManager manager = NDManager.newBaseManager()) {
            for (RopeScaling scaling : new RopeScaling[] {RopeScaling.llama3(4, 1, 4, 64), RopeScaling.linear(2)}) {
                LlamaConfig config = base.withLlama3Fields(12, scaling, java.util.List.of(2, 5));
                LlamaModel model = TestModels.randomModel(manager, config, 3);
                scaleUp(model);
                double[] frequencies = hfFrequencies(12, 10000, scaling.type(), scaling.factor(),
                        scaling.lowFreqFactor(), scaling.highFreqFactor(), scaling.originalMaxPositions());
                double[] scaled = compare(manager, model, reference(model.weights(), 12, frequencies), tokens);
                assertTrue(scaled[0] < 1e-4 && scaled[1] > 0.1, scaling + ": max abs diff " + scaled[0]
                        + ", max |logit| " + scaled[1]);
                // Not vacuous: the reference without the scaling disagrees with the scaled model.
                double[] unscaled = compare(manager, model, reference(model.weights(), 12,
                        hfFrequencies(12, 10000, "linear", 1, 0, 0, 0)), tokens);
                assertTrue(unscaled[0] > 1e-3, scaling + ": unscaled frequencies give the same logits");
            }
        }
    }

    private static void scaleUp(LlamaModel model) {
        // Random init gives tiny logits; scale weights up so the comparison is not trivially small.
        model.weights().tensors().forEach((k, v) -> {
            if (!LlamaWeights.isNorm(k)) {
                v.muli(8);
            }
        });
    }

    /** {max |ours - reference|, max |reference|} over every position's logits. */
    private static double[] compare(NDManager manager, LlamaModel model, ReferenceLlama ref, int[] tokens) {
        LlamaConfig config = model.config();
        int t = tokens.length;
        long[] ids = new long[t];
        int[] intIds = new int[t];
        for (int i = 0; i < t; i++) {
            intIds[i] = tokens[i] % config.vocabSize();
            ids[i] = intIds[i];
        }
        float[] ours = model.logits(model.hidden(manager.create(ids, new Shape(1, t)),
                manager.arange(0, t, 1, DataType.INT64).reshape(1, t),
                manager.ones(new Shape(1, t), DataType.INT32), null)).toFloatArray();
        double[][] expected = ref.logits(intIds);
        double maxDiff = 0;
        double maxAbs = 0;
        for (int i = 0; i < t; i++) {
            for (int v = 0; v < config.vocabSize(); v++) {
                maxDiff = Math.max(maxDiff, Math.abs(ours[i * config.vocabSize() + v] - expected[i][v]));
                maxAbs = Math.max(maxAbs, Math.abs(expected[i][v]));
            }
        }
        return new double[] {maxDiff, maxAbs};
    }

    @Test
    void logitsMatchTheReferenceForGqaAndMultiHeadConfigs() {
        LlamaConfig[] configs = {
            TestModels.tinyGqa(),
            new LlamaConfig(48, 64, 6, 6, 3, 64, 1e-5, 10000, 113, false, 1, 2), // MHA, 3 layers
            new LlamaConfig(32, 40, 8, 1, 1, 64, 1e-6, 500000, 50, true, 1, 2), // MQA, tied head, other theta
        };
        int[] tokens = {1, 7, 3, 19, 44, 2, 31, 8, 0, 12, 25, 9, 40, 16};
        try (NDManager manager = NDManager.newBaseManager()) {
            for (LlamaConfig config : configs) {
                LlamaModel model = TestModels.randomModel(manager, config, 3);
                // Random init gives tiny logits; scale weights up so the comparison is not trivially small.
                model.weights().tensors().forEach((k, v) -> {
                    if (!LlamaWeights.isNorm(k)) {
                        v.muli(8);
                    }
                });
                int t = tokens.length;
                long[] ids = new long[t];
                for (int i = 0; i < t; i++) {
                    ids[i] = tokens[i] % config.vocabSize();
                }
                NDArray logits = model.logits(model.hidden(manager.create(ids, new Shape(1, t)),
                        manager.arange(0, t, 1, DataType.INT64).reshape(1, t),
                        manager.ones(new Shape(1, t), DataType.INT32), null));
                float[] ours = logits.toFloatArray();
                int[] intIds = new int[t];
                for (int i = 0; i < t; i++) {
                    intIds[i] = (int) ids[i];
                }
                double[][] ref = reference(model.weights()).logits(intIds);
                double maxDiff = 0;
                double maxAbs = 0;
                for (int i = 0; i < t; i++) {
                    for (int v = 0; v < config.vocabSize(); v++) {
                        maxDiff = Math.max(maxDiff, Math.abs(ours[i * config.vocabSize() + v] - ref[i][v]));
                        maxAbs = Math.max(maxAbs, Math.abs(ref[i][v]));
                    }
                }
                assertTrue(maxDiff < 1e-4, config + ": max abs diff " + maxDiff);
                assertTrue(maxAbs > 0.1, "logits too small to make the comparison meaningful: " + maxAbs);
            }
        }
    }

    @Test
    void leftPaddedBatchRowsMatchTheReferenceOnEachUnpaddedSequence() {
        try (NDManager manager = NDManager.newBaseManager()) {
            LlamaModel model = TestModels.randomModel(manager, TestModels.tinyGqa(), 5);
            model.weights().tensors().forEach((k, v) -> {
                if (!LlamaWeights.isNorm(k)) {
                    v.muli(8);
                }
            });
            int[][] seqs = {{1, 4, 9, 16}, {1, 30, 31, 32, 33, 34, 35}};
            int width = 7;
            long[] tok = new long[2 * width];
            long[] pos = new long[2 * width];
            int[] mask = new int[2 * width];
            for (int r = 0; r < 2; r++) {
                int pad = width - seqs[r].length;
                for (int j = 0; j < width; j++) {
                    boolean real = j >= pad;
                    tok[r * width + j] = real ? seqs[r][j - pad] : 0;
                    pos[r * width + j] = real ? j - pad : 0;
                    mask[r * width + j] = real ? 1 : 0;
                }
            }
            Shape shape = new Shape(2, width);
            float[] ours = model.logits(model.hidden(manager.create(tok, shape), manager.create(pos, shape),
                    manager.create(mask, shape), null)).toFloatArray();
            ReferenceLlama ref = reference(model.weights());
            int vocab = model.config().vocabSize();
            double maxDiff = 0;
            for (int r = 0; r < 2; r++) {
                double[][] expected = ref.logits(seqs[r]);
                int pad = width - seqs[r].length;
                for (int i = 0; i < seqs[r].length; i++) {
                    for (int v = 0; v < vocab; v++) {
                        double got = ours[(r * width + pad + i) * vocab + v];
                        maxDiff = Math.max(maxDiff, Math.abs(got - expected[i][v]));
                    }
                }
            }
            assertTrue(maxDiff < 1e-4, "max abs diff " + maxDiff);
        }
    }

    @Test
    void scalarHeadReadsTheLastTokenAsTheReferenceDoes() {
        try (NDManager manager = NDManager.newBaseManager()) {
            LlamaModel model = TestModels.randomModel(manager, TestModels.tinyGqa(), 9);
            int[] seq = {1, 5, 6, 7, 8};
            long[] ids = {1, 5, 6, 7, 8};
            int t = seq.length;
            float[] scores = model.scalarScores(model.hidden(manager.create(ids, new Shape(1, t)),
                    manager.arange(0, t, 1, DataType.INT64).reshape(1, t),
                    manager.ones(new Shape(1, t), DataType.INT32), null)).toFloatArray();
            double[][] h = reference(model.weights()).hiddenStates(seq);
            float[] w = model.weights().get(LlamaWeights.SCORE_HEAD).toFloatArray();
            double expected = 0;
            for (int d = 0; d < w.length; d++) {
                expected += w[d] * h[t - 1][d];
            }
            assertTrue(Math.abs(scores[t - 1] - expected) < 1e-5, scores[t - 1] + " vs " + expected);
        }
    }
}
