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

    // Client security (see KafkaSecurity); the defaults keep the plaintext, unauthenticated connection.
    public static final ConfigKey<String> SECURITY_PROTOCOL = ConfigKey.oneOf("kafka.security-protocol",
            List.of("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"), "PLAINTEXT",
            "How clients connect to Kafka; SASL_SSL for an authenticated TLS listener (Strimzi scram-sha-512).");
    public static final ConfigKey<String> SASL_MECHANISM = ConfigKey.oneOf("kafka.sasl-mechanism",
            List.of("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"), "SCRAM-SHA-512",
            "SASL mechanism; used only with SASL_PLAINTEXT or SASL_SSL.");
    public static final ConfigKey<String> SASL_JAAS_CONFIG = ConfigKey.secret("kafka.sasl-jaas-config", "",
            "JAAS login line with the user's credentials (the sasl.jaas.config key of a Strimzi KafkaUser "
                    + "secret); required with SASL_*; never printed.");
    public static final ConfigKey<String> SSL_TRUSTSTORE_LOCATION = ConfigKey.string("kafka.ssl-truststore-location",
            "", "PEM file of the CA certificates to trust (Strimzi's cluster CA ca.crt); empty = the JVM's.");

    /** All of the above, for {@code ConfigSchema.of(prefix, ...)}. */
    public static final List<ConfigKey<?>> ALL = List.of(BOOTSTRAP_SERVERS, TOPIC_PARTITIONS, REPLICATION_FACTOR,
            SECURITY_PROTOCOL, SASL_MECHANISM, SASL_JAAS_CONFIG, SSL_TRUSTSTORE_LOCATION);

    private KafkaKeys() {
    }

    /** A topic admin with the configured partitions and replication factor. */
    public static TopicAdmin topicAdmin(ConfigValues values) {
        return new TopicAdmin(values.get(TOPIC_PARTITIONS), values.get(REPLICATION_FACTOR).shortValue());
    }
}
