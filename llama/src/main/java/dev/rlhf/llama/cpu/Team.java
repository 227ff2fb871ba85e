package dev.rlhf.llama.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A fixed team of threads that splits a range of rows: the caller takes the first part, each worker one of the
 * others. Parts are fixed by the row count and the team size, so each row is always computed the same way and
 * results do not depend on timing.
 *
 * <p>A decode step runs ~30 parallel regions of 50-2000 us each, so the hand-off must cost about a microsecond:
 * idle workers spin ({@link Thread#onSpinWait}) for a short while after each region and only then park. A
 * fork/join pool's hand-off (10-20 us) would cost a third of the step.
 */
final class Team implements AutoCloseable {
    /** Work over rows [from, to). */
    @FunctionalInterface
    interface RangeTask {
        void run(int from, int to);
    }

    /** Spin iterations before an idle worker parks: a few milliseconds, longer than the gap between steps. */
    private static final int SPINS = 200_000;

    private final Thread[] workers;
    private final AtomicIntegerArray parked;
    private final ReentrantLock lock = new ReentrantLock();
    private final AtomicInteger remaining = new AtomicInteger();
    private volatile long generation;
    private volatile RangeTask task;
    private volatile int total;
    private volatile boolean closed;
    private volatile Throwable failure;

    Team(int threads, String name) {
        this.workers = new Thread[Math.max(0, threads - 1)];
        this.parked = new AtomicIntegerArray(workers.length);
        for (int k = 0; k < workers.length; k++) {
            int part = k + 1;
            Thread t = new Thread(() -> work(part), name + "-" + part);
            t.setDaemon(true);
            workers[k] = t;
            t.start();
        }
    }

    int size() {
        return workers.length + 1;
    }

    /** Runs {@code task} over [0, rows) on the whole team and returns when every part is done. */
    void run(int rows, RangeTask task) {
        if (workers.length == 0 || rows < 2 * size()) {
            task.run(0, rows);
            return;
        }
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("team closed");
            }
            this.task = task;
            this.total = rows;
            this.failure = null;
            remaining.set(workers.length);
            generation++; // volatile write publishes task and total
            for (int k = 0; k < workers.length; k++) {
                if (parked.get(k) == 1) {
                    LockSupport.unpark(workers[k]);
                }
            }
            Throwable own = null;
            try {
                task.run(0, end(0, rows));
            } catch (Throwable t) {
                own = t;
            }
            while (remaining.get() > 0) {
                Thread.onSpinWait();
            }
            this.task = null;
            Throwable t = own != null ? own : failure;
            if (t instanceof RuntimeException re) {
                throw re;
            } else if (t instanceof Error e) {
                throw e;
            } else if (t != null) {
                throw new IllegalStateException(t);
            }
        } finally {
            lock.unlock();
        }
    }

    private int end(int part, int rows) {
        return (int) ((long) rows * (part + 1) / size());
    }

    private void work(int part) {
        long seen = 0;
        int k = part - 1;
        while (true) {
            long g;
            int spins = 0;
            while ((g = generation) == seen && !closed) {
                if (++spins < SPINS) {
                    Thread.onSpinWait();
                } else {
                    // Dekker-style hand-off: flag first, then re-check, so run() either sees the flag or we see
                    // the new generation (an unpark before park makes park return at once).
                    parked.set(k, 1);
                    if (generation == seen && !closed) {
                        LockSupport.park(this);
                    }
                    parked.set(k, 0);
                    spins = 0;
                }
            }
            if (closed) {
                return;
            }
            seen = g;
            try {
                int rows = total;
                task.run(end(part - 1, rows), end(part, rows));
            } catch (Throwable t) {
                failure = t;
            } finally {
                remaining.decrementAndGet();
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread t : workers) {
            LockSupport.unpark(t);
        }
    }
}
