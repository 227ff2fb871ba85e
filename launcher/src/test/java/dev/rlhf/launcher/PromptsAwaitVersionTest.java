package dev.rlhf.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.platform.kafka.KafkaBroker;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.KafkaTestSupport;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.proto.v1.ModelUpdate;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code rlhf prompts send --await-policy-version} (the smoke-test Job's end-to-end check) on a real broker: it
 * succeeds on a version newer than the newest before it sent, and fails in one line when none comes.
 */
class PromptsAwaitVersionTest {
    @TempDir
    Path tmp;

    @Test
    void waitsForAVersionNewerThanTheOneBeforeThePrompts() throws Exception {
        Path file = tmp.resolve("smoke.jsonl");
        Files.writeString(file, "{\"id\": \"smoke-1\", \"text\": \"What is 2 plus 3?\"}\n"
                + "{\"id\": \"smoke-2\", \"text\": \"Name a colour.\"}\n");
        try (KafkaBroker broker = KafkaTestSupport.startBrokerWithTopics(1);
             KafkaProducer<byte[], byte[]> producer = KafkaClients.bytesProducer(
                     KafkaClients.producerConfig(broker.bootstrapServers(), "test-trainer"))) {
            String kafka = broker.bootstrapServers();
            publish(producer, 3); // already there before the smoke test: not a new version
            CompletableFuture<RlhfCommandTest.Run> run = CompletableFuture.supplyAsync(() -> RlhfCommandTest.rlhf(
                    "prompts", "send", file.toString(), "--kafka", kafka, "--await-policy-version", "60s"));
            awaitPrompts(kafka, Set.of("smoke-1", "smoke-2")); // the command read the backlog before sending
            publish(producer, 4); // the trainer's answer to the prompts
            RlhfCommandTest.Run done = run.get(90, TimeUnit.SECONDS);
            assertEquals(0, done.code(), done.err());
            assertTrue(done.out().contains("policy version 4 published"), done.out());

            RlhfCommandTest.Run none = RlhfCommandTest.rlhf("prompts", "send", file.toString(), "--kafka", kafka,
                    "--await-policy-version", "2s");
            assertEquals(1, none.code());
            assertTrue(none.err().contains("no policy version newer than 4 was published within 2s"), none.err());
        }
    }

    private static void publish(KafkaProducer<byte[], byte[]> producer, long version) throws Exception {
        ModelUpdate u = ModelUpdate.newBuilder().setModel("policy").setVersion(version)
                .setUri("/store/checkpoints/policy-v" + version).build();
        producer.send(new ProducerRecord<>(Topics.POLICY_UPDATES, "policy".getBytes(StandardCharsets.UTF_8),
                u.toByteArray())).get();
    }

    private static void awaitPrompts(String kafka, Set<String> ids) {
        try (KafkaConsumer<byte[], byte[]> c = KafkaClients.bytesConsumer(
                KafkaClients.assignedConsumerConfig(kafka, "test-prompts"))) {
            TopicPartition p = new TopicPartition(Topics.PROMPTS, 0);
            c.assign(List.of(p));
            c.seekToBeginning(List.of(p));
            Set<String> seen = new HashSet<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (!seen.containsAll(ids)) {
                assertTrue(System.nanoTime() < deadline, "prompts never arrived: " + seen);
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                    seen.add(new String(r.key(), StandardCharsets.UTF_8));
                }
            }
        }
    }
}
