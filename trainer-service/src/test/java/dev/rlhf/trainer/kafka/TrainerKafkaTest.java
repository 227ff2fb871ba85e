package dev.rlhf.trainer.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.llama.io.Manifest;
import dev.rlhf.platform.kafka.KafkaBroker;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.KafkaTestSupport;
import dev.rlhf.platform.kafka.TopicAdmin;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.proto.v1.BestSample;
import dev.rlhf.proto.v1.DeadLetter;
import dev.rlhf.proto.v1.ModelUpdate;
import dev.rlhf.proto.v1.Prompt;
import dev.rlhf.trainer.TrainerMain;
import dev.rlhf.trainer.config.TrainerConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The trainer against a real broker: best samples in, versioned checkpoints and ModelUpdates out. */
class TrainerKafkaTest {
    static KafkaBroker broker;
    @TempDir
    static Path tmp;

    @BeforeAll
    static void startBroker() {
        broker = KafkaTestSupport.startBrokerWithTopics(2);
    }

    @AfterAll
    static void stopBroker() throws Exception {
        broker.close();
    }

    static List<ModelUpdate> readUpdates(int count) throws Exception {
        List<ModelUpdate> updates = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = KafkaClients.bytesConsumer(
                KafkaClients.assignedConsumerConfig(broker.bootstrapServers(), "test-updates"))) {
            TopicPartition tp = new TopicPartition(Topics.POLICY_UPDATES, 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long deadline = System.currentTimeMillis() + 120_000;
            while (System.currentTimeMillis() < deadline && updates.size() < count) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                    assertEquals("policy", new String(r.key(), StandardCharsets.UTF_8));
                    updates.add(ModelUpdate.parseFrom(r.value()));
                }
            }
        }
        return updates;
    }

    static List<DeadLetter> readDeadLetters(int count) throws Exception {
        List<DeadLetter> letters = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = KafkaClients.bytesConsumer(
                KafkaClients.assignedConsumerConfig(broker.bootstrapServers(), "test-dead-letters"))) {
            List<TopicPartition> parts = c.partitionsFor(Topics.DEAD_LETTER).stream()
                    .map(i -> new TopicPartition(i.topic(), i.partition())).toList();
            c.assign(parts);
            c.seekToBeginning(parts);
            long deadline = System.currentTimeMillis() + 60_000;
            while (System.currentTimeMillis() < deadline && letters.size() < count) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                    letters.add(DeadLetter.parseFrom(r.value()));
                }
            }
        }
        return letters;
    }

    @Test
    void bestSamplesBecomeVersionedCheckpointsAndUpdatesAndARestartTrainsNothingAgain() throws Exception {
        Path initial = ModelFactory.tinyForTests(tmp.resolve("sft"), 1, false);
        try (KafkaProducer<byte[], byte[]> producer = KafkaClients.bytesProducer(
                KafkaClients.producerConfig(broker.bootstrapServers(), "test"))) {
            for (int i = 0; i < 12; i++) {
                BestSample s = BestSample.newBuilder()
                        .setPrompt(Prompt.newBuilder().setId("p" + i).setText("What is " + i + " plus 2?"))
                        .setResponse(i + " plus 2 is " + (i + 2) + ".").build();
                producer.send(new ProducerRecord<>(Topics.BEST, ("p" + i).getBytes(StandardCharsets.UTF_8),
                        s.toByteArray())).get();
            }
            producer.send(new ProducerRecord<>(Topics.BEST, "junk".getBytes(StandardCharsets.UTF_8),
                    new byte[] {(byte) 0xff, 0x01})).get();
            // Poison: ids outside the vocabulary (a buggy or hostile producer).
            producer.send(new ProducerRecord<>(Topics.BEST, "oov".getBytes(StandardCharsets.UTF_8),
                    BestSample.newBuilder().setPrompt(Prompt.newBuilder().setId("oov").setText("hi"))
                            .setResponse("x").addPromptTokens(1).addPromptTokens(2).addResponseTokens(999_999)
                            .build().toByteArray())).get();
        }
        TrainerConfig config = new TrainerConfig(broker.bootstrapServers(), tmp.resolve("ckpt"), initial, 2, 2, 32,
                1e-3, 2, "cpu", Duration.ofMillis(100), 0).withKeepCheckpoints(2);
        try (TrainerMain trainer = TrainerMain.start(config, new TopicAdmin(2, (short) 1), msg -> { })) {
            List<ModelUpdate> updates = readUpdates(3);
            assertEquals(List.of(1L, 2L, 3L), updates.stream().map(ModelUpdate::getVersion).toList());
            ModelUpdate last = updates.get(2);
            Path dir = Path.of(last.getUri());
            assertEquals(Manifest.sha256(dir.resolve("manifest.json")), last.getSha256());
            assertEquals(6, last.getStep());
            assertTrue(last.getMetricsMap().get("loss") > 0);
            // Both poison records were skipped and kept, with their reasons, on the dead-letter topic.
            List<DeadLetter> letters = readDeadLetters(2);
            assertEquals(List.of("junk", "oov"), letters.stream().map(l -> l.getKey().toStringUtf8()).sorted()
                    .toList());
            for (DeadLetter l : letters) {
                assertEquals(Topics.BEST, l.getSourceTopic());
                assertTrue(l.getError().startsWith("trainer: "), l.getError());
            }
            assertTrue(letters.stream().anyMatch(l -> l.getError().contains("token id 999999")), letters.toString());
        }
        // trainer.keep-checkpoints 2: version 1 was deleted once version 3 was announced (checked after close,
        // which waits for the loop that prunes).
        assertEquals(List.of("policy-v000002", "policy-v000003"), dev.rlhf.llama.io.AtomicDirectory
                .listCompleteCheckpoints(tmp.resolve("ckpt")).stream().map(p -> p.getFileName().toString())
                .toList());
        // Restart: resumes at version 3 with every sample trained, republishes it, trains nothing more.
        try (TrainerMain trainer = TrainerMain.start(config, new TopicAdmin(2, (short) 1), msg -> { })) {
            assertEquals(3, trainer.policyVersion());
            List<ModelUpdate> updates = readUpdates(4);
            assertEquals(List.of(1L, 2L, 3L, 3L), updates.stream().map(ModelUpdate::getVersion).toList(),
                    "version 3 republished after the restart, nothing trained again");
        }
    }
}
