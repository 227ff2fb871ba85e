package dev.rlhf.platform.kafka;

import dev.rlhf.platform.config.ConfigKey;
import dev.rlhf.platform.config.ConfigValues;
import java.util.List;

/** Configuration keys every Kafka-using service shares, to include in its {@code ConfigSchema}. */
public final class KafkaKeys {

    public static final ConfigKey<String> BOOTSTRAP_SERVERS = ConfigKey.string("kafka.bootstrap-servers",
            "127.0.0.1:9092", "Kafka bootstrap servers, host:port[,host:port...].");
    public static final ConfigKey<Integer> TOPIC_PARTITIONS = ConfigKey.integer("kafka.topic-partitions", 1, 1, 1024,
            "Partitions of each rlhf topic when a service creates it; the unit of consumer parallelism.");
    public static final ConfigKey<Integer> REPLICATION_FACTOR = ConfigKey.integer("kafka.replication-factor", 1, 1,
            32, "Replicas of each rlhf topic when a service creates it; 3 on a real cluster.");

    /** All of the above, for {@code ConfigSchema.of(prefix, ...)}. */
    public static final List<ConfigKey<?>> ALL = List.of(BOOTSTRAP_SERVERS, TOPIC_PARTITIONS, REPLICATION_FACTOR);

    private KafkaKeys() {
    }

    /** A topic admin with the configured partitions and replication factor. */
    public static TopicAdmin topicAdmin(ConfigValues values) {
        return new TopicAdmin(values.get(TOPIC_PARTITIONS), values.get(REPLICATION_FACTOR).shortValue());
    }
}
