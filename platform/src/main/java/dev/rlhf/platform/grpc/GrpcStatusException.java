package dev.rlhf.platform.grpc;

import io.vertx.grpc.common.GrpcStatus;
import java.util.Objects;

/** A failure carrying the gRPC status and readable message a caller should see; thrown by services and clients. */
public class GrpcStatusException extends RuntimeException {

    private final GrpcStatus status;

    public GrpcStatusException(GrpcStatus status, String message) {
        this(status, message, null);
    }

    public GrpcStatusException(GrpcStatus status, String message, Throwable cause) {
        super(message, cause);
        if (Objects.requireNonNull(status, "status") == GrpcStatus.OK) {
            throw new IllegalArgumentException("a failure cannot have status OK");
        }
        this.status = status;
    }

    public static GrpcStatusException invalidArgument(String message) {
        return new GrpcStatusException(GrpcStatus.INVALID_ARGUMENT, message);
    }

    /** For requests beyond a model limit, such as prompt plus max tokens past the context window. */
    public static GrpcStatusException outOfRange(String message) {
        return new GrpcStatusException(GrpcStatus.OUT_OF_RANGE, message);
    }

    public static GrpcStatusException resourceExhausted(String message) {
        return new GrpcStatusException(GrpcStatus.RESOURCE_EXHAUSTED, message);
    }

    /** For a service that cannot answer yet (model loading) or any more (shutting down); clients may retry. */
    public static GrpcStatusException unavailable(String message) {
        return new GrpcStatusException(GrpcStatus.UNAVAILABLE, message);
    }

    public GrpcStatus status() {
        return status;
    }

    @Override
    public String toString() {
        return status.name() + ": " + getMessage();
    }
}
