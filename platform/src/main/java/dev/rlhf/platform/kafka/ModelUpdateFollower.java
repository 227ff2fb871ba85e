package dev.rlhf.platform.kafka;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.rlhf.platform.tracing.KafkaTracing;
import dev.rlhf.platform.tracing.Tracing;
import dev.rlhf.proto.v1.ModelUpdate;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.context.Scope;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Function;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;

/**
 * Follows a compacted update topic ({@code rlhf.policy-updates} / {@code rlhf.reward-updates}) from its
 * beginning and hands every {@link ModelUpdate} for one model key to a callback, on its own thread. Every
 * serving replica sees every update, so there is no consumer group.
 *
 * <p>The callback returns the update's application (load and swap); the follower waits for it, so updates apply one
 * at a time in topic order, and each one's {@code process} span (continuing the trainer's trace) covers it.
 */
public final class ModelUpdateFollower implements AutoCloseable {
    private static final AttributeKey<Long> MODEL_VERSION = AttributeKey.longKey("rlhf.model.version");
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final String topic;
    private final String modelKey;
    private final Function<ModelUpdate, ? extends Future<?>> onUpdate;
    private final Consumer<String> log;
    private final Thread thread;
    private final AtomicLong seen = new AtomicLong();
    private volatile boolean running = true;

    /** @param onUpdate starts applying one update; null when it was ignored */
    public ModelUpdateFollower(String bootstrapServers, String topic, String modelKey,
                               Function<ModelUpdate, ? extends Future<?>> onUpdate, Consumer<String> log) {
        this.consumer = KafkaClients.bytesConsumer(KafkaClients.assignedConsumerConfig(bootstrapServers,
                "follow-" + modelKey));
        this.topic = topic;
        this.modelKey = modelKey;
        this.onUpdate = onUpdate;
        this.log = log;
        this.thread = new Thread(this::run, "follow-" + topic + "-" + modelKey);
        this.thread.setDaemon(true);
    }

    public ModelUpdateFollower start() {
        thread.start();
        return this;
    }

    private void run() {
        try {
            List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(60));
            List<TopicPartition> partitions = infos.stream().map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions); // compacted: the latest version per model is always there
            while (running) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    if (r.key() == null || !modelKey.equals(new String(r.key(), StandardCharsets.UTF_8))) {
                        continue;
                    }
                    Span span = KafkaTracing.process(r);
                    try (Scope ignored = span.makeCurrent()) {
                        ModelUpdate update = ModelUpdate.parseFrom(r.value());
                        seen.incrementAndGet();
                        span.setAttribute(MODEL_VERSION, update.getVersion());
                        await(onUpdate.apply(update));
                    } catch (InvalidProtocolBufferException | NullPointerException e) {
                        Tracing.failed(span, e);
                        log.accept("ignoring undecodable update at " + r.topic() + "/" + r.partition() + "/" + r.offset());
                    } catch (RuntimeException | ExecutionException e) {
                        // One bad record (a NUL in its path, say) must not stop every later update.
                        Tracing.failed(span, e);
                        log.accept("ignoring update at " + r.topic() + "/" + r.partition() + "/" + r.offset() + ": "
                                + e);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    } finally {
                        span.end();
                    }
                }
            }
        } catch (WakeupException e) {
            // close() asked us to stop
        } catch (RuntimeException e) {
            log.accept("update follower for " + modelKey + " stopped: " + e);
        } finally {
            consumer.close();
        }
    }

    /** Waits for an update's application, but not past close(): a loader stopped first never completes it. */
    private void await(Future<?> applied) throws ExecutionException, InterruptedException {
        while (applied != null && running) {
            try {
                applied.get(1, TimeUnit.SECONDS);
                return;
            } catch (TimeoutException e) {
                // still loading: look at the stop flag again
            }
        }
    }

    /** Updates for this model seen so far. */
    public long seen() {
        return seen.get();
    }

    @Override
    public void close() {
        running = false;
        stopPolling(consumer, thread);
    }

    /** Wakes a thread blocked in {@code consumer.poll} (it then sees its stop flag) and waits up to 10 s for it. */
    static void stopPolling(org.apache.kafka.clients.consumer.KafkaConsumer<?, ?> consumer, Thread thread) {
        consumer.wakeup();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
