package dev.rlhf.platform.kafka;

import com.google.protobuf.Message;
import org.apache.kafka.common.serialization.Serializer;

/** Kafka serializer writing a Protobuf message in its standard binary encoding, without a schema-registry header. */
public final class ProtobufSerializer<T extends Message> implements Serializer<T> {

    @Override
    public byte[] serialize(String topic, T data) {
        // Null stays null so that tombstones on the compacted update topics still delete.
        return data == null ? null : data.toByteArray();
    }
}
