package dev.rlhf.llama.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.rlhf.llama.config.LlamaConfig;
import dev.rlhf.llama.config.RopeScaling;
import dev.rlhf.llama.generate.Generator;
import dev.rlhf.llama.generate.Sample;
import dev.rlhf.vocabulary.SamplingParams;
import dev.rlhf.llama.lora.LoraAdapter;
import dev.rlhf.llama.lora.LoraConfig;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.model.TestModels;
import dev.rlhf.llama.runtime.GradMode;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The batch-1 CPU decoder against the DJL model it stands in for: the logits at every position of a sequence,
 * fed one token at a time, equal the DJL model's full (teacher-forced) pass within 1e-4, and so does their
 * difference from a float64 pass of the same model. Weights are scaled up
 * from the N(0, 0.02) init so that logits spread over several units and attention is far from uniform: a
 * tolerance of 1e-4 on logits of size ~0.1 would prove little.
 */
class VectorDecoderTest {
    private static final float TOLERANCE = 1e-4f;

    @Test
    void logitsEqualTheDjlModelWithGqa() {
        compare(TestModels.tinyGqa(), false, 2);
    }

    @Test
    void logitsEqualTheDjlModelWithLlama3RopeTiedHeadAndExplicitHeadDim() {
        LlamaConfig c = new LlamaConfig(48, 80, 4, 1, 2, 64, 1e-5, 500000, 101, true, 1, 2, 16,
                RopeScaling.llama3(8, 1, 4, 16), List.of(2, 5));
        compare(c, false, 2);
    }

    @Test
    void anActiveAdapterIsFoldedIn() {
        compare(TestModels.tinyGqa(), true, 2);
    }

    @Test
    void theThreadCountDoesNotChangeOneBit() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = scaledModel(m, TestModels.tinyGqa(), false);
            int[] tokens = tokens(model.config(), 40);
            try (VectorDecoder one = VectorDecoder.create(model, 1);
                 VectorDecoder three = VectorDecoder.create(model, 3)) {
                assertEquals(3, three.threads());
                SequenceDecoder.Sequence a = one.newSequence(40);
                SequenceDecoder.Sequence b = three.newSequence(40);
                for (int t : tokens) {
                    assertArrayEquals(a.next(t).clone(), b.next(t), 0f);
                }
            }
        }
    }

    @Test
    void theGeneratorRunsOneRowOnItWithTheSameSamples() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = scaledModel(m, TestModels.tinyGqa(), false);
            int[] prompt = tokens(model.config(), 7);
            int[] calls = new int[1];
            try (VectorDecoder d = VectorDecoder.create(model, 2)) {
                SequenceDecoder counting = new SequenceDecoder() {
                    @Override
                    public Sequence newSequence(int capacity) {
                        Sequence s = d.newSequence(capacity);
                        return new Sequence() {
                            @Override
                            public float[] next(int token) {
                                calls[0]++;
                                return s.next(token);
                            }

                            @Override
                            public int length() {
                                return s.length();
                            }
                        };
                    }

                    @Override
                    public void close() {}
                };
                Generator djl = new Generator(model, ids -> "", 0);
                Generator fast = new Generator(model, ids -> "", 0, counting);
                for (SamplingParams p : List.of(new SamplingParams(1, 30, 0, 1, 0, 3, List.of()),
                        new SamplingParams(1, 30, 1.0, 0.9, 20, 3, List.of()))) {
                    calls[0] = 0;
                    Sample expected = djl.generate(List.<int[]>of(prompt), p).samples().get(0).get(0);
                    Sample got = fast.generate(List.<int[]>of(prompt), p).samples().get(0).get(0);
                    assertEquals(prompt.length + got.tokens().length - 1, calls[0],
                            "every position but the last sampled token went through the CPU decoder");
                    assertArrayEquals(expected.tokens(), got.tokens(), "temperature " + p.temperature());
                    assertArrayEquals(expected.logprobs(), got.logprobs(), 1e-4f);
                    assertEquals(expected.finishReason(), got.finishReason());
                }
                // Two rows (n = 2) go through the DJL model.
                calls[0] = 0;
                fast.generate(List.<int[]>of(prompt), new SamplingParams(2, 5, 0, 1, 0, 3, List.of()));
                assertEquals(0, calls[0]);
            }
        }
    }

    @Test
    void badTokensAndAFullSequenceAreRefused() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = scaledModel(m, TestModels.tinyGqa(), false);
            try (VectorDecoder d = VectorDecoder.create(model, 1)) {
                SequenceDecoder.Sequence s = d.newSequence(2);
                assertThrows(IllegalArgumentException.class, () -> s.next(-1));
                assertThrows(IllegalArgumentException.class, () -> s.next(model.config().vocabSize()));
                s.next(3);
                s.next(4);
                assertEquals(2, s.length());
                assertThrows(IllegalStateException.class, () -> s.next(5));
                assertThrows(IllegalArgumentException.class,
                        () -> d.newSequence(model.config().maxPositionEmbeddings() + 1));
            }
        }
    }

    @Test
    void theGateSaysWhyNot() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = scaledModel(m, TestModels.tinyGqa(), false);
            // Surefire starts this JVM with the module, so the decoder is available here.
            assertTrue(CpuDecoding.unavailableReason(model).isEmpty(), () -> CpuDecoding.unavailableReason(model)
                    .orElse(""));
        }
    }

    private static void compare(LlamaConfig config, boolean adapter, int threads) {
        int length = Math.min(48, config.maxPositionEmbeddings());
        try (NDManager m = NDManager.newBaseManager(); GradMode.Restore ignored = GradMode.disabled()) {
            LlamaModel model = scaledModel(m, config, adapter);
            int[] tokens = tokens(config, length);
            float[] expected = djlLogits(m, model, tokens); // (T * V)
            float[] exact;
            try (NDManager m64 = m.newSubManager()) {
                exact = djlLogits(m64, new LlamaModel(model.weights().copy(m64, ai.djl.ndarray.types.DataType.FLOAT64)), tokens);
            }
            int vocab = config.vocabSize();
            float spread = 0;
            for (float f : expected) {
                spread = Math.max(spread, Math.abs(f));
            }
            assertTrue(spread > 1, "logits large enough to make the tolerance meaningful: max |logit| " + spread);
            try (VectorDecoder d = VectorDecoder.create(model, threads)) {
                SequenceDecoder.Sequence s = d.newSequence(length);
                float worst = 0;
                double e64 = 0; // against a float64 pass of the DJL model: the error of ours, and of DJL's float32
                double d64 = 0;
                for (int p = 0; p < length; p++) {
                    float[] got = s.next(tokens[p]);
                    for (int v = 0; v < vocab; v++) {
                        worst = Math.max(worst, Math.abs(got[v] - expected[p * vocab + v]));
                        e64 = Math.max(e64, Math.abs(got[v] - exact[p * vocab + v]));
                        d64 = Math.max(d64, Math.abs(expected[p * vocab + v] - exact[p * vocab + v]));
                    }
                }
                String report = String.format(java.util.Locale.ROOT, "max |logit| %.2f; max |difference| over %d "
                        + "positions: ours - DJL %.2g, ours - float64 %.2g, DJL - float64 %.2g", spread, length, worst,
                        e64, d64);
                System.out.println(report);
                assertTrue(worst <= TOLERANCE && e64 <= TOLERANCE, report);
            }
        }
    }

    private static float[] djlLogits(NDManager m, LlamaModel model, int[] tokens) {
        int t = tokens.length;
        long[] ids = new long[t];
        long[] pos = new long[t];
        for (int i = 0; i < t; i++) {
            ids[i] = tokens[i];
            pos[i] = i;
        }
        NDArray tok = m.create(ids, new Shape(1, t));
        NDArray positions = m.create(pos, new Shape(1, t));
        NDArray mask = m.ones(new Shape(1, t), ai.djl.ndarray.types.DataType.INT32);
        return model.logits(model.hidden(tok, positions, mask, null))
                .toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
    }

    /** Random weights with matrices scaled to std 0.5 (norm weights random around 1); B random for adapters. */
    private static LlamaModel scaledModel(NDManager m, LlamaConfig config, boolean adapter) {
        LlamaWeights w = LlamaWeights.randomInit(config, m.newSubManager(), 11, false);
        SplittableRandom r = new SplittableRandom(5);
        for (String name : List.copyOf(w.tensors().keySet())) {
            NDArray a = w.get(name);
            if (LlamaWeights.isNorm(name)) {
                float[] jitter = new float[Math.toIntExact(a.size())];
                for (int i = 0; i < jitter.length; i++) {
                    jitter[i] = (float) r.nextDouble(-0.5, 0.5);
                }
                a.addi(m.create(jitter, a.getShape()));
            } else {
                a.muli(25);
            }
        }
        if (adapter) {
            w.attachNewAdapter(new LoraAdapter(new LoraConfig(4, 8, 0, LoraConfig.ALL_TARGETS), "base", null),
                    3);
            for (String name : List.copyOf(w.adapterTensors().keySet())) {
                if (name.contains("lora_B")) {
                    NDArray b = w.get(name);
                    float[] values = new float[Math.toIntExact(b.size())];
                    for (int i = 0; i < values.length; i++) {
                        values[i] = (float) r.nextDouble(-0.2, 0.2);
                    }
                    b.addi(m.create(values, b.getShape()));
                }
            }
            assertTrue(new LlamaModel(w).adapterActive());
        }
        return new LlamaModel(w);
    }

    private static int[] tokens(LlamaConfig c, int n) {
        SplittableRandom r = new SplittableRandom(9);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = r.nextInt(c.vocabSize());
        }
        return t;
    }
}
