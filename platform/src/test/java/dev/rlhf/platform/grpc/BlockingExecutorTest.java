package dev.rlhf.platform.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import io.vertx.junit5.VertxExtension;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
class BlockingExecutorTest {

    @Test
    void runsWorkOnAWorkerAndCompletesOnTheSubmittingContext(Vertx vertx) throws Exception {
        try (BlockingExecutor executor = new BlockingExecutor(vertx, "test-model", 1, 1)) {
            Context context = vertx.getOrCreateContext();
            CompletableFuture<String> outcome = new CompletableFuture<>();
            context.runOnContext(v -> executor.submit(c -> Thread.currentThread().getName())
                    .onComplete(ar -> outcome.complete(ar.result() + " completed on submitting context: "
                            + (Vertx.currentContext() == context))));

            assertEquals("test-model-1 completed on submitting context: true", outcome.get(5, TimeUnit.SECONDS));
        }
    }

    @Test
    void fullQueueFailsAtOnceWithResourceExhausted(Vertx vertx) throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        try (BlockingExecutor executor = new BlockingExecutor(vertx, "test-model", 1, 1)) {
            Future<Integer> running = executor.submit(c -> release.await(10, TimeUnit.SECONDS) ? 1 : 0);
            Future<Integer> queued = executor.submit(c -> 2);
            Future<Integer> refused = executor.submit(c -> 3);

            StatusException e = (StatusException) assertThrows(StatusException.class,
                    () -> refused.await(1, TimeUnit.SECONDS));
            assertEquals(GrpcStatus.RESOURCE_EXHAUSTED, e.status());
            release.countDown();
            assertEquals(1, running.await(5, TimeUnit.SECONDS));
            assertEquals(2, queued.await(5, TimeUnit.SECONDS));
        }
    }
}
