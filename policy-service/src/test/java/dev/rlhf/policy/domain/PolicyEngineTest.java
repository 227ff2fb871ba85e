package dev.rlhf.policy.domain;

import dev.rlhf.vocabulary.HotSwap;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.llama.generate.ContextOverflowException;
import dev.rlhf.llama.generate.Sample;
import dev.rlhf.vocabulary.SamplingParams;
import dev.rlhf.policy.domain.PolicyEngine.GenerateJob;
import dev.rlhf.policy.domain.PolicyEngine.Generated;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PolicyEngineTest {
    @TempDir
    static Path tmp;
    static NDManager manager;
    static Path v1;
    static Path v2;

    @BeforeAll
    static void setUp() {
        manager = NDManager.newBaseManager();
        v1 = ModelFactory.tinyForTests(tmp.resolve("v1"), 1, false);
        v2 = ModelFactory.tinyForTests(tmp.resolve("v2"), 2, false);
    }

    @AfterAll
    static void tearDown() {
        manager.close();
    }

    private static GenerateJob job(String prompt, int n, long seed) {
        return new GenerateJob(prompt, null, new SamplingParams(n, 8, 1.0, 1.0, 0, seed, List.of()), null, null);
    }

    @Test
    void concurrentRequestsAreBatchedAndGiveTheSameSamplesAsAlone() throws Exception {
        HotSwap<PolicyVersion> swap = new HotSwap<>();
        swap.swap(PolicyVersion.load(1, v1, null, manager), 1);
        List<Integer> batchRows = new CopyOnWriteArrayList<>();
        try (PolicyEngine engine = new PolicyEngine(swap, new PolicyEngine.Options(64, 32), batchRows::add)) {
            List<Sample> alone = engine.generate(job("What is 2 plus 3?", 2, 9)).get(30, TimeUnit.SECONDS).samples();
            batchRows.clear();
            List<CompletableFuture<Generated>> futures = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                futures.add(engine.generate(job(i == 0 ? "What is 2 plus 3?" : "hello world " + i, 2, 9)));
            }
            List<Sample> batched = futures.get(0).get(30, TimeUnit.SECONDS).samples();
            for (int s = 0; s < 2; s++) {
                assertArrayEquals(alone.get(s).tokens(), batched.get(s).tokens());
            }
            for (CompletableFuture<Generated> f : futures) {
                assertEquals(1, f.get().policyVersion());
            }
            assertTrue(batchRows.stream().anyMatch(rows -> rows > 2), "requests were merged: " + batchRows);
        }
        swap.clear();
    }

    @Test
    void aLoneRequestWithOneSampleRunsOnTheCpuDecoderWithTheSameSamples() throws Exception {
        HotSwap<PolicyVersion> djl = new HotSwap<>();
        HotSwap<PolicyVersion> cpu = new HotSwap<>();
        djl.swap(PolicyVersion.load(1, v1, null, manager, null, false), 1);
        cpu.swap(PolicyVersion.load(1, v1, null, manager, null, true), 1);
        try (HotSwap.Lease<PolicyVersion> lease = cpu.acquire()) {
            assertTrue(lease.value().cpuDecoding(), "surefire starts the JVM with the Vector API module");
        }
        try (PolicyEngine a = new PolicyEngine(djl, new PolicyEngine.Options(64, 32), rows -> { });
             PolicyEngine b = new PolicyEngine(cpu, new PolicyEngine.Options(64, 32), rows -> { })) {
            for (long seed = 1; seed <= 3; seed++) {
                Sample expected = a.generate(job("What is 2 plus 3?", 1, seed)).get(30, TimeUnit.SECONDS).samples()
                        .get(0);
                Sample got = b.generate(job("What is 2 plus 3?", 1, seed)).get(30, TimeUnit.SECONDS).samples().get(0);
                assertArrayEquals(expected.tokens(), got.tokens(), "seed " + seed);
                assertArrayEquals(expected.logprobs(), got.logprobs(), 1e-4f, "seed " + seed);
            }
        }
        djl.clear();
        cpu.clear();
    }

    @Test
    void aRequestJoinsTheRunningLoopAndFinishesFirst() throws Exception {
        HotSwap<PolicyVersion> swap = new HotSwap<>();
        swap.swap(PolicyVersion.load(1, v1, null, manager), 1);
        List<Integer> batchRows = new CopyOnWriteArrayList<>();
        try (PolicyEngine engine = new PolicyEngine(swap, new PolicyEngine.Options(64, 32), batchRows::add)) {
            java.util.concurrent.atomic.AtomicInteger longTokens = new java.util.concurrent.atomic.AtomicInteger();
            CompletableFuture<CompletableFuture<Generated>> shortRequest = new CompletableFuture<>();
            java.util.concurrent.atomic.AtomicInteger longTokensWhenShortDone =
                    new java.util.concurrent.atomic.AtomicInteger(-1);
            // Listeners and completions run on the worker thread, so what they record is exact, not timing.
            CompletableFuture<Generated> longRequest = engine.generate(new GenerateJob("hello world", null,
                    new SamplingParams(2, 40, 1.0, 1.0, 0, 3, List.of("never")), (sample, token, lp) -> {
                        if (sample == 0 && longTokens.incrementAndGet() == 5) {
                            CompletableFuture<Generated> f = engine.generate(job("What is 2 plus 3?", 1, 4));
                            f.whenComplete((g, e) -> longTokensWhenShortDone.set(longTokens.get()));
                            shortRequest.complete(f);
                        }
                    }, null));
            Generated alone;
            try (PolicyEngine reference = new PolicyEngine(swap, new PolicyEngine.Options(64, 32), null)) {
                alone = reference.generate(job("What is 2 plus 3?", 1, 4)).get(30, TimeUnit.SECONDS);
            }
            Generated joined = shortRequest.get(30, TimeUnit.SECONDS).get(30, TimeUnit.SECONDS);
            Generated first = longRequest.get(30, TimeUnit.SECONDS);
            assertEquals(40, first.samples().get(0).tokens().length);
            int shortLength = joined.samples().get(0).tokens().length;
            assertTrue(longTokensWhenShortDone.get() < 40 && longTokensWhenShortDone.get() <= 5 + shortLength + 1,
                    "the short request finished after the long one's token " + longTokensWhenShortDone.get()
                            + ", not after its 40th");
            assertArrayEquals(alone.samples().get(0).tokens(), joined.samples().get(0).tokens(),
                    "same seed, same tokens as alone");
            assertTrue(batchRows.contains(3), "the two long rows and the short one decoded together: " + batchRows);
        }
        swap.clear();
    }

    @Test
    void aFullQueueRejectsInsteadOfGrowing() throws Exception {
        HotSwap<PolicyVersion> swap = new HotSwap<>();
        swap.swap(PolicyVersion.load(1, v1, null, manager), 1);
        try (PolicyEngine engine = new PolicyEngine(swap, new PolicyEngine.Options(2, 1), null)) {
            List<CompletableFuture<Generated>> accepted = new ArrayList<>();
            QueueFullException rejected = null;
            for (int i = 0; i < 50 && rejected == null; i++) {
                try {
                    accepted.add(engine.generate(job("hello world", 1, i)));
                } catch (QueueFullException e) {
                    rejected = e;
                }
            }
            assertTrue(rejected != null && rejected.getMessage().contains("queue is full"), "no rejection");
            for (CompletableFuture<Generated> f : accepted) {
                assertEquals(1, f.get(30, TimeUnit.SECONDS).samples().size()); // accepted work still completes
            }
        }
        swap.clear();
    }

    @Test
    void aPromptBeyondTheContextFailsOnlyItsOwnRequest() throws Exception {
        HotSwap<PolicyVersion> swap = new HotSwap<>();
        swap.swap(PolicyVersion.load(1, v1, null, manager), 1);
        try (PolicyEngine engine = new PolicyEngine(swap, new PolicyEngine.Options(8, 32), null)) {
            CompletableFuture<Generated> tooLong = engine.generate(new GenerateJob("hello ".repeat(200), null,
                    new SamplingParams(1, 100, 1, 1, 0, 0, List.of()), null, null));
            CompletableFuture<Generated> fine = engine.generate(job("hello", 1, 0));
            ExecutionException e = assertThrows(ExecutionException.class, () -> tooLong.get(30, TimeUnit.SECONDS));
            assertInstanceOf(ContextOverflowException.class, e.getCause());
            assertEquals(1, fine.get(30, TimeUnit.SECONDS).samples().size());
        }
        swap.clear();
    }

    private static String sha(Path dir) {
        return dev.rlhf.llama.io.Manifest.sha256(dir.resolve("manifest.json"));
    }

    @Test
    void updaterSwapsVersionsAndKeepsServingOnACorruptCheckpoint() throws Exception {
        HotSwap<PolicyVersion> swap = new HotSwap<>();
        try (PolicyUpdater updater = new PolicyUpdater(swap, manager, msg -> { })) {
            updater.loadInitial(1, v1);
            updater.offer(2, v2.toUri().toString(), sha(v2)).get(); // a file: URI
            assertEquals(2, swap.version());

            Path corrupt = tmp.resolve("v3");
            ModelFactory.tinyForTests(corrupt, 3, false);
            String corruptSha = sha(corrupt);
            byte[] bytes = Files.readAllBytes(corrupt.resolve("model.safetensors"));
            bytes[bytes.length / 2] ^= 1;
            Files.write(corrupt.resolve("model.safetensors"), bytes);
            updater.offer(3, corrupt, corruptSha).get();
            updater.offer(4, tmp.resolve("missing"), "00").get();
            updater.offer(1, v1, sha(v1)).get(); // stale
            assertEquals(2, swap.version());
            assertEquals(2, updater.failedLoads());
        }
        swap.clear();
    }

    /**
     * Hot-swap refusals (issue 13): no sha256, a location that is no path, another vocabulary or shape, and a model
     * whose canary forward pass is not finite are each refused and counted; the served version stays.
     */
    @Test
    void updatesThatDoNotFitOrDoNotComputeAreRefused() throws Exception {
        HotSwap<PolicyVersion> swap = new HotSwap<>();
        List<String> log = new CopyOnWriteArrayList<>();
        try (PolicyUpdater updater = new PolicyUpdater(swap, manager, log::add)) {
            updater.loadInitial(1, v1);
            updater.offer(2, v2, null).get();
            updater.offer(3, "bad\0path", "00").get();
            Path wider = dev.rlhf.llama.checkpoint.ModelFactory.create(tmp.resolve("wider"),
                    dev.rlhf.llama.config.LlamaConfig.preset("tiny").withVocabSize(600), null, 5, false);
            Files.copy(v1.resolve("tokenizer.json"), wider.resolve("tokenizer.json"));
            updater.offer(4, wider, sha(wider)).get();
            Path nan = tmp.resolve("nan");
            try (NDManager m = NDManager.newBaseManager()) {
                var w = dev.rlhf.llama.checkpoint.LlamaCheckpoint.load(v2, m,
                        dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead.ABSENT);
                w.get(dev.rlhf.llama.model.LlamaWeights.FINAL_NORM).muli(Float.NaN);
                dev.rlhf.llama.checkpoint.LlamaCheckpoint.save(w, nan, dev.rlhf.llama.checkpoint.LlamaCheckpoint
                        .SaveOptions.defaults(1).withExtraFiles(d -> dev.rlhf.llama.checkpoint.LlamaCheckpoint
                                .copyTokenizerFiles(v2, d)));
            }
            updater.offer(5, nan, sha(nan)).get();
            assertEquals(1, swap.version(), String.join("\n", log));
            assertEquals(4, updater.failedLoads());
            String all = String.join("\n", log);
            assertTrue(all.contains("carries no manifest sha256"), all);
            assertTrue(all.contains("is not a local path or file: URI"), all);
            assertTrue(all.contains("vocabulary 600 differs from the served"), all);
            assertTrue(all.contains("canary forward pass gives non-finite logits"), all);
            updater.offer(6, v2, sha(v2)).get();
            assertEquals(6, swap.version(), "a good update still swaps in");
        }
        swap.clear();
    }

    @Test
    void noPolicyMeansUnavailable() {
        HotSwap<PolicyVersion> swap = new HotSwap<>();
        try (PolicyEngine engine = new PolicyEngine(swap, new PolicyEngine.Options(8, 8), null)) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> engine.generate(job("hi", 1, 0)).get(30, TimeUnit.SECONDS));
            assertInstanceOf(PolicyUnavailableException.class, e.getCause());
        }
    }
}
