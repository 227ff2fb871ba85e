package dev.rlhf.platform.grpc;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A started {@link GrpcServerHost} with a {@link TestRewardService} on loopback, and a grpc-java channel to it. */
public final class ServerFixture implements AutoCloseable {

    public final BlockingExecutor models;
    public final TestRewardService service;
    public final GrpcServerHost host;
    public final int port;
    public final ManagedChannel channel;

    public ServerFixture(Vertx vertx, MeterRegistry registry, int maxMessageBytes) {
        models = new BlockingExecutor(vertx, "test-model", 2, 8);
        service = new TestRewardService(models);
        host = new GrpcServerHost(vertx, new GrpcServerSettings("127.0.0.1", 0, maxMessageBytes), registry,
                List.of(service));
        port = host.start().await();
        channel = ManagedChannelBuilder.forAddress("127.0.0.1", port)
                .usePlaintext()
                .maxInboundMessageSize(maxMessageBytes)
                .build();
    }

    public ServiceEndpoint endpoint() {
        return new ServiceEndpoint("127.0.0.1", port);
    }

    @Override
    public void close() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        host.shutdown(Duration.ofSeconds(1)).await();
        models.close();
    }
}
