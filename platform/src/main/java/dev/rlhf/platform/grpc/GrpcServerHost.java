package dev.rlhf.platform.grpc;

import dev.rlhf.platform.metrics.GrpcMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.Http2Settings;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.grpc.common.GrpcStatus;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import io.vertx.grpc.reflection.ReflectionService;
import io.vertx.grpc.server.GrpcProtocol;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.GrpcServerOptions;
import io.vertx.grpc.server.Service;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * A Vert.x gRPC server for a service's bindings plus standard health and reflection, with deadlines enforced
 * and propagated, per-call metrics, and a graceful shutdown that drains calls in flight.
 */
public final class GrpcServerHost {

    /** Lets the last responses and the GOAWAY frame flush before remaining connections are forced closed. */
    private static final long CLOSE_TIMEOUT_MS = 1_000;
    /** HTTP/2 flow-control window per stream, as grpc-java uses; the 64 KiB default throttles MiB messages. */
    private static final int STREAM_WINDOW_BYTES = 1024 * 1024;

    private final Vertx vertx;
    private final GrpcServerSettings settings;
    private final HealthStatus health;
    private final CallTracker calls;
    private HttpServer httpServer;
    private HttpServer healthServer;
    private final GrpcServer healthOnly;
    private Future<Void> shutdown;
    /** The bearer token calls must carry, or null. */
    private final byte[] token;

    /**
     * @param services generated Vert.x bindings such as {@code new RewardServiceGrpcService() { ... }}; each
     *                 starts NOT_SERVING in health until {@link #setServing} says otherwise
     */
    public GrpcServerHost(Vertx vertx, GrpcServerSettings settings, MeterRegistry registry,
                          List<? extends Service> services) {
        this.vertx = Objects.requireNonNull(vertx, "vertx");
        this.settings = Objects.requireNonNull(settings, "settings");
        GrpcServerOptions options = new GrpcServerOptions()
                // A call past its grpc-timeout ends with DEADLINE_EXCEEDED and cancels its work ...
                .setScheduleDeadlineAutomatically(true)
                // ... and Vert.x clients created on the call's context inherit the remaining time.
                .setDeadlinePropagation(true)
                .setMaxMessageSize(settings.maxMessageBytes());
        // Services speak gRPC over HTTP/2 only; gRPC-Web and transcoding would be untested entry points.
        for (GrpcProtocol protocol : GrpcProtocol.values()) {
            if (protocol != GrpcProtocol.HTTP_2) {
                options.removeEnabledProtocol(protocol);
            }
        }
        GrpcServer grpcServer = GrpcServer.server(vertx, options);
        Set<String> names = new LinkedHashSet<>();
        Set<String> paths = new LinkedHashSet<>();
        for (Service service : services) {
            grpcServer.addService(service);
            names.add(service.name().fullyQualifiedName());
            service.methodDescriptors().forEach(m -> paths.add(service.pathOfMethod(m.getName())));
        }
        this.health = new HealthStatus(names);
        grpcServer.addService(health.service());
        grpcServer.addService(ReflectionService.v1());
        this.healthOnly = settings.security().plaintextHealthPort() > 0
                ? GrpcServer.server(vertx, new GrpcServerOptions()).addService(health.service()) : null;
        this.calls = new CallTracker(grpcServer, new GrpcMetrics(registry), paths);
        String t = settings.security().token();
        this.token = t == null ? null : ("Bearer " + t).getBytes(StandardCharsets.US_ASCII);
    }

    /** Starts listening; the Future holds the bound port (useful with port 0). */
    public synchronized Future<Integer> start() {
        if (httpServer != null) {
            throw new IllegalStateException("already started");
        }
        HttpServerOptions options = new HttpServerOptions()
                .setHost(settings.host())
                .setPort(settings.port())
                .setInitialSettings(new Http2Settings().setInitialWindowSize(STREAM_WINDOW_BYTES));
        GrpcSecurity.Server security = settings.security();
        if (security.tls()) {
            // HTTP/2 over TLS is negotiated with ALPN, as every gRPC client expects.
            options.setSsl(true).setUseAlpn(true).setKeyCertOptions(new PemKeyCertOptions()
                    .setCertPath(security.certFile().toString()).setKeyPath(security.keyFile().toString()));
            if (security.clientCaFile() != null) {
                options.setTrustOptions(new PemTrustOptions().addCertPath(security.clientCaFile().toString()))
                        .setClientAuth(ClientAuth.REQUIRED);
            }
        }
        httpServer = vertx.createHttpServer(options).requestHandler(token == null ? calls : this::checkToken);
        Future<Integer> main = httpServer.listen().map(HttpServer::actualPort);
        if (healthOnly == null) {
            return main;
        }
        healthServer = vertx.createHttpServer(new HttpServerOptions().setHost(settings.host())
                .setPort(security.plaintextHealthPort())).requestHandler(healthOnly);
        return main.compose(port -> healthServer.listen().map(port));
    }

    /**
     * Lets a call through when it carries the bearer token (compared in constant time); health checks need none
     * (Kubernetes' gRPC probes cannot send one). Anything else ends at once with UNAUTHENTICATED.
     */
    private void checkToken(HttpServerRequest request) {
        String given = request.getHeader(GrpcSecurity.AUTHORIZATION);
        boolean health = request.path().startsWith("/grpc.health.v1.Health/");
        if (health || (given != null && MessageDigest.isEqual(token, given.getBytes(StandardCharsets.US_ASCII)))) {
            calls.handle(request);
            return;
        }
        // A trailers-only gRPC response: the status travels in the headers of an otherwise empty answer.
        request.response().putHeader("content-type", "application/grpc")
                .putHeader("grpc-status", String.valueOf(GrpcStatus.UNAUTHENTICATED.code))
                .putHeader("grpc-message", given == null ? "this service needs a bearer token"
                        : "the bearer token is not valid")
                .end();
    }

    /** The bound port, once {@link #start()} has completed. */
    public synchronized int port() {
        if (httpServer == null) {
            throw new IllegalStateException("not started");
        }
        return httpServer.actualPort();
    }

    /**
     * Sets what health reports for one hosted service ({@code rlhf.v1.RewardService}) or, with {@code ""}, for
     * the server as a whole. Ignored once shutdown has begun.
     */
    public void setServing(String serviceName, boolean serving) {
        health.set(serviceName, serving);
    }

    /** Sets every hosted service and the server as a whole. */
    public void setServing(boolean serving) {
        health.setAll(serving);
    }

    /** Calls started and not yet ended (health and reflection excluded). */
    public int inFlightCalls() {
        return calls.inFlight();
    }

    /**
     * Reports NOT_SERVING, refuses new calls with UNAVAILABLE, waits up to {@code grace} for calls in flight to
     * end, then closes the listener and connections. Idempotent: later calls return the same Future.
     */
    public synchronized Future<Void> shutdown(Duration grace) {
        if (shutdown != null) {
            return shutdown;
        }
        health.drain();
        HttpServer server = httpServer;
        HttpServer healthListener = healthServer;
        shutdown = calls.drain(vertx, grace).compose(v -> {
            health.closeWatches();
            Future<Void> main = server == null ? Future.succeededFuture()
                    : server.shutdown(CLOSE_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            return healthListener == null ? main : main.compose(x -> healthListener.close());
        });
        return shutdown;
    }
}
