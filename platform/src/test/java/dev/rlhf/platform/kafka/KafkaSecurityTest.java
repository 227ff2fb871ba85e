package dev.rlhf.platform.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.platform.config.ConfigException;
import dev.rlhf.platform.config.ConfigSchema;
import dev.rlhf.platform.config.ConfigValues;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The mapping of the kafka.security-protocol / sasl / ssl keys to client properties; no broker needed. */
class KafkaSecurityTest {

    private static final ConfigSchema SCHEMA = ConfigSchema.of("policy", KafkaKeys.ALL);
    private static final String JAAS = "org.apache.kafka.common.security.scram.ScramLoginModule required "
            + "username=\"sampler\" password=\"s3cret\";";

    private static ConfigValues load(Map<String, String> env) {
        return SCHEMA.loader().env(env).load();
    }

    @Test
    void plaintextByDefaultAddsNothing() {
        KafkaSecurity security = KafkaSecurity.from(load(Map.of()));
        assertEquals(KafkaSecurity.PLAINTEXT, security);
        assertEquals(Map.of(), security.apply(new HashMap<>()));
    }

    @Test
    void saslSslWithTruststoreSetsExactlyTheClientProperties() {
        KafkaSecurity security = KafkaSecurity.from(load(Map.of(
                "RLHF_KAFKA_SECURITY_PROTOCOL", "SASL_SSL",
                "RLHF_KAFKA_SASL_JAAS_CONFIG", JAAS,
                "RLHF_KAFKA_SSL_TRUSTSTORE_LOCATION", "/etc/kafka-ca/ca.crt")));
        assertEquals(Map.of(
                "security.protocol", "SASL_SSL",
                "sasl.mechanism", "SCRAM-SHA-512",
                "sasl.jaas.config", JAAS,
                "ssl.truststore.type", "PEM",
                "ssl.truststore.location", "/etc/kafka-ca/ca.crt"), security.apply(new HashMap<>()));
    }

    @Test
    void sslWithoutSaslSetsNoCredentials() {
        KafkaSecurity security = KafkaSecurity.from(load(Map.of("RLHF_KAFKA_SECURITY_PROTOCOL", "SSL")));
        assertEquals(Map.of("security.protocol", "SSL"), security.apply(new HashMap<>()));
    }

    @Test
    void saslWithoutJaasIsRejectedNamingTheKey() {
        ConfigValues values = load(Map.of("RLHF_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"));
        ConfigException e = assertThrows(ConfigException.class, () -> KafkaSecurity.from(values));
        assertEquals(List.of("kafka.sasl-jaas-config"), e.keys());
        assertTrue(e.getMessage().contains("kafka.sasl-jaas-config"), e.getMessage());
    }

    @Test
    void unknownProtocolIsRejectedNamingTheKey() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> load(Map.of("RLHF_KAFKA_SECURITY_PROTOCOL", "TLS")));
        assertEquals(List.of("kafka.security-protocol"), e.keys());
    }

    @Test
    void theJaasValueIsNeverPrinted() {
        ConfigValues values = load(Map.of("RLHF_KAFKA_SECURITY_PROTOCOL", "SASL_SSL",
                "RLHF_KAFKA_SASL_JAAS_CONFIG", JAAS));
        assertFalse(values.toString().contains("s3cret"), values.toString());
        assertTrue(values.toString().contains("kafka.sasl-jaas-config=<hidden>"), values.toString());
        assertFalse(KafkaSecurity.from(values).toString().contains("s3cret"));
    }

    @Test
    void installedSettingsReachEveryClientMap() {
        try {
            KafkaSecurity.install(load(Map.of("RLHF_KAFKA_SECURITY_PROTOCOL", "SASL_SSL",
                    "RLHF_KAFKA_SASL_JAAS_CONFIG", JAAS)));
            for (Map<String, Object> config : List.of(
                    KafkaClients.producerConfig("k:9094", "p"),
                    KafkaClients.transactionalProducerConfig("k:9094", "p", "t"),
                    KafkaClients.consumerConfig("k:9094", "g", "c"),
                    KafkaClients.assignedConsumerConfig("k:9094", "c"),
                    KafkaClients.adminConfig("k:9094", "a"))) {
                assertEquals("SASL_SSL", config.get("security.protocol"));
                assertEquals(JAAS, config.get("sasl.jaas.config"));
            }
        } finally {
            KafkaSecurity.install(load(Map.of()));
        }
        assertFalse(KafkaClients.producerConfig("k:9092", "p").containsKey("security.protocol"));
    }
}
