package dev.rlhf.platform.kafka;

/** A decoded input record handed to a {@link RecordProcessor}, with where it came from. */
public record InputRecord<I>(String topic, int partition, long offset, String key, I value) {
}
