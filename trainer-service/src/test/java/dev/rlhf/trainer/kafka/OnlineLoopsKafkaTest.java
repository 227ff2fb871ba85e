package dev.rlhf.trainer.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.llama.io.Manifest;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.platform.kafka.KafkaBroker;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.KafkaTestSupport;
import dev.rlhf.platform.kafka.TopicAdmin;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.proto.v1.Candidate;
import dev.rlhf.proto.v1.CandidateScores;
import dev.rlhf.proto.v1.Confidence;
import dev.rlhf.proto.v1.ModelUpdate;
import dev.rlhf.proto.v1.PreferenceKind;
import dev.rlhf.proto.v1.PreferencePair;
import dev.rlhf.proto.v1.Prompt;
import dev.rlhf.proto.v1.Rollout;
import dev.rlhf.trainer.TrainerMain;
import dev.rlhf.trainer.config.TrainerConfig;
import dev.rlhf.trainer.domain.OnlineRewardTraining;
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

/**
 * The trainer's online loops against a real broker: PPO on rlhf.rollouts (stale rollouts dropped) publishing policy
 * versions, and both reward models on rlhf.preferences publishing to rlhf.reward-updates, in one trainer process.
 */
class OnlineLoopsKafkaTest {
    static KafkaBroker broker;
    @TempDir
    static Path tmp;

    @BeforeAll
    static void startBroker() {
        broker = KafkaTestSupport.startBrokerWithTopics(1);
    }

    @AfterAll
    static void stopBroker() throws Exception {
        broker.close();
    }

    /** Updates in log order with their keys, until {@code count} arrived. */
    static List<ConsumerRecord<byte[], byte[]>> read(String topic, int count) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = KafkaClients.bytesConsumer(
                KafkaClients.assignedConsumerConfig(broker.bootstrapServers(), "test-" + topic))) {
            TopicPartition tp = new TopicPartition(topic, 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long deadline = System.currentTimeMillis() + 120_000;
            while (System.currentTimeMillis() < deadline && out.size() < count) {
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
        }
        return out;
    }

    static Rollout rollout(String id, long version, int[] good, int[] bad) {
        return Rollout.newBuilder().setPrompt(Prompt.newBuilder().setId(id).setText("What is 2 plus 3?"))
                .setPolicyVersion(version)
                .addCandidates(Candidate.newBuilder().addAllTokens(boxed(good))
                        .setScores(CandidateScores.newBuilder().setCombined(0.9f)))
                .addCandidates(Candidate.newBuilder().addAllTokens(boxed(bad))
                        .setScores(CandidateScores.newBuilder().setCombined(0.2f)))
                .build();
    }

    static List<Integer> boxed(int[] x) {
        return java.util.Arrays.stream(x).boxed().toList();
    }

    static PreferencePair pair(String id, PreferenceKind kind) {
        return PreferencePair.newBuilder().setId(id).setKind(kind).setPrompt("What is the capital of France?")
                .setChosen("The capital of France is Paris.").setRejected("I cannot help with that request.")
                .setConfidence(Confidence.BETTER).setChosenSafe(true).setRejectedSafe(true).build();
    }

    @Test
    void ppoAndRewardModelsLearnFromTheirTopicsAndPublishVersions() throws Exception {
        Path policy = ModelFactory.tinyForTests(tmp.resolve("sft"), 1, false);
        Path help = ModelFactory.tinyForTests(tmp.resolve("rm-h"), 2, true);
        Path safe = ModelFactory.tinyForTests(tmp.resolve("rm-s"), 3, true);
        int[] good;
        int[] bad;
        try (LlamaTokenizer tok = LlamaTokenizer.load(policy)) {
            good = tok.encode("2 plus 3 is 5.");
            bad = tok.encode("I cannot help with that request.");
        }
        TrainerConfig config = new TrainerConfig(broker.bootstrapServers(), tmp.resolve("ckpt"), policy, 2, 2, 64,
                1e-3, 1, "cpu", Duration.ofMillis(100), 0)
                .withAlgorithm(TrainerConfig.PPO, TrainerConfig.Ppo.defaults().withBatch(4, 2).withLearningRate(1e-3, 0.01).withStaleness(0, 7))
                .withRewards(new TrainerConfig.Rewards(tmp.resolve("rewards"), help, safe, 2, 1e-3, "small", 0.1,
                        1.0, 0.0, 1, 0, 0));
        try (TrainerMain trainer = TrainerMain.start(config, new TopicAdmin(1, (short) 1), msg -> { });
             KafkaProducer<byte[], byte[]> producer = KafkaClients.bytesProducer(
                     KafkaClients.producerConfig(broker.bootstrapServers(), "test"))) {
            for (int i = 0; i < 2; i++) {
                send(producer, Topics.ROLLOUTS, "r" + i, rollout("r" + i, 0, good, bad).toByteArray());
            }
            List<ConsumerRecord<byte[], byte[]>> first = read(Topics.POLICY_UPDATES, 1);
            assertEquals(1, ModelUpdate.parseFrom(first.get(0).value()).getVersion());
            // Sampled by version 0, the trainer is now at 1 and allows no staleness: dropped, counted.
            send(producer, Topics.ROLLOUTS, "stale", rollout("stale", 0, good, bad).toByteArray());
            send(producer, Topics.ROLLOUTS, "junk", new byte[] {(byte) 0xff, 0x01});
            for (int i = 2; i < 4; i++) {
                send(producer, Topics.ROLLOUTS, "r" + i, rollout("r" + i, 1, good, bad).toByteArray());
            }
            List<ConsumerRecord<byte[], byte[]>> policyUpdates = read(Topics.POLICY_UPDATES, 2);
            ModelUpdate v2 = ModelUpdate.parseFrom(policyUpdates.get(1).value());
            assertEquals(2, v2.getVersion());
            assertEquals(1.0, v2.getMetricsMap().get("dropped_stale"));
            assertEquals(0.55, v2.getMetricsMap().get("mean_combined_reward"), 1e-6);
            assertEquals(Manifest.sha256(Path.of(v2.getUri()).resolve(Manifest.FILE_NAME)), v2.getSha256());
            assertEquals(2, trainer.policyVersion());
            assertEquals(1, trainer.policyLoop().rejected(), "the undecodable record");

            // 4 helpfulness + 2 safety pairs + 1 without a kind: helpfulness trains on all 6 (share 1.0) -> 3
            // versions; safety on its 2 (share 0.0) -> 1 version.
            for (int i = 0; i < 6; i++) {
                PreferenceKind kind = i < 4 ? PreferenceKind.PREFERENCE_KIND_HELPFULNESS
                        : PreferenceKind.PREFERENCE_KIND_SAFETY;
                send(producer, Topics.PREFERENCES, "p" + i, pair("p" + i, kind).toByteArray());
            }
            send(producer, Topics.PREFERENCES, "nokind", pair("nokind", PreferenceKind.PREFERENCE_KIND_UNSPECIFIED)
                    .toByteArray());
            List<ConsumerRecord<byte[], byte[]>> rewardUpdates = read(Topics.REWARD_UPDATES, 4);
            List<String> keys = rewardUpdates.stream().map(r -> new String(r.key(), StandardCharsets.UTF_8)).toList();
            assertEquals(3, keys.stream().filter("helpfulness"::equals).count(), keys.toString());
            assertEquals(1, keys.stream().filter("safety"::equals).count(), keys.toString());
            try (NDManager m = NDManager.newBaseManager()) {
                for (ConsumerRecord<byte[], byte[]> r : rewardUpdates) {
                    ModelUpdate u = ModelUpdate.parseFrom(r.value());
                    assertEquals(new String(r.key(), StandardCharsets.UTF_8), u.getModel());
                    Path dir = Path.of(u.getUri());
                    assertEquals(Manifest.sha256(dir.resolve(Manifest.FILE_NAME)), u.getSha256());
                    // What the reward service loads: a score head is required.
                    assertTrue(LlamaCheckpoint.load(dir, m, ScoreHead.REQUIRED).has("score.weight"));
                }
            }
            assertEquals(3, trainer.rewardVersion(dev.rlhf.vocabulary.RewardKind.HELPFULNESS));
            assertEquals(1, trainer.rewardVersion(dev.rlhf.vocabulary.RewardKind.SAFETY));
        }
    }

    private static void send(KafkaProducer<byte[], byte[]> producer, String topic, String key, byte[] value)
            throws Exception {
        producer.send(new ProducerRecord<>(topic, key.getBytes(StandardCharsets.UTF_8), value)).get();
    }
}
