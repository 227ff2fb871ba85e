package dev.rlhf.platform.tracing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.context.Scope;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class TracingTest {

    @AfterEach
    void off() {
        Tracing.shutdown();
    }

    @Test
    void onlyAnExporterOrAnEndpointSetOnPurposeTurnsTracingOn() {
        assertFalse(Tracing.requested(Map.of(), p -> null), "nothing set");
        assertFalse(Tracing.requested(Map.of("OTEL_SERVICE_NAME", "x"), p -> null), "a name alone");
        assertTrue(Tracing.requested(Map.of("OTEL_TRACES_EXPORTER", "otlp"), p -> null));
        assertFalse(Tracing.requested(Map.of("OTEL_TRACES_EXPORTER", "none",
                "OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"), p -> null), "none wins over an endpoint");
        assertTrue(Tracing.requested(Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"), p -> null));
        assertTrue(Tracing.requested(Map.of("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/v1/traces"),
                p -> null));
        assertFalse(Tracing.requested(Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318",
                "OTEL_SDK_DISABLED", "true"), p -> null), "disabled");
        Map<String, String> properties = new HashMap<>(Map.of("otel.traces.exporter", "none"));
        assertFalse(Tracing.requested(Map.of("OTEL_TRACES_EXPORTER", "otlp"), properties::get),
                "a system property wins over its variable");
    }

    @Test
    void offByDefaultSpansAreNoOpsAndNothingIsPropagated() {
        assertFalse(Tracing.installFrom("test", Map.of(), p -> null));
        Span span = Tracing.tracer().spanBuilder("x").startSpan();
        assertFalse(span.getSpanContext().isValid());
        Map<String, String> carrier = new HashMap<>();
        try (Scope ignored = span.makeCurrent()) {
            Tracing.propagator().inject(io.opentelemetry.context.Context.current(), carrier, Map::put);
        }
        assertEquals(Map.of(), carrier);
    }

    @Test
    void theEnvironmentsExporterIsBuiltAndAnUnknownOneIsRefusedByName() {
        // Sampled out, so that closing the SDK has nothing to send to the (absent) collector.
        assertTrue(Tracing.installFrom("test", Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9",
                "OTEL_TRACES_SAMPLER", "always_off"), p -> null));
        Span span = Tracing.tracer().spanBuilder("x").startSpan();
        assertTrue(span.getSpanContext().isValid(), "the SDK makes spans");
        assertFalse(span.getSpanContext().isSampled(), "with the sampler the variables name");
        span.end();
        Map<String, String> carrier = new HashMap<>();
        Tracing.propagator().inject(io.opentelemetry.context.Context.root().with(span), carrier, Map::put);
        assertTrue(carrier.get("traceparent").contains(span.getSpanContext().getTraceId()), carrier.toString());

        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> Tracing.installFrom("test",
                Map.of("OTEL_TRACES_EXPORTER", "carrier-pigeon"), p -> null));
        assertTrue(bad.getMessage().contains("carrier-pigeon"), bad.getMessage());
    }

    /**
     * The exporter the environment configures sends OTLP over HTTP (protobuf) to the endpoint, with the service's
     * name: a collector stand-in on loopback receives the span when the SDK shuts down.
     */
    @Test
    void spansReachAnOtlpHttpEndpointUnderTheServicesName() throws Exception {
        com.sun.net.httpserver.HttpServer collector = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress("127.0.0.1", 0), 0);
        java.util.concurrent.BlockingQueue<String[]> posts = new java.util.concurrent.LinkedBlockingQueue<>();
        collector.createContext("/", exchange -> {
            byte[] body = exchange.getRequestBody().readAllBytes();
            posts.add(new String[] {exchange.getRequestMethod() + " " + exchange.getRequestURI().getPath(),
                    exchange.getRequestHeaders().getFirst("Content-Type"),
                    new String(body, java.nio.charset.StandardCharsets.ISO_8859_1)});
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        collector.start();
        try {
            assertTrue(Tracing.installFrom("sampler", Map.of("OTEL_EXPORTER_OTLP_ENDPOINT",
                    "http://127.0.0.1:" + collector.getAddress().getPort()), p -> null));
            Tracing.tracer().spanBuilder("process rlhf.prompts").startSpan().end();
            Tracing.shutdown(); // flushes the batch
            String[] post = posts.poll(30, TimeUnit.SECONDS);
            assertTrue(post != null, "no export reached the collector");
            assertEquals("POST /v1/traces", post[0]);
            assertEquals("application/x-protobuf", post[1]);
            assertTrue(post[2].contains("process rlhf.prompts"), "the span's name is in the export");
            assertTrue(post[2].contains("sampler"), "and the service's name");
        } finally {
            collector.stop(0);
        }
    }

    @Test
    void aCarriedTaskRunsInTheContextItWasScheduledIn() throws Exception {
        try (InMemoryTracing tracing = new InMemoryTracing()) {
            Span parent = Tracing.tracer().spanBuilder("parent").startSpan();
            Runnable task;
            CompletableFuture<String> seen = new CompletableFuture<>();
            try (Scope ignored = parent.makeCurrent()) {
                task = Tracing.carried(() -> seen.complete(Span.current().getSpanContext().getSpanId()));
            }
            Thread other = new Thread(task);
            other.start();
            assertEquals(parent.getSpanContext().getSpanId(), seen.get(10, TimeUnit.SECONDS));
            parent.end();
            assertEquals(1, tracing.named("parent").size());
        }
    }
}
