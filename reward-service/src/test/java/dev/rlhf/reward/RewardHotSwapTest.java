package dev.rlhf.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.llama.io.Manifest;
import dev.rlhf.platform.kafka.KafkaBroker;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.KafkaTestSupport;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.proto.v1.ModelUpdate;
import dev.rlhf.proto.v1.RewardKind;
import dev.rlhf.proto.v1.RewardServiceGrpc;
import dev.rlhf.proto.v1.ScoreRequest;
import dev.rlhf.proto.v1.ScoreResponse;
import dev.rlhf.reward.domain.RewardUpdater.Outcome;
import dev.rlhf.reward.domain.RewardUpdater.Result;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A safety reward service following rlhf.reward-updates on a real broker, swapping models under load. */
class RewardHotSwapTest {
    @TempDir
    Path tmp;

    private static void publish(KafkaProducer<byte[], byte[]> producer, String key, ModelUpdate update)
            throws Exception {
        producer.send(new ProducerRecord<>(Topics.REWARD_UPDATES, key.getBytes(StandardCharsets.UTF_8),
                update.toByteArray())).get(30, TimeUnit.SECONDS);
    }

    private static ModelUpdate update(String model, long version, Path dir) {
        return ModelUpdate.newBuilder().setModel(model).setVersion(version).setUri(dir.toString())
                .setSha256(Manifest.sha256(dir.resolve(Manifest.FILE_NAME))).build();
    }

    /** Waits, bounded, for the next update outcome the service reports. */
    private static Outcome next(BlockingQueue<Outcome> outcomes) throws InterruptedException {
        Outcome o = outcomes.poll(60, TimeUnit.SECONDS);
        assertNotNull(o, "no update outcome within 60 s");
        return o;
    }

    @Test
    void aNewSafetyVersionOnKafkaIsSwappedInAndOtherKindsAndCorruptCheckpointsAreNot() throws Exception {
        Path v1 = RewardFixtures.checkpoint(tmp.resolve("v1"), 1);
        Path v2 = RewardFixtures.checkpoint(tmp.resolve("v2"), 2);
        Path corrupt = RewardFixtures.corruptCopy(v2, tmp.resolve("v3"));
        ScoreRequest request = ScoreRequest.newBuilder().setPrompt("What is 2 plus 3?")
                .addResponses("2 plus 3 is 5.").build();

        try (KafkaBroker kafka = KafkaTestSupport.startBrokerWithTopics(1)) {
            try (RewardMain service = RewardMain.start(RewardFixtures.config(
                    dev.rlhf.vocabulary.RewardKind.SAFETY, v1, true, kafka.bootstrapServers()), msg -> { });
                 KafkaProducer<byte[], byte[]> producer = KafkaClients.bytesProducer(
                         KafkaClients.producerConfig(kafka.bootstrapServers(), "reward-test"))) {
                BlockingQueue<Outcome> outcomes = new LinkedBlockingQueue<>();
                service.updater().onOutcome(outcomes::add);
                ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", service.port())
                        .usePlaintext().build();
                try {
                    var stub = RewardServiceGrpc.newBlockingStub(channel);
                    ScoreResponse before = stub.withDeadlineAfter(60, TimeUnit.SECONDS).score(request);
                    assertEquals(1, before.getModelVersion());
                    assertEquals(RewardKind.REWARD_KIND_SAFETY, before.getModelKind());

                    // Same partition, so the helpfulness record is read first: were it not filtered out, its
                    // outcome would arrive before version 2's.
                    publish(producer, "helpfulness", update("helpfulness", 5, v2));
                    publish(producer, "safety", update("safety", 2, v2));
                    assertEquals(new Outcome(2, Result.APPLIED, v2.toString()), next(outcomes));
                    assertEquals(2, service.servingVersion());
                    ScoreResponse after = stub.withDeadlineAfter(60, TimeUnit.SECONDS).score(request);
                    assertEquals(2, after.getModelVersion());
                    assertNotEquals(before.getScores(0).getRaw(), after.getScores(0).getRaw(), "the v2 weights score");

                    publish(producer, "safety", update("safety", 3, corrupt));
                    Outcome rejected = next(outcomes);
                    assertEquals(Result.REJECTED, rejected.result());
                    assertEquals(3, rejected.version());
                    assertTrue(rejected.detail().contains(Manifest.FILE_NAME), rejected.detail());
                    assertEquals(2, service.servingVersion());
                    assertEquals(1, service.updater().failedLoads());
                    assertEquals(2, stub.withDeadlineAfter(60, TimeUnit.SECONDS).score(request).getModelVersion());
                    assertTrue(outcomes.isEmpty(), "the helpfulness update never reached the safety updater: "
                            + outcomes);
                } finally {
                    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
                }
            }
        }
    }
}
