package dev.rlhf.trainer.kafka;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.proto.v1.BestSample;
import dev.rlhf.proto.v1.ModelUpdate;
import dev.rlhf.trainer.domain.OffsetLedger;
import dev.rlhf.trainer.domain.RejectionSamplingSft;
import dev.rlhf.trainer.domain.RejectionSamplingSft.PolicyCheckpoint;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;

/**
 * Feeds {@code rlhf.best} into the online SFT trainer. Partitions are assigned manually (one trainer per
 * model) and positioned from the newest checkpoint's ledger instead of committed group offsets, because the
 * checkpoint is the only place where "trained" is true; after each checkpoint a {@code ModelUpdate} goes to
 * {@code rlhf.policy-updates}.
 */
public final class BestSampleTrainingLoop implements Runnable, AutoCloseable {
    public static final String MODEL_KEY = "policy";

    private final RejectionSamplingSft trainer;
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final KafkaProducer<byte[], byte[]> producer;
    private final Duration pollTimeout;
    private final Consumer<String> log;
    private final AtomicLong undecodable = new AtomicLong();
    private final AtomicLong consumed = new AtomicLong();
    private volatile boolean running = true;
    private volatile Thread thread;

    public BestSampleTrainingLoop(RejectionSamplingSft trainer, String bootstrapServers, Duration pollTimeout,
                                  Consumer<String> log) {
        this.trainer = trainer;
        this.pollTimeout = pollTimeout;
        this.log = log;
        // No group id: positions come from the checkpoint ledger, never from committed offsets.
        this.consumer = KafkaClients.bytesConsumer(KafkaClients.assignedConsumerConfig(bootstrapServers, "trainer"));
        // Model updates must not be lost or duplicated by retries: idempotent producer, acks=all.
        this.producer = KafkaClients.bytesProducer(KafkaClients.producerConfig(bootstrapServers, "trainer-updates"));
    }

    /** Assigns every partition of rlhf.best and seeks to the ledger. */
    void position() {
        List<PartitionInfo> infos = consumer.partitionsFor(Topics.BEST, Duration.ofSeconds(30));
        List<TopicPartition> partitions = new ArrayList<>();
        for (PartitionInfo p : infos) {
            partitions.add(new TopicPartition(Topics.BEST, p.partition()));
        }
        consumer.assign(partitions);
        OffsetLedger ledger = trainer.ledger();
        for (TopicPartition tp : partitions) {
            consumer.seek(tp, ledger.nextOffset(tp.partition()));
        }
        log.accept("trainer: resuming at policy version " + trainer.version() + ", offsets " + ledger.nextOffsets());
    }

    @Override
    public void run() {
        thread = Thread.currentThread();
        try {
            position();
            if (trainer.version() > 0) {
                // A crash between checkpoint and publish would otherwise hide the newest version: publish again
                // (the topic is compacted and versions are monotonic, so a repeat is harmless).
                republishNewest();
            }
            while (running) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(pollTimeout)) {
                    consumed.incrementAndGet();
                    BestSample best;
                    try {
                        best = BestSample.parseFrom(r.value());
                    } catch (InvalidProtocolBufferException | NullPointerException e) {
                        undecodable.incrementAndGet();
                        log.accept("trainer: skipping undecodable record at " + r.partition() + "/" + r.offset());
                        continue;
                    }
                    Optional<PolicyCheckpoint> c = trainer.accept(r.partition(), r.offset(), best.getPrompt().getId(),
                            best.getPrompt().getText(), best.getResponse(),
                            best.hasScores() ? best.getScores().getCombined() : Double.NaN);
                    c.ifPresent(this::publish);
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

    private void publish(PolicyCheckpoint c) {
        ModelUpdate update = ModelUpdate.newBuilder().setModel(MODEL_KEY).setVersion(c.version())
                .setUri(c.dir().toAbsolutePath().toString()).setSha256(c.manifestSha256()).setStep(c.step())
                .putMetrics("loss", c.loss()).build();
        try {
            producer.send(new ProducerRecord<>(Topics.POLICY_UPDATES, MODEL_KEY.getBytes(
                    java.nio.charset.StandardCharsets.UTF_8), update.toByteArray())).get(30, TimeUnit.SECONDS);
            log.accept("trainer: published policy version " + c.version() + " (step " + c.step() + ", loss "
                    + c.loss() + ")");
        } catch (Exception e) {
            throw new IllegalStateException("could not publish policy version " + c.version() + ": " + e, e);
        }
    }

    private void republishNewest() {
        java.nio.file.Path dir = trainer.newestCheckpoint();
        if (dir != null) {
            publish(new PolicyCheckpoint(trainer.version(), dir, dev.rlhf.llama.io.Manifest.sha256(
                    dir.resolve(dev.rlhf.llama.io.Manifest.FILE_NAME)), trainer.steps(), Double.NaN));
        }
    }

    public long consumed() {
        return consumed.get();
    }

    public long undecodable() {
        return undecodable.get();
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
