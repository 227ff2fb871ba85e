package dev.rlhf.platform.kafka;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import java.util.Objects;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;

/** Kafka deserializer for one Protobuf message type, plus {@link #decode}, which never throws. */
public final class ProtobufDeserializer<T extends Message> implements Deserializer<T> {

    private final Parser<T> parser;

    /** @param parser the generated message's parser, e.g. {@code Prompt.parser()} */
    public ProtobufDeserializer(Parser<T> parser) {
        this.parser = Objects.requireNonNull(parser, "parser");
    }

    /**
     * Decodes a value for plain consumers.
     *
     * <p>The consumer turns the exception into a {@code RecordDeserializationException} with partition and
     * offset, which stalls a loop that does not seek past it; loops that must keep going consume
     * {@code byte[]} and call {@link #decode} instead, as {@link TransactionalLoop} does.
     *
     * @throws SerializationException for bytes that are not a valid message
     */
    @Override
    public T deserialize(String topic, byte[] data) {
        if (data == null) {
            return null;
        }
        try {
            return parser.parseFrom(data);
        } catch (InvalidProtocolBufferException e) {
            throw new SerializationException("undecodable Protobuf value on " + topic + ": " + e.getMessage(), e);
        }
    }

    /**
     * Decodes without throwing: undecodable bytes come back as they were, with the error, ready for the
     * dead-letter topic; a missing value (tombstone) is undecodable too, as no message can be built.
     */
    public DecodeResult<T> decode(byte[] data) {
        if (data == null) {
            return new DecodeResult.Undecodable<>(null, "record has no value");
        }
        try {
            return new DecodeResult.Decoded<>(parser.parseFrom(data));
        } catch (InvalidProtocolBufferException e) {
            return new DecodeResult.Undecodable<>(data, "undecodable Protobuf value: " + e.getMessage());
        }
    }
}
