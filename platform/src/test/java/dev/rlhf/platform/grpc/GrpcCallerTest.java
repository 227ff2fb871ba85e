package dev.rlhf.platform.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.platform.tracing.InMemoryTracing;
import dev.rlhf.platform.tracing.Tracing;
import dev.rlhf.proto.v1.RewardServiceGrpcClient;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.context.Scope;
import io.opentelemetry.sdk.trace.data.SpanData;
import java.util.concurrent.CompletableFuture;
import dev.rlhf.proto.v1.ScoreRequest;
import dev.rlhf.proto.v1.ScoreResponse;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.junit5.VertxExtension;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
class GrpcCallerTest {

    private static final Duration FAST = Duration.ofMillis(5);

    private ServerFixture server;
    private GrpcClient client;
    private GrpcCaller caller;

    @BeforeEach
    void start(Vertx vertx) {
        server = new ServerFixture(vertx, new SimpleMeterRegistry(), GrpcServerSettings.DEFAULT_MAX_MESSAGE_BYTES);
        client = GrpcClients.create(vertx);
        caller = new GrpcCaller(vertx, client, server.endpoint());
    }

    @AfterEach
    void stop() throws InterruptedException {
        client.close().await();
        server.close();
    }

    private static ScoreRequest request(String prompt, String... responses) {
        return ScoreRequest.newBuilder().setPrompt(prompt).addAllResponses(List.of(responses)).build();
    }

    private static GrpcStatusException failure(Throwable thrown) {
        return assertInstanceOf(GrpcStatusException.class, thrown);
    }

    @Test
    void vertxClientGetsScores() {
        ScoreResponse response = caller.call(RewardServiceGrpcClient.Score, request("hi", "abc", ""),
                CallOptions.once(Duration.ofSeconds(5))).await();

        assertEquals(List.of(3f, 0f), response.getScoresList().stream().map(s -> s.getRaw()).toList());
    }

    @Test
    void idempotentCallSucceedsOnTheThirdAttemptAfterTwoUnavailable() {
        CallOptions options = CallOptions.idempotent(Duration.ofSeconds(5), 4).withBackoff(FAST, FAST);

        ScoreResponse response = caller.call(RewardServiceGrpcClient.Score, request("flaky", "ab"), options).await();

        assertEquals(2f, response.getScores(0).getRaw());
        assertEquals(3, server.service.flakyAttempts.get());
    }

    @Test
    void aCallContinuesTheCallersTraceOnTheServerAndItsAnswerRunsInTheCallersContext() throws Exception {
        try (InMemoryTracing tracing = new InMemoryTracing()) {
            Span round = Tracing.tracer().spanBuilder("round").startSpan();
            CompletableFuture<String> currentAtAnswer = new CompletableFuture<>();
            try (Scope ignored = round.makeCurrent()) {
                caller.call(RewardServiceGrpcClient.Score, request("flaky", "ab"),
                                CallOptions.idempotent(Duration.ofSeconds(5), 4).withBackoff(FAST, FAST))
                        .onComplete(ar -> currentAtAnswer.complete(Span.current().getSpanContext().getSpanId()));
            }
            assertEquals(round.getSpanContext().getSpanId(), currentAtAnswer.get(30, TimeUnit.SECONDS),
                    "what follows the answer belongs to the caller's span, not to the event loop's empty context");
            round.end();

            String method = "rlhf.v1.RewardService/Score";
            List<SpanData> spans = tracing.await(s -> s.stream().filter(d -> d.getName().equals(method)).count() == 4,
                    Duration.ofSeconds(30));
            SpanData client = spans.stream().filter(d -> d.getKind() == SpanKind.CLIENT).findFirst().orElseThrow();
            List<SpanData> attempts = spans.stream().filter(d -> d.getKind() == SpanKind.SERVER).toList();
            assertEquals(round.getSpanContext().getSpanId(), client.getParentSpanId());
            assertEquals(3, attempts.size(), "one server span per attempt: two UNAVAILABLE, one OK");
            for (SpanData attempt : attempts) {
                assertEquals(client.getTraceId(), attempt.getTraceId());
                assertEquals(client.getSpanId(), attempt.getParentSpanId());
            }
            assertEquals(List.of(14L, 14L, 0L), attempts.stream()
                    .map(a -> a.getAttributes().get(AttributeKey.longKey("rpc.grpc.status_code"))).toList());
            assertEquals(StatusCode.UNSET, client.getStatus().getStatusCode());
            assertEquals(0L, client.getAttributes().get(AttributeKey.longKey("rpc.grpc.status_code")));
        }
    }

    @Test
    void aFailedCallsSpanCarriesItsStatus() throws Exception {
        try (InMemoryTracing tracing = new InMemoryTracing()) {
            assertThrows(Throwable.class, () -> caller.call(RewardServiceGrpcClient.Score, request("invalid", "x"),
                    CallOptions.once(Duration.ofSeconds(5))).await());
            SpanData client = tracing.await(s -> s.stream().anyMatch(d -> d.getKind() == SpanKind.CLIENT),
                    Duration.ofSeconds(30)).stream().filter(d -> d.getKind() == SpanKind.CLIENT).findFirst()
                    .orElseThrow();
            assertEquals(StatusCode.ERROR, client.getStatus().getStatusCode());
            assertEquals("INVALID_ARGUMENT: prompt 'invalid' is not a valid prompt",
                    client.getStatus().getDescription());
            assertEquals(3L, client.getAttributes().get(AttributeKey.longKey("rpc.grpc.status_code")));
        }
    }

    @Test
    void nonIdempotentCallIsAttemptedOnce() {
        Throwable thrown = assertThrows(Throwable.class, () -> caller.call(RewardServiceGrpcClient.Score,
                request("flaky", "ab"), CallOptions.once(Duration.ofSeconds(5))).await());

        assertEquals(GrpcStatus.UNAVAILABLE, failure(thrown).status());
        assertEquals("model still loading", thrown.getMessage());
        assertEquals(1, server.service.flakyAttempts.get());
    }

    @Test
    void serverMessageReachesTheCaller() {
        Throwable thrown = assertThrows(Throwable.class, () -> caller.call(RewardServiceGrpcClient.Score,
                request("invalid", "x"), CallOptions.idempotent(Duration.ofSeconds(5), 3)).await());

        assertEquals(GrpcStatus.INVALID_ARGUMENT, failure(thrown).status());
        assertEquals("prompt 'invalid' is not a valid prompt", thrown.getMessage());
    }

    @Test
    void deadlineFailsTheCallWithDeadlineExceededAndIsNotRetriedOnceSent() throws Exception {
        CallOptions options = CallOptions.idempotent(Duration.ofMillis(200), 3).withBackoff(FAST, FAST);

        Throwable thrown = assertThrows(Throwable.class,
                () -> caller.call(RewardServiceGrpcClient.Score, request("block", "x"), options).await());

        assertEquals(GrpcStatus.DEADLINE_EXCEEDED, failure(thrown).status());
        assertTrue(server.service.blockedWorkSawCancel.get(5, TimeUnit.SECONDS));
    }

    @Test
    void deadlineBeforeTheRequestIsSentIsRetriedForIdempotentCalls(Vertx vertx) throws Exception {
        // Accepts TCP connections in the kernel backlog but never speaks HTTP/2, so no request is ever sent.
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            GrpcCaller stuck = new GrpcCaller(vertx, client, new ServiceEndpoint("127.0.0.1", silent.getLocalPort()));
            CallOptions options = CallOptions.idempotent(Duration.ofMillis(100), 3).withBackoff(FAST, FAST);

            long start = System.nanoTime();
            Throwable thrown = assertThrows(Throwable.class,
                    () -> stuck.call(RewardServiceGrpcClient.Score, request("hi", "x"), options).await());
            long elapsedMs = (System.nanoTime() - start) / 1_000_000;

            assertEquals(GrpcStatus.DEADLINE_EXCEEDED, failure(thrown).status());
            assertTrue(thrown.getMessage().startsWith("could not send"), thrown.getMessage());
            assertTrue(elapsedMs >= 300, "three attempts of 100 ms, took " + elapsedMs + " ms");
        }
    }

    @Test
    void unreachableServerIsUnavailableAfterEveryAttempt(Vertx vertx) throws Exception {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        GrpcCaller nowhere = new GrpcCaller(vertx, client, new ServiceEndpoint("127.0.0.1", closedPort));
        CallOptions options = CallOptions.idempotent(Duration.ofSeconds(2), 3).withBackoff(FAST, FAST);

        Throwable thrown = assertThrows(Throwable.class,
                () -> nowhere.call(RewardServiceGrpcClient.Score, request("hi", "x"), options).await());

        assertEquals(GrpcStatus.UNAVAILABLE, failure(thrown).status());
        assertTrue(thrown.getMessage().contains("127.0.0.1:" + closedPort), thrown.getMessage());
    }
}
