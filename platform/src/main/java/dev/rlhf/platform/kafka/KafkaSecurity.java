package dev.rlhf.platform.kafka;

import dev.rlhf.platform.config.ConfigException;
import dev.rlhf.platform.config.ConfigValues;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.common.config.SaslConfigs;
import org.apache.kafka.common.config.SslConfigs;

/**
 * How a process's Kafka clients connect and authenticate, from the {@code kafka.security-protocol},
 * {@code kafka.sasl-*} and {@code kafka.ssl-*} keys of {@link KafkaKeys}.
 *
 * <p>It is process-wide rather than passed to every client: each service's {@code main()} calls
 * {@link #install(ConfigValues)} once, and {@link KafkaClients} adds it to every client map it builds. In-process
 * runs (tests, {@code ./rlhf up}) never install one and keep {@link #PLAINTEXT}.
 */
public record KafkaSecurity(String protocol, String saslMechanism, String jaasConfig, String truststoreLocation) {

    /** No settings at all: the client defaults, an unauthenticated plaintext connection. */
    public static final KafkaSecurity PLAINTEXT = new KafkaSecurity("PLAINTEXT", "SCRAM-SHA-512", "", "");

    private static volatile KafkaSecurity current = PLAINTEXT;

    public KafkaSecurity {
        Objects.requireNonNull(protocol, "protocol");
        Objects.requireNonNull(saslMechanism, "saslMechanism");
        Objects.requireNonNull(jaasConfig, "jaasConfig");
        Objects.requireNonNull(truststoreLocation, "truststoreLocation");
    }

    /**
     * The settings of a loaded configuration.
     *
     * @throws ConfigException for SASL without {@code kafka.sasl-jaas-config}: the client would otherwise fail
     *                         only at its first connection, with a less direct message
     */
    public static KafkaSecurity from(ConfigValues values) {
        KafkaSecurity security = new KafkaSecurity(values.get(KafkaKeys.SECURITY_PROTOCOL),
                values.get(KafkaKeys.SASL_MECHANISM), values.get(KafkaKeys.SASL_JAAS_CONFIG).strip(),
                values.get(KafkaKeys.SSL_TRUSTSTORE_LOCATION).strip());
        if (security.sasl() && security.jaasConfig.isEmpty()) {
            String key = KafkaKeys.SASL_JAAS_CONFIG.name();
            throw new ConfigException(List.of(key), List.of(key + ": required when "
                    + KafkaKeys.SECURITY_PROTOCOL.name() + " is " + security.protocol + " (set "
                    + KafkaKeys.SASL_JAAS_CONFIG.envVar() + ")"));
        }
        return security;
    }

    /** Reads the settings and makes them those of every client this process builds from now on. */
    public static KafkaSecurity install(ConfigValues values) {
        KafkaSecurity security = from(values);
        current = security;
        return security;
    }

    /**
     * {@code toRecord} preceded by {@link #install}: what a service's {@code main()} passes to
     * {@code ConfigLoader.load}, so its Kafka settings are installed from the same loaded values.
     */
    public static <R> java.util.function.Function<ConfigValues, R> installing(
            java.util.function.Function<ConfigValues, R> toRecord) {
        return values -> {
            install(values);
            return toRecord.apply(values);
        };
    }

    /** The settings {@link KafkaClients} applies now. */
    public static KafkaSecurity current() {
        return current;
    }

    /** Adds the client properties to {@code config}; PLAINTEXT adds nothing, so client defaults stay as before. */
    public Map<String, Object> apply(Map<String, Object> config) {
        if (protocol.equals("PLAINTEXT")) {
            return config;
        }
        config.put(CommonClientConfigs.SECURITY_PROTOCOL_CONFIG, protocol);
        if (sasl()) {
            config.put(SaslConfigs.SASL_MECHANISM, saslMechanism);
            config.put(SaslConfigs.SASL_JAAS_CONFIG, jaasConfig);
        }
        if (!truststoreLocation.isEmpty()) {
            // Strimzi hands out its cluster CA as PEM (ca.crt), which the client reads without a JKS conversion.
            config.put(SslConfigs.SSL_TRUSTSTORE_TYPE_CONFIG, "PEM");
            config.put(SslConfigs.SSL_TRUSTSTORE_LOCATION_CONFIG, truststoreLocation);
        }
        return config;
    }

    private boolean sasl() {
        return protocol.startsWith("SASL_");
    }

    /** Never the credentials, should a record ever be logged. */
    @Override
    public String toString() {
        return "KafkaSecurity[protocol=" + protocol + ", saslMechanism=" + saslMechanism + ", jaasConfig="
                + (jaasConfig.isEmpty() ? "" : "<hidden>") + ", truststoreLocation=" + truststoreLocation + "]";
    }
}
