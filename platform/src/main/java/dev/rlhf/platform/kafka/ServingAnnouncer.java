package dev.rlhf.platform.kafka;

import dev.rlhf.proto.v1.ModelUpdate;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Tells the trainer which checkpoint this serving instance holds, on the compacted {@link Topics#SERVING}: a
 * {@link ModelUpdate} (model, version, uri) keyed {@code <model>/<instance>} after every swap and again every
 * {@link #HEARTBEAT}, and a tombstone at close. The trainer's checkpoint retention keeps what recent records name
 * ({@link ServingTracker}); an instance that dies without its tombstone stops counting once its records age out.
 */
public final class ServingAnnouncer implements AutoCloseable {
    /** How often the current version is announced again. */
    public static final Duration HEARTBEAT = Duration.ofSeconds(60);

    private final KafkaProducer<byte[], byte[]> producer;
    private final byte[] key;
    private final String model;
    private final Consumer<String> log;
    private final ScheduledExecutorService timer;
    private volatile ModelUpdate current;

    public ServingAnnouncer(String bootstrapServers, String model, String instance, Consumer<String> log) {
        this.model = model;
        this.key = (model + "/" + instance).getBytes(StandardCharsets.UTF_8);
        this.log = log;
        this.producer = KafkaClients.bytesProducer(KafkaClients.producerConfig(bootstrapServers,
                "serving-" + model + "-" + instance));
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "serving-announcer-" + model);
            t.setDaemon(true);
            return t;
        });
        timer.scheduleAtFixedRate(() -> send(current), HEARTBEAT.toMillis(), HEARTBEAT.toMillis(),
                TimeUnit.MILLISECONDS);
    }

    /** This pod's name where Kubernetes sets HOSTNAME, else a random id for this process. */
    public static String instanceId() {
        String host = System.getenv("HOSTNAME");
        return host != null && !host.isBlank() ? host : "process-" + UUID.randomUUID();
    }

    /** Announces that version {@code version}, loaded from {@code uri}, is what this instance serves now. */
    public void serving(long version, String uri) {
        current = ModelUpdate.newBuilder().setModel(model).setVersion(version).setUri(uri).build();
        send(current);
    }

    private void send(ModelUpdate update) {
        if (update == null) {
            return;
        }
        producer.send(new ProducerRecord<>(Topics.SERVING, key, update.toByteArray()), (metadata, e) -> {
            if (e != null) {
                log.accept("could not announce serving " + model + " version " + update.getVersion() + ": " + e);
            }
        });
    }

    /** Stops the heartbeat and withdraws the announcement (a tombstone), waiting a few seconds for the broker. */
    @Override
    public void close() {
        timer.shutdownNow();
        try {
            producer.send(new ProducerRecord<>(Topics.SERVING, key, null));
            producer.flush();
        } catch (RuntimeException e) {
            log.accept("could not withdraw the serving announcement of " + model + ": " + e);
        } finally {
            producer.close(Duration.ofSeconds(5));
        }
    }
}
