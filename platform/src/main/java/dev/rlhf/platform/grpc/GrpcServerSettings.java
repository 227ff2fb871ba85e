package dev.rlhf.platform.grpc;

import java.util.Objects;

/**
 * Where a gRPC server listens and the largest request message it accepts.
 *
 * @param port            0 picks a free port
 * @param maxMessageBytes larger requests fail with RESOURCE_EXHAUSTED before they are buffered
 * @param security TLS, mutual TLS and the bearer token ({@link GrpcSecurity.Server#NONE}: plaintext, none)
 */
public record GrpcServerSettings(String host, int port, int maxMessageBytes, GrpcSecurity.Server security) {

    /**
     * Best-of-16 responses of long sequences, with token ids and per-token logprobs, exceed both gRPC's usual
     * 4 MiB and Vert.x's default of 256 KiB.
     */
    public static final int DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

    /** Plaintext, no token. */
    public GrpcServerSettings(String host, int port, int maxMessageBytes) {
        this(host, port, maxMessageBytes, GrpcSecurity.Server.NONE);
    }

    public GrpcServerSettings {
        Objects.requireNonNull(security, "security");
        if (Objects.requireNonNull(host, "host").isBlank()) {
            throw new IllegalArgumentException("host must not be blank");
        }
        if (port < 0 || port > 65_535) {
            throw new IllegalArgumentException("port must be in 0..65535 (0 = any free port), got " + port);
        }
        if (maxMessageBytes < 1) {
            throw new IllegalArgumentException("max message size must be positive, got " + maxMessageBytes);
        }
    }

    public static GrpcServerSettings of(String host, int port) {
        return new GrpcServerSettings(host, port, DEFAULT_MAX_MESSAGE_BYTES);
    }
}
