package dev.rlhf.platform.grpc;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.GrpcMessageDecoder;
import io.vertx.grpc.common.GrpcMessageEncoder;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.common.ServiceName;
import io.vertx.grpc.health.v1.HealthCheckRequest;
import io.vertx.grpc.health.v1.HealthCheckResponse;
import io.vertx.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.vertx.grpc.health.v1.HealthListRequest;
import io.vertx.grpc.health.v1.HealthListResponse;
import io.vertx.grpc.health.v1.HealthProto;
import io.vertx.grpc.server.GrpcServerRequest;
import io.vertx.grpc.server.GrpcServerResponse;
import io.vertx.grpc.server.Service;
import java.util.Collection;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** The standard {@code grpc.health.v1.Health} service (Check, Watch, List) over serving flags we set. */
// Not Vert.x 5.0.7's HealthService: it always answers SERVING for the overall service "" (what Kubernetes gRPC
// probes ask for), and its Watch re-sends on a timer whether or not anything changed. Its messages are reused.
final class HealthStatus {

    static final String OVERALL = "";
    private static final ServiceName NAME = ServiceName.create("grpc.health.v1.Health");
    private static final ServiceMethod<HealthCheckRequest, HealthCheckResponse> CHECK = ServiceMethod.server(
            NAME, "Check", GrpcMessageEncoder.encoder(), GrpcMessageDecoder.decoder(HealthCheckRequest.newBuilder()));
    private static final ServiceMethod<HealthCheckRequest, HealthCheckResponse> WATCH = ServiceMethod.server(
            NAME, "Watch", GrpcMessageEncoder.encoder(), GrpcMessageDecoder.decoder(HealthCheckRequest.newBuilder()));
    private static final ServiceMethod<HealthListRequest, HealthListResponse> LIST = ServiceMethod.server(
            NAME, "List", GrpcMessageEncoder.encoder(), GrpcMessageDecoder.decoder(HealthListRequest.newBuilder()));

    private final Map<String, Boolean> serving = new ConcurrentHashMap<>();
    private final Map<String, Set<Watcher>> watchers = new ConcurrentHashMap<>();
    private volatile boolean draining;

    /** Every listed service, and the overall server, starts NOT_SERVING until its owner says it is ready. */
    HealthStatus(Collection<String> serviceNames) {
        serving.put(OVERALL, false);
        serviceNames.forEach(name -> serving.put(name, false));
    }

    static String path() {
        return "/" + NAME.fullyQualifiedName() + "/";
    }

    Service service() {
        return Service.service(NAME, HealthProto.getDescriptor().findServiceByName("Health"))
                .bind(CHECK, this::check)
                .bind(WATCH, this::watch)
                .bind(LIST, this::list)
                .build();
    }

    /** Ignored once draining: a server that is shutting down never becomes SERVING again. */
    void set(String service, boolean isServing) {
        if (!serving.containsKey(service)) {
            throw new IllegalArgumentException("unknown service '" + service + "'; known: " + serving.keySet());
        }
        if (!draining) {
            update(service, isServing);
        }
    }

    void setAll(boolean isServing) {
        serving.keySet().forEach(name -> set(name, isServing));
    }

    /** Marks everything NOT_SERVING for good, so load balancers and probes move traffic away first. */
    void drain() {
        draining = true;
        serving.keySet().forEach(name -> update(name, false));
    }

    /** Ends open Watch streams, which would otherwise hold the HTTP server's shutdown until its timeout. */
    void closeWatches() {
        watchers.values().forEach(set -> set.forEach(Watcher::close));
        watchers.clear();
    }

    ServingStatus status(String service) {
        Boolean isServing = serving.get(service);
        if (isServing == null) {
            return ServingStatus.SERVICE_UNKNOWN;
        }
        return isServing ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    }

    private void update(String service, boolean isServing) {
        Boolean previous = serving.put(service, isServing);
        if (previous == null || previous != isServing) {
            HealthCheckResponse message = response(status(service));
            watchers.getOrDefault(service, Set.of()).forEach(w -> w.send(message));
        }
    }

    private void check(GrpcServerRequest<HealthCheckRequest, HealthCheckResponse> request) {
        request.handler(check -> {
            ServingStatus status = status(check.getService());
            if (status == ServingStatus.SERVICE_UNKNOWN) {
                // The health protocol answers an unknown name in Check with NOT_FOUND.
                request.response().status(GrpcStatus.NOT_FOUND)
                        .statusMessage("unknown service '" + check.getService() + "'").end();
            } else {
                request.response().end(response(status));
            }
        });
    }

    private void watch(GrpcServerRequest<HealthCheckRequest, HealthCheckResponse> request) {
        request.handler(check -> {
            String service = check.getService();
            Watcher watcher = new Watcher(Vertx.currentContext(), request.response());
            watchers.computeIfAbsent(service, k -> ConcurrentHashMap.newKeySet()).add(watcher);
            request.response().exceptionHandler(e -> forget(service, watcher));
            request.errorHandler(e -> forget(service, watcher));
            request.exceptionHandler(e -> forget(service, watcher));
            // An unknown service is reported, not refused: it may be registered later.
            watcher.send(response(status(service)));
        });
    }

    private void list(GrpcServerRequest<HealthListRequest, HealthListResponse> request) {
        request.handler(ignored -> {
            HealthListResponse.Builder builder = HealthListResponse.newBuilder();
            serving.keySet().forEach(name -> builder.putStatuses(name, response(status(name))));
            request.response().end(builder.build());
        });
    }

    private void forget(String service, Watcher watcher) {
        Set<Watcher> set = watchers.get(service);
        if (set != null) {
            set.remove(watcher);
        }
    }

    private static HealthCheckResponse response(ServingStatus status) {
        return HealthCheckResponse.newBuilder().setStatus(status).build();
    }

    /**
     * A Watch stream, written only from its own context as Vert.x streams require. A write can race with the
     * client going away, which Vert.x reports by throwing; the error handlers then forget the watcher.
     */
    private record Watcher(Context context, GrpcServerResponse<HealthCheckRequest, HealthCheckResponse> response) {

        void send(HealthCheckResponse message) {
            context.runOnContext(v -> {
                try {
                    response.write(message);
                } catch (IllegalStateException streamAlreadyClosed) {
                    // nothing to tell a client that is gone
                }
            });
        }

        void close() {
            context.runOnContext(v -> {
                try {
                    response.status(GrpcStatus.UNAVAILABLE).statusMessage("the server is shutting down").end();
                } catch (IllegalStateException streamAlreadyClosed) {
                    // nothing to tell a client that is gone
                }
            });
        }
    }
}
