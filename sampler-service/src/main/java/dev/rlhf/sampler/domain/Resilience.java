package dev.rlhf.sampler.domain;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;

/**
 * Retry with exponential backoff behind a circuit breaker, for calls to the policy and reward services.
 * Only errors the caller classifies as transient are retried; when the breaker is open calls fail fast with
 * {@link CircuitOpenException} until the cool-down has passed (then one trial call is let through).
 */
public final class Resilience {
    private final int maxAttempts;
    private final long initialBackoffMillis;
    private final long maxBackoffMillis;
    private final Predicate<Throwable> transientError;
    private final CircuitBreaker breaker;
    private final UnaryOperator<Runnable> carrier;

    public Resilience(int maxAttempts, long initialBackoffMillis, long maxBackoffMillis,
                      Predicate<Throwable> transientError, CircuitBreaker breaker) {
        this(maxAttempts, initialBackoffMillis, maxBackoffMillis, transientError, breaker, UnaryOperator.identity());
    }

    /**
     * @param carrier wraps each retry where it is scheduled, before it waits out its backoff on another thread, so
     *                what belongs to the call (the caller's trace context) goes with it
     */
    public Resilience(int maxAttempts, long initialBackoffMillis, long maxBackoffMillis,
                      Predicate<Throwable> transientError, CircuitBreaker breaker, UnaryOperator<Runnable> carrier) {
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("max attempts must be >= 1, got " + maxAttempts);
        }
        this.maxAttempts = maxAttempts;
        this.initialBackoffMillis = initialBackoffMillis;
        this.maxBackoffMillis = maxBackoffMillis;
        this.transientError = transientError;
        this.breaker = breaker;
        this.carrier = carrier;
    }

    /** Thrown instead of calling while the breaker is open. */
    public static final class CircuitOpenException extends RuntimeException {
        public CircuitOpenException(String name) {
            super("circuit breaker '" + name + "' is open: the service failed repeatedly, not calling it for now");
        }
    }

    public <T> CompletionStage<T> call(Supplier<CompletionStage<T>> call) {
        CompletableFuture<T> result = new CompletableFuture<>();
        attempt(call, 1, initialBackoffMillis, result);
        return result;
    }

    private <T> void attempt(Supplier<CompletionStage<T>> call, int attempt, long backoff, CompletableFuture<T> result) {
        if (!breaker.allowRequest()) {
            result.completeExceptionally(new CircuitOpenException(breaker.name()));
            return;
        }
        CompletionStage<T> stage;
        try {
            stage = call.get();
        } catch (RuntimeException e) {
            stage = CompletableFuture.failedFuture(e);
        }
        stage.whenComplete((value, error) -> {
            if (error == null) {
                breaker.onSuccess();
                result.complete(value);
                return;
            }
            Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
            boolean retriable = transientError.test(cause);
            if (retriable) {
                breaker.onFailure();
            }
            if (!retriable || attempt >= maxAttempts) {
                result.completeExceptionally(cause);
                return;
            }
            Executor later = CompletableFuture.delayedExecutor(backoff, TimeUnit.MILLISECONDS);
            later.execute(carrier.apply(() -> attempt(call, attempt + 1, Math.min(maxBackoffMillis, backoff * 2),
                    result)));
        });
    }

    /** Opens after {@code threshold} consecutive transient failures, for {@code coolDownMillis}. */
    public static final class CircuitBreaker {
        private final String name;
        private final int threshold;
        private final long coolDownMillis;
        private int consecutiveFailures;
        private long openUntil;

        public CircuitBreaker(String name, int threshold, long coolDownMillis) {
            this.name = name;
            this.threshold = threshold;
            this.coolDownMillis = coolDownMillis;
        }

        public String name() {
            return name;
        }

        synchronized boolean allowRequest() {
            return System.currentTimeMillis() >= openUntil;
        }

        synchronized void onSuccess() {
            consecutiveFailures = 0;
        }

        synchronized void onFailure() {
            if (++consecutiveFailures >= threshold) {
                openUntil = System.currentTimeMillis() + coolDownMillis;
                consecutiveFailures = threshold - 1; // one failed trial call re-opens it
            }
        }

        public synchronized boolean isOpen() {
            return System.currentTimeMillis() < openUntil;
        }
    }
}
