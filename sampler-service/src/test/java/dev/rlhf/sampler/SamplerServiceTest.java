package dev.rlhf.sampler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.platform.kafka.KafkaBroker;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.KafkaTestSupport;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.policy.PolicyMain;
import dev.rlhf.policy.config.PolicyConfig;
import dev.rlhf.proto.v1.BestSample;
import dev.rlhf.proto.v1.Candidate;
import dev.rlhf.proto.v1.CandidateScores;
import dev.rlhf.proto.v1.DeadLetter;
import dev.rlhf.proto.v1.Prompt;
import dev.rlhf.proto.v1.Rollout;
import dev.rlhf.reward.RewardMain;
import dev.rlhf.reward.config.RewardConfig;
import dev.rlhf.vocabulary.RewardKind;
import dev.rlhf.sampler.config.SamplerConfig;
import dev.rlhf.platform.grpc.CallOptions;
import dev.rlhf.platform.grpc.GrpcCaller;
import dev.rlhf.platform.grpc.GrpcClients;
import dev.rlhf.platform.grpc.ServiceEndpoint;
import dev.rlhf.sampler.domain.PolicyPort;
import dev.rlhf.sampler.domain.Resilience;
import dev.rlhf.vocabulary.RewardCombiner;
import dev.rlhf.vocabulary.SamplingParams;
import dev.rlhf.sampler.grpc.GrpcPolicyPort;
import dev.rlhf.sampler.grpc.ServiceErrors;
import io.vertx.core.Vertx;
import io.vertx.grpc.client.GrpcClient;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import dev.rlhf.platform.grpc.GrpcSecurity;
import dev.rlhf.platform.grpc.TestCertificates;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sampler against a real broker and real policy and reward services on loopback. The tests share one
 * consumer group, as replicas of one deployment would, and tell their prompts apart by id prefix.
 */
class SamplerServiceTest {
    static final Duration WAIT = Duration.ofSeconds(60);
    static final Consumer<String> LOG = msg -> System.out.println("[sampler-test] " + msg);

    @TempDir
    static Path tmp;
    static KafkaBroker kafka;
    static PolicyMain policy;
    static RewardMain helpfulness;
    static RewardMain safety;

    @BeforeAll
    static void startServices() throws Exception {
        kafka = KafkaTestSupport.startBrokerWithTopics(2);
        policy = PolicyMain.start(policyConfig(0), LOG);
        helpfulness = RewardMain.start(rewardConfig(RewardKind.HELPFULNESS, 2), LOG);
        safety = RewardMain.start(rewardConfig(RewardKind.SAFETY, 3), LOG);
    }

    @AfterAll
    static void stopServices() {
        for (AutoCloseable c : new AutoCloseable[] {safety, helpfulness, policy, kafka}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                LOG.accept("closing " + c + ": " + e);
            }
        }
    }

    static PolicyConfig policyConfig(int port) {
        Path checkpoint = tmp.resolve("policy");
        if (!checkpoint.toFile().exists()) {
            ModelFactory.tinyForTests(checkpoint, 1, false);
        }
        return new PolicyConfig("127.0.0.1", port, checkpoint, 1, 256, 32, 64 << 20, "cpu", 0,
                false, kafka.bootstrapServers(), Duration.ofSeconds(5));
    }

    static RewardConfig rewardConfig(RewardKind kind, long seed) {
        Path checkpoint = ModelFactory.tinyForTests(tmp.resolve("reward-" + kind), seed, true);
        return new RewardConfig(kind, "127.0.0.1", 0, checkpoint, 1, 64, 64, 64 << 20, "cpu", 0, false,
                kafka.bootstrapServers(), Duration.ofSeconds(5));
    }

    /** Small settings so the tiny model answers fast; every test joins the same consumer group. */
    static SamplerConfig samplerConfig(String name, int policyPort, Map<String, String> extra) {
        Map<String, Object> values = new HashMap<>();
        values.put("kafka.bootstrap-servers", kafka.bootstrapServers());
        values.put("kafka.topic-partitions", "2");
        values.put("sampler.policy", "127.0.0.1:" + policyPort);
        values.put("sampler.reward-helpfulness", "127.0.0.1:" + helpfulness.port());
        values.put("sampler.reward-safety", "127.0.0.1:" + safety.port());
        values.put("sampler.n", "4");
        values.put("sampler.max-new-tokens", "8");
        values.put("sampler.call-timeout", "30s");
        values.put("sampler.transactional-id", "sampler-test-" + name);
        values.put("sampler.metrics-host", "127.0.0.1");
        values.put("sampler.metrics-port", "0");
        values.putAll(extra);
        return SamplerConfig.schema().loader().env(Map.of()).overrides(values).load(SamplerConfig::from);
    }

    static Prompt prompt(String id, String text, boolean safetyTagged) {
        return Prompt.newBuilder().setId(id).setText(text).setSafetyTagged(safetyTagged).setSource("test").build();
    }

    static void produce(List<ProducerRecord<byte[], byte[]>> records) throws Exception {
        try (KafkaProducer<byte[], byte[]> producer = KafkaClients.bytesProducer(
                KafkaClients.producerConfig(kafka.bootstrapServers(), "sampler-test-producer"))) {
            for (ProducerRecord<byte[], byte[]> r : records) {
                producer.send(r).get(30, TimeUnit.SECONDS);
            }
        }
    }

    static ProducerRecord<byte[], byte[]> record(Prompt p) {
        return new ProducerRecord<>(Topics.PROMPTS, utf8(p.getId()), p.toByteArray());
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void everyPromptGetsExactlyOneRolloutAndOneBestSampleRankedByTheLlama2CombinedReward() throws Exception {
        List<Prompt> prompts = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            prompts.add(prompt("e2e-" + i, i % 3 == 0 ? "How do I pick a lock number " + i + "?"
                    : "What is " + i + " plus " + (i % 7) + "?", i % 3 == 0));
        }
        produce(prompts.stream().map(SamplerServiceTest::record).toList());
        Map<String, Prompt> byId = prompts.stream().collect(Collectors.toMap(Prompt::getId, p -> p));

        SamplerConfig config = samplerConfig("e2e", policy.port(), Map.of());
        List<Rollout> rollouts;
        List<BestSample> best;
        try (Outputs outputs = new Outputs(); SamplerMain sampler = SamplerMain.start(config, LOG)) {
            outputs.pollUntil(() -> outputs.values(Topics.BEST, BestSample.parser(), "e2e-").size() >= 200
                    && outputs.values(Topics.ROLLOUTS, Rollout.parser(), "e2e-").size() >= 200);
            String scrape = scrape(sampler.metricsPort());
            assertTrue(scrape.contains("rlhf_sampler_prompts_total{") && scrape.contains("outcome=\"processed\""),
                    scrape);
            assertTrue(scrape.contains("rlhf_kafka_consumer_lag"), scrape);
            assertTrue(sampler.processed() >= 200, "processed " + sampler.processed());
            sampler.close();
            // With the sampler stopped nothing more can appear: read to the end and count exactly.
            outputs.readToEnd();
            rollouts = outputs.values(Topics.ROLLOUTS, Rollout.parser(), "e2e-");
            best = outputs.values(Topics.BEST, BestSample.parser(), "e2e-");
            for (ConsumerRecord<byte[], byte[]> r : outputs.records(Topics.ROLLOUTS)) {
                String key = new String(r.key(), StandardCharsets.UTF_8);
                if (key.startsWith("e2e-")) {
                    assertEquals(key, Rollout.parseFrom(r.value()).getPrompt().getId());
                }
            }
        }
        assertEquals(200, rollouts.size());
        assertEquals(200, best.size());
        assertEquals(byId.keySet(), rollouts.stream().map(r -> r.getPrompt().getId()).collect(Collectors.toSet()));
        assertEquals(byId.keySet(), best.stream().map(b -> b.getPrompt().getId()).collect(Collectors.toSet()));

        Map<String, BestSample> bestById = best.stream().collect(Collectors.toMap(b -> b.getPrompt().getId(),
                b -> b));
        int usedSafety = 0;
        int differentScores = 0;
        for (Rollout rollout : rollouts) {
            String id = rollout.getPrompt().getId();
            assertEquals(byId.get(id), rollout.getPrompt());
            assertEquals(4, rollout.getCandidatesCount(), id);
            assertEquals(1, rollout.getPolicyVersion());
            assertEquals(1, rollout.getHelpfulnessVersion());
            assertEquals(1, rollout.getSafetyVersion());
            assertEquals(4, rollout.getSampling().getN());
            assertEquals(8, rollout.getSampling().getMaxNewTokens());
            assertEquals(config.sampling().forPrompt(id).seed(), rollout.getSampling().getSeed());
            int argmax = 0;
            for (int i = 0; i < rollout.getCandidatesCount(); i++) {
                Candidate c = rollout.getCandidates(i);
                CandidateScores s = c.getScores();
                assertEquals(c.getTokensCount(), c.getLogprobsCount(), id);
                assertTrue(c.getTokensCount() <= 8, id);
                boolean useSafety = rollout.getPrompt().getSafetyTagged()
                        || s.getSafety() < RewardCombiner.SAFETY_THRESHOLD;
                assertEquals(useSafety ? s.getSafety() : s.getHelpfulness(), s.getCombined(), id + " candidate " + i);
                assertEquals(sigmoid(s.getHelpfulnessRaw()), s.getHelpfulness(), 1e-5);
                assertEquals(sigmoid(s.getSafetyRaw()), s.getSafety(), 1e-5);
                usedSafety += useSafety ? 1 : 0;
                differentScores += s.getHelpfulness() != s.getSafety() ? 1 : 0;
                if (s.getCombined() > rollout.getCandidates(argmax).getScores().getCombined()) {
                    argmax = i;
                }
            }
            assertEquals(argmax, rollout.getBestIndex(), id);
            BestSample b = bestById.get(id);
            Candidate winner = rollout.getCandidates(argmax);
            assertEquals(winner.getText(), b.getResponse(), id);
            assertEquals(winner.getTokensList(), b.getResponseTokensList(), id);
            assertEquals(winner.getScores(), b.getScores(), id);
            assertEquals(rollout.getPrompt(), b.getPrompt());
            assertEquals(1, b.getPolicyVersion());
        }
        assertTrue(usedSafety >= 67 * 4, "safety-tagged prompts are ranked by safety");
        assertTrue(differentScores > 0, "the two reward services are different models");
    }

    @Test
    void aPromptSampledAgainWithItsSeedGetsTheSameCandidatesSoAReplayAfterACrashIsIdentical() throws Exception {
        SamplerConfig config = samplerConfig("seed", policy.port(), Map.of());
        Vertx vertx = Vertx.vertx();
        GrpcClient client = GrpcClients.create(vertx);
        try {
            GrpcPolicyPort port = new GrpcPolicyPort(new GrpcCaller(vertx, client,
                    ServiceEndpoint.parse("127.0.0.1:" + policy.port())), CallOptions.idempotent(WAIT, 1),
                    new Resilience(1, 1, 1, ServiceErrors::isTransient, new Resilience.CircuitBreaker("policy", 5,
                            1000)));
            for (String id : List.of("seed-a", "seed-b")) {
                SamplingParams seeded = config.sampling().forPrompt(id);
                PolicyPort.Generation first = port.generate("What is 6 plus 1?", seeded).toCompletableFuture()
                        .get(WAIT.toSeconds(), TimeUnit.SECONDS);
                PolicyPort.Generation again = port.generate("What is 6 plus 1?", seeded).toCompletableFuture()
                        .get(WAIT.toSeconds(), TimeUnit.SECONDS);
                assertEquals(4, first.samples().size());
                for (int i = 0; i < 4; i++) {
                    assertEquals(first.samples().get(i).text(), again.samples().get(i).text());
                    assertArrayEquals(first.samples().get(i).tokens(), again.samples().get(i).tokens());
                    assertArrayEquals(first.samples().get(i).logprobs(), again.samples().get(i).logprobs());
                }
            }
        } finally {
            client.close();
            vertx.close();
        }
    }

    /**
     * The services over mutual TLS with a bearer token: a sampler with the CA, its client certificate and the token
     * samples as usual; one without the token gets UNAUTHENTICATED, which no retry can change, so its prompt is
     * dead-lettered at once with that reason.
     */
    @Test
    void overMutualTlsWithATokenTheSamplerWorksAndWithoutTheTokenItsPromptIsDeadLettered() throws Exception {
        TestCertificates certs = TestCertificates.create(tmp.resolve("tls"));
        Path token = java.nio.file.Files.writeString(tmp.resolve("token"), "sampler-token\n");
        GrpcSecurity.Server secured = new GrpcSecurity.Server(certs.serverCert, certs.serverKey, certs.caCert, token);
        try (PolicyMain p = PolicyMain.start(policyConfig(0).withSecurity(secured), LOG);
             RewardMain h = RewardMain.start(existingReward(RewardKind.HELPFULNESS).withSecurity(secured), LOG);
             RewardMain s = RewardMain.start(existingReward(RewardKind.SAFETY).withSecurity(secured), LOG)) {
            Map<String, String> tls = new HashMap<>(Map.of("sampler.reward-helpfulness", "127.0.0.1:" + h.port(),
                    "sampler.reward-safety", "127.0.0.1:" + s.port(), "sampler.tls", "true",
                    "sampler.tls-ca-file", certs.caCert.toString(), "sampler.tls-cert-file", certs.clientCert.toString(),
                    "sampler.tls-key-file", certs.clientKey.toString()));
            produce(List.of(record(prompt("tls-1", "What is 1 plus 1?", false)),
                    record(prompt("tls-2", "What is 2 plus 2?", true))));
            Map<String, String> withToken = new HashMap<>(tls);
            withToken.put("sampler.auth-token-file", token.toString());
            try (Outputs outputs = new Outputs(); SamplerMain sampler = SamplerMain.start(samplerConfig("tls",
                    p.port(), withToken), LOG)) {
                outputs.pollUntil(() -> outputs.values(Topics.BEST, BestSample.parser(), "tls-").size() >= 2);
                assertEquals(0, sampler.deadLettered());
            }
            produce(List.of(record(prompt("notoken-1", "What is 3 plus 3?", false))));
            try (Outputs outputs = new Outputs(); SamplerMain sampler = SamplerMain.start(samplerConfig("notoken",
                    p.port(), tls), LOG)) {
                outputs.pollUntil(() -> deadLetters(outputs, "notoken-").size() >= 1);
                String reason = deadLetters(outputs, "notoken-").get("notoken-1").getError();
                assertTrue(reason.contains("UNAUTHENTICATED") && reason.contains("needs a bearer token"), reason);
                assertEquals(0, sampler.aborted(), "not retried: a missing token stays missing");
            }
        }
    }

    /** The settings of a reward service on the checkpoint {@link #rewardConfig} wrote for {@code kind}. */
    private static RewardConfig existingReward(RewardKind kind) {
        return new RewardConfig(kind, "127.0.0.1", 0, tmp.resolve("reward-" + kind), 1, 64, 64, 64 << 20, "cpu", 0,
                false, kafka.bootstrapServers(), Duration.ofSeconds(5));
    }

    /**
     * A response larger than the sampler accepts is a deterministic failure (the seeded request would be as large
     * again): the prompt goes to the dead-letter topic at once, without a retry or an aborted transaction.
     */
    @Test
    void aResponseOverTheMessageLimitIsDeadLetteredAtOnceNotRetried() throws Exception {
        produce(List.of(record(prompt("mm-1", "What is 1 plus 1?", false))));
        SamplerConfig c = samplerConfig("mm", policy.port(), Map.of());
        SamplerConfig small = new SamplerConfig(c.policyAddress(), c.helpfulnessAddress(), c.safetyAddress(),
                c.sampling(), c.safetyThreshold(), c.maxInFlight(), c.maxBatch(), c.callTimeout(), c.maxAttempts(),
                c.initialBackoff(), c.maxBackoff(), c.breakerThreshold(), c.breakerCoolDown(), c.groupId(),
                c.transactionalId(), c.sessionTimeout(), c.bootstrapServers(), c.topicPartitions(),
                c.replicationFactor(), c.metricsHost(), c.metricsPort(), 64, c.promptRetryBudget());
        try (Outputs outputs = new Outputs(); SamplerMain sampler = SamplerMain.start(small, LOG)) {
            outputs.pollUntil(() -> deadLetters(outputs, "mm-").size() >= 1);
            assertEquals(0, sampler.aborted(), "not retried as if the service were overloaded");
            String reason = deadLetters(outputs, "mm-").get("mm-1").getError();
            assertTrue(reason.contains("RESOURCE_EXHAUSTED") && reason.contains("message size limit"), reason);
        }
    }

    @Test
    void undecodableEmptyAndTooLongPromptsAreDeadLetteredWithReasonsAndTheRestIsSampled() throws Exception {
        byte[] garbage = {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f, 0x42};
        String tooLong = "tell me a story about a very long prompt ".repeat(60);
        produce(List.of(
                record(prompt("dl-ok-1", "What is 1 plus 1?", false)),
                new ProducerRecord<>(Topics.PROMPTS, utf8("dl-garbage"), garbage),
                record(prompt("dl-empty", "", false)),
                record(prompt("dl-long", tooLong, false)),
                record(prompt("dl-ok-2", "What is 2 plus 2?", true))));

        try (Outputs outputs = new Outputs(); SamplerMain sampler = SamplerMain.start(samplerConfig("dl",
                policy.port(), Map.of()), LOG)) {
            outputs.pollUntil(() -> outputs.values(Topics.BEST, BestSample.parser(), "dl-").size() >= 2
                    && deadLetters(outputs, "dl-").size() >= 3);
            sampler.close();
            outputs.readToEnd();

            assertEquals(Set.of("dl-ok-1", "dl-ok-2"), outputs.values(Topics.BEST, BestSample.parser(), "dl-")
                    .stream().map(b -> b.getPrompt().getId()).collect(Collectors.toSet()));
            assertEquals(2, outputs.values(Topics.BEST, BestSample.parser(), "dl-").size());
            Map<String, DeadLetter> letters = deadLetters(outputs, "dl-");
            assertEquals(Set.of("dl-garbage", "dl-empty", "dl-long"), letters.keySet());
            for (DeadLetter letter : letters.values()) {
                assertEquals(Topics.PROMPTS, letter.getSourceTopic());
            }
            assertArrayEquals(garbage, letters.get("dl-garbage").getValue().toByteArray());
            assertTrue(letters.get("dl-garbage").getError().contains("undecodable"), letters.toString());
            assertEquals("prompt dl-empty has empty text", letters.get("dl-empty").getError());
            String longReason = letters.get("dl-long").getError();
            assertTrue(longReason.contains("policy rejected the request: OUT_OF_RANGE") && longReason.contains("256"),
                    longReason);
            assertEquals(prompt("dl-long", tooLong, false), Prompt.parseFrom(letters.get("dl-long").getValue()));
        }
    }

    @Test
    void aPromptArrivingWhileThePolicyIsDownIsSampledExactlyOnceWhenItComesUp() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = socket.getLocalPort();
        }
        CountDownLatch putBack = new CountDownLatch(1);
        Consumer<String> log = msg -> {
            LOG.accept(msg);
            if (msg.contains("down-1 goes back to the queue")) {
                putBack.countDown();
            }
        };
        SamplerConfig config = samplerConfig("down", port, Map.of("sampler.max-attempts", "2",
                "sampler.initial-backoff", "20ms", "sampler.max-backoff", "100ms", "sampler.breaker-threshold", "3",
                "sampler.breaker-cool-down", "200ms"));
        PolicyMain late = null;
        try (Outputs outputs = new Outputs(); SamplerMain sampler = SamplerMain.start(config, log)) {
            produce(List.of(record(prompt("down-1", "What is 3 plus 4?", false))));
            assertTrue(putBack.await(WAIT.toSeconds(), TimeUnit.SECONDS), "the sampler tried the dead policy");

            late = PolicyMain.start(policyConfig(port), LOG);
            outputs.pollUntil(() -> outputs.values(Topics.BEST, BestSample.parser(), "down-").size() >= 1);
            assertTrue(sampler.aborted() >= 1, "the failed attempt aborted its transaction");
            sampler.close();
            outputs.readToEnd();
            assertEquals(1, outputs.values(Topics.BEST, BestSample.parser(), "down-").size());
            assertEquals(1, outputs.values(Topics.ROLLOUTS, Rollout.parser(), "down-").size());
            assertEquals(Map.of(), deadLetters(outputs, "down-"));
        } finally {
            if (late != null) {
                late.close();
            }
        }
    }

    @Test
    void theSamplerRunsAsItsOwnProcessFromEnvironmentVariablesAndStopsCleanlyOnSigterm() throws Exception {
        Path log = tmp.resolve("sampler-child.log");
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), SamplerMain.class.getName())
                .redirectErrorStream(true).redirectOutput(log.toFile());
        Map<String, String> env = pb.environment();
        env.keySet().removeIf(k -> k.startsWith("RLHF_"));
        env.put("RLHF_KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrapServers());
        env.put("RLHF_KAFKA_TOPIC_PARTITIONS", "2");
        env.put("RLHF_SAMPLER_POLICY", "127.0.0.1:" + policy.port());
        env.put("RLHF_SAMPLER_REWARD_HELPFULNESS", "127.0.0.1:" + helpfulness.port());
        env.put("RLHF_SAMPLER_REWARD_SAFETY", "127.0.0.1:" + safety.port());
        env.put("RLHF_SAMPLER_N", "2");
        env.put("RLHF_SAMPLER_MAX_NEW_TOKENS", "4");
        env.put("RLHF_SAMPLER_TRANSACTIONAL_ID", "sampler-test-child");
        env.put("RLHF_SAMPLER_METRICS_HOST", "127.0.0.1");
        env.put("RLHF_SAMPLER_METRICS_PORT", "0");
        Process child = pb.start();
        try (Outputs outputs = new Outputs()) {
            produce(List.of(record(prompt("child-1", "What is 5 plus 5?", false))));
            outputs.pollUntil(() -> outputs.values(Topics.BEST, BestSample.parser(), "child-").size() >= 1
                    || !child.isAlive());
            assertTrue(child.isAlive(), () -> "the sampler process died: " + readLog(log));
            // SIGTERM: the shutdown hook closes the loop, which leaves the consumer group at once.
            child.destroy();
            assertTrue(child.waitFor(30, TimeUnit.SECONDS), "the sampler stops on SIGTERM");
            outputs.readToEnd();
            assertEquals(1, outputs.values(Topics.BEST, BestSample.parser(), "child-").size());
            assertEquals(2, outputs.values(Topics.ROLLOUTS, Rollout.parser(), "child-").get(0).getCandidatesCount());
            assertTrue(readLog(log).contains("sampler consuming rlhf.prompts as sampler-test-child"), readLog(log));
        } finally {
            child.destroyForcibly();
        }
    }

    static String readLog(Path log) {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e + ")";
        }
    }

    static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    static Map<String, DeadLetter> deadLetters(Outputs outputs, String prefix) {
        Map<String, DeadLetter> letters = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : outputs.records(Topics.DEAD_LETTER)) {
            String key = r.key() == null ? "" : new String(r.key(), StandardCharsets.UTF_8);
            if (key.startsWith(prefix)) {
                letters.put(key, parse(DeadLetter.parser(), r.value()));
            }
        }
        return letters;
    }

    static <T extends Message> T parse(Parser<T> parser, byte[] bytes) {
        try {
            return parser.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    static String scrape(int port) throws Exception {
        HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/metrics")).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode());
        return response.body();
    }

    /** A read_committed reader of the sampler's output topics from their beginning. */
    static final class Outputs implements AutoCloseable {
        private final KafkaConsumer<byte[], byte[]> consumer = KafkaClients.bytesConsumer(
                KafkaClients.assignedConsumerConfig(kafka.bootstrapServers(), "sampler-test-reader"));
        private final Map<String, List<ConsumerRecord<byte[], byte[]>>> byTopic = new HashMap<>();

        Outputs() {
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : List.of(Topics.ROLLOUTS, Topics.BEST, Topics.DEAD_LETTER)) {
                consumer.partitionsFor(topic).forEach(p -> partitions.add(new TopicPartition(topic, p.partition())));
                byTopic.put(topic, new ArrayList<>());
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
        }

        /** Polls until {@code done} holds; fails after {@link #WAIT}. */
        void pollUntil(BooleanSupplier done) {
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (!done.getAsBoolean()) {
                assertTrue(System.nanoTime() < deadline, "outputs did not arrive within " + WAIT);
                poll();
            }
        }

        /** Reads up to the last stable offset of every partition (read_committed end offsets). */
        void readToEnd() {
            Map<TopicPartition, Long> ends = consumer.endOffsets(consumer.assignment());
            pollUntil(() -> ends.entrySet().stream().allMatch(e -> consumer.position(e.getKey()) >= e.getValue()));
        }

        private void poll() {
            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                byTopic.get(r.topic()).add(r);
            }
        }

        List<ConsumerRecord<byte[], byte[]>> records(String topic) {
            return byTopic.get(topic);
        }

        /** Values of records whose key starts with {@code prefix}. */
        <T extends Message> List<T> values(String topic, Parser<T> parser, String prefix) {
            List<T> values = new ArrayList<>();
            for (ConsumerRecord<byte[], byte[]> r : byTopic.get(topic)) {
                if (r.key() != null && new String(r.key(), StandardCharsets.UTF_8).startsWith(prefix)) {
                    values.add(parse(parser, r.value()));
                }
            }
            return values;
        }

        @Override
        public void close() {
            consumer.close();
        }
    }
}
