package dev.rlhf.platform.grpc;

import io.vertx.core.Future;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.lang.reflect.InvocationTargetException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Supplier;

/**
 * Maps exceptions to gRPC statuses with a readable message, so a caller sees INVALID_ARGUMENT and why rather
 * than Vert.x's default of UNKNOWN without a message.
 */
public final class StatusMapping {

    private static final StatusMapping DEFAULTS = new StatusMapping(Map.of());

    /** Checked in insertion order, so a subclass registered first wins over its superclass. */
    private final Map<Class<? extends Throwable>, GrpcStatus> extra;

    private StatusMapping(Map<Class<? extends Throwable>, GrpcStatus> extra) {
        this.extra = extra;
    }

    /**
     * {@link GrpcStatusException} keeps its status; IllegalArgumentException is INVALID_ARGUMENT, a full queue
     * (RejectedExecutionException) RESOURCE_EXHAUSTED, UnsupportedOperationException UNIMPLEMENTED, anything
     * else INTERNAL; the message is always the exception's own.
     */
    public static StatusMapping defaults() {
        return DEFAULTS;
    }

    /** Adds a service's own exception type, such as a context overflow mapped to OUT_OF_RANGE. */
    public StatusMapping with(Class<? extends Throwable> type, GrpcStatus status) {
        Map<Class<? extends Throwable>, GrpcStatus> copy = new LinkedHashMap<>(extra);
        copy.put(Objects.requireNonNull(type, "type"), Objects.requireNonNull(status, "status"));
        return new StatusMapping(Map.copyOf(copy));
    }

    /** The status and message for a failure, as a service should report it. */
    public GrpcStatusException toStatus(Throwable failure) {
        Throwable t = unwrap(failure);
        if (t instanceof GrpcStatusException e) {
            return e;
        }
        if (t instanceof StatusException e) {
            return new GrpcStatusException(e.status(), e.message() != null ? e.message() : e.status().name(), e);
        }
        for (Map.Entry<Class<? extends Throwable>, GrpcStatus> entry : extra.entrySet()) {
            if (entry.getKey().isInstance(t)) {
                return failure(entry.getValue(), t);
            }
        }
        return failure(defaultStatus(t), t);
    }

    /** The Vert.x exception whose status and message the generated service stubs write to the response. */
    public StatusException toVertx(Throwable failure) {
        GrpcStatusException e = toStatus(failure);
        return new StatusException(e.status(), e.getMessage());
    }

    /** Maps a failure of {@code future}, for non-blocking service methods that return a Future. */
    public <T> Future<T> mapFailure(Future<T> future) {
        return future.recover(t -> Future.failedFuture(toVertx(t)));
    }

    /** Runs a service method body, mapping both what it throws and how its Future fails. */
    public <T> Future<T> call(Supplier<Future<T>> body) {
        try {
            return mapFailure(body.get());
        } catch (RuntimeException | Error e) {
            return Future.failedFuture(toVertx(e));
        }
    }

    private static GrpcStatus defaultStatus(Throwable t) {
        if (t instanceof IllegalArgumentException) {
            return GrpcStatus.INVALID_ARGUMENT;
        }
        if (t instanceof RejectedExecutionException) {
            return GrpcStatus.RESOURCE_EXHAUSTED;
        }
        if (t instanceof UnsupportedOperationException) {
            return GrpcStatus.UNIMPLEMENTED;
        }
        return GrpcStatus.INTERNAL;
    }

    private static Throwable unwrap(Throwable t) {
        Throwable current = Objects.requireNonNull(t, "failure");
        while ((current instanceof CompletionException || current instanceof ExecutionException
                || current instanceof InvocationTargetException) && current.getCause() != null) {
            current = current.getCause();
        }
        return current;
    }

    /** Internal errors keep their type in the message, since "null" or "3" alone helps nobody. */
    private static GrpcStatusException failure(GrpcStatus status, Throwable t) {
        String type = t.getClass().getSimpleName();
        String message = t.getMessage();
        if (message == null) {
            message = type;
        } else if (status == GrpcStatus.INTERNAL) {
            message = type + ": " + message;
        }
        return new GrpcStatusException(status, message, t);
    }
}
