package dev.rlhf.platform.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.platform.grpc.TestCertificates;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.errors.TransactionalIdAuthorizationException;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kafka SASL/SCRAM over TLS with ACLs, against the embedded KRaft broker started with a SASL_SSL listener and the
 * standard authorizer: the services' users get exactly the rights their KafkaUsers in k8s/base/kafka/users.yaml
 * grant (read from that file), and the clients log in as the services do ({@link KafkaSecurity}). The plaintext
 * listener stays for the test's own administration (its anonymous principal is the super user).
 */
class KafkaAclTest {
    private static final Path USERS = Path.of("..", "k8s", "base", "kafka", "users.yaml");

    @TempDir
    static Path tmp;
    static EmbeddedKafka kafka;
    static String secured;
    static TestCertificates certs;

    @BeforeAll
    static void start() throws Exception {
        certs = TestCertificates.create(tmp.resolve("certs"));
        // A PEM key store is one file: the private key, then the certificate chain.
        Path keystore = Files.writeString(tmp.resolve("broker.pem"), Files.readString(certs.serverKey)
                + Files.readString(certs.serverCert));
        int[] ports = freePorts(3);
        secured = "127.0.0.1:" + ports[1];
        String controller = "127.0.0.1:" + ports[2];
        kafka = EmbeddedKafka.builder().port(ports[0]).controllerPort(ports[2])
                .brokerProperty("listeners", "PLAINTEXT://127.0.0.1:" + ports[0] + ",SASL_SSL://" + secured
                        + ",CONTROLLER://" + controller)
                .brokerProperty("advertised.listeners", "PLAINTEXT://127.0.0.1:" + ports[0] + ",SASL_SSL://" + secured)
                .brokerProperty("listener.security.protocol.map",
                        "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT")
                .brokerProperty("listener.name.sasl_ssl.sasl.enabled.mechanisms", "SCRAM-SHA-512")
                .brokerProperty("listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config",
                        "org.apache.kafka.common.security.scram.ScramLoginModule required;")
                .brokerProperty("listener.name.sasl_ssl.ssl.keystore.type", "PEM")
                .brokerProperty("listener.name.sasl_ssl.ssl.keystore.location", keystore.toString())
                .brokerProperty("authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer")
                .brokerProperty("super.users", "User:ANONYMOUS")
                .start();
        try (Admin admin = KafkaClients.admin(kafka.bootstrapServers(), "acl-test-admin")) {
            new TopicAdmin(1, (short) 1).ensureTopics(admin);
            List<UserScramCredentialUpsertion> users = new ArrayList<>();
            for (String user : List.of("sampler", "trainer", "policy", "reward")) {
                users.add(new UserScramCredentialUpsertion(user,
                        new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), user + "-password"));
            }
            admin.alterUserScramCredentials(new ArrayList<>(users)).all().get();
            admin.createAcls(aclsFromTheManifests()).all().get();
        }
    }

    @AfterAll
    static void stop() {
        if (kafka != null) {
            kafka.close();
        }
    }

    /** Every ACL of every KafkaUser in users.yaml, as Kafka bindings (ALLOW from any host). */
    static List<AclBinding> aclsFromTheManifests() throws Exception {
        Pattern name = Pattern.compile("^  name: (\\S+)");
        Pattern resource = Pattern.compile("- resource: \\{type: (\\w+), name: ([^,]+), patternType: (\\w+)}");
        Pattern operations = Pattern.compile("operations: \\[([^]]+)]");
        List<AclBinding> acls = new ArrayList<>();
        String user = null;
        ResourcePattern pattern = null;
        for (String line : Files.readAllLines(USERS, StandardCharsets.UTF_8)) {
            Matcher m;
            if ((m = name.matcher(line)).find()) {
                user = m.group(1);
            } else if ((m = resource.matcher(line)).find()) {
                pattern = new ResourcePattern(ResourceType.fromString(type(m.group(1))), m.group(2).strip(),
                        PatternType.fromString(m.group(3).equals("prefix") ? "PREFIXED" // Strimzi's spelling
                        : m.group(3).toUpperCase(Locale.ROOT)));
            } else if ((m = operations.matcher(line)).find()) {
                for (String op : m.group(1).split(",")) {
                    AclOperation operation = AclOperation.fromString(op.strip().replaceAll("([a-z])([A-Z])", "$1_$2"));
                    acls.add(new AclBinding(pattern, new AccessControlEntry("User:" + user, "*", operation,
                            AclPermissionType.ALLOW)));
                }
            }
        }
        assertTrue(acls.size() > 20, "users.yaml read: " + acls.size() + " rules");
        assertTrue(acls.stream().noneMatch(a -> a.pattern().resourceType() == ResourceType.UNKNOWN
                || a.pattern().patternType() == PatternType.UNKNOWN || a.entry().operation() == AclOperation.UNKNOWN),
                "every rule understood: " + acls);
        return acls;
    }

    /** Strimzi's resource type names in Kafka's spelling. */
    private static String type(String strimzi) {
        return switch (strimzi) {
            case "transactionalId" -> "TRANSACTIONAL_ID";
            default -> strimzi.toUpperCase(Locale.ROOT);
        };
    }

    /** A client configuration logging in as {@code user} over SASL_SSL, as a service's main() installs it. */
    private static Map<String, Object> as(String user, String password, Map<String, Object> config) {
        config.put("bootstrap.servers", secured);
        return new KafkaSecurity("SASL_SSL", "SCRAM-SHA-512", "org.apache.kafka.common.security.scram.ScramLoginModule"
                + " required username=\"" + user + "\" password=\"" + password + "\";", certs.caCert.toString())
                .apply(config);
    }

    private static void send(Map<String, Object> config, String topic) throws Exception {
        config.put("max.block.ms", 20_000);
        config.put("delivery.timeout.ms", 20_000);
        config.put("request.timeout.ms", 10_000);
        try (KafkaProducer<byte[], byte[]> producer = KafkaClients.bytesProducer(config)) {
            producer.send(new ProducerRecord<>(topic, "k".getBytes(StandardCharsets.UTF_8), new byte[] {1})).get();
        }
    }

    private static Throwable cause(ThrowingRunnable r) {
        Throwable t = assertThrows(Exception.class, r::run);
        return t instanceof ExecutionException && t.getCause() != null ? t.getCause() : t;
    }

    @FunctionalInterface
    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    @Test
    void theSamplersUserCannotWriteThePolicyUpdatesButTheTrainersCan() throws Exception {
        Throwable refused = cause(() -> send(as("sampler", "sampler-password",
                KafkaClients.producerConfig(secured, "acl-sampler")), Topics.POLICY_UPDATES));
        assertInstanceOf(TopicAuthorizationException.class, refused, refused.toString());
        assertTrue(refused.getMessage().contains(Topics.POLICY_UPDATES), refused.getMessage());
        send(as("trainer", "trainer-password", KafkaClients.producerConfig(secured, "acl-trainer")),
                Topics.POLICY_UPDATES);
    }

    @Test
    void theSamplerWritesItsTopicsInTransactionsUnderItsOwnIdsOnly() throws Exception {
        for (String id : List.of("sampler-0", "trainer-0")) {
            Map<String, Object> config = as("sampler", "sampler-password",
                    KafkaClients.transactionalProducerConfig(secured, "acl-tx", id));
            config.put("max.block.ms", 20_000);
            try (KafkaProducer<byte[], byte[]> producer = KafkaClients.bytesProducer(config)) {
                if (id.equals("trainer-0")) {
                    Throwable refused = cause(producer::initTransactions);
                    assertInstanceOf(TransactionalIdAuthorizationException.class, refused, refused.toString());
                    continue;
                }
                producer.initTransactions();
                producer.beginTransaction();
                producer.send(new ProducerRecord<>(Topics.BEST, new byte[] {1}, new byte[] {2})).get();
                producer.commitTransaction();
            }
        }
    }

    @Test
    void aWrongPasswordIsRefusedAtLogIn() {
        Throwable refused = cause(() -> send(as("sampler", "not-the-password",
                KafkaClients.producerConfig(secured, "acl-wrong")), Topics.BEST));
        assertInstanceOf(SaslAuthenticationException.class, refused, refused.toString());
    }

    private static int[] freePorts(int n) throws Exception {
        int[] ports = new int[n];
        List<ServerSocket> open = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                ServerSocket s = new ServerSocket(0);
                open.add(s);
                ports[i] = s.getLocalPort();
            }
        } finally {
            for (ServerSocket s : open) {
                s.close();
            }
        }
        return ports;
    }
}
