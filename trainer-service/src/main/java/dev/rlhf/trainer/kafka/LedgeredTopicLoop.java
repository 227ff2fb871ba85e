package dev.rlhf.trainer.kafka;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.rlhf.platform.kafka.DeadLetters;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.platform.tracing.KafkaTracing;
import dev.rlhf.platform.tracing.Tracing;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import java.time.Instant;
import dev.rlhf.proto.v1.ModelUpdate;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;

/**
 * Feeds one topic into checkpointed training and publishes each new checkpoint as a {@code ModelUpdate} (key = model
 * name) on an updates topic. Partitions are assigned manually (one trainer per model) and positioned from the
 * checkpoint ledgers instead of committed group offsets, because a checkpoint is the only place where "trained" is
 * true: a restart loses nothing and trains nothing twice.
 */
public final class LedgeredTopicLoop implements Runnable, AutoCloseable {
    /** Links kept for one step (the SDK keeps 128 per span by default). */
    private static final int MAX_LINKS = 128;
    private static final AttributeKey<Long> RECORDS = AttributeKey.longKey("rlhf.trainer.records");
    /** The training behind the loop: decodes records for a domain trainer and turns its checkpoints into updates. */
    public interface Handler {
        /**
         * Binds the handler's ledgers to the log of broker cluster {@code clusterId}; returns the cluster ids of
         * ledgers that belonged to another (their offsets are dropped: that log is gone).
         */
        List<String> adoptCluster(String clusterId);

        /** Marks a record that could not be used as consumed, so a restart does not read it again. */
        void skip(int partition, long offset);

        /** Where to resume a partition: the lowest next offset over the handler's ledgers. */
        long resumeOffset(int partition);

        /**
         * The newest version of each model at start-up, published again: a crash between checkpoint and publish
         * would otherwise hide it (the updates topic is compacted and versions are monotonic, so repeats are harmless).
         */
        List<ModelUpdate> newest();

        /**
         * Trains on one record; returns the updates of the checkpoints it completed.
         * @throws InvalidProtocolBufferException or IllegalArgumentException for a record that cannot be used
         */
        List<ModelUpdate> accept(int partition, long offset, byte[] value) throws InvalidProtocolBufferException;
    }

    private final String name;
    private final String topic;
    private final String updatesTopic;
    private final Handler handler;
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final KafkaProducer<byte[], byte[]> producer;
    private final Duration pollTimeout;
    private final String bootstrapServers;
    private final Consumer<String> log;
    private final AtomicLong rejected = new AtomicLong();
    private final AtomicLong consumed = new AtomicLong();
    private final AtomicLong handled = new AtomicLong();
    private final AtomicLong published = new AtomicLong();
    private volatile boolean running = true;
    private volatile Consumer<ModelUpdate> onPublished = u -> { };
    private volatile Thread thread;
    /** Spans of the records consumed since the last update (loop thread only): the next step links to them. */
    private final List<SpanContext> sinceUpdate = new ArrayList<>();
    private long recordsSinceUpdate;

    /** @param name for client ids and log lines, e.g. "trainer" or "trainer-rewards" */
    public LedgeredTopicLoop(String name, String topic, String updatesTopic, Handler handler, String bootstrapServers,
                             Duration pollTimeout, Consumer<String> log) {
        this.name = name;
        this.topic = topic;
        this.updatesTopic = updatesTopic;
        this.handler = handler;
        this.pollTimeout = pollTimeout;
        this.bootstrapServers = bootstrapServers;
        this.log = log;
        // No group id: positions come from the checkpoint ledgers, never from committed offsets.
        this.consumer = KafkaClients.bytesConsumer(KafkaClients.assignedConsumerConfig(bootstrapServers, name));
        // Model updates must not be lost or duplicated by retries: idempotent producer, acks=all.
        this.producer = KafkaClients.bytesProducer(KafkaClients.producerConfig(bootstrapServers, name + "-updates"));
    }

    /** Assigns every partition of the topic and seeks to the ledgers (after binding them to this broker's log). */
    void position() {
        String cluster = clusterId();
        for (String previous : handler.adoptCluster(cluster)) {
            // The checkpoint's offsets point into a log this broker does not have: a restart must not crash on them
            // or skip the new log's first records as "already trained".
            log.accept(name + ": the broker is new (cluster " + cluster + ", the checkpoint's offsets are from "
                    + previous + "): reading " + topic + " from its start, training continues from the checkpoint");
        }
        List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(30));
        List<TopicPartition> partitions = new ArrayList<>();
        for (PartitionInfo p : infos) {
            partitions.add(new TopicPartition(topic, p.partition()));
        }
        consumer.assign(partitions);
        StringBuilder offsets = new StringBuilder();
        for (TopicPartition tp : partitions) {
            long next = handler.resumeOffset(tp.partition());
            consumer.seek(tp, next);
            offsets.append(offsets.isEmpty() ? "" : ", ").append(tp.partition()).append('=').append(next);
        }
        log.accept(name + ": reading " + topic + " from {" + offsets + "}");
    }

    private String clusterId() {
        try (var admin = KafkaClients.admin(bootstrapServers, name + "-cluster")) {
            return admin.describeCluster().clusterId().get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException(name + ": cannot read the broker's cluster id: " + e, e);
        }
    }

    @Override
    public void run() {
        thread = Thread.currentThread();
        try {
            position();
            handler.newest().forEach(this::publish);
            while (running) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(pollTimeout)) {
                    consumed.incrementAndGet();
                    Span span = KafkaTracing.process(r);
                    try (Scope ignored = span.makeCurrent()) {
                        handle(r, span);
                    } finally {
                        span.end();
                    }
                }
            }
        } catch (WakeupException e) {
            if (running) {
                throw e;
            }
        } finally {
            consumer.close();
            producer.close(Duration.ofSeconds(10));
        }
    }

    /**
     * Trains on one record in its {@code process} span. When the record completes a step, a {@code train <name>}
     * span, a child of this record's span and linked to every record consumed since the previous update, covers it,
     * and its updates are published in that trace.
     */
    private void handle(ConsumerRecord<byte[], byte[]> r, Span span) {
        Instant startedAt = Instant.now();
        List<ModelUpdate> updates;
        try {
            if (r.value() == null) {
                throw new IllegalArgumentException("empty record");
            }
            updates = handler.accept(r.partition(), r.offset(), r.value());
        } catch (InvalidProtocolBufferException | IllegalArgumentException e) {
            // A poison record (undecodable, ids out of the vocabulary, non-finite values, too long):
            // kept with its reason on the dead-letter topic, never retried into a crash loop.
            rejected.incrementAndGet();
            log.accept(name + ": skipping unusable record at " + topic + " " + r.partition() + "/"
                    + r.offset() + " (sent to " + Topics.DEAD_LETTER + "): " + e.getMessage());
            deadLetter(r, e.getMessage());
            Tracing.failed(span, e);
            handler.skip(r.partition(), r.offset());
            handled.incrementAndGet();
            return;
        }
        if (updates.isEmpty()) {
            remember(span.getSpanContext());
        } else {
            SpanBuilder step = Tracing.tracer().spanBuilder("train " + name)
                    .setStartTimestamp(startedAt)
                    .setAttribute(RECORDS, recordsSinceUpdate + 1);
            sinceUpdate.forEach(step::addLink);
            sinceUpdate.clear();
            recordsSinceUpdate = 0;
            Span train = step.startSpan();
            try (Scope ignored = train.makeCurrent()) {
                updates.forEach(this::publish);
            } finally {
                train.end();
            }
        }
        handled.incrementAndGet();
    }

    /** The span of a record that waits for a step, to link from that step; only the newest {@link #MAX_LINKS}. */
    private void remember(SpanContext record) {
        recordsSinceUpdate++;
        if (!record.isValid()) {
            return;
        }
        if (sinceUpdate.size() == MAX_LINKS) {
            sinceUpdate.remove(0);
        }
        sinceUpdate.add(record);
    }

    private void deadLetter(ConsumerRecord<byte[], byte[]> record, String reason) {
        try {
            KafkaTracing.send(producer, Context.current(), Topics.DEAD_LETTER, record.key(),
                    DeadLetters.of(record, name + ": " + reason).toByteArray()).get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            // The record is skipped either way; losing its copy is logged, not fatal to training.
            log.accept(name + ": could not dead-letter " + topic + " " + record.partition() + "/" + record.offset()
                    + ": " + e);
        }
    }

    private void publish(ModelUpdate update) {
        try {
            KafkaTracing.send(producer, Context.current(), updatesTopic,
                    update.getModel().getBytes(StandardCharsets.UTF_8), update.toByteArray()).get(30, TimeUnit.SECONDS);
            published.incrementAndGet();
            log.accept(name + ": published " + update.getModel() + " version " + update.getVersion() + " (step "
                    + update.getStep() + ", " + update.getMetricsMap() + ")");
        } catch (Exception e) {
            throw new IllegalStateException("could not publish " + update.getModel() + " version "
                    + update.getVersion() + ": " + e, e);
        }
        try {
            onPublished.accept(update); // after the update is out: its failure must not stop training
        } catch (RuntimeException e) {
            log.accept(name + ": after publishing " + update.getModel() + " version " + update.getVersion() + ": " + e);
        }
    }

    /** Called on the loop's thread after each update is on the topic (e.g. to prune old checkpoints). */
    public void onPublished(Consumer<ModelUpdate> hook) {
        this.onPublished = hook == null ? u -> { } : hook;
    }

    /** Records read since start. */
    public long consumed() {
        return consumed.get();
    }

    /**
     * Records whose handling has ended since start (trained on, buffered or rejected, and any update they completed
     * published): once it reaches the number of records a client sent, the versions it sees are final for them.
     */
    public long handled() {
        return handled.get();
    }

    /** Records skipped as undecodable or invalid, each sent to the dead-letter topic. */
    public long rejected() {
        return rejected.get();
    }

    /** ModelUpdates published since start (republished ones included). */
    public long published() {
        return published.get();
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        Thread t = thread;
        if (t != null && t != Thread.currentThread()) {
            try {
                t.join(TimeUnit.SECONDS.toMillis(60));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
