package dev.rlhf.launcher;

import com.google.protobuf.MessageLite;
import dev.rlhf.platform.config.ConfigSchema;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.KafkaKeys;
import dev.rlhf.platform.kafka.KafkaSecurity;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.proto.v1.Prompt;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Future;
import java.util.function.Function;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

/** Publishes protobuf records to a topic, for `rlhf prompts send`, `rlhf preferences send` and the demo. */
public final class RecordPublisher {
    private RecordPublisher() {}

    /**
     * Sends every record, then waits for each acknowledgement (acks=all: the record is durably on the broker);
     * {@code onAck} runs once per acknowledged record, e.g. to advance a progress bar.
     */
    public static <T extends MessageLite> void publish(KafkaProducer<byte[], byte[]> producer, String topic,
                                                       List<T> records, Function<T, String> key, Runnable onAck)
            throws Exception {
        List<Future<RecordMetadata>> acks = new ArrayList<>(records.size());
        for (T r : records) {
            acks.add(producer.send(new ProducerRecord<>(topic, key.apply(r).getBytes(StandardCharsets.UTF_8),
                    r.toByteArray())));
        }
        for (Future<RecordMetadata> ack : acks) {
            ack.get();
            onAck.run();
        }
    }

    /**
     * What the {@code send} commands do: logs in as the services do (RLHF_KAFKA_SECURITY_PROTOCOL, _SASL_*, _SSL_*;
     * the seed-prompts Job logs in), publishes every record with a progress bar of {@code unit}, and prints one
     * summary line.
     */
    public static <T extends MessageLite> void send(String kafka, String client, String topic, List<T> records,
                                                    Function<T, String> key, String unit) throws Exception {
        KafkaSecurity.install(ConfigSchema.of(client, KafkaKeys.ALL).loader().load());
        try (KafkaProducer<byte[], byte[]> producer = KafkaClients.bytesProducer(
                KafkaClients.producerConfig(kafka, "rlhf-" + client + "-send"));
             ProgressBar bar = new ProgressBar("send", records.size(), unit)) {
            publish(producer, topic, records, key, () -> bar.step(1, ""));
        }
        System.out.println("sent " + records.size() + " " + unit + " to " + topic + " on " + kafka);
    }

    /** Prompts to {@code rlhf.prompts}, keyed by id. */
    public static void prompts(KafkaProducer<byte[], byte[]> producer, List<Prompt> prompts, Runnable onAck)
            throws Exception {
        publish(producer, Topics.PROMPTS, prompts, Prompt::getId, onAck);
    }

    /** The wire records; the n-th pair (1-based) gets the id {@code <prefix>-<n>}. */
    public static List<dev.rlhf.proto.v1.PreferencePair> preferencePairs(List<dev.rlhf.world.PreferencePair> pairs,
                                                                       String prefix) {
        List<dev.rlhf.proto.v1.PreferencePair> out = new ArrayList<>(pairs.size());
        for (int i = 0; i < pairs.size(); i++) {
            dev.rlhf.world.PreferencePair p = pairs.get(i);
            out.add(dev.rlhf.proto.v1.PreferencePair.newBuilder()
                    .setId(prefix + "-" + (i + 1))
                    .setPrompt(p.prompt())
                    .setChosen(p.chosen())
                    .setRejected(p.rejected())
                    .setConfidence(dev.rlhf.proto.v1.Confidence.valueOf(p.rating().name()))
                    .setChosenSafe(p.chosenSafe())
                    .setRejectedSafe(p.rejectedSafe())
                    .setKind(switch (p.kind()) {
                        case HELPFULNESS -> dev.rlhf.proto.v1.PreferenceKind.PREFERENCE_KIND_HELPFULNESS;
                        case SAFETY -> dev.rlhf.proto.v1.PreferenceKind.PREFERENCE_KIND_SAFETY;
                    })
                    .build());
        }
        return out;
    }
}
