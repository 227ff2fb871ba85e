package dev.rlhf.llama.runtime;

import ai.djl.pytorch.jni.JniUtils;

/**
 * PyTorch's autograd switch is per thread and ON in every new thread, while DJL turns it off only on the
 * thread that starts the engine. Work on other threads (service workers, the trainer loop) must turn it off
 * itself: inference would otherwise record graphs, and optimizer updates in place on leaf tensors fail.
 */
public final class GradMode {
    private GradMode() {}

    /** Disables gradient recording on this thread until the returned handle is closed (then restores it). */
    public static Restore disabled() {
        boolean previous = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        return new Restore(previous);
    }

    /** Restores the previous grad mode of the thread. */
    public static final class Restore implements AutoCloseable {
        private final boolean previous;

        private Restore(boolean previous) {
            this.previous = previous;
        }

        @Override
        public void close() {
            JniUtils.setGradMode(previous);
        }
    }
}
