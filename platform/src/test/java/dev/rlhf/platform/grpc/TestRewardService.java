package dev.rlhf.platform.grpc;

import dev.rlhf.proto.v1.RewardKind;
import dev.rlhf.proto.v1.RewardScore;
import dev.rlhf.proto.v1.RewardServiceGrpcService;
import dev.rlhf.proto.v1.ScoreRequest;
import dev.rlhf.proto.v1.ScoreResponse;
import io.vertx.core.Future;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A RewardService whose score is the length of each response; the prompt selects a test behaviour
 * ({@code block}, {@code hold}, {@code invalid}, {@code flaky}).
 */
public final class TestRewardService extends RewardServiceGrpcService {

    /** Completed with what the blocked work saw when it was released: true if the call had been cancelled. */
    public final CompletableFuture<Boolean> blockedWorkSawCancel = new CompletableFuture<>();
    /** Counted down when a {@code hold} call has started its work. */
    public final CountDownLatch holdStarted = new CountDownLatch(1);
    /** Completed with whether a {@code hold} call's work saw a cancellation when released (it should not). */
    public final CompletableFuture<Boolean> heldWorkSawCancel = new CompletableFuture<>();
    /** Counted down by the test to let {@code hold} calls finish. */
    public final CountDownLatch releaseHold = new CountDownLatch(1);
    /** Calls of {@code flaky}; the first two fail with UNAVAILABLE. */
    public final AtomicInteger flakyAttempts = new AtomicInteger();

    private final BlockingExecutor models;

    public TestRewardService(BlockingExecutor models) {
        this.models = models;
    }

    @Override
    public Future<ScoreResponse> score(ScoreRequest request) {
        return models.submit(cancellation -> switch (request.getPrompt()) {
            case "block" -> {
                CountDownLatch cancelled = new CountDownLatch(1);
                cancellation.onCancel(cancelled::countDown);
                // A bound, so a broken cancellation fails the test instead of hanging it.
                cancelled.await(10, TimeUnit.SECONDS);
                blockedWorkSawCancel.complete(cancellation.isCancelled());
                yield scores(request);
            }
            case "hold" -> {
                holdStarted.countDown();
                releaseHold.await(10, TimeUnit.SECONDS);
                heldWorkSawCancel.complete(cancellation.isCancelled());
                yield scores(request);
            }
            case "invalid" -> throw new IllegalArgumentException("prompt 'invalid' is not a valid prompt");
            case "flaky" -> {
                if (flakyAttempts.incrementAndGet() <= 2) {
                    throw GrpcStatusException.unavailable("model still loading");
                }
                yield scores(request);
            }
            default -> scores(request);
        });
    }

    private static ScoreResponse scores(ScoreRequest request) {
        ScoreResponse.Builder response = ScoreResponse.newBuilder()
                .setModelKind(RewardKind.REWARD_KIND_HELPFULNESS)
                .setModelVersion(7);
        request.getResponsesList().forEach(text -> response.addScores(RewardScore.newBuilder().setRaw(text.length())));
        return response.build();
    }
}
