package dev.rlhf.platform.kafka;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.rlhf.proto.v1.ModelUpdate;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;

/**
 * Follows {@link Topics#SERVING} from its beginning, on its own thread, and says which checkpoint directories the
 * serving instances announced recently ({@link ServingAnnouncer}). Until it has read everything that was on the
 * topic when it started, it does not know, and says so (empty), so that nobody deletes a version on its word.
 */
public final class ServingTracker implements AutoCloseable {
    /** An instance's latest announcement and the broker time of its record. */
    public record Served(String model, long version, String uri, long timestampMs) {}

    private final KafkaConsumer<byte[], byte[]> consumer;
    private final Consumer<String> log;
    private final Thread thread;
    private final Map<String, Served> byInstance = new ConcurrentHashMap<>();
    private volatile boolean caughtUp;
    private final java.util.concurrent.CountDownLatch caughtUpLatch = new java.util.concurrent.CountDownLatch(1);
    private volatile boolean running = true;

    public ServingTracker(String bootstrapServers, String clientId, Consumer<String> log) {
        this.consumer = KafkaClients.bytesConsumer(KafkaClients.assignedConsumerConfig(bootstrapServers, clientId));
        this.log = log;
        this.thread = new Thread(this::run, "serving-tracker");
        this.thread.setDaemon(true);
    }

    public ServingTracker start() {
        thread.start();
        return this;
    }

    /**
     * The directories named by announcements at most {@code maxAge} old at {@code nowMs}, or empty while the topic's
     * backlog is still being read.
     */
    public Optional<Set<Path>> directories(long nowMs, Duration maxAge) {
        if (!caughtUp) {
            return Optional.empty();
        }
        return Optional.of(byInstance.values().stream().filter(s -> nowMs - s.timestampMs() <= maxAge.toMillis())
                .map(s -> Path.of(s.uri()).toAbsolutePath().normalize()).collect(Collectors.toSet()));
    }

    /** Waits until the announcements on the topic at start have been read; false if {@code timeout} passed first. */
    public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
        return caughtUpLatch.await(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    /** Every instance's latest announcement (withdrawn ones removed). */
    public Map<String, Served> instances() {
        return Map.copyOf(byInstance);
    }

    private void run() {
        try {
            List<TopicPartition> partitions = consumer.partitionsFor(Topics.SERVING, Duration.ofSeconds(60)).stream()
                    .map(p -> new TopicPartition(Topics.SERVING, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            while (running) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    apply(r);
                }
                if (!caughtUp && end.entrySet().stream().allMatch(e -> consumer.position(e.getKey()) >= e.getValue())) {
                    caughtUp = true;
                    caughtUpLatch.countDown();
                }
            }
        } catch (WakeupException e) {
            // close() asked us to stop
        } catch (RuntimeException e) {
            log.accept("serving tracker stopped: " + e);
        } finally {
            consumer.close();
        }
    }

    private void apply(ConsumerRecord<byte[], byte[]> r) {
        if (r.key() == null) {
            return;
        }
        String instance = new String(r.key(), StandardCharsets.UTF_8);
        if (r.value() == null) {
            byInstance.remove(instance); // withdrawn
            return;
        }
        try {
            ModelUpdate u = ModelUpdate.parseFrom(r.value());
            Path.of(u.getUri()); // a path that does not parse is ignored, not kept
            byInstance.put(instance, new Served(u.getModel(), u.getVersion(), u.getUri(), r.timestamp()));
        } catch (InvalidProtocolBufferException | RuntimeException e) {
            log.accept("ignoring serving record at " + r.topic() + "/" + r.partition() + "/" + r.offset() + ": " + e);
        }
    }

    @Override
    public void close() {
        running = false;
        ModelUpdateFollower.stopPolling(consumer, thread);
    }
}
