package dev.rlhf.platform.kafka;

import java.util.Objects;

/** Outcome of decoding one record value: the message, or the raw bytes and the reason they did not decode. */
public sealed interface DecodeResult<T> permits DecodeResult.Decoded, DecodeResult.Undecodable {

    /** A successfully decoded value. */
    record Decoded<T>(T value) implements DecodeResult<T> {
        public Decoded {
            Objects.requireNonNull(value, "value");
        }
    }

    /** Bytes that are not a valid message, kept as they were so that they can go to the dead-letter topic. */
    record Undecodable<T>(byte[] raw, String error) implements DecodeResult<T> {
        public Undecodable {
            raw = raw == null ? new byte[0] : raw;
            Objects.requireNonNull(error, "error");
        }
    }
}
