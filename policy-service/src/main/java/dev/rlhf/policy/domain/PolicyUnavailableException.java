package dev.rlhf.policy.domain;

/** No policy version is loaded yet (or the service is shutting down): callers should retry later. */
public final class PolicyUnavailableException extends IllegalStateException {
    public PolicyUnavailableException(String message) {
        super(message);
    }
}
