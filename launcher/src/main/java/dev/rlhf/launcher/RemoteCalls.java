package dev.rlhf.launcher;

import dev.rlhf.platform.grpc.CallOptions;
import dev.rlhf.platform.grpc.GrpcCaller;
import dev.rlhf.platform.grpc.GrpcClients;
import dev.rlhf.platform.grpc.GrpcSecurity;
import dev.rlhf.platform.grpc.GrpcStatusException;
import dev.rlhf.platform.grpc.ServiceEndpoint;
import io.vertx.core.Vertx;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.common.ServiceMethod;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/** One unary gRPC call to a running service, for `rlhf generate --remote` and `rlhf score --remote`. */
final class RemoteCalls {
    private RemoteCalls() {}

    static <Req, Resp> Resp call(String address, ServiceMethod<Resp, Req> method, Req request, Duration timeout) {
        return call(address, GrpcSecurity.Client.NONE, method, request, timeout);
    }

    /** As above over TLS, with a client certificate or a bearer token as {@code security} says. */
    static <Req, Resp> Resp call(String address, GrpcSecurity.Client security, ServiceMethod<Resp, Req> method,
                                 Req request, Duration timeout) {
        ServiceEndpoint endpoint = ServiceEndpoint.parse(address);
        String token = security.token();
        Vertx vertx = Vertx.vertx();
        GrpcClient client = GrpcClients.create(vertx, GrpcClients.DEFAULT_MAX_MESSAGE_BYTES, security);
        try {
            return new GrpcCaller(vertx, client, endpoint, token).call(method, request, CallOptions.once(timeout))
                    .toCompletionStage().toCompletableFuture().get(timeout.toMillis() + 5000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof GrpcStatusException g) {
                throw new IllegalStateException(address + " answered " + g.status().name() + ": " + g.getMessage(), g);
            }
            throw new IllegalStateException("call to " + address + " failed: " + cause, cause);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("no answer from " + address + " within " + timeout.toSeconds() + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted");
        } finally {
            client.close();
            vertx.close();
        }
    }
}
