package dev.rlhf.trainer.domain;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Records consumed since the last training step, in arrival order: the ones to train and the ones skipped. The
 * ledger may only move past a record once every earlier record of its partition is settled, so skipped records wait
 * here with the trainable ones and a step settles them all.
 */
final class PendingRecords<T> {
    private record Entry<T>(int partition, long offset, T item) {}

    private final List<Entry<T>> entries = new ArrayList<>();
    private int trainable;

    void add(int partition, long offset, T item) {
        entries.add(new Entry<>(partition, offset, Objects.requireNonNull(item, "item")));
        trainable++;
    }

    void skip(int partition, long offset) {
        entries.add(new Entry<>(partition, offset, null));
    }

    /** How many of the pending records are to be trained. */
    int trainable() {
        return trainable;
    }

    /** The records to train, in arrival order. */
    List<T> items() {
        List<T> out = new ArrayList<>(trainable);
        for (Entry<T> e : entries) {
            if (e.item() != null) {
                out.add(e.item());
            }
        }
        return out;
    }

    /** Marks every pending record trained or skipped in {@code ledger} and forgets them. */
    void settle(OffsetLedger ledger) {
        for (Entry<T> e : entries) {
            if (e.item() != null) {
                ledger.recordTrained(e.partition(), e.offset());
            } else {
                ledger.recordSkipped(e.partition(), e.offset());
            }
        }
        entries.clear();
        trainable = 0;
    }

    int size() {
        return entries.size();
    }
}
