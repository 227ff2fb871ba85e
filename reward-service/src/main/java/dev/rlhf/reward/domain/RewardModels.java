package dev.rlhf.reward.domain;

/**
 * The serving reward model, swappable while calls run: each call {@link #acquire}s a lease on the current model
 * and closes it when done, so a call finishes on the model it started with, and a replaced model is closed once
 * its last lease is released. Contention is one acquire per Score call, so a plain monitor is enough.
 */
public final class RewardModels {
    /** A loaded model and its reference count; the holder's own reference lasts until the model is replaced. */
    private static final class Entry {
        final RewardModel model;
        int refs = 1; // guarded by the RewardModels monitor

        Entry(RewardModel model) {
            this.model = model;
        }
    }

    private Entry current; // guarded by this

    /** One caller's hold on a model; closing it twice releases once. */
    public final class Lease implements AutoCloseable {
        private final Entry entry;
        private boolean released; // guarded by the RewardModels monitor

        private Lease(Entry entry) {
            this.entry = entry;
        }

        public RewardModel model() {
            return entry.model;
        }

        public long version() {
            return entry.model.version();
        }

        @Override
        public void close() {
            boolean last;
            synchronized (RewardModels.this) {
                if (released) {
                    return;
                }
                released = true;
                last = --entry.refs == 0;
            }
            if (last) {
                entry.model.close();
            }
        }
    }

    /** A lease on the serving model (close it when done), or null while none is loaded. */
    public synchronized Lease acquire() {
        if (current == null) {
            return null;
        }
        current.refs++;
        return new Lease(current);
    }

    /** Serves {@code next} from now on; the previous model closes once its running calls release it. */
    public void swap(RewardModel next) {
        replace(new Entry(next));
    }

    /** Drops the serving model (shutdown); calls already running still finish on it. */
    public void clear() {
        replace(null);
    }

    /** Version of the serving model, or -1 while none is loaded. */
    public synchronized long version() {
        return current == null ? -1 : current.model.version();
    }

    private void replace(Entry next) {
        Entry old;
        synchronized (this) {
            old = current;
            current = next;
        }
        if (old != null) {
            new Lease(old).close(); // gives up the holder's own reference
        }
    }
}
