package dev.rlhf.policy.domain;

/** The bounded request queue is full: the caller is told to back off instead of queueing without bound. */
public final class QueueFullException extends RuntimeException {
    public QueueFullException(int capacity) {
        super("generation queue is full (" + capacity + " requests waiting); retry later");
    }
}
