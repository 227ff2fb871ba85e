package dev.rlhf.platform.kafka;

import java.util.Locale;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.kafka.KafkaContainer;

/**
 * Picks the Kafka broker for tests: the in-process {@link EmbeddedKafka} by default, or a Testcontainers
 * {@code apache/kafka} container when {@code -Drlhf.kafka=testcontainers} (or {@code RLHF_TEST_KAFKA=testcontainers})
 * is set and Docker is available; prints which one it uses and why.
 */
public final class KafkaTestSupport {

    /** System property selecting the broker: {@code embedded} (default) or {@code testcontainers}. */
    public static final String PROPERTY = "rlhf.kafka";
    /** Environment variable with the same meaning, for CI configurations that cannot pass -D. */
    public static final String ENV = "RLHF_TEST_KAFKA";
    /** The container image matching the kafka-clients version the services use. */
    public static final String IMAGE = "apache/kafka:4.1.1";

    private KafkaTestSupport() {
    }

    /** Starts a broker; the caller closes it (typically in {@code @AfterAll}). */
    public static KafkaBroker startBroker() {
        String requested = System.getProperty(PROPERTY, System.getenv().getOrDefault(ENV, "embedded"))
                .strip().toLowerCase(Locale.ROOT);
        if (requested.equals("testcontainers")) {
            String unavailable = dockerUnavailableReason();
            if (unavailable == null) {
                KafkaContainer container = new KafkaContainer(IMAGE);
                container.start();
                KafkaBroker broker = new ContainerBroker(container);
                System.out.println("[kafka-test] using " + broker.description());
                return broker;
            }
            System.out.println("[kafka-test] Testcontainers requested but Docker is not available ("
                    + unavailable + "); falling back to the embedded broker");
        } else if (!requested.equals("embedded")) {
            throw new IllegalArgumentException(PROPERTY + " must be 'embedded' or 'testcontainers', got '"
                    + requested + "'");
        }
        EmbeddedKafka kafka = EmbeddedKafka.start();
        System.out.println("[kafka-test] using " + kafka.description());
        return kafka;
    }

    /** {@link #startBroker()} with every project topic created, {@code partitions} partitions each, replication 1. */
    public static KafkaBroker startBrokerWithTopics(int partitions) {
        KafkaBroker broker = startBroker();
        try (org.apache.kafka.clients.admin.Admin admin = KafkaClients.admin(broker.bootstrapServers(),
                "test-topics")) {
            new TopicAdmin(partitions, (short) 1).ensureTopics(admin);
        } catch (RuntimeException e) {
            broker.close();
            throw e;
        }
        return broker;
    }

    /** Null when Docker answers, otherwise why not. */
    private static String dockerUnavailableReason() {
        try {
            DockerClientFactory.instance().client();
            return null;
        } catch (Throwable e) {
            return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        }
    }

    private record ContainerBroker(KafkaContainer container) implements KafkaBroker {
        @Override
        public String bootstrapServers() {
            return container.getBootstrapServers();
        }

        @Override
        public String description() {
            return "Testcontainers " + IMAGE + " at " + bootstrapServers();
        }

        @Override
        public void close() {
            container.stop();
        }
    }
}
