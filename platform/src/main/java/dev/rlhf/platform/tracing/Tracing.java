package dev.rlhf.platform.tracing;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The process's OpenTelemetry, off by default. It is on when the standard variables (or their {@code otel.*} system
 * properties) ask for traces: {@code OTEL_TRACES_EXPORTER} other than {@code none}, or an OTLP endpoint
 * ({@code OTEL_EXPORTER_OTLP_ENDPOINT}, {@code OTEL_EXPORTER_OTLP_TRACES_ENDPOINT}); {@code OTEL_SDK_DISABLED=true}
 * turns it off again. Everything else ({@code OTEL_SERVICE_NAME}, {@code OTEL_TRACES_SAMPLER}, headers, ...) is
 * the SDK's own autoconfiguration.
 *
 * <p>Off, every span is the API's no-op and nothing is added to gRPC or Kafka headers. Metrics stay with Micrometer
 * and logs with SLF4J, so only the trace signal is exported. The OTLP exporter bundled is the JDK HTTP sender, so
 * the protocol is {@code http/protobuf} (port 4318 on a collector).
 */
public final class Tracing {
    /** The instrumentation scope of every span this code makes. */
    static final String SCOPE = "dev.rlhf";

    private static volatile OpenTelemetry openTelemetry = OpenTelemetry.noop();
    private static volatile OpenTelemetrySdk owned;

    private Tracing() {
    }

    public static Tracer tracer() {
        return openTelemetry.getTracer(SCOPE);
    }

    public static TextMapPropagator propagator() {
        return openTelemetry.getPropagators().getTextMapPropagator();
    }

    /** Uses {@code otel} for every span of this process from now on (tests install an in-memory SDK). */
    public static synchronized void install(OpenTelemetry otel) {
        openTelemetry = otel == null ? OpenTelemetry.noop() : otel;
    }

    /** Back to no tracing; an SDK installed by {@link #installFromEnvironment} is flushed and shut down. */
    public static synchronized void shutdown() {
        OpenTelemetrySdk sdk = owned;
        owned = null;
        openTelemetry = OpenTelemetry.noop();
        if (sdk != null) {
            sdk.shutdown().join(10, TimeUnit.SECONDS);
        }
    }

    /**
     * Installs an SDK configured from the environment and system properties when they ask for traces (see the
     * class comment); otherwise leaves tracing off. Returns whether tracing is on.
     *
     * @param serviceName {@code service.name} unless {@code OTEL_SERVICE_NAME} or the resource attributes name one
     * @throws IllegalArgumentException when the OTEL_* settings are invalid (an unknown exporter, say)
     */
    public static synchronized boolean installFromEnvironment(String serviceName) {
        return installFrom(serviceName, System.getenv(), System::getProperty);
    }

    static synchronized boolean installFrom(String serviceName, Map<String, String> env,
                                            Function<String, String> systemProperty) {
        if (!requested(env, systemProperty)) {
            return false;
        }
        // Our defaults, then the given variables and properties over them (the SDK reads the process's own too).
        Map<String, String> properties = new HashMap<>(Map.of(
                "otel.service.name", serviceName,
                "otel.metrics.exporter", "none",
                "otel.logs.exporter", "none",
                "otel.exporter.otlp.protocol", "http/protobuf"));
        env.forEach((name, value) -> {
            if (name.startsWith("OTEL_")) {
                properties.put(name.toLowerCase(Locale.ROOT).replace('_', '.'), value);
            }
        });
        OpenTelemetrySdk sdk;
        try {
            sdk = AutoConfiguredOpenTelemetrySdk.builder()
                    .addPropertiesSupplier(() -> properties)
                    .build()
                    .getOpenTelemetrySdk();
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("invalid OpenTelemetry settings (OTEL_*): " + e.getMessage(), e);
        }
        shutdown();
        owned = sdk;
        openTelemetry = sdk;
        return true;
    }

    /** See the class comment: only an exporter or an endpoint set on purpose turns tracing on. */
    static boolean requested(Map<String, String> env, Function<String, String> systemProperty) {
        if ("true".equalsIgnoreCase(setting("otel.sdk.disabled", env, systemProperty))) {
            return false;
        }
        String exporter = setting("otel.traces.exporter", env, systemProperty);
        if (exporter != null) {
            return !exporter.isBlank() && !exporter.trim().equalsIgnoreCase("none");
        }
        return setting("otel.exporter.otlp.endpoint", env, systemProperty) != null
                || setting("otel.exporter.otlp.traces.endpoint", env, systemProperty) != null;
    }

    /** A system property wins over its variable ({@code otel.traces.exporter} / {@code OTEL_TRACES_EXPORTER}). */
    private static String setting(String property, Map<String, String> env, Function<String, String> systemProperty) {
        String value = systemProperty.apply(property);
        if (value == null) {
            value = env.get(property.toUpperCase(Locale.ROOT).replace('.', '_'));
        }
        return value == null || value.isBlank() ? null : value;
    }

    /**
     * {@code task} bound to the current context, for work that continues on another thread (a retry after its
     * backoff) and must stay in the same trace.
     */
    public static Runnable carried(Runnable task) {
        return Context.current().wrap(task);
    }

    /** Marks {@code span} failed with {@code error}, its message as the status description. */
    public static void failed(Span span, Throwable error) {
        span.setStatus(StatusCode.ERROR, String.valueOf(error.getMessage()));
        span.recordException(error);
    }
}
