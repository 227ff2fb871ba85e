package dev.rlhf.platform.kafka;

/** A running Kafka cluster that code under test or a local run can connect to. */
public interface KafkaBroker extends AutoCloseable {

    /** The {@code bootstrap.servers} value for clients, e.g. {@code 127.0.0.1:40123}. */
    String bootstrapServers();

    /** What this broker is, for logs: which kind and where. */
    String description();

    /** Stops the broker and frees what it holds; does not throw checked exceptions. */
    @Override
    void close();
}
