package dev.rlhf.platform.kafka;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.rlhf.platform.tracing.InMemoryTracing;
import dev.rlhf.platform.tracing.KafkaTracing;
import dev.rlhf.platform.tracing.Tracing;
import dev.rlhf.proto.v1.BestSample;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.trace.data.SpanData;
import dev.rlhf.proto.v1.DeadLetter;
import dev.rlhf.proto.v1.Prompt;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** End-to-end behaviour of {@link TransactionalLoop} on a real broker: exactly once, dead letters, aborts, fencing. */
class TransactionalLoopTest {

    static final Duration WAIT = Duration.ofSeconds(30);
    static final byte[] GARBAGE = {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f, 0x42};

    static KafkaBroker kafka;
    static Admin admin;

    @BeforeAll
    static void startBroker() {
        kafka = KafkaTestSupport.startBroker();
        admin = KafkaClients.admin(kafka.bootstrapServers(), "loop-test-admin");
        new TopicAdmin(3, (short) 1).ensureTopics(admin);
    }

    @AfterAll
    static void stopBroker() {
        admin.close();
        kafka.close();
    }

    @Test
    void mapsEveryPromptToExactlyOneBestSample() throws Exception {
        List<Prompt> prompts = prompts("e2e", 100);
        produce(Topics.PROMPTS, prompts.stream().map(p -> record(Topics.PROMPTS, p)).toList());
        int maxInFlight = 4;
        AtomicInteger inFlight = new AtomicInteger();
        AtomicInteger mostInFlight = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(3);
        RecordProcessor<Prompt> bestOf = in -> {
            mostInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
            return CompletableFuture.supplyAsync(() -> {
                inFlight.decrementAndGet();
                return Outcome.emit(Topics.BEST, in.key(), best(in.value()));
            }, pool);
        };

        TransactionalLoop<Prompt> loop = loop("e2e", Topics.PROMPTS, bestOf).maxInFlight(maxInFlight).build().start();
        try {
            awaitRecords(Topics.BEST, IsolationLevel.READ_COMMITTED, 100);
        } finally {
            loop.close();
            pool.shutdownNow();
        }

        List<ConsumerRecord<byte[], byte[]>> outputs = readToEnd(Topics.BEST, IsolationLevel.READ_COMMITTED);
        assertEquals(100, outputs.size());
        Set<String> ids = new HashSet<>();
        for (ConsumerRecord<byte[], byte[]> output : outputs) {
            BestSample best = BestSample.parseFrom(output.value());
            assertEquals(best.getPrompt().getId(), new String(output.key(), StandardCharsets.UTF_8));
            assertEquals("answer to " + best.getPrompt().getText(), best.getResponse());
            ids.add(best.getPrompt().getId());
        }
        assertEquals(prompts.stream().map(Prompt::getId).collect(Collectors.toSet()), ids);
        assertEquals(100, loop.processed());
        assertEquals(0, loop.deadLettered());
        assertTrue(mostInFlight.get() <= maxInFlight, "at most " + maxInFlight + " in flight, saw " + mostInFlight);
        loop.terminated().get(1, TimeUnit.SECONDS);
    }

    @Test
    void undecodableAndFailingRecordsGoToTheDeadLetterTopicAndTheLoopContinues() throws Exception {
        createTopics("dlq.in", "dlq.out");
        List<Prompt> prompts = prompts("dlq", 10);
        Prompt bad = prompt("dlq-bad");
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        prompts.subList(0, 5).forEach(p -> records.add(record("dlq.in", p)));
        records.add(new ProducerRecord<>("dlq.in", utf8("garbage"), GARBAGE));
        records.add(record("dlq.in", bad));
        prompts.subList(5, 10).forEach(p -> records.add(record("dlq.in", p)));
        produce("dlq.in", records);
        RecordProcessor<Prompt> processor = RecordProcessor.sync(in -> {
            if (in.value().getId().equals("dlq-bad")) {
                throw new IllegalStateException("cannot answer dlq-bad");
            }
            return Outcome.emit("dlq.out", in.key(), best(in.value()));
        });

        TransactionalLoop<Prompt> loop = loop("dlq", "dlq.in", processor).build().start();
        try {
            awaitRecords("dlq.out", IsolationLevel.READ_COMMITTED, 10);
            awaitRecords(Topics.DEAD_LETTER, IsolationLevel.READ_COMMITTED, 2);
        } finally {
            loop.close();
        }

        Map<String, DeadLetter> letters = new ConcurrentHashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : readToEnd(Topics.DEAD_LETTER, IsolationLevel.READ_COMMITTED)) {
            letters.put(new String(r.key(), StandardCharsets.UTF_8), DeadLetter.parseFrom(r.value()));
        }
        assertEquals(Set.of("garbage", "dlq-bad"), letters.keySet());
        DeadLetter garbage = letters.get("garbage");
        assertArrayEquals(GARBAGE, garbage.getValue().toByteArray());
        assertEquals("dlq.in", garbage.getSourceTopic());
        assertEquals(5, garbage.getOffset());
        assertTrue(garbage.getError().startsWith("undecodable Protobuf value"), garbage.getError());
        DeadLetter failed = letters.get("dlq-bad");
        assertEquals(bad, Prompt.parseFrom(failed.getValue()));
        assertEquals("IllegalStateException: cannot answer dlq-bad", failed.getError());
        assertEquals(6, failed.getOffset());

        List<String> answered = ids(readToEnd("dlq.out", IsolationLevel.READ_COMMITTED));
        assertEquals(prompts.stream().map(Prompt::getId).toList(), answered);
        assertEquals(10, loop.processed());
        assertEquals(2, loop.deadLettered());
    }

    @Test
    void retriableFailureAbortsTheTransactionAndReprocessedRecordsAppearOnce() throws Exception {
        createTopics("retry.in", "retry.out");
        List<Prompt> prompts = prompts("retry", 100);
        produce("retry.in", prompts.stream().map(p -> record("retry.in", p)).toList());
        Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
        CompletableFuture<Outcome> firstTryOfLast = new CompletableFuture<>();
        RecordProcessor<Prompt> processor = in -> {
            String id = in.value().getId();
            int call = calls.computeIfAbsent(id, k -> new AtomicInteger()).incrementAndGet();
            if (id.equals("retry-099") && call == 1) {
                // Fails only after the test has seen this transaction's earlier outputs in the log.
                return firstTryOfLast;
            }
            return CompletableFuture.completedFuture(Outcome.emit("retry.out", in.key(), best(in.value())));
        };

        TransactionalLoop<Prompt> loop = loop("retry", "retry.in", processor).build().start();
        try {
            awaitRecords("retry.out", IsolationLevel.READ_UNCOMMITTED, 99);
            firstTryOfLast.completeExceptionally(new RetriableProcessingException("policy service unavailable"));
            awaitRecords("retry.out", IsolationLevel.READ_COMMITTED, 100);
        } finally {
            loop.close();
        }

        List<String> committed = ids(readToEnd("retry.out", IsolationLevel.READ_COMMITTED));
        assertEquals(prompts.stream().map(Prompt::getId).toList(), committed);
        assertEquals(1, loop.aborted());
        assertEquals(2, calls.get("retry-099").get());
        assertEquals(2, calls.get("retry-000").get(), "the whole aborted batch is processed again");
        int uncommitted = readToEnd("retry.out", IsolationLevel.READ_UNCOMMITTED).size();
        assertTrue(uncommitted > 100, "aborted outputs stay in the log, hidden from read_committed: " + uncommitted);
    }

    /**
     * With tracing on, a record is processed in a span that continues its producer's trace, the processor runs in
     * it, and each output carries the trace on in its headers; a dead-lettered record's span is marked failed.
     */
    @Test
    void aRecordsTraceRunsThroughItsProcessingIntoItsOutputs() throws Exception {
        createTopics("trace.in", "trace.out");
        try (InMemoryTracing tracing = new InMemoryTracing();
             KafkaProducer<byte[], byte[]> producer = KafkaClients.bytesProducer(
                     KafkaClients.producerConfig(kafka.bootstrapServers(), "trace-producer"))) {
            Span client = Tracing.tracer().spanBuilder("client").startSpan();
            for (Prompt p : List.of(prompt("trace-ok"), prompt("trace-bad"))) {
                KafkaTracing.send(producer, Context.root().with(client), "trace.in", utf8(p.getId()), p.toByteArray())
                        .get(WAIT.toSeconds(), TimeUnit.SECONDS);
            }
            client.end();
            Map<String, String> currentInProcessor = new ConcurrentHashMap<>();
            RecordProcessor<Prompt> processor = RecordProcessor.sync(in -> {
                currentInProcessor.put(in.key(), Span.current().getSpanContext().getSpanId());
                return in.key().equals("trace-bad") ? Outcome.deadLetter("refused for the test")
                        : Outcome.emit("trace.out", in.key(), best(in.value()));
            });
            TransactionalLoop<Prompt> loop = loop("trace", "trace.in", processor).build().start();
            List<SpanData> spans;
            try {
                awaitRecords("trace.out", IsolationLevel.READ_COMMITTED, 1);
                spans = tracing.await(s -> s.stream().filter(d -> d.getName().equals("process trace.in")).count() == 2,
                        WAIT);
            } finally {
                loop.close();
            }

            Map<String, SpanData> byId = tracing.byId();
            Map<String, SpanData> processed = spans.stream().filter(d -> d.getName().equals("process trace.in"))
                    .collect(Collectors.toMap(d -> d.getAttributes().get(
                            io.opentelemetry.api.common.AttributeKey.stringKey("messaging.kafka.message.key")),
                            d -> d));
            for (SpanData process : processed.values()) {
                assertEquals(client.getSpanContext().getTraceId(), process.getTraceId());
                SpanData sent = byId.get(process.getParentSpanId());
                assertEquals("send trace.in", sent.getName());
                assertEquals(client.getSpanContext().getSpanId(), sent.getParentSpanId());
            }
            assertEquals(processed.get("trace-ok").getSpanId(), currentInProcessor.get("trace-ok"),
                    "the processor runs in the record's span");
            assertEquals(StatusCode.UNSET, processed.get("trace-ok").getStatus().getStatusCode());
            assertEquals(StatusCode.ERROR, processed.get("trace-bad").getStatus().getStatusCode());
            assertEquals("refused for the test", processed.get("trace-bad").getStatus().getDescription());

            ConsumerRecord<byte[], byte[]> output = readToEnd("trace.out", IsolationLevel.READ_COMMITTED).get(0);
            String outputSpan = Span.fromContext(KafkaTracing.producedIn(output)).getSpanContext().getSpanId();
            SpanData send = byId.get(outputSpan);
            assertEquals("send trace.out", send.getName(), "the output's headers name its send span");
            assertEquals(processed.get("trace-ok").getSpanId(), send.getParentSpanId());
            assertTrue(spans.stream().anyMatch(d -> d.getName().equals("send " + Topics.DEAD_LETTER)
                    && d.getParentSpanId().equals(processed.get("trace-bad").getSpanId())), "the dead letter too");
        }
    }

    /**
     * A record whose processing outlasts 80% of the transaction timeout is abandoned (the processor is told), the
     * batch aborted and processed again before the coordinator would abort it: every output is committed once.
     */
    @Test
    void aBatchRunningIntoTheTransactionTimeoutIsAbandonedAndProcessedAgain() throws Exception {
        createTopics("slow.in", "slow.out");
        List<Prompt> prompts = prompts("slow", 5);
        produce("slow.in", prompts.stream().map(p -> record("slow.in", p)).toList());
        Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
        List<String> abandoned = java.util.Collections.synchronizedList(new ArrayList<>());
        RecordProcessor<Prompt> processor = new RecordProcessor<>() {
            @Override
            public CompletionStage<Outcome> process(InputRecord<Prompt> in) {
                String id = in.value().getId();
                int call = calls.computeIfAbsent(id, k -> new AtomicInteger()).incrementAndGet();
                if (id.equals("slow-002") && call == 1) {
                    return new CompletableFuture<>(); // never answers
                }
                return CompletableFuture.completedFuture(Outcome.emit("slow.out", in.key(), best(in.value())));
            }

            @Override
            public void abandoned(InputRecord<Prompt> in) {
                abandoned.add(in.value().getId());
            }
        };
        TransactionalLoop<Prompt> loop = loop("slow", "slow.in", processor)
                .producerProperty(org.apache.kafka.clients.producer.ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 3000)
                .build().start();
        try {
            awaitRecords("slow.out", IsolationLevel.READ_COMMITTED, 5);
        } finally {
            loop.close();
        }
        assertEquals(prompts.stream().map(Prompt::getId).toList(),
                ids(readToEnd("slow.out", IsolationLevel.READ_COMMITTED)));
        assertEquals(List.of("slow-002"), abandoned);
        assertEquals(1, loop.aborted());
        assertEquals(2, calls.get("slow-002").get());
    }

    @Test
    void closeAbortsTheOpenTransactionAndWaitsForTheLoopThread() throws Exception {
        createTopics("close.in", "close.out");
        List<Prompt> prompts = prompts("close", 10);
        produce("close.in", prompts.stream().map(p -> record("close.in", p)).toList());
        RecordProcessor<Prompt> processor = in -> in.value().getId().equals("close-009")
                ? new CompletableFuture<>()
                : CompletableFuture.completedFuture(Outcome.emit("close.out", in.key(), best(in.value())));

        TransactionalLoop<Prompt> loop = loop("close", "close.in", processor).build().start();
        awaitRecords("close.out", IsolationLevel.READ_UNCOMMITTED, 9);
        loop.close();

        assertTrue(loop.terminated().isDone());
        assertFalse(loop.terminated().isCompletedExceptionally());
        assertEquals(1, loop.aborted());
        assertEquals(0, loop.processed());
        assertEquals(List.of(), readToEnd("close.out", IsolationLevel.READ_COMMITTED));
        assertEquals(9, readToEnd("close.out", IsolationLevel.READ_UNCOMMITTED).size());
    }

    @Test
    void fencedProducerStopsTheLoopAndReportsTheError() throws Exception {
        createTopics("fence.a", "fence.b", "fence.out");
        RecordProcessor<Prompt> processor =
                RecordProcessor.sync(in -> Outcome.emit("fence.out", in.key(), best(in.value())));
        TransactionalLoop<Prompt> zombie = TransactionalLoop.builder(Prompt.parser())
                .bootstrapServers(kafka.bootstrapServers()).groupId("fence-a").transactionalId("fence-shared")
                .inputTopics("fence.a").processor(processor).pollTimeout(Duration.ofMillis(100)).build().start();
        TransactionalLoop<Prompt> successor = TransactionalLoop.builder(Prompt.parser())
                .bootstrapServers(kafka.bootstrapServers()).groupId("fence-b").transactionalId("fence-shared")
                .inputTopics("fence.b").processor(processor).pollTimeout(Duration.ofMillis(100)).build();
        try {
            zombie.started().get(WAIT.toSeconds(), TimeUnit.SECONDS);
            // The successor's initTransactions bumps the epoch of the shared transactional id.
            successor.start().started().get(WAIT.toSeconds(), TimeUnit.SECONDS);
            produce("fence.a", List.of(record("fence.a", prompt("fence-1"))));

            ExecutionException stopped = assertThrows(ExecutionException.class,
                    () -> zombie.terminated().get(WAIT.toSeconds(), TimeUnit.SECONDS));

            assertTrue(TransactionalLoop.isFatal(stopped.getCause()), stopped.getCause().toString());
            assertFalse(successor.terminated().isDone());
        } finally {
            zombie.close();
            successor.close();
        }
        assertEquals(List.of(), readToEnd("fence.out", IsolationLevel.READ_COMMITTED));
    }

    private static TransactionalLoop.Builder<Prompt> loop(String name, String input, RecordProcessor<Prompt> p) {
        return TransactionalLoop.builder(Prompt.parser())
                .bootstrapServers(kafka.bootstrapServers())
                .groupId(name + "-group")
                .transactionalId(name + "-tx")
                .inputTopics(input)
                .processor(p)
                .pollTimeout(Duration.ofMillis(100))
                .retryBackoff(Duration.ZERO);
    }

    private static List<Prompt> prompts(String prefix, int n) {
        return IntStream.range(0, n).mapToObj(i -> prompt(String.format("%s-%03d", prefix, i))).toList();
    }

    private static Prompt prompt(String id) {
        return Prompt.newBuilder().setId(id).setText("question " + id).setSource("test").build();
    }

    private static BestSample best(Prompt prompt) {
        return BestSample.newBuilder().setPrompt(prompt).setResponse("answer to " + prompt.getText())
                .setPolicyVersion(1).build();
    }

    private static ProducerRecord<byte[], byte[]> record(String topic, Prompt prompt) {
        return new ProducerRecord<>(topic, utf8(prompt.getId()), prompt.toByteArray());
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static List<String> ids(List<ConsumerRecord<byte[], byte[]>> records) {
        List<String> ids = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            try {
                ids.add(BestSample.parseFrom(r.value()).getPrompt().getId());
            } catch (InvalidProtocolBufferException e) {
                throw new AssertionError("output is not a BestSample", e);
            }
        }
        return ids;
    }

    private static void createTopics(String... names) throws Exception {
        admin.createTopics(java.util.Arrays.stream(names).map(n -> new NewTopic(n, 1, (short) 1)).toList()).all()
                .get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }

    /** Sends all records as one producer batch, so the loop receives them in a single poll. */
    private static void produce(String topic, List<ProducerRecord<byte[], byte[]>> records) {
        Map<String, Object> config = KafkaClients.producerConfig(kafka.bootstrapServers(), "test-producer-" + topic);
        config.put(ProducerConfig.LINGER_MS_CONFIG, 60_000);
        config.put(ProducerConfig.BATCH_SIZE_CONFIG, 1 << 20);
        try (KafkaProducer<byte[], byte[]> producer = KafkaClients.bytesProducer(config)) {
            records.forEach(producer::send);
            producer.flush();
        }
    }

    /** Polls from the beginning until at least {@code count} records are visible at this isolation level. */
    private static void awaitRecords(String topic, IsolationLevel isolation, int count) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        try (KafkaConsumer<byte[], byte[]> consumer = assignedConsumer(topic, isolation)) {
            int seen = 0;
            while (seen < count) {
                if (System.nanoTime() > deadline) {
                    fail("saw " + seen + " of " + count + " records on " + topic + " (" + isolation + ") within "
                            + WAIT);
                }
                seen += consumer.poll(Duration.ofMillis(100)).count();
            }
        }
    }

    /** Everything on the topic at this isolation level, read up to the current end offsets. */
    private static List<ConsumerRecord<byte[], byte[]>> readToEnd(String topic, IsolationLevel isolation) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = assignedConsumer(topic, isolation)) {
            Map<TopicPartition, Long> end = consumer.endOffsets(consumer.assignment());
            while (end.entrySet().stream().anyMatch(e -> consumer.position(e.getKey()) < e.getValue())) {
                if (System.nanoTime() > deadline) {
                    fail("could not read " + topic + " to its end " + end + " within " + WAIT);
                }
                consumer.poll(Duration.ofMillis(100)).forEach(records::add);
            }
        }
        return records;
    }

    private static KafkaConsumer<byte[], byte[]> assignedConsumer(String topic, IsolationLevel isolation) {
        Map<String, Object> config = KafkaClients.consumerConfig(kafka.bootstrapServers(), "unused", "test-reader");
        config.remove(ConsumerConfig.GROUP_ID_CONFIG);
        config.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation.toString());
        KafkaConsumer<byte[], byte[]> consumer = KafkaClients.bytesConsumer(config);
        List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                .map(p -> new TopicPartition(topic, p.partition())).toList();
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        return consumer;
    }
}
