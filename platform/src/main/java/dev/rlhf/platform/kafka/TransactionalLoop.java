package dev.rlhf.platform.kafka;

import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import dev.rlhf.platform.tracing.KafkaTracing;
import dev.rlhf.platform.tracing.Tracing;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.FencedInstanceIdException;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Exactly-once consume-process-produce loop that commits each poll batch's outputs and input offsets in one
 * Kafka transaction.
 */
public final class TransactionalLoop<I extends Message> implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(TransactionalLoop.class);

    /** How often a waiting batch polls the consumer, far below max.poll.interval.ms (5 minutes by default). */
    private static final Duration LIVENESS_INTERVAL = Duration.ofSeconds(1);
    private static final Duration CLIENT_CLOSE_TIMEOUT = Duration.ofSeconds(10);
    private static final int CLOSE_SIGNAL = -1;
    private static final int COMMIT_ATTEMPTS = 3;

    private final String name;
    private final List<String> inputTopics;
    private final String deadLetterTopic;
    private final ProtobufDeserializer<I> decoder;
    private final RecordProcessor<I> processor;
    private final int maxInFlight;
    private final Duration pollTimeout;
    private final Duration retryBackoff;
    /** How long a batch may run with its transaction open before the loop gives up on it (see processBatch). */
    private final long batchDeadlineNanos;
    private final Map<String, Object> consumerConfig;
    private final Map<String, Object> producerConfig;

    private final AtomicLong processed = new AtomicLong();
    private final AtomicLong deadLettered = new AtomicLong();
    private final AtomicLong aborted = new AtomicLong();
    private final AtomicLong committedTransactions = new AtomicLong();
    private final CompletableFuture<Void> started = new CompletableFuture<>();
    private final CompletableFuture<Void> terminated = new CompletableFuture<>();
    private final CountDownLatch closeRequested = new CountDownLatch(1);

    private volatile boolean closing;
    private volatile Consumer<byte[], byte[]> consumer;
    /** Completion signals of the current batch; close() drops a signal in to cut a wait short. */
    private volatile BlockingQueue<Integer> completions = new LinkedBlockingQueue<>();
    private Thread thread;

    // Loop-thread state: only the loop thread (including rebalance callbacks, which run inside poll) touches it.
    private Producer<byte[], byte[]> producer;
    private boolean transactionOpen;
    private boolean inBatch;
    private boolean pausedForBatch;
    private boolean batchInvalidated;

    private TransactionalLoop(Builder<I> b) {
        this.name = b.transactionalId;
        this.inputTopics = List.copyOf(b.inputTopics);
        this.deadLetterTopic = b.deadLetterTopic;
        this.decoder = new ProtobufDeserializer<>(b.parser);
        this.processor = b.processor;
        this.maxInFlight = b.maxInFlight;
        this.pollTimeout = b.pollTimeout;
        this.retryBackoff = b.retryBackoff;
        String clientId = b.clientId != null ? b.clientId : b.transactionalId;
        this.consumerConfig = KafkaClients.consumerConfig(b.bootstrapServers, b.groupId, clientId + "-consumer");
        this.consumerConfig.putAll(b.consumerOverrides);
        this.producerConfig = KafkaClients.transactionalProducerConfig(b.bootstrapServers, clientId + "-producer",
                b.transactionalId);
        this.producerConfig.putAll(b.producerOverrides);
        // The coordinator aborts a transaction open longer than transaction.timeout.ms and fences its producer; the
        // loop abandons a batch at 80% of it, so processing never outlives its transaction.
        long timeoutMs = ((Number) producerConfig.get(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG)).longValue();
        this.batchDeadlineNanos = TimeUnit.MILLISECONDS.toNanos(timeoutMs) * 8 / 10;
    }

    /** @param inputParser parser of the input value type, e.g. {@code Prompt.parser()} */
    public static <I extends Message> Builder<I> builder(Parser<I> inputParser) {
        return new Builder<>(inputParser);
    }

    /**
     * Starts the loop thread; {@link #started()} completes once transactions are initialised and topics subscribed.
     *
     * <p>The cycle is the canonical one (apache/kafka {@code examples/ExactlyOnceMessageProcessor}):
     * {@code initTransactions} once; per poll batch {@code beginTransaction}, send, {@code
     * sendOffsetsToTransaction(offsets, consumer.groupMetadata())}, {@code commitTransaction}. Values are
     * consumed as bytes and decoded here, so undecodable bytes become dead letters instead of stalling the
     * consumer. Outputs are sent in input order, so per-key order is kept. A {@link KafkaException} that is not
     * fatal, a {@link RetriableProcessingException} from the processor, or a rebalance that revokes partitions
     * mid-batch aborts the transaction and rewinds the consumer to the group's committed offsets.
     */
    public synchronized TransactionalLoop<I> start() {
        if (thread != null) {
            throw new IllegalStateException("loop " + name + " already started");
        }
        thread = new Thread(this::run, "rlhf-loop-" + name);
        thread.start();
        return this;
    }

    /** Completes when the loop is ready to process; exceptionally if it failed or was closed first. */
    public CompletableFuture<Void> started() {
        return started;
    }

    /**
     * Completes when the loop has stopped: normally after {@link #close()}, exceptionally on a fatal error
     * (fenced producer, out-of-order sequence, authorization, unsupported version), after which the instance
     * must not continue; a service exits and lets its supervisor restart it.
     */
    public CompletableFuture<Void> terminated() {
        return terminated;
    }

    /** Input records whose outputs were committed. */
    public long processed() {
        return processed.get();
    }

    /** Input records committed to the dead-letter topic. */
    public long deadLettered() {
        return deadLettered.get();
    }

    /** Transactions aborted (their batches were re-processed or dropped at shutdown). */
    public long aborted() {
        return aborted.get();
    }

    public long committedTransactions() {
        return committedTransactions.get();
    }

    /**
     * Stops the loop: wakes the consumer, aborts an open transaction, closes the clients, and waits for the loop
     * thread to finish. Records being processed are abandoned; their batch is re-processed after restart.
     */
    @Override
    public void close() {
        closing = true;
        closeRequested.countDown();
        completions.offer(CLOSE_SIGNAL);
        Consumer<byte[], byte[]> c = consumer;
        if (c != null) {
            c.wakeup();
        }
        Thread t;
        synchronized (this) {
            t = thread;
        }
        if (t == null) {
            started.completeExceptionally(new IllegalStateException("loop " + name + " closed before start"));
            terminated.complete(null);
            return;
        }
        if (t != Thread.currentThread()) {
            boolean interrupted = false;
            while (t.isAlive()) {
                try {
                    t.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void run() {
        Throwable failure = null;
        Consumer<byte[], byte[]> c = null;
        try {
            producer = KafkaClients.bytesProducer(producerConfig);
            c = KafkaClients.bytesConsumer(consumerConfig);
            consumer = c;
            // close() may have run before the consumer existed, in which case it could not wake it.
            if (!closing) {
                producer.initTransactions();
                c.subscribe(inputTopics, new BatchRebalanceListener());
                started.complete(null);
                LOG.info("loop {} consuming {}", name, inputTopics);
            }
            while (!closing) {
                ConsumerRecords<byte[], byte[]> records = c.poll(pollTimeout);
                if (!records.isEmpty()) {
                    processInTransaction(records);
                }
            }
        } catch (WakeupException e) {
            if (!closing) {
                failure = e;
            }
        } catch (Throwable e) {
            failure = e;
        } finally {
            shutdown(c, failure);
        }
    }

    private void processInTransaction(ConsumerRecords<byte[], byte[]> records) {
        try {
            BatchCounts counts = processBatch(records);
            processed.addAndGet(counts.emitted());
            deadLettered.addAndGet(counts.deadLettered());
            committedTransactions.incrementAndGet();
        } catch (WakeupException | InterruptException e) {
            throw e;
        } catch (RuntimeException e) {
            if (isFatal(e) || !(e instanceof KafkaException || e instanceof RetryBatchException)) {
                throw e;
            }
            LOG.warn("loop {}: aborting the transaction of {} records and rewinding: {}", name, records.count(),
                    e.toString());
            abortAndRewind();
            backOff();
        } finally {
            endBatch();
        }
    }

    /**
     * Each record is processed in a {@code process <topic>} span that continues its producer's trace; its outputs
     * carry that trace on, and the span ends with the transaction (failed if it was aborted).
     */
    private BatchCounts processBatch(ConsumerRecords<byte[], byte[]> records) {
        List<Span> spans = new ArrayList<>(records.count());
        try {
            BatchCounts counts = processBatch(records, spans);
            spans.forEach(Span::end);
            return counts;
        } catch (RuntimeException e) {
            for (Span span : spans) {
                Tracing.failed(span, e);
                span.end();
            }
            throw e;
        }
    }

    private BatchCounts processBatch(ConsumerRecords<byte[], byte[]> records, List<Span> spans) {
        List<ConsumerRecord<byte[], byte[]>> batch = new ArrayList<>(records.count());
        records.forEach(batch::add);
        BlockingQueue<Integer> done = new LinkedBlockingQueue<>();
        completions = done;
        inBatch = true;
        batchInvalidated = false;

        producer.beginTransaction();
        transactionOpen = true;
        long deadline = System.nanoTime() + batchDeadlineNanos;

        List<CompletableFuture<Outcome>> outcomes = new ArrayList<>(batch.size());
        int inFlight = 0;
        int sent = 0;
        int emitted = 0;
        int deadLetters = 0;
        long lastLivenessPoll = System.nanoTime();
        while (sent < batch.size()) {
            while (outcomes.size() < batch.size() && inFlight < maxInFlight) {
                int index = outcomes.size();
                Span span = KafkaTracing.process(batch.get(index));
                spans.add(span);
                CompletableFuture<Outcome> outcome;
                try (Scope ignored = span.makeCurrent()) {
                    outcome = dispatch(batch.get(index));
                }
                outcomes.add(outcome);
                inFlight++;
                outcome.whenComplete((o, e) -> done.offer(index));
            }
            for (Integer finished = done.poll(); finished != null; finished = done.poll()) {
                if (finished != CLOSE_SIGNAL) {
                    inFlight--;
                }
            }
            // Send in input order so that outputs for one key keep the order of their inputs.
            while (sent < outcomes.size() && outcomes.get(sent).isDone()) {
                ConsumerRecord<byte[], byte[]> input = batch.get(sent);
                Outcome outcome = outcomeOf(outcomes.get(sent));
                Context trace = Context.root().with(spans.get(sent));
                if (outcome instanceof Outcome.Emit emit) {
                    for (Outcome.Output output : emit.outputs()) {
                        KafkaTracing.send(producer, trace, output.topic(), utf8(output.key()),
                                output.value() == null ? null : output.value().toByteArray());
                    }
                    emitted++;
                } else {
                    String reason = ((Outcome.DeadLetter) outcome).reason();
                    spans.get(sent).setStatus(StatusCode.ERROR, reason);
                    KafkaTracing.send(producer, trace, deadLetterTopic, input.key(), deadLetter(input, reason));
                    deadLetters++;
                    LOG.warn("loop {}: {}-{}@{} to {}: {}", name, input.topic(), input.partition(), input.offset(),
                            deadLetterTopic, reason);
                }
                sent++;
            }
            boolean canDispatch = outcomes.size() < batch.size() && inFlight < maxInFlight;
            if (sent < batch.size() && !canDispatch) {
                inFlight -= awaitCompletion(done);
                if (System.nanoTime() - lastLivenessPoll >= LIVENESS_INTERVAL.toNanos()) {
                    keepGroupMembership();
                    lastLivenessPoll = System.nanoTime();
                }
                if (batchInvalidated) {
                    throw new RetryBatchException("partitions were revoked while the batch was in flight");
                }
                if (System.nanoTime() - deadline > 0) {
                    int unfinished = abandonUnfinished(batch, outcomes);
                    throw new RetryBatchException(unfinished + " record(s) still in processing after 80% of the "
                            + "transaction timeout; the batch is processed again");
                }
            }
        }

        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        for (TopicPartition partition : records.partitions()) {
            List<ConsumerRecord<byte[], byte[]>> partitionRecords = records.records(partition);
            long last = partitionRecords.get(partitionRecords.size() - 1).offset();
            // The committed offset is the next record to read, not the last one processed.
            offsets.put(partition, new OffsetAndMetadata(last + 1));
        }
        if (batchInvalidated) {
            throw new RetryBatchException("partitions were revoked while the batch was in flight");
        }
        producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
        commit();
        transactionOpen = false;
        return new BatchCounts(emitted, deadLetters);
    }

    /**
     * Commits, retrying a timed-out commit: after a timeout the transaction may already be committing, and the
     * producer then refuses an abort, so the documented recovery is to call commitTransaction again.
     */
    private void commit() {
        for (int attempt = 1; ; attempt++) {
            try {
                producer.commitTransaction();
                return;
            } catch (TimeoutException e) {
                if (closing || attempt == COMMIT_ATTEMPTS) {
                    throw e;
                }
                LOG.warn("loop {}: commit timed out (attempt {} of {}), retrying", name, attempt, COMMIT_ATTEMPTS);
            }
        }
    }

    private CompletableFuture<Outcome> dispatch(ConsumerRecord<byte[], byte[]> record) {
        DecodeResult<I> decoded = decoder.decode(record.value());
        if (decoded instanceof DecodeResult.Undecodable<I> undecodable) {
            return CompletableFuture.completedFuture(Outcome.deadLetter(undecodable.error()));
        }
        I value = ((DecodeResult.Decoded<I>) decoded).value();
        InputRecord<I> input = new InputRecord<>(record.topic(), record.partition(), record.offset(),
                record.key() == null ? null : new String(record.key(), StandardCharsets.UTF_8), value);
        try {
            CompletionStage<Outcome> stage = processor.process(input);
            return stage == null
                    ? CompletableFuture.completedFuture(Outcome.deadLetter("processor returned no outcome"))
                    : stage.toCompletableFuture();
        } catch (Exception e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** Tells the processor about every dispatched record whose processing has not finished; returns how many. */
    private int abandonUnfinished(List<ConsumerRecord<byte[], byte[]>> batch, List<CompletableFuture<Outcome>> outcomes) {
        int count = 0;
        for (int i = 0; i < outcomes.size(); i++) {
            if (outcomes.get(i).isDone()) {
                continue;
            }
            count++;
            ConsumerRecord<byte[], byte[]> record = batch.get(i);
            if (decoder.decode(record.value()) instanceof DecodeResult.Decoded<I> decoded) {
                try {
                    processor.abandoned(new InputRecord<>(record.topic(), record.partition(), record.offset(),
                            record.key() == null ? null : new String(record.key(), StandardCharsets.UTF_8),
                            decoded.value()));
                } catch (RuntimeException e) {
                    LOG.warn("loop {}: the processor failed on an abandoned record: {}", name, e.toString());
                }
            }
        }
        return count;
    }

    /** The outcome of a finished processing step; a retriable failure aborts the batch instead. */
    private static Outcome outcomeOf(CompletableFuture<Outcome> future) {
        try {
            Outcome outcome = future.join();
            return outcome == null ? Outcome.deadLetter("processor returned no outcome") : outcome;
        } catch (CompletionException | CancellationException e) {
            Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
            while ((cause instanceof CompletionException || cause instanceof ExecutionException)
                    && cause.getCause() != null) {
                cause = cause.getCause();
            }
            if (cause instanceof RetriableProcessingException retriable) {
                throw new RetryBatchException(retriable.getMessage(), retriable);
            }
            return Outcome.deadLetter(cause.getClass().getSimpleName() + ": " + cause.getMessage());
        }
    }

    /** Blocks until some record finishes or the liveness interval passes; returns how many finished. */
    private int awaitCompletion(BlockingQueue<Integer> done) {
        if (!pausedForBatch) {
            // Nothing more is taken until this batch commits; polls from here on only keep the group membership.
            consumer.pause(consumer.assignment());
            pausedForBatch = true;
        }
        Integer finished;
        try {
            finished = done.poll(LIVENESS_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptException(e);
        }
        if (closing) {
            throw new WakeupException();
        }
        return finished == null || finished == CLOSE_SIGNAL ? 0 : 1;
    }

    /** Polls with all partitions paused, so the consumer stays in its group while a long batch runs. */
    private void keepGroupMembership() {
        ConsumerRecords<byte[], byte[]> unexpected = consumer.poll(Duration.ZERO);
        // A partition assigned between pause() and this poll could deliver records; put them back for later.
        for (TopicPartition partition : unexpected.partitions()) {
            consumer.seek(partition, unexpected.records(partition).get(0).offset());
        }
    }

    private void abortAndRewind() {
        aborted.incrementAndGet();
        if (transactionOpen) {
            producer.abortTransaction();
            transactionOpen = false;
        }
        // The consumer's position is past the aborted records; go back to what the group last committed.
        Set<TopicPartition> assignment = consumer.assignment();
        Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(assignment);
        for (TopicPartition partition : assignment) {
            OffsetAndMetadata offset = committed.get(partition);
            if (offset != null) {
                consumer.seek(partition, offset);
            } else {
                consumer.seekToBeginning(List.of(partition));
            }
        }
    }

    private void backOff() {
        try {
            if (closeRequested.await(retryBackoff.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new WakeupException();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptException(e);
        }
    }

    private void endBatch() {
        if (pausedForBatch) {
            consumer.resume(consumer.paused());
            pausedForBatch = false;
        }
        inBatch = false;
    }

    private void shutdown(Consumer<byte[], byte[]> c, Throwable failure) {
        try {
            if (transactionOpen) {
                try {
                    producer.abortTransaction();
                    aborted.incrementAndGet();
                } catch (RuntimeException e) {
                    LOG.warn("loop {}: could not abort the open transaction at shutdown: {}", name, e.toString());
                }
                transactionOpen = false;
            }
        } finally {
            if (c != null) {
                closeQuietly(() -> c.close(CloseOptions.timeout(CLIENT_CLOSE_TIMEOUT)));
            }
            if (producer != null) {
                closeQuietly(() -> producer.close(CLIENT_CLOSE_TIMEOUT));
            }
            if (failure == null) {
                LOG.info("loop {} stopped: processed={} deadLettered={} aborted={}", name, processed(),
                        deadLettered(), aborted());
                started.completeExceptionally(new IllegalStateException("loop " + name + " closed before it started"));
                terminated.complete(null);
            } else {
                LOG.error("loop {} stopped by a fatal error", name, failure);
                started.completeExceptionally(failure);
                terminated.completeExceptionally(failure);
            }
        }
    }

    private void closeQuietly(Runnable close) {
        try {
            close.run();
        } catch (RuntimeException e) {
            LOG.warn("loop {}: error while closing a client: {}", name, e.toString());
        }
    }

    private static byte[] deadLetter(ConsumerRecord<byte[], byte[]> input, String reason) {
        return DeadLetters.of(input, reason).toByteArray();
    }

    private static byte[] utf8(String s) {
        return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
    }

    /** Errors after which this producer must not continue: another instance owns the id, or the setup is wrong. */
    static boolean isFatal(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof ProducerFencedException || t instanceof InvalidProducerEpochException
                    || t instanceof FencedInstanceIdException || t instanceof OutOfOrderSequenceException
                    || t instanceof AuthorizationException || t instanceof UnsupportedVersionException) {
                return true;
            }
        }
        return false;
    }

    private record BatchCounts(int emitted, int deadLettered) {
    }

    /** Internal signal: abort this batch's transaction and process it again. */
    private static final class RetryBatchException extends RuntimeException {
        RetryBatchException(String message) {
            super(message);
        }

        RetryBatchException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** Keeps a batch from committing records of partitions this instance no longer owns. */
    private final class BatchRebalanceListener implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            if (inBatch && !partitions.isEmpty()) {
                batchInvalidated = true;
            }
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            onPartitionsRevoked(partitions);
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            if (pausedForBatch) {
                consumer.pause(partitions);
            }
        }
    }

    /** Settings of a {@link TransactionalLoop}; servers, group, transactional id, topics and processor are required. */
    public static final class Builder<I extends Message> {
        private final Parser<I> parser;
        private String bootstrapServers;
        private String groupId;
        private String transactionalId;
        private String clientId;
        private List<String> inputTopics = List.of();
        private RecordProcessor<I> processor;
        private int maxInFlight = 16;
        private String deadLetterTopic = Topics.DEAD_LETTER;
        private Duration pollTimeout = Duration.ofMillis(500);
        private Duration retryBackoff = Duration.ofSeconds(1);
        private final Map<String, Object> consumerOverrides = new LinkedHashMap<>();
        private final Map<String, Object> producerOverrides = new LinkedHashMap<>();

        private Builder(Parser<I> parser) {
            this.parser = Objects.requireNonNull(parser, "parser");
        }

        public Builder<I> bootstrapServers(String servers) {
            this.bootstrapServers = servers;
            return this;
        }

        public Builder<I> groupId(String id) {
            this.groupId = id;
            return this;
        }

        /** Unique and stable per running instance (e.g. {@code sampler-<pod ordinal>}); names the thread too. */
        public Builder<I> transactionalId(String id) {
            this.transactionalId = id;
            return this;
        }

        /** Prefix of the clients' client.id; the transactional id unless set. */
        public Builder<I> clientId(String id) {
            this.clientId = id;
            return this;
        }

        public Builder<I> inputTopics(String... topics) {
            this.inputTopics = List.of(topics);
            return this;
        }

        public Builder<I> processor(RecordProcessor<I> p) {
            this.processor = p;
            return this;
        }

        /**
         * Records processed concurrently within a batch (default 16). When the bound is reached the loop pauses its
         * partitions and polls only to stay in the group until the batch commits, then resumes them.
         */
        public Builder<I> maxInFlight(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("maxInFlight must be >= 1, got " + n);
            }
            this.maxInFlight = n;
            return this;
        }

        /** Default {@link Topics#DEAD_LETTER}. */
        public Builder<I> deadLetterTopic(String topic) {
            this.deadLetterTopic = Objects.requireNonNull(topic);
            return this;
        }

        /** How long one poll waits for records (default 500 ms); close() interrupts it at once. */
        public Builder<I> pollTimeout(Duration timeout) {
            this.pollTimeout = Objects.requireNonNull(timeout);
            return this;
        }

        /** Pause before re-processing an aborted batch (default 1 s), so a failing dependency is not hammered. */
        public Builder<I> retryBackoff(Duration backoff) {
            this.retryBackoff = Objects.requireNonNull(backoff);
            return this;
        }

        /** An extra consumer setting, e.g. {@code max.poll.records}; wins over {@link KafkaClients}' defaults. */
        public Builder<I> consumerProperty(String key, Object value) {
            consumerOverrides.put(key, value);
            return this;
        }

        /** An extra producer setting; wins over {@link KafkaClients}' defaults. */
        public Builder<I> producerProperty(String key, Object value) {
            producerOverrides.put(key, value);
            return this;
        }

        public TransactionalLoop<I> build() {
            Objects.requireNonNull(bootstrapServers, "bootstrapServers");
            Objects.requireNonNull(groupId, "groupId");
            Objects.requireNonNull(transactionalId, "transactionalId");
            Objects.requireNonNull(processor, "processor");
            if (inputTopics.isEmpty()) {
                throw new IllegalArgumentException("at least one input topic is required");
            }
            return new TransactionalLoop<>(this);
        }
    }
}
