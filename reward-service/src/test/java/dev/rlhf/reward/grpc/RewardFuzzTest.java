package dev.rlhf.reward.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.platform.grpc.Fuzz;
import dev.rlhf.proto.v1.ScoreRequest;
import dev.rlhf.reward.RewardFixtures;
import dev.rlhf.reward.RewardMain;
import dev.rlhf.vocabulary.RewardKind;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
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
 * Fuzzing of Score over real gRPC with seeded random and extreme values ({@link Fuzz}): any prompt and responses
 * (empty, any Unicode text, more than the limit, a wrong number of truncated flags) get a typed status, never UNKNOWN,
 * INTERNAL or a hang, and the service is SERVING after each.
 */
class RewardFuzzTest {
    static final Set<Status.Code> TYPED = Set.of(Status.Code.OK, Status.Code.INVALID_ARGUMENT,
            Status.Code.RESOURCE_EXHAUSTED, Status.Code.UNAVAILABLE);

    @TempDir
    static Path tmp;
    static RewardMain service;
    static ManagedChannel channel;

    @BeforeAll
    static void start() throws Exception {
        service = RewardMain.start(RewardFixtures.config(RewardKind.SAFETY,
                RewardFixtures.checkpoint(tmp.resolve("rm"), 1), false, "127.0.0.1:1"), msg -> { });
        channel = RewardServiceTest.channel(service.port());
    }

    @AfterAll
    static void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        service.close();
    }

    @Test
    void anyScoreRequestGetsATypedStatus() {
        Fuzz f = new Fuzz(20261206);
        Map<Status.Code, Integer> seen = new EnumMap<>(Status.Code.class);
        for (int i = 0; i < 200; i++) {
            ScoreRequest request = ScoreRequest.newBuilder().setPrompt(f.anyString(300))
                    .addAllResponses(f.listOf(f.bool() ? RewardFixtures.MAX_RESPONSES + 2 : 70, () -> f.anyString(300)))
                    .addAllTruncated(f.listOf(8, f::bool)).build();
            Status.Code code = Status.Code.OK;
            try {
                RewardServiceTest.stub(channel).score(request);
            } catch (StatusRuntimeException e) {
                code = e.getStatus().getCode();
                assertTrue(TYPED.contains(code), code + " (" + e.getStatus().getDescription() + ") for "
                        + request.getResponsesCount() + " responses");
            }
            seen.merge(code, 1, Integer::sum);
            assertEquals(ServingStatus.SERVING, RewardServiceTest.health(channel), "after " + code);
        }
        assertTrue(seen.getOrDefault(Status.Code.OK, 0) > 10 && seen.getOrDefault(Status.Code.INVALID_ARGUMENT, 0) > 10,
                "outcomes " + seen);
    }
}
