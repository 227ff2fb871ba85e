package dev.rlhf.platform.grpc;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;
import io.vertx.grpc.common.GrpcMessageDecoder;
import io.vertx.grpc.common.GrpcMessageEncoder;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.GrpcServerResponse;
import io.vertx.grpc.server.StatusException;
import java.util.function.Function;

/**
 * Binds service methods so that a request that does not parse (e.g. a proto3 string with invalid UTF-8) gets
 * INVALID_ARGUMENT with the parser's reason: Vert.x's generated bindings decode before any handler runs and
 * answer such requests with a bare stream reset. Failures of the implementation go through a
 * {@link StatusMapping}, and a failed streaming call ends with its status instead of hanging.
 */
public final class StrictBindings {
    private StrictBindings() {}

    /** Unary method {@code method} answered by {@code impl}. */
    public static <Req extends MessageLite, Resp extends MessageLite> void unary(GrpcServer server,
            ServiceMethod<Req, Resp> method, Parser<Req> parser, StatusMapping statuses,
            Function<Req, Future<Resp>> impl) {
        server.callHandler(raw(method), call -> call.handler(bytes -> {
            GrpcServerResponse<Buffer, Resp> response = call.response();
            Req request = parseOrFail(method, parser, bytes, response);
            if (request == null) {
                return;
            }
            statuses.call(() -> impl.apply(request)).onComplete(ar -> {
                if (ar.succeeded()) {
                    response.end(ar.result());
                } else {
                    response.fail(statuses.toVertx(ar.cause()));
                }
            });
        }));
    }

    /** Server-streaming method: {@code impl} returns the stream of responses; back-pressure is honoured. */
    public static <Req extends MessageLite, Resp extends MessageLite> void serverStreaming(GrpcServer server,
            ServiceMethod<Req, Resp> method, Parser<Req> parser, StatusMapping statuses,
            Function<Req, Future<ReadStream<Resp>>> impl) {
        server.callHandler(raw(method), call -> call.handler(bytes -> {
            GrpcServerResponse<Buffer, Resp> response = call.response();
            Req request = parseOrFail(method, parser, bytes, response);
            if (request == null) {
                return;
            }
            statuses.call(() -> impl.apply(request)).onComplete(ar -> {
                if (ar.failed()) {
                    response.fail(statuses.toVertx(ar.cause()));
                    return;
                }
                ReadStream<Resp> stream = ar.result();
                stream.exceptionHandler(err -> response.fail(statuses.toVertx(err)));
                stream.endHandler(v -> response.end());
                stream.handler(item -> {
                    response.write(item);
                    if (response.writeQueueFull()) {
                        stream.pause();
                        response.drainHandler(d -> stream.resume());
                    }
                });
            });
        }));
    }

    /** The parsed request, or null after answering INVALID_ARGUMENT. */
    private static <Req> Req parseOrFail(ServiceMethod<?, ?> method, Parser<Req> parser, Buffer bytes,
                                         GrpcServerResponse<?, ?> response) {
        try {
            return parser.parseFrom(bytes.getBytes());
        } catch (InvalidProtocolBufferException e) {
            response.fail(invalid(method, e));
            return null;
        }
    }

    private static StatusException invalid(ServiceMethod<?, ?> method, InvalidProtocolBufferException e) {
        return new StatusException(GrpcStatus.INVALID_ARGUMENT, "request is not a valid "
                + method.methodName() + " message: " + e.getMessage());
    }

    /** The same method name, with the request left as bytes so we parse it ourselves. */
    private static <Req, Resp extends MessageLite> ServiceMethod<Buffer, Resp> raw(ServiceMethod<Req, Resp> method) {
        return ServiceMethod.server(method.serviceName(), method.methodName(), GrpcMessageEncoder.encoder(),
                GrpcMessageDecoder.IDENTITY);
    }
}
