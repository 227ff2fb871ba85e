package dev.rlhf.platform.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.vertx.core.Future;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import org.junit.jupiter.api.Test;

class StatusMappingTest {

    private final StatusMapping mapping = StatusMapping.defaults();

    /** Stands in for a service's own exception, such as llama's context overflow. */
    private static final class ContextTooLong extends RuntimeException {
        ContextTooLong(String message) {
            super(message);
        }
    }

    @Test
    void illegalArgumentIsInvalidArgumentWithItsMessage() {
        GrpcStatusException e = mapping.toStatus(new IllegalArgumentException("n must be in 1..16, got 40"));

        assertEquals(GrpcStatus.INVALID_ARGUMENT, e.status());
        assertEquals("n must be in 1..16, got 40", e.getMessage());
    }

    @Test
    void fullQueueIsResourceExhausted() {
        assertEquals(GrpcStatus.RESOURCE_EXHAUSTED, mapping.toStatus(new RejectedExecutionException("full")).status());
    }

    @Test
    void statusExceptionsKeepTheirStatusEvenWhenWrapped() {
        GrpcStatusException original = GrpcStatusException.outOfRange("prompt + max_new_tokens = 5000 > 4096");

        assertSame(original, mapping.toStatus(new CompletionException(original)));
        assertEquals(GrpcStatus.UNAVAILABLE,
                mapping.toStatus(new StatusException(GrpcStatus.UNAVAILABLE, "loading")).status());
    }

    @Test
    void unknownFailureIsInternalNamingTheExceptionType() {
        GrpcStatusException e = mapping.toStatus(new IllegalStateException("tensor on wrong device"));

        assertEquals(GrpcStatus.INTERNAL, e.status());
        assertEquals("IllegalStateException: tensor on wrong device", e.getMessage());
        assertEquals("NullPointerException", mapping.toStatus(new NullPointerException()).getMessage());
    }

    @Test
    void serviceExceptionTypesCanBeAdded() {
        StatusMapping withOverflow = mapping.with(ContextTooLong.class, GrpcStatus.OUT_OF_RANGE);

        GrpcStatusException e = withOverflow.toStatus(new ContextTooLong("4100 tokens > 4096"));
        assertEquals(GrpcStatus.OUT_OF_RANGE, e.status());
        assertEquals("4100 tokens > 4096", e.getMessage());
        assertEquals(GrpcStatus.INTERNAL, mapping.toStatus(new ContextTooLong("x")).status(), "defaults unchanged");
    }

    @Test
    void vertxExceptionCarriesStatusAndMessageForTheGeneratedStubs() {
        StatusException e = mapping.toVertx(new IllegalArgumentException("empty prompt"));

        assertEquals(GrpcStatus.INVALID_ARGUMENT, e.status());
        assertEquals("empty prompt", e.message());
    }

    @Test
    void callMapsThrownAndFailedFutures() {
        Future<String> thrown = mapping.call(() -> {
            throw new IllegalArgumentException("bad top_p");
        });
        Future<String> failed = mapping.call(() -> Future.failedFuture(new IllegalArgumentException("bad seed")));

        assertEquals(GrpcStatus.INVALID_ARGUMENT, ((StatusException) thrown.cause()).status());
        assertEquals("bad seed", ((StatusException) failed.cause()).message());
    }
}
