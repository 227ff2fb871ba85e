package dev.rlhf.sampler.domain;

/**
 * A policy or reward service could not answer, even after retries (down, overloaded, too slow, or its circuit
 * breaker is open): the work is sound and should be done again later.
 */
public final class ServiceUnavailableException extends RuntimeException {
    private final String service;

    public ServiceUnavailableException(String service, String message, Throwable cause) {
        super(service + " unavailable: " + message, cause);
        this.service = service;
    }

    public String service() {
        return service;
    }
}
