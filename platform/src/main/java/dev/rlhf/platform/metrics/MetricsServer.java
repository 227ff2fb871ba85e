package dev.rlhf.platform.metrics;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import java.util.Objects;

/**
 * Serves {@code GET /metrics} in the Prometheus text format on its own HTTP port, apart from gRPC so that
 * scrapes never queue behind model calls and the port can stay cluster-internal. {@code GET /healthz} answers
 * {@code ok}: services without a gRPC server (sampler, trainer) have no gRPC health to probe, so Kubernetes
 * probes this instead.
 */
public final class MetricsServer {

    /** Prometheus text exposition format 0.0.4, which every Prometheus version scrapes. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
    /** Liveness/readiness path for HTTP probes. */
    public static final String HEALTH_PATH = "/healthz";

    private final Vertx vertx;
    private final PrometheusMeterRegistry registry;
    private final String host;
    private final int port;
    private HttpServer server;

    /** @param port 0 picks a free port */
    public MetricsServer(Vertx vertx, PrometheusMeterRegistry registry, String host, int port) {
        this.vertx = Objects.requireNonNull(vertx, "vertx");
        this.registry = Objects.requireNonNull(registry, "registry");
        this.host = Objects.requireNonNull(host, "host");
        if (port < 0 || port > 65_535) {
            throw new IllegalArgumentException("port must be in 0..65535 (0 = any free port), got " + port);
        }
        this.port = port;
    }

    /** Starts listening; the Future holds the bound port. */
    public synchronized Future<Integer> start() {
        if (server != null) {
            throw new IllegalStateException("already started");
        }
        server = vertx.createHttpServer(new HttpServerOptions().setHost(host).setPort(port))
                .requestHandler(this::handle);
        return server.listen().map(HttpServer::actualPort);
    }

    public synchronized Future<Void> stop() {
        return server == null ? Future.succeededFuture() : server.close();
    }

    private void handle(HttpServerRequest request) {
        boolean health = HEALTH_PATH.equals(request.path());
        if (!health && !"/metrics".equals(request.path())) {
            request.response().setStatusCode(404).end("not found; metrics are at /metrics\n");
        } else if (request.method() != HttpMethod.GET && request.method() != HttpMethod.HEAD) {
            request.response().setStatusCode(405).putHeader(HttpHeaders.ALLOW, "GET, HEAD").end();
        } else if (health) {
            // Answered on the event loop: it proves the process is up and serving HTTP, nothing more.
            request.response().putHeader(HttpHeaders.CONTENT_TYPE, "text/plain; charset=utf-8").end("ok\n");
        } else {
            // Gauges call back into the services; those callbacks read cached values, so this stays fast.
            request.response().putHeader(HttpHeaders.CONTENT_TYPE, CONTENT_TYPE).end(registry.scrape());
        }
    }
}
