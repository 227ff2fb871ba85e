package dev.rlhf.platform.kafka;

import com.google.protobuf.Message;
import java.util.List;
import java.util.Objects;

/** What a {@link RecordProcessor} made of one input record: output records, or a dead letter with a reason. */
public sealed interface Outcome permits Outcome.Emit, Outcome.DeadLetter {

    /** One output record; a null value is a tombstone (deletes the key on a compacted topic). */
    record Output(String topic, String key, Message value) {
        public Output {
            Objects.requireNonNull(topic, "topic");
        }
    }

    /** Outputs to send in the record's transaction, in order; none means the record is consumed silently. */
    record Emit(List<Output> outputs) implements Outcome {
        public Emit {
            outputs = List.copyOf(outputs);
        }
    }

    /** The input goes to the dead-letter topic, with its original bytes and this reason. */
    record DeadLetter(String reason) implements Outcome {
        public DeadLetter {
            Objects.requireNonNull(reason, "reason");
        }
    }

    static Outcome emit(String topic, String key, Message value) {
        return new Emit(List.of(new Output(topic, key, value)));
    }

    static Outcome emit(List<Output> outputs) {
        return new Emit(outputs);
    }

    /** Consumes the record without output. */
    static Outcome skip() {
        return new Emit(List.of());
    }

    static Outcome deadLetter(String reason) {
        return new DeadLetter(reason);
    }
}
