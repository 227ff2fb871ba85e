package dev.rlhf.platform.tracing;

import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.trace.ReadWriteSpan;
import io.opentelemetry.sdk.trace.ReadableSpan;
import io.opentelemetry.sdk.trace.SpanProcessor;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The SDK with its in-memory exporter installed as this process's tracing, for tests; closing it turns tracing off
 * again. Spans are exported as each one ends.
 */
public final class InMemoryTracing implements AutoCloseable {
    private final InMemorySpanExporter exporter = InMemorySpanExporter.create();
    private final SpanProcessor export = SimpleSpanProcessor.create(exporter);
    private final OpenTelemetrySdk sdk = OpenTelemetrySdk.builder()
            .setTracerProvider(SdkTracerProvider.builder().addSpanProcessor(new SpanProcessor() {
                @Override
                public void onStart(Context parent, ReadWriteSpan span) {
                }

                @Override
                public boolean isStartRequired() {
                    return false;
                }

                @Override
                public void onEnd(ReadableSpan span) {
                    export.onEnd(span);
                    synchronized (InMemoryTracing.this) {
                        InMemoryTracing.this.notifyAll();
                    }
                }

                @Override
                public boolean isEndRequired() {
                    return true;
                }
            }).build())
            .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance()))
            .build();

    public InMemoryTracing() {
        Tracing.install(sdk);
    }

    /** The spans ended so far. */
    public List<SpanData> spans() {
        return exporter.getFinishedSpanItems();
    }

    /** Waits until the ended spans satisfy {@code condition}; fails with what it saw after {@code timeout}. */
    public synchronized List<SpanData> await(Predicate<List<SpanData>> condition, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<SpanData> spans = spans();
        while (!condition.test(spans)) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("the spans never matched; ended: " + spans.stream()
                        .map(SpanData::getName).toList());
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
            spans = spans();
        }
        return spans;
    }

    /** Waits for {@code count} ended spans called {@code name}. */
    public List<SpanData> await(String name, int count) throws InterruptedException {
        await(spans -> spans.stream().filter(s -> s.getName().equals(name)).count() >= count, Duration.ofSeconds(60));
        return named(name);
    }

    /** The ended spans by span id. */
    public Map<String, SpanData> byId() {
        return spans().stream().collect(Collectors.toMap(SpanData::getSpanId, Function.identity(), (a, b) -> a));
    }

    /** The ended spans called {@code name}. */
    public List<SpanData> named(String name) {
        return spans().stream().filter(s -> s.getName().equals(name)).toList();
    }

    @Override
    public void close() {
        Tracing.install(null);
        sdk.close();
    }
}
