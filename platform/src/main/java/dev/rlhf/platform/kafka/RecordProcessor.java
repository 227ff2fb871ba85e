package dev.rlhf.platform.kafka;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/** Turns one input record of a {@link TransactionalLoop} into an {@link Outcome}, possibly asynchronously. */
@FunctionalInterface
public interface RecordProcessor<I> {

    /**
     * Called on the loop thread, so work that takes long must run elsewhere and return a pending stage: the
     * loop thread also keeps the consumer in its group. Failures, thrown or as an exceptionally completed stage:
     * a {@link RetriableProcessingException} aborts the whole transaction and re-processes it; anything else
     * sends this record to the dead-letter topic with the exception as the reason.
     */
    CompletionStage<Outcome> process(InputRecord<I> record) throws Exception;

    /**
     * The loop gave up waiting for {@code record} (its batch ran too close to the transaction timeout, so the batch
     * is aborted and processed again). A processor that bounds how long a record may keep failing counts this as
     * a failure; by default nothing happens. Called on the loop thread.
     */
    default void abandoned(InputRecord<I> record) {
    }

    /** Adapts a synchronous function, for quick in-memory work. */
    static <I> RecordProcessor<I> sync(SyncRecordProcessor<I> processor) {
        return record -> CompletableFuture.completedFuture(processor.process(record));
    }

    /** The synchronous form of {@link RecordProcessor}. */
    @FunctionalInterface
    interface SyncRecordProcessor<I> {
        Outcome process(InputRecord<I> record) throws Exception;
    }
}
