package dev.rlhf.platform.kafka;

/**
 * Signals a transient processing failure (a downstream service is unavailable, say): the loop aborts the
 * open transaction, rewinds to the committed offsets and processes the records again after a back-off.
 */
public class RetriableProcessingException extends RuntimeException {

    public RetriableProcessingException(String message) {
        super(message);
    }

    public RetriableProcessingException(String message, Throwable cause) {
        super(message, cause);
    }
}
