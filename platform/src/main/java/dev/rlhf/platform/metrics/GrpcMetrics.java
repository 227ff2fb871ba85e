package dev.rlhf.platform.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * Counts and times gRPC server calls per method and status: {@code rlhf_grpc_server_requests_total} and
 * {@code rlhf_grpc_server_duration_seconds}, labelled {@code method="rlhf.v1.RewardService/Score"},
 * {@code status="OK"}.
 */
public final class GrpcMetrics {

    public static final String REQUESTS = "rlhf.grpc.server.requests";
    public static final String DURATION = "rlhf.grpc.server.duration";
    public static final String METHOD_TAG = "method";
    public static final String STATUS_TAG = "status";

    /**
     * Fixed buckets from a fast score (milliseconds) to a long best-of-16 generation (a minute), rather than
     * Micrometer's ~70 percentile buckets per method and status.
     */
    private static final Duration[] BUCKETS = {
        Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50),
        Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1),
        Duration.ofMillis(2500), Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(30),
        Duration.ofSeconds(60),
    };

    private final MeterRegistry registry;

    public GrpcMetrics(MeterRegistry registry) {
        this.registry = Objects.requireNonNull(registry, "registry");
    }

    /**
     * Records one finished call.
     *
     * @param method full method name without the leading slash; callers pass a fixed placeholder for names
     *               outside their services, so that random paths cannot create unbounded label values
     * @param status the gRPC status name, such as {@code OK} or {@code DEADLINE_EXCEEDED}
     */
    public void record(String method, String status, long durationNanos) {
        Counter.builder(REQUESTS)
                .description("gRPC calls handled, by method and final status")
                .tag(METHOD_TAG, method)
                .tag(STATUS_TAG, status)
                .register(registry)
                .increment();
        Timer.builder(DURATION)
                .description("gRPC call latency from request headers to the end of the response")
                .tag(METHOD_TAG, method)
                .tag(STATUS_TAG, status)
                .serviceLevelObjectives(BUCKETS)
                .register(registry)
                .record(durationNanos, TimeUnit.NANOSECONDS);
    }
}
