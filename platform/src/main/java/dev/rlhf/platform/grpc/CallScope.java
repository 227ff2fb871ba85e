package dev.rlhf.platform.grpc;

import java.util.ArrayList;
import java.util.List;

/** One tracked server call: ends exactly once, when its response ends or its stream is reset. */
final class CallScope implements Cancellation {

    private final String method;
    private final long startNanos;
    private List<Runnable> listeners = new ArrayList<>();
    private volatile boolean over;

    CallScope(String method, long startNanos) {
        this.method = method;
        this.startNanos = startNanos;
    }

    String method() {
        return method;
    }

    long startNanos() {
        return startNanos;
    }

    @Override
    public boolean isCancelled() {
        return over;
    }

    @Override
    public void onCancel(Runnable action) {
        synchronized (this) {
            if (!over) {
                listeners.add(action);
                return;
            }
        }
        action.run();
    }

    /** Returns false if the scope had already ended. */
    boolean end() {
        List<Runnable> toRun;
        synchronized (this) {
            if (over) {
                return false;
            }
            over = true;
            toRun = listeners;
            listeners = List.of();
        }
        toRun.forEach(Runnable::run);
        return true;
    }
}
