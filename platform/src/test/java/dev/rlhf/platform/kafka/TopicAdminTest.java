package dev.rlhf.platform.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.platform.config.ConfigSchema;
import dev.rlhf.platform.config.ConfigValues;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.config.ConfigResource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The broker picked by {@link KafkaTestSupport} (embedded here) and topic creation against it. */
class TopicAdminTest {

    static KafkaBroker kafka;
    static Admin admin;

    @BeforeAll
    static void startBroker() {
        kafka = KafkaTestSupport.startBroker();
        admin = KafkaClients.admin(kafka.bootstrapServers(), "topic-admin-test");
    }

    @AfterAll
    static void stopBroker() {
        admin.close();
        Path data = kafka instanceof EmbeddedKafka embedded ? embedded.dataDirectory() : null;
        kafka.close();
        if (data != null) {
            assertFalse(Files.exists(data), "embedded broker data directory is deleted on close: " + data);
        }
    }

    @Test
    void brokerAnswersWithOneNode() throws Exception {
        Collection<Node> nodes = admin.describeCluster().nodes().get();

        assertEquals(1, nodes.size());
        assertTrue(kafka.bootstrapServers().startsWith("127.0.0.1:") || !(kafka instanceof EmbeddedKafka));
    }

    @Test
    void ensureTopicsCreatesMissingTopicsOnceAndIsIdempotent() throws Exception {
        TopicAdmin topics = new TopicAdmin(2, (short) 1, Map.of(Topics.POLICY_UPDATES, 1), Duration.ofSeconds(30));
        // Other tests of this class share the broker and may have created some topics already.
        Set<String> before = admin.listTopics().names().get();

        Set<String> first = topics.ensureTopics(admin);
        Set<String> second = topics.ensureTopics(admin);

        Set<String> missing = Topics.ALL.stream().filter(t -> !before.contains(t)).collect(Collectors.toSet());
        assertEquals(missing, first);
        assertEquals(Set.of(), second);
        Map<String, TopicDescription> described = admin.describeTopics(Topics.ALL).allTopicNames().get();
        assertEquals(Set.copyOf(Topics.ALL), described.keySet());
        for (String created : first) {
            int expected = created.equals(Topics.POLICY_UPDATES) ? 1 : 2;
            assertEquals(expected, described.get(created).partitions().size(), created);
        }
    }

    @Test
    void sharedKafkaKeysConfigureTheTopicAdmin() {
        ConfigSchema schema = ConfigSchema.of("sampler", KafkaKeys.ALL);
        ConfigValues values = schema.loader()
                .env(Map.of("RLHF_KAFKA_TOPIC_PARTITIONS", "6", "RLHF_KAFKA_REPLICATION_FACTOR", "3")).load();

        List<NewTopic> topics = KafkaKeys.topicAdmin(values).newTopics();

        assertEquals(Topics.ALL, topics.stream().map(NewTopic::name).toList());
        for (NewTopic topic : topics) {
            assertEquals(6, topic.numPartitions(), topic.name());
            assertEquals(3, topic.replicationFactor(), topic.name());
            assertEquals("2", topic.configs().get("min.insync.replicas"), topic.name());
        }
    }

    @Test
    void updateTopicsAreCompactedAndDataTopicsAreNot() throws Exception {
        new TopicAdmin(2, (short) 1).ensureTopics(admin);

        Map<String, String> policies = cleanupPolicies(Topics.ALL);

        assertEquals("compact", policies.get(Topics.POLICY_UPDATES));
        assertEquals("compact", policies.get(Topics.REWARD_UPDATES));
        for (String topic : List.of(Topics.PROMPTS, Topics.ROLLOUTS, Topics.BEST, Topics.PREFERENCES,
                Topics.DEAD_LETTER)) {
            assertEquals("delete", policies.get(topic), topic);
        }
    }

    @Test
    void updateTopicWithoutCompactionIsReported() throws Exception {
        TopicAdmin topics = new TopicAdmin(2, (short) 1);
        topics.ensureTopics(admin);
        ConfigResource rewardUpdates = new ConfigResource(ConfigResource.Type.TOPIC, Topics.REWARD_UPDATES);
        alterCleanupPolicy(rewardUpdates, "delete");
        try {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> topics.ensureTopics(admin));

            assertTrue(e.getMessage().startsWith("rlhf.reward-updates has cleanup.policy=delete, expected compact"),
                    e.getMessage());
        } finally {
            alterCleanupPolicy(rewardUpdates, "compact");
        }
        topics.verifyCompaction(admin);
    }

    /** Alters, then waits until the broker's own metadata shows the change (KRaft applies it asynchronously). */
    private static void alterCleanupPolicy(ConfigResource topic, String policy) throws Exception {
        admin.incrementalAlterConfigs(Map.of(topic, List.of(new AlterConfigOp(
                new ConfigEntry("cleanup.policy", policy), AlterConfigOp.OpType.SET)))).all().get();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!policy.equals(cleanupPolicies(List.of(topic.name())).get(topic.name()))) {
            assertTrue(System.nanoTime() < deadline, topic.name() + " never showed cleanup.policy=" + policy);
        }
    }

    private static Map<String, String> cleanupPolicies(List<String> topics) throws Exception {
        List<ConfigResource> resources = topics.stream()
                .map(t -> new ConfigResource(ConfigResource.Type.TOPIC, t)).toList();
        Map<ConfigResource, Config> configs = admin.describeConfigs(resources).all().get();
        return configs.entrySet().stream().collect(Collectors.toMap(e -> e.getKey().name(),
                e -> e.getValue().get("cleanup.policy").value()));
    }
}
