package dev.rlhf.platform.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
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
    void anErrorFailsItsCallOnlyAndAVirtualMachineErrorStopsTheExecutor(Vertx vertx) throws Exception {
        try (BlockingExecutor executor = new BlockingExecutor(vertx, "test-model", 1, 4)) {
            CompletableFuture<Throwable> fatal = new CompletableFuture<>();
            executor.onFatal(fatal::complete);
            StatusException boom = (StatusException) assertThrows(StatusException.class, () -> executor
                    .<Integer>submit(c -> {
                        throw new AssertionError("boom");
                    }).await(5, TimeUnit.SECONDS));
            assertEquals(GrpcStatus.INTERNAL, boom.status());
            assertEquals(7, executor.submit(c -> 7).await(5, TimeUnit.SECONDS), "an Error does not stop it");

            StatusException oom = (StatusException) assertThrows(StatusException.class, () -> executor
                    .<Integer>submit(c -> {
                        throw new OutOfMemoryError("test");
                    }).await(5, TimeUnit.SECONDS));
            assertEquals(GrpcStatus.INTERNAL, oom.status());
            assertEquals("test", fatal.get(5, TimeUnit.SECONDS).getMessage(), "the service was told");
            StatusException after = (StatusException) assertThrows(StatusException.class,
                    () -> executor.submit(c -> 8).await(5, TimeUnit.SECONDS));
            assertEquals(GrpcStatus.UNAVAILABLE, after.status());
            assertTrue(after.message().contains("the model worker failed"), after.message());
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
