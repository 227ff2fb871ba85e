package dev.rlhf.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.rlhf.platform.kafka.KafkaBroker;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.KafkaTestSupport;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.proto.v1.DeadLetter;
import dev.rlhf.proto.v1.Prompt;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** rlhf dead-letter list and replay against a real broker. */
class DeadLetterCommandTest {
    static KafkaBroker broker;

    @BeforeAll
    static void start() throws Exception {
        broker = KafkaTestSupport.startBrokerWithTopics(1);
        Prompt prompt = Prompt.newBuilder().setId("p1").setText("What is 2 plus 3?").build();
        try (KafkaProducer<byte[], byte[]> producer = KafkaClients.bytesProducer(
                KafkaClients.producerConfig(broker.bootstrapServers(), "test-letters"))) {
            for (DeadLetter letter : List.of(
                    letter(Topics.PROMPTS, 5, "p1", prompt.toByteArray(), false, "policy service unavailable for 10m"),
                    letter(Topics.BEST, 9, "b1", new byte[] {1, 2, 3}, false, "trainer: token id 999999"),
                    letter(Topics.PROMPTS, 6, "p2", new byte[] {4, 5}, true, "too large"))) {
                producer.send(new ProducerRecord<>(Topics.DEAD_LETTER, letter.getKey().toByteArray(),
                        letter.toByteArray())).get();
            }
        }
    }

    @AfterAll
    static void stop() throws Exception {
        broker.close();
    }

    private static DeadLetter letter(String source, long offset, String key, byte[] value, boolean truncated,
                                     String error) {
        return DeadLetter.newBuilder().setSourceTopic(source).setPartition(0).setOffset(offset)
                .setKey(ByteString.copyFromUtf8(key)).setValue(ByteString.copyFrom(value))
                .setValueBytes(truncated ? 100_000 : value.length).setValueTruncated(truncated).setError(error)
                .setFailedAtMs(1_700_000_000_000L).build();
    }

    @Test
    void listShowsEveryLetterAndReplaySendsTheUntruncatedOnesBackToTheirSource() throws Exception {
        RlhfCommandTest.Run all = RlhfCommandTest.rlhf("dead-letter", "list", "--kafka", broker.bootstrapServers());
        assertEquals(0, all.code(), all.err());
        assertTrue(all.out().contains("rlhf.prompts 0/5  2023-11-14T22:13:20Z") && all.out().contains(
                "policy service unavailable for 10m"), all.out());
        assertTrue(all.out().contains("100000 bytes (truncated)"), all.out());
        assertTrue(all.out().contains("3 dead letter(s)"), all.out());
        RlhfCommandTest.Run prompts = RlhfCommandTest.rlhf("dead-letter", "list", "--kafka",
                broker.bootstrapServers(), "--source", Topics.PROMPTS);
        assertTrue(prompts.out().contains("2 dead letter(s)") && !prompts.out().contains("rlhf.best"), prompts.out());

        RlhfCommandTest.Run replay = RlhfCommandTest.rlhf("dead-letter", "replay", "--kafka",
                broker.bootstrapServers(), "--source", Topics.PROMPTS);
        assertEquals(0, replay.code(), replay.err());
        assertTrue(replay.out().contains("replayed 1 record(s), skipped 1 truncated"), replay.out());
        assertTrue(replay.err().contains("rlhf.prompts 0/6: its value was truncated"), replay.err());

        List<Prompt> back = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = KafkaClients.bytesConsumer(
                KafkaClients.assignedConsumerConfig(broker.bootstrapServers(), "test-prompts"))) {
            TopicPartition tp = new TopicPartition(Topics.PROMPTS, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (back.isEmpty() && System.nanoTime() < deadline) {
                for (var r : consumer.poll(Duration.ofMillis(200))) {
                    assertEquals("p1", new String(r.key(), StandardCharsets.UTF_8));
                    back.add(Prompt.parseFrom(r.value()));
                }
            }
        }
        assertEquals(List.of(Prompt.newBuilder().setId("p1").setText("What is 2 plus 3?").build()), back);
    }
}
