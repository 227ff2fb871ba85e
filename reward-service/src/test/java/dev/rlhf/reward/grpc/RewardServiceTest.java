package dev.rlhf.reward.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.platform.grpc.BlockingExecutor;
import dev.rlhf.platform.grpc.GrpcServerHost;
import dev.rlhf.platform.grpc.GrpcServerSettings;
import dev.rlhf.proto.v1.RewardKind;
import dev.rlhf.proto.v1.RewardScore;
import dev.rlhf.proto.v1.RewardServiceGrpc;
import dev.rlhf.proto.v1.ScoreRequest;
import dev.rlhf.proto.v1.ScoreResponse;
import dev.rlhf.reward.RewardFixtures;
import dev.rlhf.reward.RewardMain;
import dev.rlhf.vocabulary.HotSwap;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.ClientCalls;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Vertx;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The reward service over real gRPC on loopback, called with grpc-java's standard client. */
class RewardServiceTest {
    static final String PROMPT = "What is 2 plus 3?";
    static final List<String> RESPONSES = List.of("2 plus 3 is 5.", "I cannot help with that request.",
            "The capital of France is Paris.");

    @TempDir
    static Path tmp;
    static Path checkpoint;
    static RewardMain service;
    static ManagedChannel channel;

    @BeforeAll
    static void start() throws Exception {
        checkpoint = RewardFixtures.checkpoint(tmp.resolve("helpful"), 1);
        service = RewardMain.start(RewardFixtures.config(dev.rlhf.vocabulary.RewardKind.HELPFULNESS, checkpoint,
                false, "127.0.0.1:1"), msg -> { });
        channel = channel(service.port());
    }

    @AfterAll
    static void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        service.close();
    }

    static ManagedChannel channel(int port) {
        return ManagedChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    }

    static RewardServiceGrpc.RewardServiceBlockingStub stub(ManagedChannel channel) {
        return RewardServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    static ScoreRequest request(String prompt, List<String> responses) {
        return ScoreRequest.newBuilder().setPrompt(prompt).addAllResponses(responses).build();
    }

    static ServingStatus health(ManagedChannel channel) {
        return HealthGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                .check(HealthCheckRequest.newBuilder().build()).getStatus();
    }

    @Test
    void scoresOneFiniteScorePerResponseInOrderTaggedWithKindAndVersion() {
        ScoreResponse batch = stub(channel).score(request(PROMPT, RESPONSES));
        assertEquals(RESPONSES.size(), batch.getScoresCount());
        assertEquals(RewardKind.REWARD_KIND_HELPFULNESS, batch.getModelKind());
        assertEquals(1, batch.getModelVersion());
        for (RewardScore s : batch.getScoresList()) {
            assertTrue(Float.isFinite(s.getRaw()), "raw " + s.getRaw());
            assertEquals(1 / (1 + Math.exp(-s.getRaw())), s.getProbability(), 1e-6);
        }
        for (int i = 0; i < RESPONSES.size(); i++) {
            ScoreResponse alone = stub(channel).score(request(PROMPT, List.of(RESPONSES.get(i))));
            assertEquals(alone.getScores(0).getRaw(), batch.getScores(i).getRaw(), 1e-4,
                    "response " + i + " scores the same alone as in the batch");
        }
        assertTrue(batch.getScores(0).getRaw() != batch.getScores(1).getRaw(), "different responses, different scores");
    }

    private static void assertInvalid(String messagePart, ScoreRequest request) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> stub(channel).score(request));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(e.getStatus().getDescription() != null && e.getStatus().getDescription().contains(messagePart),
                e.getStatus().getDescription());
    }

    @Test
    void badInputGetsInvalidArgumentWithTheNumbersAndTheServiceStaysServing() {
        assertInvalid("prompt is empty", request("", List.of("x")));
        assertInvalid("no responses to score: send 1 to 4 responses", request(PROMPT, List.of()));
        assertInvalid("too many responses: got 5, at most 4", request(PROMPT, List.of("a", "b", "c", "d", "e")));
        String big = "x".repeat((64 << 10) + 1);
        assertInvalid("prompt is 65537 bytes, at most 65536 (reward.max-text-bytes)", request(big, List.of("a")));
        assertInvalid("response 1 is 65537 bytes, at most 65536 (reward.max-text-bytes)",
                request(PROMPT, List.of("a", big)));

        // Invalid UTF-8 in a response: the client library refuses to build it, so send raw bytes.
        byte[] raw = {0x0A, 2, 'h', 'i', 0x12, 2, (byte) 0xC3, 0x28}; // prompt "hi", responses[0] = C3 28
        MethodDescriptor<byte[], ScoreResponse> rawScore = RewardServiceGrpc.getScoreMethod()
                .toBuilder(new BytesMarshaller(), RewardServiceGrpc.getScoreMethod().getResponseMarshaller()).build();
        StatusRuntimeException utf8 = assertThrows(StatusRuntimeException.class, () -> ClientCalls.blockingUnaryCall(
                channel, rawScore, CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS), raw));
        assertEquals(Status.Code.INVALID_ARGUMENT, utf8.getStatus().getCode(), utf8.getStatus().toString());
        assertTrue(utf8.getStatus().getDescription().contains("UTF-8"), utf8.getStatus().getDescription());

        assertEquals(ServingStatus.SERVING, health(channel));
        assertEquals(1, stub(channel).score(request(PROMPT, List.of("ok"))).getScoresCount());
    }

    @Test
    void aNonFiniteScoreFailsTheCallWithAClearStatusAndNoNumbers() throws Exception {
        Path nan = RewardFixtures.nanHeadCheckpoint(checkpoint, tmp.resolve("nan"));
        try (RewardMain broken = RewardMain.start(RewardFixtures.config(dev.rlhf.vocabulary.RewardKind.SAFETY,
                nan, false, "127.0.0.1:1"), msg -> { })) {
            ManagedChannel ch = channel(broken.port());
            try {
                StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                        () -> stub(ch).score(request(PROMPT, RESPONSES)));
                assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode(), e.getStatus().toString());
                String message = e.getStatus().getDescription();
                assertTrue(message.contains("non-finite score") && message.contains("for response 0")
                        && message.contains("safety reward model version 1"), message);
                assertEquals(ServingStatus.SERVING, health(ch));
            } finally {
                ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void scoreIsUnavailableAndHealthNotServingUntilAModelIsLoaded() throws Exception {
        Vertx vertx = Vertx.vertx();
        try (BlockingExecutor worker = new BlockingExecutor(vertx, "test-reward", 1, 1, RewardGrpcService.STATUSES)) {
            GrpcServerHost host = new GrpcServerHost(vertx, new GrpcServerSettings("127.0.0.1", 0, 1 << 20),
                    new SimpleMeterRegistry(), List.of(new RewardGrpcService(new HotSwap<>(), worker, 4, 1024, n -> { })));
            int port = host.start().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
            ManagedChannel ch = channel(port);
            try {
                assertEquals(ServingStatus.NOT_SERVING, health(ch));
                StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                        () -> stub(ch).score(request(PROMPT, List.of("x"))));
                assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
                assertTrue(e.getStatus().getDescription().contains("no reward model is loaded"),
                        e.getStatus().getDescription());
            } finally {
                ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
    }

    /** Passes request bytes through untouched, to send what a well-behaved client library would refuse. */
    static final class BytesMarshaller implements MethodDescriptor.Marshaller<byte[]> {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
