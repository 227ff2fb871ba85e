package dev.rlhf.sampler.domain;

/**
 * A policy or reward service refused the request itself (a prompt too long for the context, say): asking
 * again gives the same answer, so the prompt cannot be sampled.
 */
public final class RequestRejectedException extends RuntimeException {
    private final String service;

    /** @param reason the service's status and message, e.g. {@code OUT_OF_RANGE: prompt of 300 tokens ...} */
    public RequestRejectedException(String service, String reason, Throwable cause) {
        super(service + " rejected the request: " + reason, cause);
        this.service = service;
    }

    public String service() {
        return service;
    }
}
