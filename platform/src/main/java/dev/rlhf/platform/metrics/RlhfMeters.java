package dev.rlhf.platform.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.function.DoubleSupplier;
import java.util.function.LongSupplier;

/**
 * The metric names and tags the rlhf services share, so one dashboard reads them all; in Prometheus, dots
 * become underscores and counters gain {@code _total}.
 */
public final class RlhfMeters {

    public static final String BATCH_SIZE = "rlhf.batch.size";
    public static final String TOKENS = "rlhf.tokens";
    public static final String KAFKA_CONSUMER_LAG = "rlhf.kafka.consumer.lag";
    public static final String MODEL_VERSION = "rlhf.model.version";

    private RlhfMeters() {
    }

    /** A Prometheus registry with JVM memory, thread and CPU meters, tagged with the service name. */
    public static PrometheusMeterRegistry newRegistry(String service) {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        registry.config().commonTags("service", service);
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        return registry;
    }

    /** Sizes of the batches a stage processes ({@code stage="generate"}, {@code "ppo-minibatch"}, ...). */
    public static DistributionSummary batchSize(MeterRegistry registry, String stage) {
        return DistributionSummary.builder(BATCH_SIZE)
                .description("items per batch")
                .baseUnit("items")
                .tag("stage", stage)
                .register(registry);
    }

    /**
     * Tokens processed, to be incremented by the count after each batch; Prometheus derives tokens/s with
     * {@code rate(rlhf_tokens_total[1m])}.
     *
     * @param kind {@code generated}, {@code scored} or {@code trained}
     */
    public static Counter tokens(MeterRegistry registry, String kind) {
        return Counter.builder(TOKENS)
                .description("tokens processed")
                .baseUnit("tokens")
                .tag("kind", kind)
                .register(registry);
    }

    /**
     * Records a consumer group is behind on a topic, read at scrape time from {@code lag}; the callback must
     * return a cached value (from the poll loop), never call Kafka itself.
     */
    public static Gauge kafkaConsumerLag(MeterRegistry registry, String group, String topic, DoubleSupplier lag) {
        return Gauge.builder(KAFKA_CONSUMER_LAG, lag::getAsDouble)
                .description("records the consumer group is behind the end of the topic")
                .baseUnit("records")
                .tag("group", group)
                .tag("topic", topic)
                // Micrometer holds gauge state weakly; a lambda held nowhere else would be collected and read NaN.
                .strongReference(true)
                .register(registry);
    }

    /**
     * The version of the model currently serving or training ({@code model="policy"}, {@code "reward-helpful"}),
     * so a rollout can be traced to the checkpoint that produced it.
     */
    public static Gauge modelVersion(MeterRegistry registry, String model, LongSupplier version) {
        return Gauge.builder(MODEL_VERSION, () -> version.getAsLong())
                .description("version of the loaded model checkpoint")
                .tag("model", model)
                // Held strongly for the same reason as the lag gauge.
                .strongReference(true)
                .register(registry);
    }
}
