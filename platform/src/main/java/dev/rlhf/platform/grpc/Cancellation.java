package dev.rlhf.platform.grpc;

import io.vertx.core.Context;
import io.vertx.core.Vertx;

/**
 * Tells long-running work that its gRPC call is over (deadline passed, client cancelled, or server shut down),
 * so that generation can stop between tokens instead of finishing for nobody.
 */
public interface Cancellation {

    /** For work outside any call; never cancelled. */
    Cancellation NONE = new Cancellation() {
        @Override
        public boolean isCancelled() {
            return false;
        }

        @Override
        public void onCancel(Runnable action) {
        }
    };

    /** True once nobody waits for the result any more; cheap enough to poll once per token. */
    boolean isCancelled();

    /** Runs {@code action} once when the call ends, at once if it already has; on a Vert.x thread, so keep it short. */
    void onCancel(Runnable action);

    /** Throws CANCELLED if the call is over; for loops that prefer to unwind by exception. */
    default void throwIfCancelled() {
        if (isCancelled()) {
            throw new GrpcStatusException(io.vertx.grpc.common.GrpcStatus.CANCELLED, "the call is over");
        }
    }

    /** The cancellation of the call being handled on the current Vert.x context, or {@link #NONE} outside a call. */
    static Cancellation current() {
        Context context = Vertx.currentContext();
        CallScope scope = context == null ? null : context.getLocal(CallScopeRegistration.LOCAL);
        return scope == null ? NONE : scope;
    }
}
