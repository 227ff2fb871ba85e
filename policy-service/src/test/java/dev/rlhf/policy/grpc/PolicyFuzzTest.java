package dev.rlhf.policy.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.platform.grpc.Fuzz;
import dev.rlhf.policy.PolicyMain;
import dev.rlhf.proto.v1.GenerateRequest;
import dev.rlhf.proto.v1.PolicyServiceGrpc;
import dev.rlhf.proto.v1.PromptResponse;
import dev.rlhf.proto.v1.SamplingParams;
import dev.rlhf.proto.v1.ScoreSequencesRequest;
import dev.rlhf.proto.v1.TokenIds;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fuzzing of every policy request message over real gRPC with seeded random and extreme field values ({@link Fuzz}:
 * any int, NaN and infinite floats, any Unicode text, ids outside the vocabulary, oversized lists): each gets a typed
 * status, never UNKNOWN, INTERNAL or a hang, and the service is SERVING after each.
 */
class PolicyFuzzTest {
    /** What a request may end with: success or a status naming the caller's mistake or a transient refusal. */
    static final Set<Status.Code> TYPED = Set.of(Status.Code.OK, Status.Code.INVALID_ARGUMENT,
            Status.Code.OUT_OF_RANGE, Status.Code.RESOURCE_EXHAUSTED, Status.Code.UNAVAILABLE);

    @TempDir
    static Path tmp;
    static PolicyMain service;
    static ManagedChannel channel;

    @BeforeAll
    static void start() throws Exception {
        service = PolicyMain.start(PolicyServiceTest.config(ModelFactory.tinyForTests(tmp.resolve("v1"), 1, false)),
                msg -> { });
        channel = ManagedChannelBuilder.forAddress("127.0.0.1", service.port()).usePlaintext().build();
    }

    @AfterAll
    static void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        service.close();
    }

    private static PolicyServiceGrpc.PolicyServiceBlockingStub stub() {
        // A hang would end as DEADLINE_EXCEEDED, which is not a typed answer.
        return PolicyServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    /** Runs the call; returns its status after checking it is typed and the service still serves. */
    private static Status.Code typedAndServing(Runnable call, Object request) {
        Status.Code code = Status.Code.OK;
        try {
            call.run();
        } catch (StatusRuntimeException e) {
            code = e.getStatus().getCode();
            assertTrue(TYPED.contains(code), code + " (" + e.getStatus().getDescription() + ") for " + request);
        }
        assertEquals(ServingStatus.SERVING, HealthGrpc.newBlockingStub(channel)
                .check(HealthCheckRequest.getDefaultInstance()).getStatus(), "after " + code + " for " + request);
        return code;
    }

    @Test
    void anyGenerateRequestGetsATypedStatus() {
        Fuzz f = new Fuzz(20261206);
        Map<Status.Code, Integer> seen = new EnumMap<>(Status.Code.class);
        for (int i = 0; i < 300; i++) {
            // Each field is wild (any value) one time in five, else plausible: most requests then differ from a
            // valid one in a field or two, so the fuzz reaches the model as well as the checks.
            SamplingParams.Builder p = SamplingParams.newBuilder()
                    .setN(wild(f) ? f.anyInt() : f.between(1, 4))
                    .setMaxNewTokens(wild(f) ? f.anyInt() : f.between(1, 12))
                    .setTemperature(wild(f) ? f.anyFloat() : f.between(0, 15) / 10f)
                    .setTopP(wild(f) ? f.anyFloat() : 0)
                    .setTopK(wild(f) ? f.anyInt() : 0)
                    .setSeed(f.anyLong())
                    .addAllStop(wild(f) ? f.listOf(20, () -> f.anyString(40)) : f.listOf(2, () -> f.anyString(3)));
            GenerateRequest.Builder b = GenerateRequest.newBuilder();
            switch (f.between(0, 9)) {
                case 0, 1, 2, 3, 4 -> b.setPrompt(f.anyString(300)).setParams(p);
                case 5, 6, 7 -> b.setPromptIds(TokenIds.newBuilder().addAllIds(f.listOf(40,
                        () -> wild(f) ? f.anyInt() : f.between(0, 299)))).setParams(p);
                case 8 -> b.setParams(p); // no prompt
                default -> b.setPrompt(f.anyString(300)); // no params
            }
            GenerateRequest request = b.build();
            seen.merge(typedAndServing(() -> stub().generate(request), request), 1, Integer::sum);
        }
        // Not vacuous: the fuzz reached both the model and the checks.
        assertTrue(seen.getOrDefault(Status.Code.OK, 0) > 10 && seen.getOrDefault(Status.Code.INVALID_ARGUMENT, 0) > 10,
                "outcomes " + seen);
    }

    private static boolean wild(Fuzz f) {
        return f.between(0, 4) == 0;
    }

    @Test
    void anyScoreSequencesRequestGetsATypedStatus() {
        Fuzz f = new Fuzz(20261207);
        for (int i = 0; i < 60; i++) {
            ScoreSequencesRequest request = ScoreSequencesRequest.newBuilder().addAllItems(f.listOf(
                    f.bool() ? 6 : 260, () -> PromptResponse.newBuilder().setPrompt(f.anyString(200))
                            .setResponse(f.anyString(200)).build())).build();
            typedAndServing(() -> stub().scoreSequences(request), request.getItemsCount() + " items");
        }
    }
}
