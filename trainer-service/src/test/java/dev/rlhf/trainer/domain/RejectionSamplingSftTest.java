package dev.rlhf.trainer.domain;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.llama.io.Manifest;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.trainer.domain.RejectionSamplingSft.PolicyCheckpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RejectionSamplingSftTest {
    @TempDir
    Path tmp;

    private static final RejectionSamplingSft.Options OPTIONS = new RejectionSamplingSft.Options(2, 2, 32, 1e-3, 2);

    private static List<PolicyCheckpoint> feed(RejectionSamplingSft sft, int from, int to) {
        List<PolicyCheckpoint> out = new ArrayList<>();
        for (int i = from; i < to; i++) {
            Optional<PolicyCheckpoint> c = sft.accept(i % 2, i / 2, "p" + i, "What is " + i + " plus 2?",
                    i + " plus 2 is " + (i + 2) + ".");
            c.ifPresent(out::add);
        }
        return out;
    }

    /**
     * A newest checkpoint that does not verify (here truncated) is skipped: the trainer resumes from the last good
     * one and retrains what came after it, and its next version is past the corrupt one, which may have been served.
     */
    @Test
    void aCorruptNewestCheckpointIsSkippedAndVersionsContinuePastIt() throws Exception {
        Path initial = ModelFactory.tinyForTests(tmp.resolve("sft-c"), 1, false);
        Path root = tmp.resolve("corrupt");
        try (NDManager m = NDManager.newBaseManager()) {
            try (RejectionSamplingSft a = new RejectionSamplingSft(root, initial, OPTIONS, m)) {
                assertEquals(3, feed(a, 0, 12).size());
            }
            Path v3 = root.resolve("policy-v000003").resolve("model.safetensors");
            java.nio.file.Files.write(v3, java.util.Arrays.copyOf(java.nio.file.Files.readAllBytes(v3), 100));
            try (RejectionSamplingSft b = new RejectionSamplingSft(root, initial, OPTIONS, m)) {
                assertEquals(2, b.version(), "resumed from the last checkpoint that verifies");
                assertEquals(4, b.ledger().nextOffset(0), "and from its ledger: samples 8..11 come again");
                List<PolicyCheckpoint> again = feed(b, 8, 12);
                assertEquals(List.of(4L), again.stream().map(PolicyCheckpoint::version).toList(),
                        "the corrupt version 3 is never reused");
                assertEquals(4, b.version());
            }
            assertTrue(java.nio.file.Files.exists(v3), "the corrupt checkpoint is left for inspection");
        }
    }

    @Test
    void aRestartFromTheNewestCheckpointTrainsEverySampleExactlyOnce() {
        Path initial = ModelFactory.tinyForTests(tmp.resolve("sft"), 1, false);
        try (NDManager m = NDManager.newBaseManager()) {
            // Uninterrupted: 12 samples, 6 steps, versions 1..3.
            List<PolicyCheckpoint> straight;
            try (RejectionSamplingSft a = new RejectionSamplingSft(tmp.resolve("a"), initial, OPTIONS, m)) {
                straight = feed(a, 0, 12);
            }
            assertEquals(List.of(1L, 2L, 3L), straight.stream().map(PolicyCheckpoint::version).toList());

            // Crash after 10 samples: version 2 covers 8 samples, step 5 (samples 8, 9) is lost with the process.
            try (RejectionSamplingSft b = new RejectionSamplingSft(tmp.resolve("b"), initial, OPTIONS, m)) {
                feed(b, 0, 10);
                assertEquals(5, b.steps());
            }
            List<PolicyCheckpoint> resumed;
            try (RejectionSamplingSft b = new RejectionSamplingSft(tmp.resolve("b"), initial, OPTIONS, m)) {
                assertEquals(2, b.version());
                assertEquals(4, b.steps());
                OffsetLedger ledger = b.ledger();
                assertEquals(4, ledger.nextOffset(0)); // samples 0,2,4,6 of partition 0 (offsets 0..3)
                assertEquals(4, ledger.nextOffset(1));
                resumed = feed(b, 8, 12); // what a consumer seeking to the ledger re-reads
            }
            PolicyCheckpoint last = resumed.get(resumed.size() - 1);
            assertEquals(3, last.version());
            assertEquals(straight.get(2).step(), last.step());
            float[] wa = LlamaCheckpoint.load(straight.get(2).dir(), m, ScoreHead.ABSENT)
                    .get(LlamaWeights.EMBED).toFloatArray();
            float[] wb = LlamaCheckpoint.load(last.dir(), m, ScoreHead.ABSENT).get(LlamaWeights.EMBED).toFloatArray();
            assertArrayEquals(wa, wb, 1e-6f, "the resumed run trained the same samples in the same order");

            // The chain's audit trail names every sample exactly once.
            Set<String> seen = new HashSet<>();
            int total = 0;
            for (String v : List.of("policy-v000001", "policy-v000002", "policy-v000003")) {
                var ids = Manifest.read(tmp.resolve("b").resolve(v)).metadata().getAsJsonArray("trained_ids");
                for (var id : ids) {
                    seen.add(id.getAsString());
                    total++;
                }
            }
            assertEquals(12, total);
            assertEquals(12, seen.size());
            assertEquals(12, OffsetLedger.fromJson(Manifest.read(last.dir()).metadata().getAsJsonObject("ledger"))
                    .totalTrained());
            assertTrue(last.manifestSha256().matches("[0-9a-f]{64}"));
        }
    }

    /**
     * The pool keeps each prompt's top sample across iterations: a later, lower-scored best sample is replaced by
     * the earlier one in training, a higher one replaces the pool entry, and a restart restores the pool.
     */
    @Test
    void thePoolTrainsOnTheTopSampleOfEarlierIterationsAndSurvivesARestart() {
        Path initial = ModelFactory.tinyForTests(tmp.resolve("sft"), 1, false);
        try (NDManager m = NDManager.newBaseManager()) {
            try (RejectionSamplingSft a = new RejectionSamplingSft(tmp.resolve("pool"), initial, OPTIONS, m)) {
                // Iteration 1: two prompts.
                a.accept(0, 0, "it1-a", "What is 1 plus 2?", "1 plus 2 is 3.", 0.9);
                a.accept(0, 1, "it1-b", "What is 2 plus 2?", "2 plus 2 is 5.", 0.3);
                // Iteration 2: prompt a gets a worse best sample (pool wins), prompt b a better one (replaces).
                a.accept(0, 2, "it2-a", "What is 1 plus 2?", "1 plus 2 is 7.", 0.2);
                a.accept(0, 3, "it2-b", "What is 2 plus 2?", "2 plus 2 is 4.", 0.8);
                assertEquals(1, a.replacedByPool());
                assertEquals(2, a.poolSize());
                assertEquals(1, a.version()); // 4 samples, 2 per step, a checkpoint every 2 steps
            }
            try (RejectionSamplingSft b = new RejectionSamplingSft(tmp.resolve("pool"), initial, OPTIONS, m)) {
                assertEquals(2, b.poolSize(), "pool restored from the checkpoint");
                b.accept(0, 4, "it3-b", "What is 2 plus 2?", "2 plus 2 is 9.", 0.5);
                assertEquals(1, b.replacedByPool(), "0.5 < the restored 0.8");
                b.accept(0, 5, "it3-a", "What is 1 plus 2?", "1 plus 2 is 3.", 0.95);
                assertEquals(1, b.replacedByPool(), "0.95 > 0.9 replaces the entry instead");
            }
        }
    }

    /** Replayed demonstrations join each step deterministically, so a restart reproduces the uninterrupted run. */
    @Test
    void replayedDemonstrationsChangeTrainingAndSurviveARestartExactly() {
        Path initial = ModelFactory.tinyForTests(tmp.resolve("sft"), 1, false);
        var demos = List.of(new dev.rlhf.llama.data.JsonlExamples.TextExample("What is 9 plus 9?", "9 plus 9 is 18."),
                new dev.rlhf.llama.data.JsonlExamples.TextExample("hello", "hello world, how are you today?"),
                new dev.rlhf.llama.data.JsonlExamples.TextExample("What is 1 plus 1?", "1 plus 1 is 2."));
        RejectionSamplingSft.Options replay = new RejectionSamplingSft.Options(2, 2, 32, 1e-3, 2, demos, 2);
        try (NDManager m = NDManager.newBaseManager()) {
            Path straightDir;
            try (RejectionSamplingSft a = new RejectionSamplingSft(tmp.resolve("r1"), initial, replay, m)) {
                List<PolicyCheckpoint> c = feed(a, 0, 8);
                straightDir = c.get(c.size() - 1).dir();
            }
            try (RejectionSamplingSft b = new RejectionSamplingSft(tmp.resolve("r2"), initial, replay, m)) {
                feed(b, 0, 4); // version 1 after 2 steps
            }
            Path resumedDir;
            try (RejectionSamplingSft b = new RejectionSamplingSft(tmp.resolve("r2"), initial, replay, m)) {
                assertEquals(2, b.steps());
                List<PolicyCheckpoint> c = feed(b, 4, 8);
                resumedDir = c.get(c.size() - 1).dir();
            }
            Path noReplayDir;
            try (RejectionSamplingSft n = new RejectionSamplingSft(tmp.resolve("r3"), initial, OPTIONS, m)) {
                List<PolicyCheckpoint> c = feed(n, 0, 8);
                noReplayDir = c.get(c.size() - 1).dir();
            }
            float[] straight = LlamaCheckpoint.load(straightDir, m, ScoreHead.ABSENT).get(LlamaWeights.EMBED)
                    .toFloatArray();
            float[] resumed = LlamaCheckpoint.load(resumedDir, m, ScoreHead.ABSENT).get(LlamaWeights.EMBED)
                    .toFloatArray();
            float[] plain = LlamaCheckpoint.load(noReplayDir, m, ScoreHead.ABSENT).get(LlamaWeights.EMBED)
                    .toFloatArray();
            assertArrayEquals(straight, resumed, 1e-6f, "the restart replayed the same demonstrations");
            double diff = 0;
            for (int i = 0; i < plain.length; i++) {
                diff = Math.max(diff, Math.abs(plain[i] - straight[i]));
            }
            assertTrue(diff > 1e-5, "replay changed the updates (max |diff| " + diff + ")");
        }
    }

    @Test
    void replayPerStepWithoutDataIsRejected() {
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new RejectionSamplingSft.Options(2, 2, 32, 1e-3, 2, List.of(), 1));
        assertTrue(e.getMessage().contains("no replay data"), e.getMessage());
    }

    /**
     * A configured sequence length beyond the model's context (the service default 512 on the tiny model's 256
     * positions) packs rows at the context instead: samples longer than the context still train.
     */
    @Test
    void rowsArePackedAtMostAtTheModelsContext() {
        Path initial = ModelFactory.tinyForTests(tmp.resolve("sft"), 1, false);
        int context = dev.rlhf.llama.config.LlamaConfig.read(initial.resolve("config.json")).maxPositionEmbeddings();
        String longResponse = "hello world, how are you today? ".repeat(context / 4);
        try (NDManager m = NDManager.newBaseManager();
             RejectionSamplingSft sft = new RejectionSamplingSft(tmp.resolve("long"), initial,
                     new RejectionSamplingSft.Options(2, 2, 2 * context, 1e-3, 1), m);
             dev.rlhf.llama.tokenizer.LlamaTokenizer tok = dev.rlhf.llama.tokenizer.LlamaTokenizer.load(initial)) {
            assertTrue(tok.encode(longResponse).length > context, "the sample must not fit in one context");
            sft.accept(0, 0, "a", "What is 2 plus 3?", longResponse);
            PolicyCheckpoint v1 = sft.accept(0, 1, "b", "What is 2 plus 3?", longResponse).orElseThrow();
            assertEquals(1, v1.version());
            assertTrue(Double.isFinite(v1.loss()), "loss " + v1.loss());
        }
    }

    /** A pooled score is a probability: infinite or out-of-range scores would hold a prompt's pool entry forever. */
    @Test
    void bestSampleScoresMustBeProbabilities() {
        for (double bad : new double[] {Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 1.5, -0.1}) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> new RejectionSamplingSft.BestSample("x", "p", "r", bad));
            assertTrue(e.getMessage().contains("not a probability"), e.getMessage());
        }
        new RejectionSamplingSft.BestSample("x", "p", "r", Double.NaN); // no score: used as is, not pooled
    }

    /**
     * The trainer packs the ids the policy sampled: the prompt inside {@code <s> ... <sep>}, and the response's
     * {@code </s>} is trained when it ended there, not after a truncated response; ids outside the vocabulary are
     * refused.
     */
    @Test
    void trainsOnTheSampledIdsAndOnEosOnlyWhenTheResponseEndedOnIt() {
        Path initial = ModelFactory.tinyForTests(tmp.resolve("sft"), 1, false);
        try (NDManager m = NDManager.newBaseManager();
             RejectionSamplingSft sft = new RejectionSamplingSft(tmp.resolve("ckpt"), initial, OPTIONS, m);
             dev.rlhf.llama.tokenizer.LlamaTokenizer tok = dev.rlhf.llama.tokenizer.LlamaTokenizer.load(initial)) {
            int[] prompt = {tok.bosId(), 40, 41, tok.sepId()};
            var ended = sft.example(new RejectionSamplingSft.BestSample("a", "ignored", prompt, "ignored",
                    new int[] {50, 51, tok.eosId()}, false, 0.5));
            assertArrayEquals(new int[] {40, 41}, ended.prompt());
            assertArrayEquals(new int[] {50, 51}, ended.response());
            assertTrue(ended.closed(), "</s> sampled: trained");
            var cut = sft.example(new RejectionSamplingSft.BestSample("b", "ignored", prompt, "ignored",
                    new int[] {50, 51}, true, 0.5));
            assertArrayEquals(new int[] {50, 51}, cut.response());
            assertTrue(!cut.closed(), "truncated: no </s>");
            var textOnly = sft.example(new RejectionSamplingSft.BestSample("c", "What is 1 plus 2?", "3", 0.5));
            assertArrayEquals(tok.encode("What is 1 plus 2?"), textOnly.prompt());
            assertTrue(textOnly.closed());
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> sft.example(new RejectionSamplingSft.BestSample("d", "p", prompt, "r",
                            new int[] {1 << 20}, false, 0.5)));
            assertTrue(e.getMessage().contains("outside the policy's vocabulary"), e.getMessage());
        }
    }
}
