package dev.rlhf.platform.kafka;

import com.google.protobuf.ByteString;
import dev.rlhf.proto.v1.DeadLetter;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Dead letters as every loop here writes them to {@link Topics#DEAD_LETTER}: the source topic, partition and offset
 * always, the reason and the original key and value capped in size, so that one huge poison record cannot make its
 * dead letter too large to publish (and the loop retry it forever).
 */
public final class DeadLetters {
    /** The most bytes of the original value a dead letter keeps. */
    public static final int MAX_VALUE_BYTES = 64 << 10;
    /** The most bytes of the key, and the most characters of the reason. */
    public static final int MAX_KEY_BYTES = 1024;
    public static final int MAX_REASON_CHARS = 4096;

    private DeadLetters() {}

    public static DeadLetter of(ConsumerRecord<byte[], byte[]> input, String reason) {
        String why = reason == null ? "unknown" : reason;
        DeadLetter.Builder letter = DeadLetter.newBuilder()
                .setSourceTopic(input.topic())
                .setPartition(input.partition())
                .setOffset(input.offset())
                .setError(why.length() > MAX_REASON_CHARS ? why.substring(0, MAX_REASON_CHARS) + "..." : why)
                .setFailedAtMs(System.currentTimeMillis());
        if (input.key() != null) {
            letter.setKey(ByteString.copyFrom(input.key(), 0, Math.min(input.key().length, MAX_KEY_BYTES)));
        }
        if (input.value() != null) {
            int kept = Math.min(input.value().length, MAX_VALUE_BYTES);
            letter.setValue(ByteString.copyFrom(input.value(), 0, kept))
                    .setValueBytes(input.value().length)
                    .setValueTruncated(kept < input.value().length);
        }
        return letter.build();
    }
}
