package dev.rlhf.platform.grpc;

import io.vertx.core.Vertx;
import io.vertx.core.http.Http2Settings;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientOptions;

/** Builds Vert.x gRPC clients with the message size limit our servers use. */
public final class GrpcClients {

    /** As on the server: 64 MiB, since Vert.x's client default of 256 KiB rejects a best-of-16 response. */
    public static final int DEFAULT_MAX_MESSAGE_BYTES = GrpcServerSettings.DEFAULT_MAX_MESSAGE_BYTES;
    private static final int STREAM_WINDOW_BYTES = 1024 * 1024;

    private GrpcClients() {
    }

    /** A plaintext HTTP/2 (h2c, prior knowledge) client; share one per Vertx and target kind, and close it. */
    public static GrpcClient create(Vertx vertx, int maxMessageBytes) {
        return create(vertx, maxMessageBytes, GrpcSecurity.Client.NONE);
    }

    /**
     * As above, over TLS when {@code security} says so (HTTP/2 negotiated with ALPN, the server's name or address
     * verified against its certificate), presenting a client certificate for mutual TLS when it has one. The
     * bearer token travels per call: {@link GrpcCaller} adds it.
     */
    public static GrpcClient create(Vertx vertx, int maxMessageBytes, GrpcSecurity.Client security) {
        if (maxMessageBytes < 1) {
            throw new IllegalArgumentException("max message size must be positive, got " + maxMessageBytes);
        }
        GrpcClientOptions grpc = new GrpcClientOptions()
                .setMaxMessageSize(maxMessageBytes)
                // GrpcCaller runs its own deadline timer, so it can tell "never sent" from "sent, no answer".
                .setScheduleDeadlineAutomatically(false);
        HttpClientOptions http = new HttpClientOptions()
                .setProtocolVersion(HttpVersion.HTTP_2)
                // gRPC servers expect HTTP/2 from the first byte, not an HTTP/1.1 upgrade.
                .setHttp2ClearTextUpgrade(false)
                .setInitialSettings(new Http2Settings().setInitialWindowSize(STREAM_WINDOW_BYTES));
        if (security.tls()) {
            http.setSsl(true).setUseAlpn(true).setVerifyHost(true);
            if (security.caFile() != null) {
                http.setTrustOptions(new PemTrustOptions().addCertPath(security.caFile().toString()));
            }
            if (security.certFile() != null) {
                http.setKeyCertOptions(new PemKeyCertOptions().setCertPath(security.certFile().toString())
                        .setKeyPath(security.keyFile().toString()));
            }
        }
        return GrpcClient.client(vertx, grpc, http);
    }

    public static GrpcClient create(Vertx vertx) {
        return create(vertx, DEFAULT_MAX_MESSAGE_BYTES);
    }
}
