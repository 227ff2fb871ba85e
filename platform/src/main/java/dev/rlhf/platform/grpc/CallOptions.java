package dev.rlhf.platform.grpc;

import java.time.Duration;
import java.util.Objects;

/**
 * How {@link GrpcCaller} makes one unary call: a deadline per attempt, and retries with exponential backoff
 * only for calls the caller declares idempotent.
 *
 * @param timeout        deadline of each attempt, sent to the server as grpc-timeout
 * @param idempotent     safe to run twice; only then is an attempt retried
 * @param maxAttempts    attempts in all, first included; 1 for non-idempotent calls
 * @param initialBackoff wait before the second attempt; doubles per attempt, with jitter
 * @param maxBackoff     cap on the wait between attempts
 */
public record CallOptions(Duration timeout, boolean idempotent, int maxAttempts, Duration initialBackoff,
                          Duration maxBackoff) {

    private static final Duration DEFAULT_INITIAL_BACKOFF = Duration.ofMillis(100);
    private static final Duration DEFAULT_MAX_BACKOFF = Duration.ofSeconds(2);

    public CallOptions {
        Objects.requireNonNull(timeout, "timeout");
        Objects.requireNonNull(initialBackoff, "initialBackoff");
        Objects.requireNonNull(maxBackoff, "maxBackoff");
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be positive, got " + timeout);
        }
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("maxAttempts must be at least 1, got " + maxAttempts);
        }
        if (!idempotent && maxAttempts != 1) {
            throw new IllegalArgumentException("a non-idempotent call is never retried; maxAttempts must be 1");
        }
        if (initialBackoff.isNegative() || maxBackoff.compareTo(initialBackoff) < 0) {
            throw new IllegalArgumentException("need 0 <= initialBackoff <= maxBackoff, got " + initialBackoff
                    + " and " + maxBackoff);
        }
    }

    /** A call that must not run twice (it changes state): one attempt. */
    public static CallOptions once(Duration timeout) {
        return new CallOptions(timeout, false, 1, DEFAULT_INITIAL_BACKOFF, DEFAULT_MAX_BACKOFF);
    }

    /** A call that is safe to repeat (scoring, generation with a fixed seed): up to {@code maxAttempts}. */
    public static CallOptions idempotent(Duration timeout, int maxAttempts) {
        return new CallOptions(timeout, true, maxAttempts, DEFAULT_INITIAL_BACKOFF, DEFAULT_MAX_BACKOFF);
    }

    public CallOptions withBackoff(Duration initial, Duration max) {
        return new CallOptions(timeout, idempotent, maxAttempts, initial, max);
    }

    /** The wait before attempt {@code attempt + 1}, before jitter. */
    Duration backoffAfter(int attempt) {
        long millis = initialBackoff.toMillis();
        for (int i = 1; i < attempt && millis < maxBackoff.toMillis(); i++) {
            millis *= 2;
        }
        return Duration.ofMillis(Math.min(millis, maxBackoff.toMillis()));
    }
}
