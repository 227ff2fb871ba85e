package dev.rlhf.vocabulary;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Holds the serving version of a model and switches atomically to a new one. Each request {@link #acquire}s
 * the current version and releases it when done, so requests already running finish on the version they
 * started with; a replaced version is closed when its last request releases it.
 */
public final class HotSwap<T extends AutoCloseable> {
    private final AtomicReference<Lease<T>> current = new AtomicReference<>();

    /** A reference-counted version; the holder itself counts as one reference until it is replaced. */
    public static final class Lease<T extends AutoCloseable> implements AutoCloseable {
        private final T value;
        private final long version;
        private final AtomicInteger refs = new AtomicInteger(1);

        private Lease(T value, long version) {
            this.value = value;
            this.version = version;
        }

        public T value() {
            return value;
        }

        public long version() {
            return version;
        }

        private boolean retain() {
            while (true) {
                int n = refs.get();
                if (n == 0) {
                    return false; // already closed: the caller retries with the newer version
                }
                if (refs.compareAndSet(n, n + 1)) {
                    return true;
                }
            }
        }

        /** Releases this reference; the last one closes the model. */
        @Override
        public void close() {
            if (refs.decrementAndGet() == 0) {
                try {
                    value.close();
                } catch (Exception e) {
                    throw new IllegalStateException("closing version " + version + " failed", e);
                }
            }
        }
    }

    /** The current version, retained for the caller (close the lease when done); null before the first swap. */
    public Lease<T> acquire() {
        while (true) {
            Lease<T> lease = current.get();
            if (lease == null) {
                return null;
            }
            if (lease.retain()) {
                return lease;
            }
        }
    }

    /** Installs a new version; the previous one closes once its in-flight requests release it. */
    public void swap(T value, long version) {
        Lease<T> old = current.getAndSet(new Lease<>(value, version));
        if (old != null) {
            old.close();
        }
    }

    /** The serving version number, or -1 before the first swap. */
    public long version() {
        Lease<T> lease = current.get();
        return lease == null ? -1 : lease.version();
    }

    /** Drops the serving version (shutdown); in-flight requests still finish. */
    public void clear() {
        Lease<T> old = current.getAndSet(null);
        if (old != null) {
            old.close();
        }
    }
}
