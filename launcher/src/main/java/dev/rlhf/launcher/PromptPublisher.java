package dev.rlhf.launcher;

import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.proto.v1.Prompt;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

/** Publishes prompts to {@code rlhf.prompts}, keyed by id, for `rlhf prompts send` and the demo. */
public final class PromptPublisher {
    private PromptPublisher() {}

    /**
     * Sends every prompt, then waits for each acknowledgement (acks=all: the prompt is durably on the broker);
     * {@code onAck} runs once per acknowledged prompt, e.g. to advance a progress bar.
     */
    public static void publish(KafkaProducer<byte[], byte[]> producer, List<Prompt> prompts, Runnable onAck)
            throws Exception {
        List<Future<RecordMetadata>> acks = new ArrayList<>(prompts.size());
        for (Prompt p : prompts) {
            acks.add(producer.send(new ProducerRecord<>(Topics.PROMPTS, p.getId().getBytes(StandardCharsets.UTF_8),
                    p.toByteArray())));
        }
        for (Future<RecordMetadata> ack : acks) {
            ack.get();
            onAck.run();
        }
    }
}
