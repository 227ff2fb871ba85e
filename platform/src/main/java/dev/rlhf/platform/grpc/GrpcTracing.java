package dev.rlhf.platform.grpc;

import dev.rlhf.platform.tracing.Tracing;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapSetter;
import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.grpc.common.GrpcStatus;

/**
 * Trace context through gRPC calls, in the request metadata ({@code traceparent}), with spans named and attributed
 * as OpenTelemetry's RPC conventions say: {@code package.Service/Method}, CLIENT on the caller and SERVER on the
 * service.
 */
final class GrpcTracing {
    private static final AttributeKey<String> SYSTEM = AttributeKey.stringKey("rpc.system");
    private static final AttributeKey<String> SERVICE = AttributeKey.stringKey("rpc.service");
    private static final AttributeKey<String> METHOD = AttributeKey.stringKey("rpc.method");
    private static final AttributeKey<Long> STATUS = AttributeKey.longKey("rpc.grpc.status_code");
    private static final AttributeKey<String> PEER = AttributeKey.stringKey("server.address");
    private static final AttributeKey<Long> PEER_PORT = AttributeKey.longKey("server.port");

    private static final TextMapGetter<MultiMap> GETTER = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(MultiMap headers) {
            return headers.names();
        }

        @Override
        public String get(MultiMap headers, String key) {
            return headers == null ? null : headers.get(key);
        }
    };

    private static final TextMapSetter<MultiMap> SETTER = MultiMap::set;

    private GrpcTracing() {
    }

    /** The CLIENT span of a call to {@code fullMethod} at {@code endpoint}, a child of the current context. */
    static Span client(String fullMethod, ServiceEndpoint endpoint) {
        return named(fullMethod, SpanKind.CLIENT, Context.current())
                .setAttribute(PEER, endpoint.host())
                .setAttribute(PEER_PORT, (long) endpoint.port());
    }

    /** Puts {@code context} into a call's request metadata. */
    static void inject(Context context, MultiMap headers) {
        Tracing.propagator().inject(context, headers, SETTER);
    }

    /** The SERVER span of a call, a child of the context its caller sent. */
    static Span server(HttpServerRequest request, String fullMethod) {
        Context parent = Tracing.propagator().extract(Context.root(), request.headers(), GETTER);
        return named(fullMethod, SpanKind.SERVER, parent);
    }

    /** Ends {@code span} with the call's status: anything but OK marks it failed. */
    static void end(Span span, GrpcStatus status, String message) {
        span.setAttribute(STATUS, (long) status.code);
        if (status != GrpcStatus.OK) {
            span.setStatus(StatusCode.ERROR, message == null ? status.name() : status.name() + ": " + message);
        }
        span.end();
    }

    private static Span named(String fullMethod, SpanKind kind, Context parent) {
        int slash = fullMethod.indexOf('/');
        var builder = Tracing.tracer().spanBuilder(fullMethod).setSpanKind(kind).setParent(parent)
                .setAttribute(SYSTEM, "grpc");
        if (slash > 0) {
            builder.setAttribute(SERVICE, fullMethod.substring(0, slash))
                    .setAttribute(METHOD, fullMethod.substring(slash + 1));
        }
        return builder.startSpan();
    }
}
