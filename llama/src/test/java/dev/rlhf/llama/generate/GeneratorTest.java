package dev.rlhf.llama.generate;

import dev.rlhf.vocabulary.SamplingParams;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.TestModels;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class GeneratorTest {
    private static NDManager manager;
    private static LlamaModel model;
    private static Generator generator;

    @BeforeAll
    static void setUp() {
        manager = NDManager.newBaseManager();
        model = TestModels.randomModel(manager, TestModels.tinyGqa(), 11);
        generator = new Generator(model, TokenDecoder.IDS, 0);
    }

    @AfterAll
    static void tearDown() {
        manager.close();
    }

    private static final int[] SHORT = {1, 5, 9};
    private static final int[] LONG = {1, 40, 41, 42, 43, 44, 45, 46};

    @Test
    void paddedBatchGivesTheSameTokensAndLogprobsAsEachPromptAlone() {
        SamplingParams p = new SamplingParams(2, 12, 1.0, 1.0, 0, 99, List.of());
        List<List<Sample>> batch = generator.generate(List.of(SHORT, LONG), p).samples();
        List<Sample> shortAlone = generator.generate(List.<int[]>of(SHORT), p).samples().get(0);
        // Prompt index is part of each sample's seed, so compare the long prompt at the same index.
        List<Sample> longAtIndex1 = generator.generate(List.of(LONG, LONG), p).samples().get(1);
        for (int s = 0; s < 2; s++) {
            assertArrayEquals(shortAlone.get(s).tokens(), batch.get(0).get(s).tokens());
            assertArrayEquals(longAtIndex1.get(s).tokens(), batch.get(1).get(s).tokens());
            assertArrayEquals(shortAlone.get(s).logprobs(), batch.get(0).get(s).logprobs(), 1e-4f);
        }
    }

    @Test
    void greedyEqualsTheArgmaxChainOfFullRecomputes() {
        Sample s = generator.generate(List.<int[]>of(LONG), SamplingParams.greedy(10)).samples().get(0).get(0);
        int[] seq = Arrays.copyOf(LONG, LONG.length + s.tokens().length);
        System.arraycopy(s.tokens(), 0, seq, LONG.length, s.tokens().length);
        int vocab = model.config().vocabSize();
        for (int i = 0; i < s.tokens().length; i++) {
            int len = LONG.length + i;
            long[] prefix = Arrays.stream(Arrays.copyOf(seq, len)).asLongStream().toArray();
            float[] logits = model.logits(model.hidden(manager.create(prefix, new Shape(1, len)),
                    manager.arange(0, len, 1, DataType.INT64).reshape(1, len),
                    manager.ones(new Shape(1, len), DataType.INT32), null)).toFloatArray();
            int argmax = Sampler.argmax(logits, (len - 1) * vocab, vocab);
            assertEquals(argmax, s.tokens()[i], "step " + i);
            assertEquals(Sampler.logProb(logits, (len - 1) * vocab, vocab, argmax), s.logprobs()[i], 1e-4);
        }
    }

    @Test
    void sameSeedSameOutputDifferentSeedDifferentOutput() {
        SamplingParams p = new SamplingParams(4, 16, 1.2, 0.95, 50, 2024, List.of());
        List<Sample> a = generator.generate(List.<int[]>of(SHORT), p).samples().get(0);
        List<Sample> b = generator.generate(List.<int[]>of(SHORT), p).samples().get(0);
        List<Sample> c = generator.generate(List.<int[]>of(SHORT), p.withSeed(2025)).samples().get(0);
        for (int i = 0; i < 4; i++) {
            assertArrayEquals(a.get(i).tokens(), b.get(i).tokens());
        }
        assertFalse(Arrays.equals(a.get(0).tokens(), c.get(0).tokens())
                && Arrays.equals(a.get(1).tokens(), c.get(1).tokens()), "another seed must change samples");
        assertNotEquals(Arrays.toString(a.get(0).tokens()), Arrays.toString(a.get(1).tokens()),
                "the n samples of one prompt differ");
    }

    @Test
    void lengthAndStopStringsEndSamples() {
        Sample greedy = generator.generate(List.<int[]>of(SHORT), SamplingParams.greedy(8)).samples().get(0).get(0);
        assertEquals(FinishReason.LENGTH, greedy.finishReason());
        assertEquals(8, greedy.tokens().length);
        String third = Integer.toString(greedy.tokens()[2]);
        SamplingParams withStop = new SamplingParams(1, 8, 0, 1, 0, 0, List.of(" " + third));
        Sample stopped = generator.generate(List.<int[]>of(SHORT), withStop).samples().get(0).get(0);
        assertEquals(FinishReason.STOP, stopped.finishReason());
        assertTrue(stopped.tokens().length <= 3, Arrays.toString(stopped.tokens()));
        assertTrue(stopped.text().contains(third));
    }

    /**
     * Llama 3 configs list several EOS ids; any of them ends a sample. The greedy first token of this model is found
     * first, then a config naming it as the third of three EOS ids must stop right after it, with finish EOS.
     */
    @Test
    void anyOfTheConfigsEosIdsEndsASample() {
        Sample free = generator.generate(List.of(SHORT), SamplingParams.greedy(4)).samples().get(0).get(0);
        int first = free.tokens()[0];
        var config = model.config();
        int other = (first + 1) % config.vocabSize() == config.eosTokenId() ? (first + 2) % config.vocabSize()
                : (first + 1) % config.vocabSize();
        var eosList = java.util.List.of(config.eosTokenId(), other, first);
        if (first == config.eosTokenId()) {
            assertEquals(FinishReason.EOS, free.finishReason());
            return;
        }
        LlamaModel same = new LlamaModel(new dev.rlhf.llama.model.LlamaWeights(config.withLlama3Fields(
                config.headDim(), null, eosList), model.weights().manager(), model.weights().tensors()));
        Sample stopped = new Generator(same, TokenDecoder.IDS, 0).generate(List.of(SHORT), SamplingParams.greedy(4))
                .samples().get(0).get(0);
        assertEquals(FinishReason.EOS, stopped.finishReason());
        assertArrayEquals(new int[] {first}, stopped.tokens());
    }

    @Test
    void promptBeyondContextIsRejectedWithTheNumbers() {
        int[] prompt = new int[60];
        Arrays.fill(prompt, 5);
        ContextOverflowException e = assertThrows(ContextOverflowException.class,
                () -> generator.generate(List.of(prompt), SamplingParams.greedy(10)));
        assertTrue(e.getMessage().contains("60") && e.getMessage().contains("64"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> generator.generate(List.of(new int[] {1, 500}), SamplingParams.greedy(2)));
        // prompt + max_new_tokens in int would wrap to a negative number and pass; in long it is refused.
        ContextOverflowException huge = assertThrows(ContextOverflowException.class,
                () -> generator.validate(List.of(new int[] {1, 5, 5}), SamplingParams.greedy(Integer.MAX_VALUE)));
        assertTrue(huge.getMessage().contains("= 2147483650 exceeds the context length 64"), huge.getMessage());
    }

    @Test
    void teacherForcedScoresEqualTheLogprobsRecordedWhileSampling() {
        SamplingParams p = new SamplingParams(3, 10, 1.0, 1.0, 0, 5, List.of());
        List<List<Sample>> out = generator.generate(List.of(SHORT, LONG), p).samples();
        List<int[]> prompts = new java.util.ArrayList<>();
        List<int[]> responses = new java.util.ArrayList<>();
        List<float[]> recorded = new java.util.ArrayList<>();
        for (int i = 0; i < 2; i++) {
            for (Sample s : out.get(i)) {
                prompts.add(i == 0 ? SHORT : LONG);
                responses.add(s.tokens());
                recorded.add(s.logprobs());
            }
        }
        List<float[]> scored = new SequenceScorer(model, 0).responseLogProbs(prompts, responses);
        for (int k = 0; k < scored.size(); k++) {
            assertEquals(recorded.get(k).length, scored.get(k).length);
            assertArrayEquals(recorded.get(k), scored.get(k), 1e-4f, "pair " + k);
        }
    }

    @Test
    void requestsWithDifferentParametersBatchedTogetherEqualEachAlone() {
        GenerationRequest greedy = new GenerationRequest(LONG, SamplingParams.greedy(5), 0, null, null);
        GenerationRequest hot = new GenerationRequest(SHORT, new SamplingParams(2, 12, 1.3, 0.9, 20, 77, List.of()), 0,
                null, null);
        GenerationRequest cold = new GenerationRequest(SHORT, new SamplingParams(3, 7, 0.7, 1.0, 0, 5, List.of()), 0,
                null, null);
        List<List<Sample>> together = generator.generateAll(List.of(greedy, hot, cold)).samples();
        List<GenerationRequest> each = List.of(greedy, hot, cold);
        for (int i = 0; i < each.size(); i++) {
            List<Sample> alone = generator.generateAll(List.of(each.get(i))).samples().get(0);
            assertEquals(alone.size(), together.get(i).size());
            for (int s = 0; s < alone.size(); s++) {
                assertArrayEquals(alone.get(s).tokens(), together.get(i).get(s).tokens(), "request " + i + " sample " + s);
            }
        }
        assertEquals(5, together.get(0).get(0).tokens().length);
        assertTrue(together.get(2).stream().allMatch(x -> x.tokens().length <= 7));
    }

    @Test
    void listenerSeesEveryTokenAndCancellationStopsARequest() {
        List<Integer> streamed = new java.util.ArrayList<>();
        java.util.concurrent.atomic.AtomicInteger count = new java.util.concurrent.atomic.AtomicInteger();
        GenerationRequest streaming = new GenerationRequest(SHORT, SamplingParams.greedy(10), 0,
                (sample, token, lp) -> streamed.add(token), null);
        GenerationRequest cancelled = new GenerationRequest(LONG, SamplingParams.greedy(10), 0,
                (sample, token, lp) -> count.incrementAndGet(), () -> count.get() >= 3);
        List<List<Sample>> out = generator.generateAll(List.of(streaming, cancelled)).samples();
        assertArrayEquals(out.get(0).get(0).tokens(), streamed.stream().mapToInt(Integer::intValue).toArray());
        assertEquals(FinishReason.CANCELLED, out.get(1).get(0).finishReason());
        assertEquals(3, out.get(1).get(0).tokens().length);
    }

    /**
     * EOS is an action: when a sample ends on it, it is the last returned token, with its log-probability, and the
     * text leaves it out. The model's EOS is set to the token greedy decoding picks first, so the sample is [EOS].
     */
    @Test
    void eosIsReturnedAsTheLastTokenWithItsLogProbButNotInTheText() {
        int first = generator.generate(List.<int[]>of(SHORT), SamplingParams.greedy(3)).samples().get(0).get(0)
                .tokens()[0];
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel withEos = TestModels.randomModel(m, TestModels.tinyGqa().withTokenizer(97, 1, first), 11);
            Sample s = new Generator(withEos, TokenDecoder.IDS, 0).generate(List.<int[]>of(SHORT), SamplingParams.greedy(3))
                    .samples().get(0).get(0);
            assertEquals(FinishReason.EOS, s.finishReason());
            assertArrayEquals(new int[] {first}, s.tokens());
            assertEquals(1, s.logprobs().length);
            assertTrue(s.logprobs()[0] < 0 && s.logprobs()[0] > -10, "log p(EOS) " + s.logprobs()[0]);
            assertEquals("", s.text());
        }
    }

    /**
     * The recorded log-probabilities are those of softmax(logits / T) at the sampling temperature: at T = 0.7 they
     * equal the teacher-forced temperature-1 log-probabilities recomputed as log softmax(z / 0.7), not the T = 1
     * ones.
     */
    @Test
    void recordedLogProbsAreAtTheSamplingTemperature() {
        SamplingParams p = new SamplingParams(2, 6, 0.7, 1.0, 0, 5, List.of());
        Sample s = generator.generate(List.<int[]>of(SHORT), p).samples().get(0).get(0);
        int[] seq = new int[SHORT.length + s.tokens().length];
        System.arraycopy(SHORT, 0, seq, 0, SHORT.length);
        System.arraycopy(s.tokens(), 0, seq, SHORT.length, s.tokens().length);
        int vocab = model.config().vocabSize();
        try (NDManager m = manager.newSubManager()) {
            int len = seq.length;
            float[] logits = model.logits(model.hidden(m.create(Arrays.stream(seq).asLongStream().toArray(),
                    new Shape(1, len)), m.arange(0, len, 1, DataType.INT64).reshape(1, len),
                    m.ones(new Shape(1, len), DataType.INT32), null)).toFloatArray();
            double maxGapToT1 = 0;
            for (int t = 0; t < s.tokens().length; t++) {
                int row = (SHORT.length - 1 + t) * vocab;
                double max = Double.NEGATIVE_INFINITY;
                for (int v = 0; v < vocab; v++) {
                    max = Math.max(max, logits[row + v]);
                }
                double sum = 0;
                for (int v = 0; v < vocab; v++) {
                    sum += Math.exp((logits[row + v] - max) / 0.7);
                }
                double expected = (logits[row + s.tokens()[t]] - max) / 0.7 - Math.log(sum);
                assertEquals(expected, s.logprobs()[t], 1e-4, "token " + t);
                maxGapToT1 = Math.max(maxGapToT1, Math.abs(s.logprobs()[t]
                        - Sampler.logProb(logits, row, vocab, s.tokens()[t])));
            }
            assertTrue(maxGapToT1 > 1e-3, "T = 0.7 differs from T = 1 by " + maxGapToT1);
        }
    }
}
