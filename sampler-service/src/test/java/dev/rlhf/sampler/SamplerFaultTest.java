package dev.rlhf.sampler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.platform.kafka.EmbeddedKafka;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.TopicAdmin;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.policy.PolicyMain;
import dev.rlhf.policy.config.PolicyConfig;
import dev.rlhf.proto.v1.BestSample;
import dev.rlhf.proto.v1.Prompt;
import dev.rlhf.reward.RewardMain;
import dev.rlhf.reward.config.RewardConfig;
import dev.rlhf.sampler.config.SamplerConfig;
import dev.rlhf.vocabulary.Llama2Recipe;
import dev.rlhf.vocabulary.RewardKind;
import dev.rlhf.vocabulary.SamplingParams;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sampler under faults of the parts around it, counting prompts lost and duplicated in rlhf.best
 * (read_committed): a reward service down mid-run, and the broker stopped and started again on its log.
 */
class SamplerFaultTest {
    private static final int PROMPTS = 300;
    private static final int FAULT_AT = 100;
    private static final Duration GRACE = Duration.ofSeconds(5);

    @TempDir
    Path tmp;

    /** What a fault scenario can touch: the broker and the helpfulness reward service. */
    private final class Parts {
        EmbeddedKafka kafka;
        RewardMain help;
        int helpPort;
        Path helpDir;
        SamplerMain sampler;

        RewardMain startHelp(int port) throws Exception {
            return RewardMain.start(new RewardConfig(RewardKind.HELPFULNESS, "127.0.0.1", port, helpDir, 1, 64, 256,
                    64 << 20, "cpu", 0, false, kafka.bootstrapServers(), GRACE), m -> { });
        }
    }

    /**
     * The helpfulness reward service goes down after 100 best samples for 20 s, and at least until the sampler has
     * aborted two more transactions on it (its calls failed through every retry), then comes back on the same port.
     */
    @Test
    void aRewardServiceDownMidRunLosesAndDuplicatesNoPrompt() throws Exception {
        run("reward outage", parts -> {
            long aborted = parts.sampler.aborted();
            long down = System.nanoTime();
            parts.help.close();
            // Down for the 20 s (the fault itself), and until the sampler has failed on it at least twice.
            long upAgain = down + Duration.ofSeconds(20).toNanos();
            await(() -> parts.sampler.aborted() >= aborted + 2 && System.nanoTime() >= upAgain,
                    "the sampler to fail on the missing service for 20 s");
            parts.help = parts.startHelp(parts.helpPort);
            return String.format(java.util.Locale.ROOT, "down %.1f s, %d transactions aborted meanwhile",
                    (System.nanoTime() - down) / 1e9, parts.sampler.aborted() - aborted);
        });
    }

    /** The broker stops after 100 best samples and starts again on the same log directory (and ports). */
    @Test
    void aBrokerRestartedOnItsLogMidRunLosesAndDuplicatesNoPrompt() throws Exception {
        run("broker restart", parts -> {
            String before = parts.kafka.bootstrapServers();
            parts.kafka.close();
            parts.kafka = EmbeddedKafka.builder().dataDirectory(tmp.resolve("kafka")).start();
            assertEquals(before, parts.kafka.bootstrapServers(), "the restarted broker keeps its address");
            return "broker back at " + before;
        });
    }

    @FunctionalInterface
    private interface Fault {
        String inject(Parts parts) throws Exception;
    }

    private void run(String name, Fault fault) throws Exception {
        Parts parts = new Parts();
        parts.kafka = EmbeddedKafka.builder().dataDirectory(tmp.resolve("kafka")).start();
        try (org.apache.kafka.clients.admin.Admin admin = KafkaClients.admin(parts.kafka.bootstrapServers(), "t")) {
            new TopicAdmin(2, (short) 1).ensureTopics(admin);
        }
        String bootstrap = parts.kafka.bootstrapServers();
        Path policyDir = ModelFactory.tinyForTests(tmp.resolve("policy"), 1, false);
        parts.helpDir = ModelFactory.tinyForTests(tmp.resolve("help"), 2, true);
        Path safeDir = ModelFactory.tinyForTests(tmp.resolve("safe"), 3, true);
        try (PolicyMain policy = PolicyMain.start(new PolicyConfig("127.0.0.1", 0, policyDir, 1, 1024, 64,
                64 << 20, "cpu", 0, false, bootstrap, GRACE), m -> { });
             RewardMain safe = RewardMain.start(new RewardConfig(RewardKind.SAFETY, "127.0.0.1", 0, safeDir, 1, 64,
                     256, 64 << 20, "cpu", 0, false, bootstrap, GRACE), m -> { })) {
            parts.help = parts.startHelp(0);
            parts.helpPort = parts.help.port();
            try (KafkaProducer<byte[], byte[]> producer = KafkaClients.bytesProducer(
                    KafkaClients.producerConfig(bootstrap, "fault-test"))) {
                for (int i = 0; i < PROMPTS; i++) {
                    Prompt p = Prompt.newBuilder().setId("f" + i).setText("What is " + i + " plus 1?")
                            .setSafetyTagged(i % 5 == 0).build();
                    producer.send(new ProducerRecord<>(Topics.PROMPTS, p.getId().getBytes(StandardCharsets.UTF_8),
                            p.toByteArray()));
                }
                producer.flush();
            }
            SamplerConfig config = new SamplerConfig("127.0.0.1:" + policy.port(), "127.0.0.1:" + parts.helpPort,
                    "127.0.0.1:" + safe.port(), new SamplingParams(2, 4, 1.0, 1.0, 0, 0, List.of()),
                    Llama2Recipe.SAFETY_THRESHOLD, 8, Duration.ofSeconds(10), 3, Duration.ofMillis(100), 5,
                    Duration.ofSeconds(1), "fault-sampler", "fault-sampler-tx", bootstrap, 0, 64 << 20)
                    .withMetricsHost("127.0.0.1");
            Map<String, Integer> best = new HashMap<>();
            String detail;
            parts.sampler = SamplerMain.start(config, m -> { });
            try {
                readUntil(bootstrap, best, FAULT_AT);
                detail = fault.inject(parts);
                readUntil(bootstrap, best, PROMPTS);
                drain(bootstrap, best);
                assertEquals(0, parts.sampler.deadLettered(), "dead-lettered prompts");
            } finally {
                parts.sampler.close();
                parts.help.close();
            }
            long duplicates = best.values().stream().filter(n -> n > 1).count();
            long missing = PROMPTS - best.size();
            System.out.printf("sampler fault test (%s; %s): %d distinct prompts, %d missing, %d duplicated%n", name,
                    detail, best.size(), missing, duplicates);
            assertEquals(0, missing, "missing prompt ids");
            assertEquals(0, duplicates, "duplicated prompt ids");
        } finally {
            parts.kafka.close();
        }
    }

    /** Reads rlhf.best from the start (read_committed) until it holds {@code target} records. */
    private static void readUntil(String bootstrap, Map<String, Integer> best, int target) throws Exception {
        long deadline = System.currentTimeMillis() + Duration.ofMinutes(4).toMillis();
        best.clear();
        try (KafkaConsumer<byte[], byte[]> reader = reader(bootstrap)) {
            while (total(best) < target) {
                assertTrue(System.currentTimeMillis() < deadline, total(best) + " best samples of " + target);
                for (ConsumerRecord<byte[], byte[]> r : reader.poll(Duration.ofMillis(200))) {
                    best.merge(BestSample.parseFrom(r.value()).getPrompt().getId(), 1, Integer::sum);
                }
            }
        }
    }

    /** Everything committed to rlhf.best, read again from the start until three polls in a row bring nothing. */
    private static void drain(String bootstrap, Map<String, Integer> best) throws Exception {
        best.clear();
        try (KafkaConsumer<byte[], byte[]> reader = reader(bootstrap)) {
            for (int empty = 0; empty < 3; ) {
                var records = reader.poll(Duration.ofMillis(500));
                empty = records.isEmpty() ? empty + 1 : 0;
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    best.merge(BestSample.parseFrom(r.value()).getPrompt().getId(), 1, Integer::sum);
                }
            }
        }
    }

    private static KafkaConsumer<byte[], byte[]> reader(String bootstrap) {
        KafkaConsumer<byte[], byte[]> reader = KafkaClients.bytesConsumer(
                KafkaClients.assignedConsumerConfig(bootstrap, "fault-test-reader"));
        List<TopicPartition> parts = List.of(new TopicPartition(Topics.BEST, 0), new TopicPartition(Topics.BEST, 1));
        reader.assign(parts);
        reader.seekToBeginning(parts);
        return reader;
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.currentTimeMillis() + Duration.ofMinutes(2).toMillis();
        while (!condition.getAsBoolean()) {
            assertTrue(System.currentTimeMillis() < deadline, "timed out waiting for " + what);
            Thread.sleep(20); // polling a counter, not synchronising on time: the condition decides
        }
    }

    private static int total(Map<String, Integer> counts) {
        return counts.values().stream().mapToInt(Integer::intValue).sum();
    }
}
