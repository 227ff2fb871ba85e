package dev.rlhf.platform.kafka;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/** Creates the rlhf topics when missing and checks that the model-update topics are compacted. */
public final class TopicAdmin {

    private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
    /** Same as the clients' retry.backoff.ms default. */
    private static final Duration METADATA_RETRY_BACKOFF = Duration.ofMillis(100);

    private final int partitions;
    private final short replicationFactor;
    private final Map<String, Integer> partitionsByTopic;
    private final Duration timeout;

    /** Every topic with the same partition count and replication factor. */
    public TopicAdmin(int partitions, short replicationFactor) {
        this(partitions, replicationFactor, Map.of(), DEFAULT_TIMEOUT);
    }

    /**
     * Per-topic partition counts override {@code partitions}.
     *
     * @param timeout bound on each admin call, so start-up fails instead of hanging on an unreachable cluster
     */
    public TopicAdmin(int partitions, short replicationFactor, Map<String, Integer> partitionsByTopic,
                      Duration timeout) {
        if (partitions < 1 || replicationFactor < 1) {
            throw new IllegalArgumentException("partitions and replication factor must be >= 1, got "
                    + partitions + " and " + replicationFactor);
        }
        for (String topic : partitionsByTopic.keySet()) {
            if (!Topics.ALL.contains(topic)) {
                throw new IllegalArgumentException("not an rlhf topic: " + topic);
            }
        }
        this.partitions = partitions;
        this.replicationFactor = replicationFactor;
        this.partitionsByTopic = Map.copyOf(partitionsByTopic);
        this.timeout = timeout;
    }

    /** The topic specifications {@link #ensureTopics} creates. */
    public List<NewTopic> newTopics() {
        List<NewTopic> topics = new ArrayList<>();
        for (String name : Topics.ALL) {
            Map<String, String> configs = new LinkedHashMap<>();
            if (Topics.COMPACTED.contains(name)) {
                // Readers need only the latest ModelUpdate per model name; compaction keeps exactly that forever.
                configs.put(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT);
            }
            if (replicationFactor >= 3) {
                // With acks=all, a write then survives one broker loss without blocking on a single slow replica.
                configs.put(TopicConfig.MIN_IN_SYNC_REPLICAS_CONFIG, "2");
            }
            topics.add(new NewTopic(name, partitionsByTopic.getOrDefault(name, partitions), replicationFactor)
                    .configs(configs));
        }
        return topics;
    }

    /**
     * Creates the missing rlhf topics, then verifies compaction; safe to call from every service at start-up.
     *
     * @return the topics this call created (empty when all existed)
     * @throws IllegalStateException when an update topic exists without {@code cleanup.policy=compact}
     * @throws KafkaException        when the cluster refuses or does not answer in time
     */
    public Set<String> ensureTopics(Admin admin) {
        Set<String> created = new LinkedHashSet<>();
        Map<String, KafkaFuture<Void>> results = admin.createTopics(newTopics()).values();
        for (Map.Entry<String, KafkaFuture<Void>> result : results.entrySet()) {
            try {
                await(result.getValue());
                created.add(result.getKey());
            } catch (ExecutionException e) {
                // Another service (or an earlier run) created it first: exactly the state we want.
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw new KafkaException("cannot create topic " + result.getKey() + ": "
                            + e.getCause().getMessage(), e.getCause());
                }
            }
        }
        verifyCompaction(admin);
        return created;
    }

    /**
     * Checks {@code cleanup.policy} of the update topics as the broker reports it.
     *
     * @throws IllegalStateException naming each topic that is not compacted
     */
    public void verifyCompaction(Admin admin) {
        List<ConfigResource> resources = Topics.COMPACTED.stream().sorted()
                .map(topic -> new ConfigResource(ConfigResource.Type.TOPIC, topic)).toList();
        Map<ConfigResource, Config> configs = describeWhenKnown(admin, resources);
        List<String> wrong = new ArrayList<>();
        for (ConfigResource resource : resources) {
            ConfigEntry policy = configs.get(resource).get(TopicConfig.CLEANUP_POLICY_CONFIG);
            String value = policy == null ? "<unset>" : policy.value();
            if (!policies(value).contains(TopicConfig.CLEANUP_POLICY_COMPACT)) {
                wrong.add(resource.name() + " has cleanup.policy=" + value);
            }
        }
        if (!wrong.isEmpty()) {
            throw new IllegalStateException(String.join("; ", wrong) + ", expected compact (fix with kafka-configs"
                    + " --alter --add-config cleanup.policy=compact, or delete and recreate the topic)");
        }
    }

    /**
     * Describes topic configs, retrying while the answering broker does not know a topic yet: in KRaft a
     * created topic reaches each broker's metadata shortly after createTopics returns.
     */
    private Map<ConfigResource, Config> describeWhenKnown(Admin admin, List<ConfigResource> resources) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                return await(admin.describeConfigs(resources).all());
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof UnknownTopicOrPartitionException) || System.nanoTime() > deadline) {
                    throw new KafkaException("cannot describe configs of " + Topics.COMPACTED + ": "
                            + e.getCause().getMessage(), e.getCause());
                }
            }
            try {
                Thread.sleep(METADATA_RETRY_BACKOFF.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new KafkaException("interrupted while waiting for topic metadata", e);
            }
        }
    }

    private static Collection<String> policies(String value) {
        List<String> result = new ArrayList<>();
        for (String part : value.split(",")) {
            result.add(part.strip());
        }
        return result;
    }

    private <T> T await(KafkaFuture<T> future) throws ExecutionException {
        try {
            return future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KafkaException("interrupted while waiting for the Kafka admin client", e);
        } catch (TimeoutException e) {
            throw new KafkaException("Kafka admin call did not finish within " + timeout, e);
        }
    }
}
