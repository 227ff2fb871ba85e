package dev.rlhf.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.rlhf.llama.io.AtomicDirectory;
import dev.rlhf.vocabulary.SamplingParams;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import dev.rlhf.reward.domain.RewardUpdater;
import dev.rlhf.trainer.config.TrainerConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The online loop of `rlhf up` end to end: prompts sent with `rlhf prompts send` are sampled, scored and
 * selected, the trainer fine-tunes on the winners and publishes new versions, and the policy service
 * hot-swaps to them; `rlhf generate --remote` and `rlhf score --remote` talk to the running services.
 */
class LocalClusterTest {
    @TempDir
    Path tmp;

    @Test
    void promptsFlowThroughSamplerAndTrainerIntoANewServedPolicyVersion() throws Exception {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            lines.add("{\"id\": \"up-" + i + "\", \"text\": \"What is " + i + " plus 1?\"" + (i % 4 == 0
                    ? ", \"safety_tagged\": true" : "") + "}");
        }
        Path prompts = tmp.resolve("prompts.jsonl");
        Files.write(prompts, lines);
        try (LocalCluster cluster = LocalCluster.start(new LocalCluster.Settings(tmp.resolve("up"), null, null, null,
                new SamplingParams(2, 8, 1.0, 1.0, 0, 0, java.util.List.of()), 8, 64, 1e-3, "cpu"), msg -> { })) {
            CountDownLatch version2 = new CountDownLatch(1);
            cluster.policy().updater().onSwap(v -> {
                if (v >= 2) {
                    version2.countDown();
                }
            });
            JsonObject endpoints = JsonParser.parseString(Files.readString(cluster.endpointsFile())).getAsJsonObject();
            for (String key : List.of("policy", "reward-helpfulness", "reward-safety", "kafka")) {
                assertTrue(endpoints.get(key).getAsString().startsWith("127.0.0.1:"), endpoints.toString());
            }
            assertMetricsOnLoopbackOnly(cluster.sampler().metricsPort());
            assertMetricsOnLoopbackOnly(cluster.trainer().metricsPort());
            assertMetricsOnLoopbackOnly(cluster.policy().metricsPort());

            RlhfCommandTest.Run sent = RlhfCommandTest.rlhf("prompts", "send", prompts.toString(), "--kafka",
                    cluster.kafka());
            assertEquals(0, sent.code(), sent.err());
            assertTrue(sent.out().contains("sent 16 prompts"), sent.out());

            // 16 best samples at 8 per step, one version per step: the policy must reach version 2.
            assertTrue(version2.await(180, TimeUnit.SECONDS), "policy never reached version 2");
            assertEquals(2, cluster.policy().servingVersion());

            RlhfCommandTest.Run gen = RlhfCommandTest.rlhf("generate", "--remote", cluster.policyAddress(),
                    "--prompt", "What is 3 plus 1?", "--max-new-tokens", "6");
            assertEquals(0, gen.code(), gen.err());
            assertTrue(gen.out().contains("policy version 2"), gen.out());

            RlhfCommandTest.Run score = RlhfCommandTest.rlhf("score", "--remote", cluster.safetyAddress(),
                    "--prompt", "hi", "--response", "hello", "--response", "no");
            assertEquals(0, score.code(), score.err());
            assertTrue(score.out().contains("safety reward model, version 0"), score.out());

            RlhfCommandTest.Run bad = RlhfCommandTest.rlhf("generate", "--remote", cluster.policyAddress(),
                    "--prompt", "hi", "--n", "65");
            assertEquals(1, bad.code());
            assertTrue(bad.err().contains("n must be in [1, 64], got 65"), bad.err());
        }
    }

    /** The port answers on 127.0.0.1 and refuses connections on this machine's other addresses. */
    private static void assertMetricsOnLoopbackOnly(int port) throws Exception {
        try (java.net.Socket ok = new java.net.Socket("127.0.0.1", port)) {
            assertTrue(ok.isConnected());
        }
        java.net.InetAddress external = null;
        for (java.net.NetworkInterface nic : java.util.Collections.list(java.net.NetworkInterface.getNetworkInterfaces())) {
            if (nic.isUp() && !nic.isLoopback()) {
                for (java.net.InetAddress a : java.util.Collections.list(nic.getInetAddresses())) {
                    if (a instanceof java.net.Inet4Address) {
                        external = a;
                    }
                }
            }
        }
        if (external == null) {
            System.out.println("LocalClusterTest: no non-loopback IPv4 address here, so only the loopback side of "
                    + "port " + port + " was checked");
            return;
        }
        java.net.InetAddress address = external;
        org.junit.jupiter.api.Assertions.assertThrows(java.net.ConnectException.class, () -> {
            try (java.net.Socket s = new java.net.Socket()) {
                s.connect(new java.net.InetSocketAddress(address, port), 2000);
            }
        }, "metrics port " + port + " answers on " + address);
    }

    private static Path promptFile(Path dir, String prefix, int count) throws java.io.IOException {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            lines.add("{\"id\": \"" + prefix + "-" + i + "\", \"text\": \"What is " + i + " plus 2?\"}");
        }
        return Files.write(dir.resolve(prefix + ".jsonl"), lines);
    }

    /** Sends the prompts and waits until the policy service serves {@code version}. */
    private static void sendAndAwait(LocalCluster cluster, Path prompts, long version) throws Exception {
        CountDownLatch served = new CountDownLatch(1);
        cluster.policy().updater().onSwap(v -> {
            if (v >= version) {
                served.countDown();
            }
        });
        if (cluster.policy().servingVersion() >= version) {
            served.countDown();
        }
        RlhfCommandTest.Run sent = RlhfCommandTest.rlhf("prompts", "send", prompts.toString(), "--kafka",
                cluster.kafka());
        assertEquals(0, sent.code(), sent.err());
        assertTrue(served.await(180, TimeUnit.SECONDS), "policy never reached version " + version);
    }

    /**
     * `rlhf up` stopped and started again on the same directory resumes: the broker's log (topics, the sampler's
     * committed offsets) and the trainer's ledger continue, so new prompts make the next version and nothing is
     * sampled or trained twice. A genuinely new broker (its log deleted) is reported in one line and the trainer
     * continues from its checkpoint instead of crashing on offsets that log never had.
     */
    @Test
    void aRestartResumesFromTheDurableBrokerLogAndANewBrokerIsReportedNotFatal() throws Exception {
        LocalCluster.Settings settings = new LocalCluster.Settings(tmp.resolve("up"), null, null, null,
                new SamplingParams(2, 8, 1.0, 1.0, 0, 0, java.util.List.of()), 8, 64, 1e-3, "cpu");
        String clusterId;
        try (LocalCluster cluster = LocalCluster.start(settings, msg -> { })) {
            clusterId = cluster.kafkaClusterId();
            sendAndAwait(cluster, promptFile(tmp, "first", 8), 1);
        }
        try (LocalCluster cluster = LocalCluster.start(settings, msg -> { })) {
            assertEquals(clusterId, cluster.kafkaClusterId(), "the same broker log");
            sendAndAwait(cluster, promptFile(tmp, "second", 8), 2);
            assertEquals(2, cluster.trainer().policyVersion());
            assertEquals(8, cluster.trainer().policyLoop().consumed(), "only the new prompts' best samples were read");
        }
        AtomicDirectory.deleteRecursively(tmp.resolve("up/kafka")); // the log is lost: a new broker
        List<String> log = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (LocalCluster cluster = LocalCluster.start(settings, log::add)) {
            assertTrue(!clusterId.equals(cluster.kafkaClusterId()));
            sendAndAwait(cluster, promptFile(tmp, "third", 8), 3);
            assertEquals(3, cluster.trainer().policyVersion(), "continued from version 2's checkpoint");
            assertTrue(log.stream().anyMatch(l -> l.contains("the broker is new") && l.contains(clusterId)),
                    String.join("\n", log));
        }
    }

    /**
     * The asynchronous loop: PPO learns from the sampler's rollouts (policy versions hot-swapped by the policy
     * service) while both reward models learn from preference pairs sent with `rlhf preferences send` and the reward
     * services hot-swap their new versions.
     */
    @Test
    void ppoOnRolloutsAndOnlineRewardModelsProduceServedVersions() throws Exception {
        List<String> prompts = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            prompts.add("{\"id\": \"ppo-" + i + "\", \"text\": \"What is " + i + " plus 1?\"}");
        }
        Path promptFile = tmp.resolve("prompts.jsonl");
        Files.write(promptFile, prompts);
        List<String> pairs = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            pairs.add("{\"prompt\": \"What is " + i + " plus 1?\", \"chosen\": \"" + i + " plus 1 is " + (i + 1)
                    + ".\", \"rejected\": \"I cannot help with that.\", \"rating\": \"better\", "
                    + "\"kind\": \"" + (i < 4 ? "helpfulness" : "safety") + "\"}");
        }
        Path pairFile = tmp.resolve("pairs.jsonl");
        Files.write(pairFile, pairs);
        TrainerConfig.Ppo recipe = TrainerConfig.Ppo.defaults();
        LocalCluster.Settings settings = new LocalCluster.Settings(tmp.resolve("ppo"), null, null, null,
                new SamplingParams(2, 8, 0.7, 1.0, 0, 0, java.util.List.of()), 8, 64, 1e-4, "cpu")
                .withPpo(recipe.withBatch(8, 8).withLearningRate(1e-4, recipe.beta()).withStaleness(1, 3))
                .withOnlineRewards(new LocalCluster.OnlineRewards(4, 1e-4, "small"));
        try (LocalCluster cluster = LocalCluster.start(settings, msg -> { })) {
            CountDownLatch policy2 = new CountDownLatch(1);
            cluster.policy().updater().onSwap(v -> {
                if (v >= 2) {
                    policy2.countDown();
                }
            });
            CountDownLatch helpfulness2 = new CountDownLatch(1);
            CountDownLatch safety1 = new CountDownLatch(1);
            cluster.helpfulness().updater().onOutcome(o -> {
                if (o.result() == RewardUpdater.Result.APPLIED && o.version() >= 2) {
                    helpfulness2.countDown();
                }
            });
            cluster.safety().updater().onOutcome(o -> {
                if (o.result() == RewardUpdater.Result.APPLIED && o.version() >= 1) {
                    safety1.countDown();
                }
            });
            RlhfCommandTest.Run sentPairs = RlhfCommandTest.rlhf("preferences", "send", pairFile.toString(),
                    "--kafka", cluster.kafka());
            assertEquals(0, sentPairs.code(), sentPairs.err());
            assertTrue(sentPairs.out().contains("sent 8 preference pairs"), sentPairs.out());
            RlhfCommandTest.Run sent = RlhfCommandTest.rlhf("prompts", "send", promptFile.toString(), "--kafka",
                    cluster.kafka());
            assertEquals(0, sent.code(), sent.err());

            // Helpfulness: its 4 pairs + all 4 safety pairs (share 1.0), 4 per step -> versions 1, 2.
            // Safety: its 4 pairs (+ each helpfulness pair with probability 0.11) -> at least version 1.
            assertTrue(helpfulness2.await(180, TimeUnit.SECONDS), "helpfulness RM never served version 2");
            assertTrue(safety1.await(180, TimeUnit.SECONDS), "safety RM never served version 1");
            assertEquals(2, cluster.helpfulness().servingVersion());
            // 32 responses at 8 per iteration, a version per iteration; rollouts more than one version old dropped.
            assertTrue(policy2.await(180, TimeUnit.SECONDS), "policy never reached version 2");
            assertTrue(cluster.policy().servingVersion() >= 2);
            // Every response the trainer learnt from came with the sampling policy's log-probabilities (pi_old of
            // the PPO ratio), carried from the policy service through the sampler and rlhf.rollouts.
            JsonObject meta = newestPolicyCheckpointMetadata(tmp.resolve("ppo"));
            assertTrue(meta.get("ppo_iterations").getAsLong() >= 2, meta.toString());
            assertEquals(0, meta.get("without_sampling_logprobs").getAsLong(), meta.toString());
            assertFreshRolloutsStartAtRatioOne(tmp.resolve("ppo"));

            RlhfCommandTest.Run bad = RlhfCommandTest.rlhf("preferences", "send", promptFile.toString(), "--kafka",
                    cluster.kafka());
            assertEquals(1, bad.code());
            assertTrue(bad.err().contains("prompts.jsonl:1"), bad.err());
        }
    }

    /**
     * `rlhf rs run` takes any prompts (only their text and safety tag go to the services), not only the synthetic
     * world's: one iteration over 16 prompts of no world family at 8 best samples per trainer step ends on policy
     * version 2 with every prompt's best sample exported.
     */
    @Test
    @org.junit.jupiter.api.Timeout(value = 5, unit = TimeUnit.MINUTES)
    void rsRunTrainsOnPromptsFromOutsideTheSyntheticWorld() throws Exception {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            lines.add("{\"id\": \"own-" + i + "\", \"text\": \"Write a haiku about harbour number " + i + "\""
                    + (i % 4 == 0 ? ", \"safety_tagged\": true" : "") + "}");
        }
        Path prompts = Files.write(tmp.resolve("own-prompts.jsonl"), lines);
        Path policy = dev.rlhf.llama.checkpoint.ModelFactory.tinyForTests(tmp.resolve("policy"), 1, false);
        Path helpfulness = dev.rlhf.llama.checkpoint.ModelFactory.tinyForTests(tmp.resolve("rm-h"), 2, true);
        Path safety = dev.rlhf.llama.checkpoint.ModelFactory.tinyForTests(tmp.resolve("rm-s"), 3, true);
        Path work = tmp.resolve("rs");
        RlhfCommandTest.Run r = RlhfCommandTest.rlhf("rs", "run", "--policy", policy.toString(), "--rm-helpfulness",
                helpfulness.toString(), "--rm-safety", safety.toString(), "--prompts", prompts.toString(),
                "--work-dir", work.toString(), "--iterations", "1", "--n", "2", "--batch-size", "8",
                "--max-new-tokens", "6", "--lr", "1e-3");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("policy versions after each iteration [2]"), r.out());
        List<String> best = Files.readAllLines(work.resolve("best-samples.jsonl"));
        assertEquals(16, best.size());
        for (int i = 0; i < 16; i++) {
            final String id = "own-" + i;
            assertTrue(best.stream().anyMatch(l -> l.contains("haiku about harbour number " + id.substring(4)
                    + "\"")), "no best sample for " + id);
        }
    }

    /**
     * A trainer that can no longer write checkpoints (its directory replaced by a file) stops its loop; the cluster
     * reports that failure, which is what the rejection-sampling stage checks instead of waiting out its timeout.
     */
    @Test
    @org.junit.jupiter.api.Timeout(value = 5, unit = TimeUnit.MINUTES)
    void aFailedTrainerLoopIsReportedByTheCluster() throws Exception {
        Path prompts = writePrompts(tmp.resolve("fail-prompts.jsonl"), "f", 8, 1);
        try (LocalCluster cluster = LocalCluster.start(new LocalCluster.Settings(tmp.resolve("fail"), null, null,
                null, new SamplingParams(2, 8, 1.0, 1.0, 0, 0, java.util.List.of()), 8, 64, 1e-3, "cpu"), msg -> { })) {
            assertEquals(null, cluster.failure(), "all services run");
            Path checkpoints = tmp.resolve("fail").resolve("checkpoints");
            dev.rlhf.llama.io.AtomicDirectory.deleteRecursively(checkpoints);
            Files.writeString(checkpoints, "not a directory");
            RlhfCommandTest.Run sent = RlhfCommandTest.rlhf("prompts", "send", prompts.toString(), "--kafka",
                    cluster.kafka());
            assertEquals(0, sent.code(), sent.err());
            // 8 best samples make one step and one checkpoint, whose write fails and ends the trainer's loop.
            org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(180),
                    () -> cluster.trainer().awaitTermination());
            Throwable failure = cluster.failure();
            assertTrue(failure != null && failure == cluster.trainer().failure(), String.valueOf(failure));
            assertEquals(8, cluster.trainer().policyLoop().consumed(), "it failed on the 8th record's step, "
                    + "not while starting up: " + failure);
        }
    }

    /**
     * A prompt the policy cannot complete (longer than its context) is dead-lettered by the sampler, so the
     * iteration can never reach its version: the rejection-sampling stage says so instead of waiting out its
     * timeout (an hour here).
     */
    @Test
    @org.junit.jupiter.api.Timeout(value = 5, unit = TimeUnit.MINUTES)
    void theRsStageStopsWhenAPromptIsDeadLettered() throws Exception {
        List<dev.rlhf.world.PromptRecord> prompts = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            prompts.add(new dev.rlhf.world.PromptRecord("ok-" + i, "What is " + i + " plus 1?", false, "unknown"));
        }
        prompts.add(new dev.rlhf.world.PromptRecord("long", "hello world ".repeat(300), false, "unknown"));
        Path policy = dev.rlhf.llama.checkpoint.ModelFactory.tinyForTests(tmp.resolve("dl-policy"), 1, false);
        Path rm = dev.rlhf.llama.checkpoint.ModelFactory.tinyForTests(tmp.resolve("dl-rm"), 2, true);
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> dev.rlhf.launcher.pipeline.RejectionSamplingStage.run(tmp.resolve("dl"), policy, rm, rm,
                        prompts, new dev.rlhf.launcher.pipeline.RejectionSamplingStage.Options(1, 2, 1.0, 6, 8, 64,
                                1e-3, java.time.Duration.ofHours(1), 0, null, 0), msg -> { }));
        assertTrue(e.getMessage().contains("cannot reach policy version 1: the sampler dead-lettered 1 prompt(s)"),
                e.getMessage());
    }

    /** The trainer may still be writing newer versions: only complete (renamed into place) ones are listed. */
    /**
     * Version 1 came from one iteration of one mini-batch on rollouts that version 0 sampled at T = 0.7: the
     * trainer evaluated its policy at that temperature, so every ratio of that step was 1 (approxKl = mean 0.5 d^2
     * below 5e-9: |log ratio| < 1e-4).
     */
    private static void assertFreshRolloutsStartAtRatioOne(Path workDir) {
        JsonObject first = dev.rlhf.llama.io.Manifest.read(dev.rlhf.llama.io.AtomicDirectory.listCompleteCheckpoints(
                workDir.resolve("checkpoints")).get(0)).metadata();
        assertEquals(1, first.get("policy_version").getAsLong(), first.toString());
        assertTrue(first.get("approx_kl").getAsDouble() < 5e-9, first.toString());
        assertEquals(0, first.get("refused_sampling").getAsLong(), first.toString());
    }

    /**
     * `rlhf up --algorithm grpo`: the trainer takes the N = 4 samples of each prompt as GRPO's group, learns
     * without a value head, and the policy service serves its versions; the first step's ratios are 1 at T = 0.7.
     */
    @Test
    @org.junit.jupiter.api.Timeout(value = 5, unit = TimeUnit.MINUTES)
    void grpoOnRolloutsProducesServedVersions() throws Exception {
        Path promptFile = writePrompts(tmp.resolve("grpo-prompts.jsonl"), "grpo", 8, 2);
        TrainerConfig.Ppo recipe = TrainerConfig.Ppo.defaults();
        LocalCluster.Settings settings = new LocalCluster.Settings(tmp.resolve("grpo"), null, null, null,
                new SamplingParams(4, 8, 0.7, 1.0, 0, 0, java.util.List.of()), 8, 64, 1e-4, "cpu")
                .withRolloutLearning(TrainerConfig.GRPO, recipe.withBatch(8, 8).withLearningRate(1e-4, recipe.beta()).withStaleness(1, 3));
        try (LocalCluster cluster = LocalCluster.start(settings, msg -> { })) {
            CountDownLatch policy2 = new CountDownLatch(1);
            cluster.policy().updater().onSwap(v -> {
                if (v >= 2) {
                    policy2.countDown();
                }
            });
            RlhfCommandTest.Run sent = RlhfCommandTest.rlhf("prompts", "send", promptFile.toString(), "--kafka",
                    cluster.kafka());
            assertEquals(0, sent.code(), sent.err());
            // 32 responses at 8 per iteration: up to 4 versions, rollouts more than one version old dropped.
            assertTrue(policy2.await(180, TimeUnit.SECONDS), "policy never reached version 2");
            JsonObject meta = newestPolicyCheckpointMetadata(tmp.resolve("grpo"));
            assertEquals("grpo", meta.get("stage").getAsString(), meta.toString());
            assertFreshRolloutsStartAtRatioOne(tmp.resolve("grpo"));
        }
        List<Path> written = dev.rlhf.llama.io.AtomicDirectory.listCompleteCheckpoints(
                tmp.resolve("grpo").resolve("checkpoints"));
        try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager()) {
            assertTrue(!dev.rlhf.llama.checkpoint.LlamaCheckpoint.load(written.get(written.size() - 1), m,
                    dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead.OPTIONAL)
                    .has(dev.rlhf.llama.model.LlamaWeights.SCORE_HEAD), "a GRPO checkpoint has no value head");
        }
    }

    /** {@code n} prompts "What is i plus {@code plus}?" with ids {@code <prefix>-i}. */
    private static Path writePrompts(Path file, String prefix, int n, int plus) throws java.io.IOException {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            lines.add("{\"id\": \"" + prefix + "-" + i + "\", \"text\": \"What is " + i + " plus " + plus + "?\"}");
        }
        return Files.write(file, lines);
    }

    private static JsonObject newestPolicyCheckpointMetadata(Path workDir) {
        List<Path> complete = dev.rlhf.llama.io.AtomicDirectory.listCompleteCheckpoints(workDir.resolve("checkpoints"));
        assertTrue(!complete.isEmpty(), "no policy checkpoint under " + workDir);
        return dev.rlhf.llama.io.Manifest.read(complete.get(complete.size() - 1)).metadata();
    }
}
