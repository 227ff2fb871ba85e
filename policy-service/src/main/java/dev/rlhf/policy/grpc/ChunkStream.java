package dev.rlhf.policy.grpc;

import io.vertx.core.Context;
import io.vertx.core.Handler;
import io.vertx.core.streams.ReadStream;
import java.util.ArrayDeque;

/**
 * A ReadStream fed from another thread: items are handed to the Vert.x context of the call and delivered
 * respecting the consumer's demand (pause/resume/fetch), so a slow client does not make the server buffer in
 * the network layer.
 */
final class ChunkStream<T> implements ReadStream<T> {
    private final Context context;
    private final ArrayDeque<T> pending = new ArrayDeque<>();
    private Handler<T> handler;
    private Handler<Void> endHandler;
    private Handler<Throwable> exceptionHandler;
    private long demand = Long.MAX_VALUE;
    private boolean ended;
    private Throwable failure;
    private boolean finished; // end or failure delivered

    ChunkStream(Context context) {
        this.context = context;
    }

    /** From any thread. */
    void push(T item) {
        context.runOnContext(v -> {
            pending.add(item);
            drain();
        });
    }

    /** From any thread. */
    void end() {
        context.runOnContext(v -> {
            ended = true;
            drain();
        });
    }

    /** From any thread. */
    void fail(Throwable t) {
        context.runOnContext(v -> {
            failure = t;
            drain();
        });
    }

    private void drain() {
        while (demand > 0 && !pending.isEmpty() && handler != null) {
            if (demand != Long.MAX_VALUE) {
                demand--;
            }
            handler.handle(pending.poll());
        }
        if (pending.isEmpty() && !finished) {
            if (failure != null && exceptionHandler != null) {
                finished = true;
                exceptionHandler.handle(failure);
            } else if (ended && endHandler != null) {
                finished = true;
                endHandler.handle(null);
            }
        }
    }

    @Override
    public ReadStream<T> exceptionHandler(Handler<Throwable> h) {
        exceptionHandler = h;
        return this;
    }

    @Override
    public ReadStream<T> handler(Handler<T> h) {
        handler = h;
        drain();
        return this;
    }

    @Override
    public ReadStream<T> pause() {
        demand = 0;
        return this;
    }

    @Override
    public ReadStream<T> resume() {
        return fetch(Long.MAX_VALUE);
    }

    @Override
    public ReadStream<T> fetch(long amount) {
        demand = amount == Long.MAX_VALUE || demand + amount < 0 ? Long.MAX_VALUE : demand + amount;
        drain();
        return this;
    }

    @Override
    public ReadStream<T> endHandler(Handler<Void> h) {
        endHandler = h;
        drain();
        return this;
    }
}
