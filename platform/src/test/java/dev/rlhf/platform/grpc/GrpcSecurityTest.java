package dev.rlhf.platform.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.proto.v1.RewardServiceGrpcClient;
import dev.rlhf.proto.v1.ScoreRequest;
import io.vertx.grpc.common.GrpcMessageDecoder;
import io.vertx.grpc.common.GrpcMessageEncoder;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.common.ServiceName;
import io.vertx.grpc.health.v1.HealthCheckRequest;
import io.vertx.grpc.health.v1.HealthCheckResponse;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.common.GrpcStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TLS, mutual TLS and the bearer token, over real sockets with certificates keytool made for the test. */
class GrpcSecurityTest {
    /** grpc.health.v1.Health/Check as a client method (Vert.x ships the messages, not a client stub). */
    private static final ServiceMethod<HealthCheckResponse, HealthCheckRequest> HEALTH_CHECK = ServiceMethod.client(
            ServiceName.create("grpc.health.v1.Health"), "Check", GrpcMessageEncoder.encoder(),
            GrpcMessageDecoder.decoder(HealthCheckResponse.newBuilder()));

    @TempDir
    static Path tmp;
    static TestCertificates certs;
    static Path tokenFile;
    static Vertx vertx;
    static BlockingExecutor models;
    static GrpcServerHost tlsWithToken;
    static GrpcServerHost mutual;
    static int healthPort;

    @BeforeAll
    static void start() throws Exception {
        certs = TestCertificates.create(tmp.resolve("certs"));
        tokenFile = Files.writeString(tmp.resolve("token"), "s3cret-token\n");
        vertx = Vertx.vertx();
        models = new BlockingExecutor(vertx, "test-model", 2, 8);
        try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
            healthPort = free.getLocalPort();
        }
        tlsWithToken = host(new GrpcSecurity.Server(certs.serverCert, certs.serverKey, null, tokenFile, healthPort));
        mutual = host(new GrpcSecurity.Server(certs.serverCert, certs.serverKey, certs.caCert, null));
    }

    private static GrpcServerHost host(GrpcSecurity.Server security) {
        GrpcServerHost host = new GrpcServerHost(vertx, new GrpcServerSettings("127.0.0.1", 0,
                GrpcServerSettings.DEFAULT_MAX_MESSAGE_BYTES, security), new SimpleMeterRegistry(),
                List.of(new TestRewardService(models)));
        host.start().await();
        host.setServing(true);
        return host;
    }

    @AfterAll
    static void stop() {
        tlsWithToken.shutdown(Duration.ofSeconds(1)).await();
        mutual.shutdown(Duration.ofSeconds(1)).await();
        models.close();
        vertx.close().await();
    }

    /** A Score call to {@code host} with {@code security} and {@code token}; the failure, or null on success. */
    private static GrpcStatusException score(GrpcServerHost host, GrpcSecurity.Client security, String token) {
        GrpcClient client = GrpcClients.create(vertx, GrpcClients.DEFAULT_MAX_MESSAGE_BYTES, security);
        try {
            new GrpcCaller(vertx, client, new ServiceEndpoint("127.0.0.1", host.port()), token)
                    .call(RewardServiceGrpcClient.Score, ScoreRequest.newBuilder().setPrompt("hi")
                            .addResponses("abc").build(), CallOptions.once(Duration.ofSeconds(5))).await();
            return null;
        } catch (RuntimeException e) {
            return assertInstanceOf(GrpcStatusException.class, e);
        } finally {
            client.close().await();
        }
    }

    @Test
    void overTlsACallNeedsTheBearerTokenAndHealthChecksDoNot() {
        GrpcSecurity.Client tls = new GrpcSecurity.Client(true, certs.caCert, null, null, null);
        assertEquals(null, score(tlsWithToken, tls, "s3cret-token"), "the right token over TLS");
        GrpcStatusException none = score(tlsWithToken, tls, null);
        assertEquals(GrpcStatus.UNAUTHENTICATED, none.status(), none.toString());
        assertTrue(none.getMessage().contains("needs a bearer token"), none.getMessage());
        assertEquals(GrpcStatus.UNAUTHENTICATED, score(tlsWithToken, tls, "s3cret-tokeN").status());
        // Kubernetes' gRPC probes carry no token: health answers anyway.
        GrpcClient client = GrpcClients.create(vertx, GrpcClients.DEFAULT_MAX_MESSAGE_BYTES, tls);
        try {
            var health = new GrpcCaller(vertx, client, new ServiceEndpoint("127.0.0.1", tlsWithToken.port()))
                    .call(HEALTH_CHECK, HealthCheckRequest.getDefaultInstance(),
                            CallOptions.once(Duration.ofSeconds(5))).await();
            assertEquals("SERVING", health.getStatus().name());
        } finally {
            client.close().await();
        }
    }

    /** Kubernetes' gRPC probes speak plaintext: a second port answers health, and nothing else. */
    @Test
    void thePlaintextHealthPortAnswersHealthOnly() {
        GrpcClient client = GrpcClients.create(vertx);
        try {
            ServiceEndpoint plain = new ServiceEndpoint("127.0.0.1", healthPort);
            var health = new GrpcCaller(vertx, client, plain).call(HEALTH_CHECK, HealthCheckRequest.getDefaultInstance(),
                    CallOptions.once(Duration.ofSeconds(5))).await();
            assertEquals("SERVING", health.getStatus().name());
            GrpcStatusException score = assertInstanceOf(GrpcStatusException.class, assertThrows(RuntimeException.class,
                    () -> new GrpcCaller(vertx, client, plain, "s3cret-token").call(RewardServiceGrpcClient.Score,
                            ScoreRequest.newBuilder().setPrompt("hi").addResponses("a").build(),
                            CallOptions.once(Duration.ofSeconds(5))).await()));
            assertEquals(GrpcStatus.UNIMPLEMENTED, score.status(), score.toString());
        } finally {
            client.close().await();
        }
    }

    @Test
    void aClientThatDoesNotTrustTheServerOrSpeaksPlaintextGetsNoAnswer() {
        GrpcStatusException untrusted = score(tlsWithToken,
                new GrpcSecurity.Client(true, certs.rogueCert, null, null, null), "s3cret-token");
        assertNotEquals(null, untrusted, "a server certificate the client's CA did not sign is refused");
        GrpcStatusException plaintext = score(tlsWithToken, GrpcSecurity.Client.NONE, "s3cret-token");
        assertNotEquals(null, plaintext, "plaintext to a TLS port");
    }

    @Test
    void mutualTlsAcceptsTheCasClientCertificateAndFailsTheHandshakeForAnyOther() {
        assertEquals(null, score(mutual, new GrpcSecurity.Client(true, certs.caCert, certs.clientCert,
                certs.clientKey, null), null), "the CA-signed client certificate");
        GrpcStatusException rogue = score(mutual, new GrpcSecurity.Client(true, certs.caCert, certs.rogueCert,
                certs.rogueKey, null), null);
        assertNotEquals(null, rogue, "a client certificate the server's CA did not sign");
        assertEquals(GrpcStatus.UNAVAILABLE, rogue.status(), rogue.toString());
        GrpcStatusException without = score(mutual, new GrpcSecurity.Client(true, certs.caCert, null, null, null),
                null);
        assertNotEquals(null, without, "no client certificate at all");
    }

    @Test
    void halfConfiguredSecurityIsRefusedAtOnce() {
        assertThrows(IllegalArgumentException.class,
                () -> new GrpcSecurity.Server(certs.serverCert, null, null, null));
        assertThrows(IllegalArgumentException.class,
                () -> new GrpcSecurity.Server(null, null, certs.caCert, null));
        assertThrows(IllegalArgumentException.class,
                () -> new GrpcSecurity.Client(false, certs.caCert, null, null, null));
        assertThrows(IllegalArgumentException.class, () -> GrpcSecurity.readToken(tmp.resolve("missing")));
    }
}
