package dev.rlhf.platform.kafka;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Client settings for the rlhf services, one reason per setting; the returned maps are mutable so a caller
 * can add its own (serializers, {@code max.poll.records}) before building a client.
 */
public final class KafkaClients {

    private KafkaClients() {
    }

    /** An idempotent producer that writes each record once and in order per partition, even across retries. */
    public static Map<String, Object> producerConfig(String bootstrapServers, String clientId) {
        Map<String, Object> config = common(bootstrapServers, clientId);
        // The broker de-duplicates retried batches by producer id and sequence, so a retry never writes twice.
        config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        // A record counts as written only once every in-sync replica has it; idempotence requires this anyway.
        config.put(ProducerConfig.ACKS_CONFIG, "all");
        // Idempotence keeps per-partition order with up to 5 requests in flight; more would risk reordering.
        config.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5);
        return config;
    }

    /**
     * A transactional producer for consume-process-produce: outputs and input offsets commit atomically.
     *
     * @param transactionalId stable per instance (e.g. {@code sampler-0}): a restarted instance with the same
     *                        id fences its predecessor, so a zombie cannot commit after the restart
     */
    public static Map<String, Object> transactionalProducerConfig(String bootstrapServers, String clientId,
                                                                  String transactionalId) {
        Map<String, Object> config = producerConfig(bootstrapServers, clientId);
        // Identifies this producer across restarts; it is what makes fencing of zombie instances possible.
        config.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, Objects.requireNonNull(transactionalId));
        // An open transaction of a crashed instance holds back read_committed readers until it times out.
        config.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 60_000);
        return config;
    }

    /** A group consumer that sees only committed transactional data and never commits offsets on its own. */
    public static Map<String, Object> consumerConfig(String bootstrapServers, String groupId, String clientId) {
        Map<String, Object> config = common(bootstrapServers, clientId);
        // Partitions are spread over the group's members, and committed offsets are kept per group.
        config.put(ConsumerConfig.GROUP_ID_CONFIG, Objects.requireNonNull(groupId));
        // Records of aborted or still-open transactions must never reach processing or training.
        config.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, IsolationLevel.READ_COMMITTED.toString());
        // Offsets are committed with the output transaction (or after processing), never on a timer.
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        // A new group starts at the oldest record, so prompts queued before the first deploy are not skipped.
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        return config;
    }

    /**
     * A consumer for manual partition assignment (no group): for readers that keep their own positions, such as
     * the trainer, whose checkpoints record the offsets they include.
     */
    public static Map<String, Object> assignedConsumerConfig(String bootstrapServers, String clientId) {
        Map<String, Object> config = common(bootstrapServers, clientId);
        // Records of aborted or still-open transactions must never reach training.
        config.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, IsolationLevel.READ_COMMITTED.toString());
        // Positions live in the reader's own state; there is no group to commit to.
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        // A partition the reader has never recorded starts at its oldest record.
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        return config;
    }

    /** An admin client for topic management. */
    public static Map<String, Object> adminConfig(String bootstrapServers, String clientId) {
        return common(bootstrapServers, clientId);
    }

    /** A producer of raw bytes; {@link TransactionalLoop} serializes Protobuf values itself. */
    public static KafkaProducer<byte[], byte[]> bytesProducer(Map<String, Object> config) {
        return new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer());
    }

    /** A consumer of raw bytes, so that undecodable values reach the code that can dead-letter them. */
    public static KafkaConsumer<byte[], byte[]> bytesConsumer(Map<String, Object> config) {
        return new KafkaConsumer<>(config, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    public static Admin admin(String bootstrapServers, String clientId) {
        return Admin.create(adminConfig(bootstrapServers, clientId));
    }

    private static Map<String, Object> common(String bootstrapServers, String clientId) {
        Map<String, Object> config = new HashMap<>();
        // Only the first contact: the client learns the rest of the cluster from it.
        config.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, Objects.requireNonNull(bootstrapServers));
        // Names this client in broker logs, quotas and client metrics.
        config.put(CommonClientConfigs.CLIENT_ID_CONFIG, Objects.requireNonNull(clientId));
        // Every client of the process authenticates alike, as its main() configured (plaintext by default).
        KafkaSecurity.current().apply(config);
        return config;
    }
}
