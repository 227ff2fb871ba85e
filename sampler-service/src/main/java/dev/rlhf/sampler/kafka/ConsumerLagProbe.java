package dev.rlhf.sampler.kafka;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;

/**
 * How far a consumer group is behind the end of a topic, refreshed on a timer from the group's committed
 * offsets, so the metrics gauge reads a cached number and a scrape never waits on Kafka.
 */
public final class ConsumerLagProbe implements AutoCloseable {
    private final Admin admin;
    private final String groupId;
    private final String topic;
    private final Duration timeout;
    private final Consumer<String> log;
    private final ScheduledExecutorService timer;
    private volatile double lag = Double.NaN;
    private volatile boolean warned;

    /** @param admin owned by the probe and closed with it */
    public ConsumerLagProbe(Admin admin, String groupId, String topic, Duration every, Consumer<String> log) {
        this.admin = admin;
        this.groupId = groupId;
        this.topic = topic;
        this.timeout = every;
        this.log = log;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "sampler-lag-probe");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(this::refresh, 0, every.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Records not yet committed by the group; NaN until the first successful refresh. */
    public double lag() {
        return lag;
    }

    private void refresh() {
        try {
            TopicDescription description = admin.describeTopics(List.of(topic)).allTopicNames()
                    .get(timeout.toMillis(), TimeUnit.MILLISECONDS).get(topic);
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(groupId)
                    .partitionsToOffsetAndMetadata().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            Map<TopicPartition, OffsetSpec> ends = new HashMap<>();
            Map<TopicPartition, OffsetSpec> starts = new HashMap<>();
            description.partitions().forEach(p -> {
                TopicPartition tp = new TopicPartition(topic, p.partition());
                ends.put(tp, OffsetSpec.latest());
                starts.put(tp, OffsetSpec.earliest());
            });
            // The group only ever consumes committed data, so measure against the last stable offset.
            ListOffsetsOptions readCommitted = new ListOffsetsOptions(IsolationLevel.READ_COMMITTED);
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> end = admin.listOffsets(ends, readCommitted)
                    .all().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> start = admin.listOffsets(starts)
                    .all().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            long total = 0;
            for (TopicPartition tp : ends.keySet()) {
                OffsetAndMetadata position = committed.get(tp);
                long from = position != null ? position.offset() : start.get(tp).offset();
                total += Math.max(0, end.get(tp).offset() - from);
            }
            lag = total;
            warned = false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            lag = Double.NaN;
            if (!warned) {
                warned = true;
                log.accept("sampler: cannot measure the consumer lag of " + groupId + " on " + topic + ": " + e);
            }
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
        admin.close(Duration.ofSeconds(5));
    }
}
