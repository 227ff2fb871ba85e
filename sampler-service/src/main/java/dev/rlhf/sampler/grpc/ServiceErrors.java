package dev.rlhf.sampler.grpc;

import dev.rlhf.platform.grpc.GrpcStatusException;
import dev.rlhf.sampler.domain.RequestRejectedException;
import dev.rlhf.sampler.domain.Resilience;
import dev.rlhf.sampler.domain.ServiceUnavailableException;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.MessageSizeOverflowException;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;

/** Which gRPC failures are worth retrying, and their translation into the domain's two failure kinds. */
public final class ServiceErrors {

    /**
     * The service did not do the work, or not in time, or is overloaded: the same request can succeed later.
     * (Generation is seeded and scoring is pure, so repeating a call that did run is harmless.)
     */
    static final Set<GrpcStatus> TRANSIENT =
            EnumSet.of(GrpcStatus.UNAVAILABLE, GrpcStatus.DEADLINE_EXCEEDED, GrpcStatus.RESOURCE_EXHAUSTED);

    private ServiceErrors() {
    }

    /**
     * The retry predicate for {@link Resilience}. RESOURCE_EXHAUSTED is transient when a queue was full, not when
     * the response was larger than this client accepts: the seeded generation would be just as large again.
     */
    public static boolean isTransient(Throwable error) {
        return error instanceof GrpcStatusException e && TRANSIENT.contains(e.status()) && !overLimit(e);
    }

    /** A response over the client's message size limit (the gRPC client's own RESOURCE_EXHAUSTED). */
    static boolean overLimit(GrpcStatusException e) {
        return e.getCause() instanceof MessageSizeOverflowException;
    }

    /** Replaces a failure of {@code stage} (after retries) by the domain exception the sampler acts on. */
    static <T> CompletionStage<T> translate(String service, CompletionStage<T> stage) {
        return stage.handle((value, error) -> error == null ? CompletableFuture.completedFuture(value)
                : CompletableFuture.<T>failedFuture(toDomain(service, unwrap(error)))).thenCompose(f -> f);
    }

    static RuntimeException toDomain(String service, Throwable error) {
        if (error instanceof Resilience.CircuitOpenException || isTransient(error)) {
            return new ServiceUnavailableException(service, error.toString(), error);
        }
        if (error instanceof GrpcStatusException e) {
            // Everything else (INVALID_ARGUMENT, OUT_OF_RANGE, INTERNAL, a response over the message size limit, ...)
            // would fail the same way again.
            return new RequestRejectedException(service, e.toString(), e);
        }
        return error instanceof RuntimeException r ? r : new CompletionException(error);
    }

    static Throwable unwrap(Throwable error) {
        Throwable t = error;
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
