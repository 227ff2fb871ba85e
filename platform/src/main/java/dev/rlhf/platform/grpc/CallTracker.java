package dev.rlhf.platform.grpc;

import dev.rlhf.platform.metrics.GrpcMetrics;
import io.opentelemetry.api.trace.Span;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.grpc.common.GrpcHeaderNames;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.GrpcServer;
import java.time.Duration;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The HTTP/2 request handler in front of the Vert.x {@link GrpcServer} that scopes, counts, drains and times calls. */
// The stream level is the one place that sees every way a call ends (response sent, deadline, client reset)
// without wrapping Vert.x's request and response interfaces.
final class CallTracker implements Handler<HttpServerRequest> {

    private static final Logger LOG = LoggerFactory.getLogger(CallTracker.class);
    static final String UNKNOWN_METHOD = "unknown";
    private static final String REFLECTION_PATH = "/grpc.reflection.";

    private final GrpcServer grpcServer;
    private final GrpcMetrics metrics;
    private final Set<String> knownPaths;
    private int inFlight;
    private boolean draining;
    private Promise<Void> idle;

    /** @param knownPaths {@code /package.Service/Method} of the hosted services; other paths are labelled unknown */
    CallTracker(GrpcServer grpcServer, GrpcMetrics metrics, Set<String> knownPaths) {
        this.grpcServer = grpcServer;
        this.metrics = metrics;
        this.knownPaths = Set.copyOf(knownPaths);
    }

    @Override
    public void handle(HttpServerRequest request) {
        String path = request.path();
        // Probes must keep answering while draining, and long Watch streams must not hold up shutdown.
        if (path.startsWith(HealthStatus.path()) || path.startsWith(REFLECTION_PATH)) {
            grpcServer.handle(request);
            return;
        }
        long start = System.nanoTime();
        String method = knownPaths.contains(path) ? path.substring(1) : UNKNOWN_METHOD;
        if (!admit()) {
            reject(request, method, start);
            return;
        }
        CallScope scope = new CallScope(method, start);
        // Each HTTP/2 stream runs on its own duplicated context, so this is visible to this call only.
        Context context = Vertx.currentContext();
        context.putLocal(CallScopeRegistration.LOCAL, scope);
        Span span = GrpcTracing.server(request, method);
        HttpServerResponse response = request.response();
        // Called once: when the response ends (any status, deadline included) or the stream is reset first.
        response.endHandler(v -> finish(scope, span, response));
        grpcServer.handle(request);
    }

    synchronized int inFlight() {
        return inFlight;
    }

    /** Refuses new calls from now on; completes when the last call in flight ends or {@code grace} passes. */
    Future<Void> drain(Vertx vertx, Duration grace) {
        Promise<Void> promise = Promise.promise();
        synchronized (this) {
            draining = true;
            idle = promise;
            if (inFlight == 0) {
                promise.tryComplete();
            }
        }
        long timer = vertx.setTimer(Math.max(1, grace.toMillis()), id -> {
            if (promise.tryComplete()) {
                LOG.warn("grace period of {} over with {} gRPC calls still in flight; closing anyway", grace,
                        inFlight());
            }
        });
        return promise.future().onComplete(ar -> vertx.cancelTimer(timer));
    }

    private synchronized boolean admit() {
        if (draining) {
            return false;
        }
        inFlight++;
        return true;
    }

    private void finish(CallScope scope, Span span, HttpServerResponse response) {
        if (!scope.end()) {
            return;
        }
        GrpcStatus status = statusOf(response);
        metrics.record(scope.method(), status.name(), System.nanoTime() - scope.startNanos());
        GrpcTracing.end(span, status, null);
        Promise<Void> toComplete = null;
        synchronized (this) {
            inFlight--;
            if (draining && inFlight == 0) {
                toComplete = idle;
            }
        }
        if (toComplete != null) {
            toComplete.tryComplete();
        }
    }

    /** A trailers-only response, as gRPC servers answer calls they will not start. */
    private void reject(HttpServerRequest request, String method, long start) {
        request.response()
                .setStatusCode(200)
                .putHeader(HttpHeaders.CONTENT_TYPE, "application/grpc")
                .putHeader(GrpcHeaderNames.GRPC_STATUS, Integer.toString(GrpcStatus.UNAVAILABLE.code))
                .putHeader(GrpcHeaderNames.GRPC_MESSAGE, "the server is shutting down")
                .end();
        metrics.record(method, GrpcStatus.UNAVAILABLE.name(), System.nanoTime() - start);
    }

    private static GrpcStatus statusOf(HttpServerResponse response) {
        if (!response.ended()) {
            // The stream was reset before a response: the client cancelled or its own deadline passed.
            return GrpcStatus.CANCELLED;
        }
        // Trailers-only responses carry the status in the headers.
        String code = response.headers().get(GrpcHeaderNames.GRPC_STATUS);
        if (code == null) {
            code = response.trailers().get(GrpcHeaderNames.GRPC_STATUS);
        }
        return code == null ? GrpcStatus.UNKNOWN : GrpcStatus.valueOf(Integer.parseInt(code));
    }
}
