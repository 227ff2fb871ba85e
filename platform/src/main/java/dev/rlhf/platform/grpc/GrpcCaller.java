package dev.rlhf.platform.grpc;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClosedException;
import io.vertx.core.http.StreamResetException;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientRequest;
import io.vertx.grpc.client.GrpcClientResponse;
import io.vertx.grpc.client.InvalidStatusException;
import io.vertx.grpc.common.GrpcError;
import io.vertx.grpc.common.GrpcErrorException;
import io.vertx.grpc.common.GrpcHeaderNames;
import io.vertx.grpc.common.GrpcLocal;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.MessageSizeOverflowException;
import io.vertx.grpc.common.ServiceMethod;
import java.io.ByteArrayOutputStream;
import java.net.ConnectException;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Makes unary calls to one endpoint with a deadline per attempt, retrying idempotent calls with exponential backoff,
 * and fails with {@link GrpcStatusException}s that keep the server's status message.
 */
public final class GrpcCaller {

    private final Vertx vertx;
    private final GrpcClient client;
    private final ServiceEndpoint endpoint;
    /** "Bearer ..." sent with every call, or null. */
    private final String authorization;

    /** @param client from {@link GrpcClients}; owned by the caller, who closes it */
    public GrpcCaller(Vertx vertx, GrpcClient client, ServiceEndpoint endpoint) {
        this(vertx, client, endpoint, null);
    }

    /** As above, sending {@code bearerToken} (null: none) with every call. */
    public GrpcCaller(Vertx vertx, GrpcClient client, ServiceEndpoint endpoint, String bearerToken) {
        this.vertx = Objects.requireNonNull(vertx, "vertx");
        this.client = Objects.requireNonNull(client, "client");
        this.endpoint = Objects.requireNonNull(endpoint, "endpoint");
        this.authorization = bearerToken == null ? null : "Bearer " + bearerToken;
    }

    public ServiceEndpoint endpoint() {
        return endpoint;
    }

    /**
     * Calls {@code method} (a generated client constant such as {@code RewardServiceGrpcClient.Score}); an
     * idempotent call is retried on UNAVAILABLE, or when its deadline passed before the request was sent.
     *
     * <p>Inside a server call on its Vert.x context, each attempt's deadline is also capped by the remaining time
     * of that call, so a caller never waits past its own deadline.
     */
    public <Req, Resp> Future<Resp> call(ServiceMethod<Resp, Req> method, Req request, CallOptions options) {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(options, "options");
        GrpcLocal inherited = GrpcLocal.current();
        Instant callerDeadline = inherited == null ? null : inherited.deadline();
        Context caller = Context.current();
        Span span = GrpcTracing.client(method.fullMethodName(), endpoint);
        Promise<Resp> result = Promise.promise();
        attempt(method, request, options, callerDeadline, 1, result, caller.with(span));
        Promise<Resp> answered = Promise.promise();
        result.future().onComplete(ar -> {
            GrpcStatus status = ar.succeeded() ? GrpcStatus.OK
                    : ar.cause() instanceof GrpcStatusException e ? e.status() : GrpcStatus.UNKNOWN;
            GrpcTracing.end(span, status, ar.succeeded() ? null : ar.cause().getMessage());
            // What the caller chains on the answer runs in the caller's trace context, wherever the answer arrived.
            try (Scope ignored = caller.makeCurrent()) {
                answered.handle(ar);
            }
        });
        return answered.future();
    }

    private <Req, Resp> void attempt(ServiceMethod<Resp, Req> method, Req request, CallOptions options,
                                     Instant callerDeadline, int attempt, Promise<Resp> result, Context trace) {
        long timeoutMs = options.timeout().toMillis();
        if (callerDeadline != null) {
            timeoutMs = Math.min(timeoutMs, callerDeadline.toEpochMilli() - System.currentTimeMillis());
            if (timeoutMs <= 0) {
                result.fail(new GrpcStatusException(GrpcStatus.DEADLINE_EXCEEDED,
                        "the caller's own deadline passed before calling " + describe(method)));
                return;
            }
        }
        Attempt<Req, Resp> current = new Attempt<>(method, Math.max(1, timeoutMs), trace);
        current.run(request).onComplete(ar -> {
            if (ar.succeeded()) {
                result.complete(ar.result());
                return;
            }
            GrpcStatusException failure = (GrpcStatusException) ar.cause();
            if (options.idempotent() && attempt < options.maxAttempts() && retriable(failure, current.sent())) {
                long base = options.backoffAfter(attempt).toMillis();
                // Jitter in [base/2, base] keeps many callers from retrying in lockstep after an outage.
                long delay = base <= 1 ? 1 : base / 2 + ThreadLocalRandom.current().nextLong(base / 2 + 1);
                vertx.setTimer(Math.max(1, delay),
                        id -> attempt(method, request, options, callerDeadline, attempt + 1, result, trace));
            } else {
                result.fail(failure);
            }
        });
    }

    /**
     * UNAVAILABLE means the server did not start the work (down, draining, unreachable); a deadline that passed
     * before sending means the same. Anything else may have run on the server, or will fail again.
     */
    private static boolean retriable(GrpcStatusException failure, boolean sent) {
        return failure.status() == GrpcStatus.UNAVAILABLE
                || (failure.status() == GrpcStatus.DEADLINE_EXCEEDED && !sent);
    }

    /**
     * Vert.x reports a connection the server closed during a TLS handshake (a client certificate it refused) as a
     * plain VertxException with HttpClosedException's message: the call never reached the service.
     */
    private static boolean closedConnection(Throwable failure) {
        return failure instanceof io.vertx.core.VertxException && failure.getMessage() != null
                && failure.getMessage().startsWith("Connection was closed");
    }

    /**
     * The grpc-message of a failed call. Vert.x 5.0.7's {@code statusMessage()} reads only the headers (so loses
     * a message sent in trailers) and decodes '+' as a space; gRPC percent-encodes only '%' and non-ASCII.
     */
    static String statusMessage(GrpcClientResponse<?, ?> response) {
        String raw = response.headers().get(GrpcHeaderNames.GRPC_MESSAGE);
        if (raw == null) {
            raw = response.trailers().get(GrpcHeaderNames.GRPC_MESSAGE);
        }
        if (raw == null) {
            return null;
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(raw.length());
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%' && i + 2 < raw.length() && isHex(raw.charAt(i + 1)) && isHex(raw.charAt(i + 2))) {
                bytes.write(Integer.parseInt(raw, i + 1, i + 3, 16));
                i += 2;
            } else {
                bytes.write(c);
            }
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    private static boolean isHex(char c) {
        return Character.digit(c, 16) >= 0;
    }

    private String describe(ServiceMethod<?, ?> method) {
        return method.fullMethodName() + " at " + endpoint;
    }

    /** One attempt: its own deadline timer, so it knows whether the request left before the deadline. */
    private final class Attempt<Req, Resp> {

        private final ServiceMethod<Resp, Req> method;
        private final long timeoutMs;
        private final Context trace;
        private final Promise<Resp> promise = Promise.promise();
        private volatile GrpcClientRequest<Req, Resp> stream;
        private volatile boolean deadlinePassed;

        Attempt(ServiceMethod<Resp, Req> method, long timeoutMs, Context trace) {
            this.method = method;
            this.timeoutMs = timeoutMs;
            this.trace = trace;
        }

        boolean sent() {
            return stream != null;
        }

        Future<Resp> run(Req request) {
            long timer = vertx.setTimer(timeoutMs, id -> expire());
            client.request(endpoint.socketAddress(), method).onComplete(ar -> {
                if (ar.failed()) {
                    promise.tryFail(toStatus(ar.cause(), null));
                    return;
                }
                GrpcClientRequest<Req, Resp> opened = ar.result();
                stream = opened;
                if (authorization != null) {
                    opened.headers().set(GrpcSecurity.AUTHORIZATION, authorization);
                }
                GrpcTracing.inject(trace, opened.headers());
                if (deadlinePassed) {
                    opened.cancel();
                    return;
                }
                opened.timeout(timeoutMs, TimeUnit.MILLISECONDS);
                opened.end(request).onFailure(e -> promise.tryFail(toStatus(e, null)));
                opened.response()
                        .compose(response -> response.last().recover(e -> Future.failedFuture(toStatus(e, response))))
                        .onComplete(r -> {
                            if (r.succeeded()) {
                                promise.tryComplete(r.result());
                            } else {
                                promise.tryFail(toStatus(r.cause(), null));
                            }
                        });
            });
            return promise.future().onComplete(ar -> vertx.cancelTimer(timer));
        }

        private void expire() {
            deadlinePassed = true;
            GrpcClientRequest<Req, Resp> opened = stream;
            if (opened != null) {
                // Resets the stream, which tells the server to stop working on it.
                opened.cancel();
            }
            promise.tryFail(new GrpcStatusException(GrpcStatus.DEADLINE_EXCEEDED, (opened == null
                    ? "could not send to " : "no response from ") + describe(method) + " within " + timeoutMs + " ms"));
        }

        private GrpcStatusException toStatus(Throwable failure, GrpcClientResponse<Req, Resp> response) {
            if (failure instanceof GrpcStatusException e) {
                return e;
            }
            if (deadlinePassed) {
                return new GrpcStatusException(GrpcStatus.DEADLINE_EXCEEDED,
                        "no response from " + describe(method) + " within " + timeoutMs + " ms", failure);
            }
            if (failure instanceof InvalidStatusException e) {
                String message = response == null ? null : statusMessage(response);
                return new GrpcStatusException(e.actualStatus(),
                        message != null ? message : e.actualStatus().name() + " from " + describe(method), e);
            }
            if (failure instanceof GrpcErrorException e) {
                return new GrpcStatusException(e.status(), "stream " + e.error() + " by " + describe(method), e);
            }
            if (failure instanceof StreamResetException e) {
                GrpcError error = GrpcError.mapHttp2ErrorCode(e.getCode());
                GrpcStatus status = error == null ? GrpcStatus.UNAVAILABLE : error.status;
                return new GrpcStatusException(status, "stream reset (" + e.getCode() + ") by " + describe(method), e);
            }
            if (failure instanceof ConnectException || failure instanceof HttpClosedException
                    || failure instanceof ClosedChannelException || failure instanceof javax.net.ssl.SSLException
                    || closedConnection(failure)) {
                return new GrpcStatusException(GrpcStatus.UNAVAILABLE,
                        "cannot reach " + describe(method) + ": " + failure.getMessage(), failure);
            }
            if (failure instanceof MessageSizeOverflowException) {
                return new GrpcStatusException(GrpcStatus.RESOURCE_EXHAUSTED,
                        "response from " + describe(method) + " exceeds the client's message size limit", failure);
            }
            if (failure instanceof UnsupportedOperationException) {
                // Vert.x 5.0.7 throws this when a propagated deadline has already passed at request creation.
                return new GrpcStatusException(GrpcStatus.DEADLINE_EXCEEDED,
                        "the caller's own deadline passed before calling " + describe(method), failure);
            }
            return new GrpcStatusException(GrpcStatus.UNKNOWN,
                    describe(method) + " failed: " + failure, failure);
        }
    }
}
