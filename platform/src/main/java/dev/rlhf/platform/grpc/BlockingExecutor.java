package dev.rlhf.platform.grpc;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fixed pool of worker threads with a bounded queue that runs blocking model work off the event loop and
 * completes the call's Future back on the caller's Vert.x context, with failures mapped to gRPC statuses.
 */
public final class BlockingExecutor implements AutoCloseable {

    private final Vertx vertx;
    private final ThreadPoolExecutor pool;
    private final StatusMapping statusMapping;
    private final int queueCapacity;
    private volatile java.util.function.Consumer<Throwable> onFatal = t -> { };
    private final java.util.concurrent.atomic.AtomicReference<Throwable> fatalError =
            new java.util.concurrent.atomic.AtomicReference<>();

    /**
     * @param threads       concurrent model calls; one per model replica that fits in memory is a good start
     * @param queueCapacity waiting calls beyond which new ones are refused with RESOURCE_EXHAUSTED
     */
    public BlockingExecutor(Vertx vertx, String name, int threads, int queueCapacity, StatusMapping statusMapping) {
        if (threads < 1 || queueCapacity < 1) {
            throw new IllegalArgumentException("threads and queue capacity must be at least 1, got " + threads
                    + " and " + queueCapacity);
        }
        this.vertx = Objects.requireNonNull(vertx, "vertx");
        this.statusMapping = Objects.requireNonNull(statusMapping, "statusMapping");
        this.queueCapacity = queueCapacity;
        this.pool = new ThreadPoolExecutor(threads, threads, 0L, TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(queueCapacity), namedDaemonThreads(name));
    }

    public BlockingExecutor(Vertx vertx, String name, int threads, int queueCapacity) {
        this(vertx, name, threads, queueCapacity, StatusMapping.defaults());
    }

    /**
     * Runs {@code work} on a worker, passing the cancellation of the call handled on the current context.
     *
     * <p>A full queue fails at once with RESOURCE_EXHAUSTED rather than letting latency grow without bound. Work
     * whose call is already over (deadline, cancel) is skipped if it has not started, and its result is dropped
     * if it has: the Future then never completes, because the response is already sent and completing it would
     * make the generated stub write to a closed stream (Vert.x logs that as an unhandled exception). Outside a
     * call ({@link Cancellation#NONE}), every submission completes.
     */
    public <T> Future<T> submit(BlockingWork<T> work) {
        Objects.requireNonNull(work, "work");
        if (fatalError.get() != null) {
            return Future.failedFuture(statusMapping.toVertx(unavailable()));
        }
        Context context = vertx.getOrCreateContext();
        Cancellation cancellation = Cancellation.current();
        Promise<T> promise = Promise.promise();
        try {
            pool.execute(() -> run(work, cancellation, context, promise));
        } catch (RejectedExecutionException e) {
            return Future.failedFuture(statusMapping.toVertx(pool.isShutdown()
                    ? GrpcStatusException.unavailable("the server is shutting down")
                    : GrpcStatusException.resourceExhausted("server busy: " + queueCapacity
                            + " requests already queued; retry later")));
        }
        return promise.future();
    }

    /**
     * Called once if work fails with a {@link VirtualMachineError} (out of memory, stack overflow): from then on
     * every submission fails with UNAVAILABLE, and the service should turn its health NOT_SERVING.
     */
    public void onFatal(java.util.function.Consumer<Throwable> hook) {
        this.onFatal = hook == null ? t -> { } : hook;
    }

    private GrpcStatusException unavailable() {
        return GrpcStatusException.unavailable("the model worker failed (" + fatalError.get()
                + ") and cannot continue; the service must be restarted");
    }

    /** Calls waiting for a worker thread. */
    public int queued() {
        return pool.getQueue().size();
    }

    /** Stops taking work; running work finishes on its own. */
    @Override
    public void close() {
        pool.shutdown();
    }

    private <T> void run(BlockingWork<T> work, Cancellation cancellation, Context context, Promise<T> promise) {
        if (cancellation.isCancelled()) {
            return;
        }
        T result = null;
        Throwable failure = null;
        if (fatalError.get() != null) {
            failure = unavailable(); // queued before the failure: the model is not touched again
        } else {
            try {
                result = work.run(cancellation);
            } catch (Throwable t) {
                failure = t; // fails this call only, with a typed status (an Error: INTERNAL) ...
                if (t instanceof VirtualMachineError && fatalError.compareAndSet(null, t)) {
                    try {
                        onFatal.accept(t); // ... unless the process can no longer be trusted: stop serving
                    } catch (RuntimeException hookFailure) {
                        t.addSuppressed(hookFailure);
                    }
                }
            }
        }
        T value = result;
        Throwable error = failure;
        // The check runs on the call's context, the thread that also ends the call, so it cannot go stale.
        context.runOnContext(v -> {
            if (cancellation.isCancelled()) {
                return;
            }
            if (error == null) {
                promise.complete(value);
            } else {
                promise.fail(statusMapping.toVertx(error));
            }
        });
    }

    private static ThreadFactory namedDaemonThreads(String name) {
        Objects.requireNonNull(name, "name");
        AtomicInteger counter = new AtomicInteger();
        return runnable -> {
            Thread thread = new Thread(runnable, name + "-" + counter.incrementAndGet());
            // Model work must not keep the JVM alive after the server has shut down.
            thread.setDaemon(true);
            return thread;
        };
    }
}
