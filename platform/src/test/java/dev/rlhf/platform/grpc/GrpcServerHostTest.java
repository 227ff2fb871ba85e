package dev.rlhf.platform.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.proto.v1.RewardServiceGrpc;
import dev.rlhf.proto.v1.ScoreRequest;
import dev.rlhf.proto.v1.ScoreResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
class GrpcServerHostTest {

    private static final int MAX_MESSAGE_BYTES = 10 * 1024 * 1024;

    private ServerFixture server;

    @BeforeEach
    void start(Vertx vertx) {
        server = new ServerFixture(vertx, new SimpleMeterRegistry(), MAX_MESSAGE_BYTES);
    }

    @AfterEach
    void stop() throws InterruptedException {
        server.close();
    }

    private RewardServiceGrpc.RewardServiceBlockingStub rewards() {
        return RewardServiceGrpc.newBlockingStub(server.channel).withDeadlineAfter(10, TimeUnit.SECONDS);
    }

    private static ScoreRequest request(String prompt, String... responses) {
        return ScoreRequest.newBuilder().setPrompt(prompt).addAllResponses(List.of(responses)).build();
    }

    @Test
    void grpcJavaClientGetsScores() {
        ScoreResponse response = rewards().score(request("hello", "a", "abcd"));

        assertEquals(List.of(1f, 4f), response.getScoresList().stream().map(s -> s.getRaw()).toList());
        assertEquals(7, response.getModelVersion());
    }

    @Test
    void healthIsNotServingUntilReadyAndAgainOnceShutdownBegins() throws Exception {
        HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(server.channel);
        assertEquals(ServingStatus.NOT_SERVING, check(health, ""));
        assertEquals(ServingStatus.NOT_SERVING, check(health, "rlhf.v1.RewardService"));

        server.host.setServing(true);
        assertEquals(ServingStatus.SERVING, check(health, ""));
        assertEquals(ServingStatus.SERVING, check(health, "rlhf.v1.RewardService"));
        StatusRuntimeException unknown = assertThrows(StatusRuntimeException.class,
                () -> check(health, "rlhf.v1.NoSuchService"));
        assertEquals(Status.Code.NOT_FOUND, unknown.getStatus().getCode());

        // A call in flight keeps the server draining, so health can be asked during shutdown.
        CompletableFuture<ScoreResponse> inFlight =
                CompletableFuture.supplyAsync(() -> rewards().score(request("hold", "x")));
        assertTrue(server.service.holdStarted.await(5, TimeUnit.SECONDS));
        var stopping = server.host.shutdown(Duration.ofSeconds(5));
        assertEquals(ServingStatus.NOT_SERVING, check(health, ""));
        assertEquals(ServingStatus.NOT_SERVING, check(health, "rlhf.v1.RewardService"));
        server.host.setServing(true);
        assertEquals(ServingStatus.NOT_SERVING, check(health, ""), "a draining server never serves again");

        server.service.releaseHold.countDown();
        inFlight.get(5, TimeUnit.SECONDS);
        stopping.await(5, TimeUnit.SECONDS);
    }

    @Test
    void watchSendsTheCurrentStatusThenEachChange() throws Exception {
        BlockingQueue<Object> updates = new LinkedBlockingQueue<>();
        HealthGrpc.newStub(server.channel).watch(HealthCheckRequest.newBuilder().setService("").build(),
                new StreamObserver<>() {
                    @Override
                    public void onNext(HealthCheckResponse response) {
                        updates.add(response.getStatus());
                    }

                    @Override
                    public void onError(Throwable t) {
                        updates.add(Status.fromThrowable(t).getCode());
                    }

                    @Override
                    public void onCompleted() {
                        updates.add("completed");
                    }
                });

        assertEquals(ServingStatus.NOT_SERVING, updates.poll(5, TimeUnit.SECONDS));
        server.host.setServing(true);
        assertEquals(ServingStatus.SERVING, updates.poll(5, TimeUnit.SECONDS));
        server.host.shutdown(Duration.ofSeconds(1)).await(5, TimeUnit.SECONDS);
        assertEquals(ServingStatus.NOT_SERVING, updates.poll(5, TimeUnit.SECONDS));
        assertEquals(Status.Code.UNAVAILABLE, updates.poll(5, TimeUnit.SECONDS), "shutdown ends the stream");
    }

    @Test
    void acceptsMessagesOverFourMebibytesAndRefusesThoseOverTheLimit() {
        String eightMib = "x".repeat(8 * 1024 * 1024);
        ScoreResponse response = rewards().score(request("big", eightMib));
        assertEquals(8 * 1024 * 1024, response.getScores(0).getRaw());

        String elevenMib = "x".repeat(11 * 1024 * 1024);
        StatusRuntimeException tooBig = assertThrows(StatusRuntimeException.class,
                () -> rewards().score(request("too big", elevenMib)));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, tooBig.getStatus().getCode());
    }

    @Test
    void deadlineEndsTheCallAndCancelsTheServerWork() throws Exception {
        StatusRuntimeException expired = assertThrows(StatusRuntimeException.class,
                () -> RewardServiceGrpc.newBlockingStub(server.channel)
                        .withDeadlineAfter(200, TimeUnit.MILLISECONDS)
                        .score(request("block", "x")));

        assertEquals(Status.Code.DEADLINE_EXCEEDED, expired.getStatus().getCode());
        assertTrue(server.service.blockedWorkSawCancel.get(5, TimeUnit.SECONDS), "work saw its call cancelled");
    }

    @Test
    void anExpiredCallDoesNotCancelAnotherOnTheSameConnection() throws Exception {
        CompletableFuture<ScoreResponse> held =
                CompletableFuture.supplyAsync(() -> rewards().score(request("hold", "ab")));
        assertTrue(server.service.holdStarted.await(5, TimeUnit.SECONDS));

        assertThrows(StatusRuntimeException.class, () -> RewardServiceGrpc.newBlockingStub(server.channel)
                .withDeadlineAfter(200, TimeUnit.MILLISECONDS).score(request("block", "x")));
        assertTrue(server.service.blockedWorkSawCancel.get(5, TimeUnit.SECONDS));

        server.service.releaseHold.countDown();
        assertEquals(2f, held.get(5, TimeUnit.SECONDS).getScores(0).getRaw());
        assertFalse(server.service.heldWorkSawCancel.get(5, TimeUnit.SECONDS), "each call has its own cancellation");
    }

    @Test
    void shutdownFinishesCallsInFlightAndRefusesNewOnes() throws Exception {
        CompletableFuture<ScoreResponse> inFlight =
                CompletableFuture.supplyAsync(() -> rewards().score(request("hold", "abc")));
        assertTrue(server.service.holdStarted.await(5, TimeUnit.SECONDS));

        var stopping = server.host.shutdown(Duration.ofSeconds(5));
        StatusRuntimeException refused = assertThrows(StatusRuntimeException.class,
                () -> rewards().score(request("late", "x")));
        assertEquals(Status.Code.UNAVAILABLE, refused.getStatus().getCode());
        assertEquals(1, server.host.inFlightCalls());

        server.service.releaseHold.countDown();
        assertEquals(3f, inFlight.get(5, TimeUnit.SECONDS).getScores(0).getRaw());
        stopping.await(5, TimeUnit.SECONDS);
        assertEquals(0, server.host.inFlightCalls());
    }

    @Test
    void illegalArgumentBecomesInvalidArgumentWithItsMessage() {
        StatusRuntimeException invalid = assertThrows(StatusRuntimeException.class,
                () -> rewards().score(request("invalid", "x")));

        assertEquals(Status.Code.INVALID_ARGUMENT, invalid.getStatus().getCode());
        assertEquals("prompt 'invalid' is not a valid prompt", invalid.getStatus().getDescription());
    }

    @Test
    void reflectionListsTheHostedServices() throws Exception {
        CompletableFuture<List<String>> names = new CompletableFuture<>();
        StreamObserver<ServerReflectionRequest> requests = ServerReflectionGrpc.newStub(server.channel)
                .serverReflectionInfo(new StreamObserver<>() {
                    @Override
                    public void onNext(ServerReflectionResponse response) {
                        names.complete(response.getListServicesResponse().getServiceList().stream()
                                .map(ServiceResponse::getName).collect(Collectors.toList()));
                    }

                    @Override
                    public void onError(Throwable t) {
                        names.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {
                    }
                });
        requests.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
        requests.onCompleted();

        assertTrue(names.get(5, TimeUnit.SECONDS).containsAll(
                List.of("rlhf.v1.RewardService", "grpc.health.v1.Health")), names.get().toString());
    }

    private static ServingStatus check(HealthGrpc.HealthBlockingStub health, String service) {
        return health.withDeadlineAfter(5, TimeUnit.SECONDS)
                .check(HealthCheckRequest.newBuilder().setService(service).build()).getStatus();
    }
}
