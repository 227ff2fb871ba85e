package dev.rlhf.policy.domain;

/** The caller cancelled the request (deadline passed or client went away) before it produced a result. */
public final class CancelledException extends RuntimeException {
    public CancelledException() {
        super("request cancelled by the caller");
    }
}
