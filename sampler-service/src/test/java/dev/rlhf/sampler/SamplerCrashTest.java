package dev.rlhf.sampler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.platform.kafka.ChildJvm;
import dev.rlhf.platform.kafka.KafkaBroker;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.KafkaTestSupport;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.policy.PolicyMain;
import dev.rlhf.policy.config.PolicyConfig;
import dev.rlhf.proto.v1.BestSample;
import dev.rlhf.proto.v1.Prompt;
import dev.rlhf.reward.RewardMain;
import dev.rlhf.reward.config.RewardConfig;
import dev.rlhf.vocabulary.RewardKind;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Exactly-once under crashes: the sampler runs as a child JVM and is SIGKILLed three times while it works
 * through 500 prompts; read_committed consumers of rlhf.best must then see every prompt id exactly once.
 */
class SamplerCrashTest {
    private static final int PROMPTS = 500;
    private static final int KILLS = 3;

    @TempDir
    Path tmp;

    @Test
    void noPromptIsLostOrDuplicatedAcrossThreeKills() throws Exception {
        try (KafkaBroker kafka = KafkaTestSupport.startBrokerWithTopics(2)) {
            Path policyDir = ModelFactory.tinyForTests(tmp.resolve("policy"), 1, false);
            Path helpDir = ModelFactory.tinyForTests(tmp.resolve("help"), 2, true);
            Path safeDir = ModelFactory.tinyForTests(tmp.resolve("safe"), 3, true);
            Duration grace = Duration.ofSeconds(5);
            try (PolicyMain policy = PolicyMain.start(new PolicyConfig("127.0.0.1", 0, policyDir, 1, 1024, 64,
                    64 << 20, "cpu", 0, false, kafka.bootstrapServers(), grace), m -> { });
                 RewardMain help = RewardMain.start(new RewardConfig(RewardKind.HELPFULNESS, "127.0.0.1", 0, helpDir,
                         1, 64, 256, 64 << 20, "cpu", 0, false, kafka.bootstrapServers(), grace), m -> { });
                 RewardMain safe = RewardMain.start(new RewardConfig(RewardKind.SAFETY, "127.0.0.1", 0, safeDir, 1, 64,
                         256, 64 << 20, "cpu", 0, false, kafka.bootstrapServers(), grace), m -> { })) {
                try (KafkaProducer<byte[], byte[]> producer = KafkaClients.bytesProducer(
                        KafkaClients.producerConfig(kafka.bootstrapServers(), "crash-test"))) {
                    for (int i = 0; i < PROMPTS; i++) {
                        Prompt p = Prompt.newBuilder().setId("c" + i).setText("What is " + i + " plus 1?")
                                .setSafetyTagged(i % 5 == 0).build();
                        producer.send(new ProducerRecord<>(Topics.PROMPTS, p.getId().getBytes(StandardCharsets.UTF_8),
                                p.toByteArray()));
                    }
                    producer.flush();
                }
                Map<String, String> env = new HashMap<>();
                env.put("RLHF_KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrapServers());
                env.put("RLHF_KAFKA_TOPIC_PARTITIONS", "2");
                env.put("RLHF_SAMPLER_POLICY", "127.0.0.1:" + policy.port());
                env.put("RLHF_SAMPLER_REWARD_HELPFULNESS", "127.0.0.1:" + help.port());
                env.put("RLHF_SAMPLER_REWARD_SAFETY", "127.0.0.1:" + safe.port());
                env.put("RLHF_SAMPLER_N", "2");
                env.put("RLHF_SAMPLER_MAX_NEW_TOKENS", "4");
                env.put("RLHF_SAMPLER_TRANSACTIONAL_ID", "crash-test-sampler");
                env.put("RLHF_SAMPLER_SESSION_TIMEOUT", "6s"); // a killed member's partitions return quickly
                env.put("RLHF_SAMPLER_METRICS_HOST", "127.0.0.1");
                env.put("RLHF_SAMPLER_METRICS_PORT", "0");
                Path log = tmp.resolve("sampler.log");

                Map<String, Integer> best = new HashMap<>();
                try (KafkaConsumer<byte[], byte[]> reader = KafkaClients.bytesConsumer(
                        KafkaClients.assignedConsumerConfig(kafka.bootstrapServers(), "crash-test-reader"))) {
                    List<TopicPartition> parts = List.of(new TopicPartition(Topics.BEST, 0),
                            new TopicPartition(Topics.BEST, 1));
                    reader.assign(parts);
                    reader.seekToBeginning(parts);
                    for (int run = 0; run <= KILLS; run++) {
                        // Kill after ~every 100 committed best samples; the last run finishes the work.
                        int target = run < KILLS ? (run + 1) * 100 : PROMPTS;
                        try (ChildJvm sampler = ChildJvm.start("dev.rlhf.sampler.SamplerMain", env, List.of(), log)) {
                            long deadline = System.currentTimeMillis() + TimeUnit.MINUTES.toMillis(4);
                            while (total(best) < target) {
                                assertTrue(System.currentTimeMillis() < deadline && sampler.isAlive(),
                                        "run " + run + ": " + total(best) + " best samples; sampler output:\n"
                                                + sampler.output());
                                for (ConsumerRecord<byte[], byte[]> r : reader.poll(Duration.ofMillis(200))) {
                                    best.merge(BestSample.parseFrom(r.value()).getPrompt().getId(), 1, Integer::sum);
                                }
                            }
                            if (run < KILLS) {
                                sampler.kill(); // SIGKILL, possibly mid-transaction
                            }
                        }
                    }
                    // Drain whatever the last run committed after reaching the target.
                    for (int empty = 0; empty < 10; ) {
                        var records = reader.poll(Duration.ofMillis(300));
                        empty = records.isEmpty() ? empty + 1 : 0;
                        for (ConsumerRecord<byte[], byte[]> r : records) {
                            best.merge(BestSample.parseFrom(r.value()).getPrompt().getId(), 1, Integer::sum);
                        }
                    }
                }
                long duplicates = best.values().stream().filter(n -> n > 1).count();
                long missing = PROMPTS - best.size();
                System.out.printf("sampler crash test: %d kills, %d distinct prompts, %d missing, %d duplicated%n",
                        KILLS, best.size(), missing, duplicates);
                assertEquals(0, missing, "missing prompt ids");
                assertEquals(0, duplicates, "duplicated prompt ids");
                assertEquals(PROMPTS, total(best));
            }
        }
    }

    private static int total(Map<String, Integer> counts) {
        return counts.values().stream().mapToInt(Integer::intValue).sum();
    }
}
