package dev.rlhf.trainer.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.llama.io.AtomicDirectory;
import dev.rlhf.llama.io.Manifest;
import dev.rlhf.platform.kafka.ChildJvm;
import dev.rlhf.platform.kafka.KafkaBroker;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.KafkaTestSupport;
import dev.rlhf.platform.kafka.TopicAdmin;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.proto.v1.BestSample;
import dev.rlhf.proto.v1.ModelUpdate;
import dev.rlhf.proto.v1.Prompt;
import dev.rlhf.trainer.domain.OffsetLedger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The trainer as a separate process, SIGKILLed once between a checkpoint's write and its rename and once
 * mid-run: after restarts every best sample is trained exactly once and no incomplete checkpoint is loaded.
 */
class TrainerCrashTest {
    private static final int SAMPLES = 40; // batch 2, checkpoint every 2 steps -> versions 1..10

    @TempDir
    Path tmp;

    /** Waits (by polling Kafka) until an update with at least {@code version} arrives; returns all seen. */
    private static List<ModelUpdate> awaitVersion(KafkaConsumer<byte[], byte[]> updates, List<ModelUpdate> seen,
                                                  long version, ChildJvm trainer) throws Exception {
        long deadline = System.currentTimeMillis() + 180_000;
        while (seen.stream().noneMatch(u -> u.getVersion() >= version)) {
            if (System.currentTimeMillis() > deadline || !trainer.isAlive()) {
                throw new AssertionError("no policy version " + version + " (seen " + seen.stream()
                        .map(ModelUpdate::getVersion).toList() + "); trainer output:\n" + trainer.output());
            }
            for (ConsumerRecord<byte[], byte[]> r : updates.poll(Duration.ofMillis(200))) {
                seen.add(ModelUpdate.parseFrom(r.value()));
            }
        }
        return seen;
    }

    @Test
    void everySampleIsTrainedExactlyOnceAcrossKillsAndNoIncompleteCheckpointIsLoaded() throws Exception {
        Path initial = ModelFactory.tinyForTests(tmp.resolve("sft"), 1, false);
        Path checkpoints = tmp.resolve("checkpoints");
        Path marker = tmp.resolve("paused-before-rename");
        try (KafkaBroker broker = KafkaTestSupport.startBroker()) {
            try (Admin admin = KafkaClients.admin(broker.bootstrapServers(), "test")) {
                new TopicAdmin(2, (short) 1).ensureTopics(admin);
            }
            try (KafkaProducer<byte[], byte[]> producer = KafkaClients.bytesProducer(
                    KafkaClients.producerConfig(broker.bootstrapServers(), "test"))) {
                for (int i = 0; i < SAMPLES; i++) {
                    BestSample s = BestSample.newBuilder()
                            .setPrompt(Prompt.newBuilder().setId("b" + i).setText("What is " + i + " plus 1?"))
                            .setResponse(i + " plus 1 is " + (i + 1) + ".").build();
                    producer.send(new ProducerRecord<>(Topics.BEST, ("b" + i).getBytes(StandardCharsets.UTF_8),
                            s.toByteArray())).get();
                }
            }
            Map<String, String> env = new HashMap<>();
            env.put("RLHF_KAFKA_BOOTSTRAP_SERVERS", broker.bootstrapServers());
            env.put("RLHF_KAFKA_TOPIC_PARTITIONS", "2");
            env.put("RLHF_TRAINER_CHECKPOINT_DIR", checkpoints.toString());
            env.put("RLHF_TRAINER_INITIAL_POLICY", initial.toString());
            env.put("RLHF_TRAINER_BATCH_SIZE", "2");
            env.put("RLHF_TRAINER_MICRO_BATCH_SIZE", "2");
            env.put("RLHF_TRAINER_SEQUENCE_LENGTH", "32");
            env.put("RLHF_TRAINER_LEARNING_RATE", "0.001");
            env.put("RLHF_TRAINER_CHECKPOINT_EVERY_STEPS", "2");
            env.put("RLHF_TRAINER_POLL_TIMEOUT", "100ms");
            Path log = tmp.resolve("trainer.log");
            try (KafkaConsumer<byte[], byte[]> updates = KafkaClients.bytesConsumer(
                    KafkaClients.assignedConsumerConfig(broker.bootstrapServers(), "test-updates"))) {
                updates.assign(List.of(new TopicPartition(Topics.POLICY_UPDATES, 0)));
                List<ModelUpdate> seen = new java.util.ArrayList<>();

                // 1. Killed while blocked between writing version 3 and renaming it into place.
                try (ChildJvm trainer = ChildJvm.start("dev.rlhf.trainer.TrainerMain", env,
                        List.of("-Drlhf.fault.pause-before-rename=" + marker + "@3"), log)) {
                    long deadline = System.currentTimeMillis() + 180_000;
                    while (!Files.exists(marker)) { // the child writes it, then blocks forever
                        assertTrue(System.currentTimeMillis() < deadline && trainer.isAlive(), trainer.output());
                        Thread.onSpinWait();
                        updates.poll(Duration.ofMillis(100)).forEach(r -> { }); // wait on something useful
                    }
                    trainer.kill();
                }
                try (Stream<Path> files = Files.list(checkpoints)) {
                    List<String> names = files.map(p -> p.getFileName().toString()).sorted().toList();
                    assertTrue(names.stream().anyMatch(n -> n.startsWith(".policy-v000003.tmp-")), names.toString());
                    assertTrue(names.contains("policy-v000002") && !names.contains("policy-v000003"), names.toString());
                }

                // 2. Killed mid-run, at no particular point.
                try (ChildJvm trainer = ChildJvm.start("dev.rlhf.trainer.TrainerMain", env, List.of(), log)) {
                    awaitVersion(updates, seen, 6, trainer);
                    trainer.kill();
                }

                // 3. Runs to the end.
                try (ChildJvm trainer = ChildJvm.start("dev.rlhf.trainer.TrainerMain", env, List.of(), log)) {
                    awaitVersion(updates, seen, 10, trainer);
                }
            }
            List<Path> complete = AtomicDirectory.listCompleteCheckpoints(checkpoints);
            assertEquals(10, complete.size(), complete.toString());
            Map<String, Integer> trained = new HashMap<>();
            for (Path c : complete) {
                Manifest.read(c).metadata().getAsJsonArray("trained_ids")
                        .forEach(id -> trained.merge(id.getAsString(), 1, Integer::sum));
            }
            assertEquals(SAMPLES, trained.size(), "every sample trained: " + trained.keySet());
            assertTrue(trained.values().stream().allMatch(n -> n == 1), "none twice: " + trained);
            OffsetLedger ledger = OffsetLedger.fromJson(Manifest.read(complete.get(9)).metadata()
                    .getAsJsonObject("ledger"));
            assertEquals(SAMPLES, ledger.totalTrained());
            try (Stream<Path> files = Files.list(checkpoints)) {
                assertTrue(files.noneMatch(p -> p.getFileName().toString().startsWith(".")),
                        "the crashed write's temp directory was removed on restart");
            }
        }
    }
}
