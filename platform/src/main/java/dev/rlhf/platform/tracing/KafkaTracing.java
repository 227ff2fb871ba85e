package dev.rlhf.platform.tracing;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapSetter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * Trace context through Kafka: a producer puts it in the record headers ({@code traceparent}, W3C), and the
 * consumer's span continues the producer's trace. Span names and attributes follow OpenTelemetry's messaging
 * conventions: {@code send <topic>} (PRODUCER) and {@code process <topic>} (CONSUMER).
 */
public final class KafkaTracing {
    static final AttributeKey<String> SYSTEM = AttributeKey.stringKey("messaging.system");
    static final AttributeKey<String> DESTINATION = AttributeKey.stringKey("messaging.destination.name");
    static final AttributeKey<String> OPERATION = AttributeKey.stringKey("messaging.operation.name");
    static final AttributeKey<String> PARTITION = AttributeKey.stringKey("messaging.destination.partition.id");
    static final AttributeKey<Long> OFFSET = AttributeKey.longKey("messaging.kafka.offset");
    static final AttributeKey<String> KEY = AttributeKey.stringKey("messaging.kafka.message.key");

    private static final TextMapGetter<Headers> GETTER = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(Headers headers) {
            List<String> keys = new ArrayList<>();
            for (Header h : headers) {
                keys.add(h.key());
            }
            return keys;
        }

        @Override
        public String get(Headers headers, String key) {
            Header h = headers == null ? null : headers.lastHeader(key);
            return h == null || h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8);
        }
    };

    private static final TextMapSetter<Headers> SETTER = (headers, key, value) -> {
        headers.remove(key);
        headers.add(key, value.getBytes(StandardCharsets.UTF_8));
    };

    private KafkaTracing() {
    }

    /** The trace context a producer put in {@code record}'s headers; the root context when there is none. */
    public static Context producedIn(ConsumerRecord<?, ?> record) {
        return Tracing.propagator().extract(Context.root(), record.headers(), GETTER);
    }

    /**
     * Starts the span of processing one consumed record, a child of the context its producer sent. The caller ends
     * it (and may make it current while it works).
     */
    public static Span process(ConsumerRecord<?, ?> record) {
        SpanBuilder builder = Tracing.tracer().spanBuilder("process " + record.topic())
                .setParent(producedIn(record))
                .setSpanKind(SpanKind.CONSUMER)
                .setAttribute(SYSTEM, "kafka")
                .setAttribute(OPERATION, "process")
                .setAttribute(DESTINATION, record.topic())
                .setAttribute(PARTITION, Integer.toString(record.partition()))
                .setAttribute(OFFSET, record.offset());
        if (record.key() instanceof byte[] key) {
            builder.setAttribute(KEY, new String(key, StandardCharsets.UTF_8));
        }
        return builder.startSpan();
    }

    /**
     * Sends a record in a {@code send <topic>} span, a child of {@code parent}, whose context travels in the record's
     * headers; the span ends when the broker acknowledges the record (or refuses it).
     */
    public static Future<RecordMetadata> send(Producer<byte[], byte[]> producer, Context parent, String topic,
                                              byte[] key, byte[] value) {
        Span span = Tracing.tracer().spanBuilder("send " + topic)
                .setParent(parent)
                .setSpanKind(SpanKind.PRODUCER)
                .setAttribute(SYSTEM, "kafka")
                .setAttribute(OPERATION, "send")
                .setAttribute(DESTINATION, topic)
                .startSpan();
        if (key != null) {
            span.setAttribute(KEY, new String(key, StandardCharsets.UTF_8));
        }
        Headers headers = new RecordHeaders();
        Tracing.propagator().inject(parent.with(span), headers, SETTER);
        try {
            return producer.send(new ProducerRecord<>(topic, null, key, value, headers), (metadata, error) -> {
                if (error != null) {
                    Tracing.failed(span, error);
                } else {
                    span.setAttribute(PARTITION, Integer.toString(metadata.partition()));
                    span.setAttribute(OFFSET, metadata.offset());
                }
                span.end();
            });
        } catch (RuntimeException e) {
            Tracing.failed(span, e);
            span.end();
            throw e;
        }
    }
}
